"""Shared GUI fixtures: a small real project built once per session, and main windows that never block on
modal dialogs (QMessageBox/QFileDialog are answered by the test) and never touch the user's settings."""
from __future__ import annotations

import gc
import shutil
from dataclasses import dataclass, field

import pytest

DEMO_TEXT = "Hello! Bob bought a big map."


@pytest.fixture(scope="session")
def demo_project_file(tmp_path_factory):
    """A saved 256 px project: the astronaut speaking ~2 s of espeak-ng speech (built once)."""
    from engine.demo import build_demo_project
    from engine.document.project_io import save_project

    folder = tmp_path_factory.mktemp("demo_project")
    project = build_demo_project(folder, DEMO_TEXT, size=256)
    path = folder / "demo.talkline"
    save_project(project, path)
    return path


@dataclass
class DialogLog:
    """What the patched message boxes were asked, and what the patched question/file dialogs answer."""

    messages: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    question_answer: object = None
    save_path: str = ""
    open_path: str = ""


@pytest.fixture
def dialogs(monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    log = DialogLog(question_answer=QMessageBox.Discard)

    def record(kind):
        def box(parent, title, text, *args, **kwargs):
            log.messages.append((kind, text))
            return QMessageBox.Ok
        return box

    for kind in ("critical", "warning", "information"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(record(kind)))

    def question(parent, title, text, *args, **kwargs):
        log.messages.append(("question", text))
        return log.question_answer

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (log.save_path, "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (log.open_path, "")))
    return log


@pytest.fixture
def make_main_window(qtbot, dialogs, tmp_path, monkeypatch):
    """Factory: a MainWindow (shown, audio device off, private settings and autosave folder), optionally
    with a private copy of a project file open. Windows are closed after the test."""
    from PySide6.QtCore import QSettings

    from editor.app import make_app
    from editor.main_window import MainWindow

    make_app()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    windows = []

    def factory(project_file=None, size=(1600, 960)):
        window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                            use_audio=False)
        window.resize(*size)
        with qtbot.waitExposed(window):
            window.show()
        windows.append(window)
        if project_file is not None:
            copy = tmp_path / f"project{len(windows)}.talkline"
            shutil.copy(project_file, copy)
            assert window.open_project(str(copy))
        return window

    yield factory
    from PySide6.QtWidgets import QMessageBox

    dialogs.question_answer = QMessageBox.Yes  # stop renders still running; unsaved test edits are dropped
    for window in windows:
        window.close()
        window.session.set_project(None)  # drops the Project's psygnal connection to the session
        window.deleteLater()
    qtbot.wait(10)
    gc.collect()  # collect the windows' Python wrappers while Qt is alive (not at interpreter exit)


@pytest.fixture
def fake_backends():
    """The fake Audio2Lmk backends and renderer of tests/seams.py, registered for one test."""
    from engine.plugins import A2L_BACKENDS, RENDERERS
    from tests.seams import FakeA2L, FakeRenderer, NeedsWeightsA2L

    A2L_BACKENDS.register("fake", FakeA2L)
    A2L_BACKENDS.register("needs_weights", NeedsWeightsA2L)
    RENDERERS.register("flat", FakeRenderer)
    yield
    A2L_BACKENDS.unregister("fake")
    A2L_BACKENDS.unregister("needs_weights")
    RENDERERS.unregister("flat")
