"""Dialogs: errors (TalklineError -> message box), new project, crash recovery, relinking a moved source."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLineEdit, QMessageBox, QPushButton, QSpinBox, QWidget)

from engine.errors import TalklineError

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;All files (*)"
AUDIO_FILTER = "Audio (*.wav *.mp3 *.ogg *.flac *.m4a *.aac *.mp4);;All files (*)"
PROJECT_FILTER = "Talkline project (*.talkline)"


def error_text(exc: BaseException) -> str:
    """Engine input errors carry a user-facing message; anything else is a bug, so name its type."""
    return str(exc) if isinstance(exc, TalklineError) else f"{type(exc).__name__}: {exc}"


def show_error(parent: QWidget | None, exc: BaseException, title: str = "Talkline") -> None:
    QMessageBox.critical(parent, title, error_text(exc))


def _file_row(edit: QLineEdit, caption: str, filter_: str, parent: QWidget) -> QHBoxLayout:
    button = QPushButton("Browse…")

    def browse():
        path, _ = QFileDialog.getOpenFileName(parent, caption, edit.text(), filter_)
        if path:
            edit.setText(path)

    button.clicked.connect(browse)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


class NewProjectDialog(QDialog):
    """Portrait + audio (+ fps and frame size) for Project.create."""

    def __init__(self, parent: QWidget | None = None, portrait: str = "", audio: str = ""):
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.portrait_edit = QLineEdit(portrait)
        self.audio_edit = QLineEdit(audio)
        self.fps_box = QComboBox()
        self.fps_box.addItems(["24", "25", "30"])
        self.fps_box.setCurrentText("30")
        self.size_box = QSpinBox()
        self.size_box.setRange(128, 2048)
        self.size_box.setSingleStep(64)
        self.size_box.setValue(512)
        form = QFormLayout(self)
        form.addRow("Portrait", _file_row(self.portrait_edit, "Portrait image", IMAGE_FILTER, self))
        form.addRow("Audio", _file_row(self.audio_edit, "Speech or music", AUDIO_FILTER, self))
        form.addRow("Frame rate", self.fps_box)
        form.addRow("Frame size (px)", self.size_box)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.resize(560, 0)

    def values(self) -> dict:
        return {"portrait": self.portrait_edit.text().strip(), "audio": self.audio_edit.text().strip(),
                "fps": float(self.fps_box.currentText()), "size": self.size_box.value()}


def ask_recover(parent: QWidget | None, autosaves: list[Path]) -> bool:
    names = "\n".join(p.name for p in autosaves[:5])
    answer = QMessageBox.question(
        parent, "Recover work",
        f"Talkline found unsaved work from a previous session:\n{names}\n\nRecover the most recent one?",
        QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
    return answer == QMessageBox.Yes


def ask_relink(parent: QWidget | None, kind: str, missing: str) -> str | None:
    """The user picks the moved source file, or None."""
    QMessageBox.warning(parent, "Source file missing",
                        f"The {kind} file of this project was not found:\n{missing}\n\nPlease locate it.")
    path, _ = QFileDialog.getOpenFileName(parent, f"Locate the {kind}", str(Path(missing).parent),
                                          AUDIO_FILTER if kind == "audio" else IMAGE_FILTER)
    return path or None
