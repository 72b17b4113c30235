"""The editor's additions to resources/style.qss (appended by editor.app.make_app)."""

EXTRA_QSS = """
QLabel#section { color: #c8a060; font-weight: bold; padding-top: 6px; }
QLabel#warning { color: #e0a060; }
QWidget#welcome { background: #1b1d1f; }
QFrame#welcomeCard { background: #232629; border: 1px solid #33373b; border-radius: 8px; padding: 18px; }
QLabel#welcomeTitle { font-size: 26px; font-weight: bold; color: #e6e6e6; }
QLabel#dropZone { border: 2px dashed #4a5056; border-radius: 8px; color: #9aa0a6; font-size: 15px; }
QPushButton#link { border: none; background: transparent; color: #7fb2e0; text-align: left; padding: 2px; }
QPushButton#link:hover { text-decoration: underline; }
QCheckBox::indicator:checked { background: #3d6fa8; border-color: #5a8cc4; }
QToolButton:checked { background: #3d6fa8; }
"""
