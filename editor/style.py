"""The editor's additions to resources/style.qss (appended by editor.app.make_app)."""
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"

# The spin boxes' border (style.qss) makes Qt draw their arrow buttons itself, without arrows: drawn from small
# SVGs here (a stylesheet's url() is relative to the working folder, so the path is made absolute).
SPIN_ARROWS = f"""
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button {{ width: 14px; background: #2d3135; border: none; }}
QAbstractSpinBox::up-button:hover, QAbstractSpinBox::down-button:hover {{ background: #3a3f44; }}
QAbstractSpinBox::up-arrow {{ image: url("{(RESOURCES / "arrow_up.svg").as_posix()}"); width: 8px; height: 5px; }}
QAbstractSpinBox::down-arrow {{ image: url("{(RESOURCES / "arrow_down.svg").as_posix()}"); width: 8px; height: 5px; }}
"""

# A spin box without buttons (the inspector's typed values) under the rules above got a text field 1 px wide: its
# (absent) buttons must be given no width explicitly.
NO_BUTTONS = """
QDoubleSpinBox#valueBox::up-button, QDoubleSpinBox#valueBox::down-button {
  subcontrol-origin: border; width: 0px; border: none; }
"""

EXTRA_QSS = SPIN_ARROWS + NO_BUTTONS + """
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
