"""Application entry: QApplication setup (dark theme, pyqtgraph defaults) and run_editor for main.py."""
from __future__ import annotations

import signal
import sys

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from editor.style import EXTRA_QSS, RESOURCES

STYLESHEET = RESOURCES / "style.qss"


def _dark_palette() -> QPalette:
    p = QPalette()
    for role, color in ((QPalette.Window, "#232629"), (QPalette.WindowText, "#d6d6d6"), (QPalette.Base, "#1b1d1f"),
                        (QPalette.AlternateBase, "#2a2d31"), (QPalette.Text, "#d6d6d6"), (QPalette.Button, "#3a3f44"),
                        (QPalette.ButtonText, "#d6d6d6"), (QPalette.Highlight, "#3d6fa8"),
                        (QPalette.HighlightedText, "#ffffff"), (QPalette.ToolTipBase, "#2d3135"),
                        (QPalette.ToolTipText, "#d6d6d6")):
        p.setColor(role, QColor(color))
    return p


def make_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication with Talkline's look (reuses an existing instance, e.g. pytest-qt's)."""
    app = QApplication.instance() or QApplication(["talkline", *(argv or [])])
    app.setApplicationName("Talkline")
    app.setOrganizationName("Talkline")
    app.setStyle("Fusion")
    app.setPalette(_dark_palette())
    app.setStyleSheet(STYLESHEET.read_text(encoding="utf-8") + EXTRA_QSS)
    pg.setConfigOptions(background="#1b1d1f", foreground="#b8bcc0", antialias=True)
    return app


INTERRUPT_POLL_MS = 200  # how soon Ctrl+C is seen: Qt's event loop runs no Python between events


def close_on_interrupt(window) -> None:
    """Ctrl+C in the terminal closes the window as its close button does (asking about unsaved work first); it
    was ignored. A timer wakes the interpreter now and then so that it sees the signal. The close runs from the
    event loop, not inside whatever slot the signal interrupted, and once: more Ctrl+C while it asks are ignored."""
    pending = []

    def close() -> None:
        try:
            window.close()
        finally:
            pending.clear()

    def interrupted(*_) -> None:
        if not pending:
            pending.append(True)
            QTimer.singleShot(0, close)

    signal.signal(signal.SIGINT, interrupted)
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(INTERRUPT_POLL_MS)


def run_editor(argv: list[str]) -> int:
    """Open the editor; argv may hold a project path. Returns the exit code."""
    from editor.main_window import MainWindow
    from editor.workers import relay_warnings

    app = make_app(argv)
    relay_warnings()
    window = MainWindow()
    window.show()
    close_on_interrupt(window)
    project_args = [a for a in argv if not a.startswith("-")]
    if project_args:
        window.open_project(project_args[0])
    else:
        window.offer_recovery()
    return app.exec()


if __name__ == "__main__":
    sys.exit(run_editor(sys.argv[1:]))
