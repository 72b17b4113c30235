"""Dialogs: errors (TalklineError -> message box), new project, crash recovery, relinking a moved source."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPlainTextEdit, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from editor.config_form import ChoiceForm
from engine.errors import TalklineError
from engine.plugins import A2L_BACKENDS, default_choice

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;All files (*)"
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")  # a face source to dub, not a still
FACE_SOURCE_FILTER = ("Portraits and videos (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff "
                      + " ".join(f"*{e}" for e in VIDEO_EXTENSIONS) + ");;All files (*)")
AUDIO_FILTER = "Audio (*.wav *.mp3 *.ogg *.flac *.m4a *.aac *.mp4);;All files (*)"
VIDEO_FILTER = "Videos (" + " ".join(f"*{e}" for e in VIDEO_EXTENSIONS) + ");;All files (*)"
PROJECT_FILTER = "Talkline project (*.talkline)"
POSE_TEMPLATE_FILTER = "AniPortrait pose template (*.npy);;All files (*)"


def error_text(exc: BaseException) -> str:
    """Engine input errors carry a user-facing message; anything else is a bug, so name its type."""
    return str(exc) if isinstance(exc, TalklineError) else f"{type(exc).__name__}: {exc}"


def show_error(parent: QWidget | None, exc: BaseException, title: str = "Talkline") -> None:
    QMessageBox.critical(parent, title, error_text(exc))


def _file_row(edit: QLineEdit, caption: str, filter_: str, parent: QWidget) -> QHBoxLayout:
    button = QPushButton("Browse…")
    button.setToolTip(f"Choose the {caption.lower()} file")

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
    """Portrait and audio, framing, frame rate, transcript, pose template and the Audio2Lmk backend: the fields
    of an engine.pipeline.ProjectRequest, as MainWindow.create_project's keyword arguments (values())."""

    def __init__(self, parent: QWidget | None = None, portrait: str = "", audio: str = ""):
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.portrait_edit = QLineEdit(portrait)
        self.portrait_edit.setToolTip("A photo or painting with a face (PNG, JPEG, ...), or a video of a speaker to "
                                      "dub: its lower face is re-animated from the audio, the rest stays the video's")
        self.audio_edit = QLineEdit(audio)
        self.audio_edit.setToolTip("Speech or singing: WAV, MP3, FLAC, OGG, M4A or the audio of a video")
        self.transcript_edit = QPlainTextEdit()
        self.transcript_edit.setTabChangesFocus(True)
        self.transcript_edit.setFixedHeight(64)
        self.fps_box = QComboBox()
        self.fps_box.addItems(["24", "25", "30"])
        self.fps_box.setCurrentText("30")
        self.fps_box.setToolTip("Frames per second of the animation and of renders")
        self.size_box = QSpinBox()
        self.size_box.setRange(128, 2048)
        self.size_box.setSingleStep(64)
        self.size_box.setValue(512)
        self.size_box.setToolTip("Side of the square face crop (or the longer side of the whole image)")
        self.full_frame_check = QCheckBox("whole image (longer side = frame size), not a face crop")
        self.full_frame_check.setToolTip("Animate the whole picture rather than a square crop around the face")
        self.face_index_box = QSpinBox()
        self.face_index_box.setRange(-1, 99)
        self.face_index_box.setSpecialValueText("the only face")  # -1: None
        self.face_index_box.setValue(-1)
        self.face_index_box.setToolTip("which face when the portrait has several (0 = leftmost)")
        self.pose_template_edit = QLineEdit()
        self.pose_template_edit.setPlaceholderText("optional AniPortrait pose_temp.npy: drives the head")
        self.pose_template_edit.setToolTip("A head-motion template (N x 6 at 30 fps) used instead of the predicted "
                                           "head motion")
        # The transcript has its own row above (it is a property of the audio, not a tuning setting).
        self.a2l_form = ChoiceForm(A2L_BACKENDS, hidden=("transcript",))
        self.a2l_form.set_choice(default_choice(A2L_BACKENDS))
        self.a2l_form.combo.currentIndexChanged.connect(self._on_backend)
        a2l_box = QGroupBox("Audio2Lmk")
        QVBoxLayout(a2l_box).addWidget(self.a2l_form)

        form = QFormLayout(self)
        form.addRow("Portrait or video", _file_row(self.portrait_edit, "Portrait image or video",
                                                   FACE_SOURCE_FILTER, self))
        form.addRow("Audio", _file_row(self.audio_edit, "Speech or music", AUDIO_FILTER, self))
        form.addRow("Transcript", self.transcript_edit)
        form.addRow("Frame rate", self.fps_box)
        form.addRow("Frame size (px)", self.size_box)
        form.addRow("Framing", self.full_frame_check)
        form.addRow("Face index", self.face_index_box)
        form.addRow("Pose template", _file_row(self.pose_template_edit, "Pose template", POSE_TEMPLATE_FILTER, self))
        form.addRow(a2l_box)
        self.why_label = QLabel("")  # why Create is greyed out (it said nothing)
        self.why_label.setObjectName("hint")
        form.addRow(self.why_label)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setText("Create")
        self.ok_button.setToolTip("Analyse the portrait and predict the motion from the audio")
        form.addRow(buttons)
        self.resize(600, 0)
        self._on_backend()
        for edit in (self.portrait_edit, self.audio_edit):
            edit.textChanged.connect(self._update_ok)
        self.a2l_form.availability_changed.connect(lambda _: self._update_ok())
        self._update_ok()

    def _update_ok(self) -> None:
        """Create is possible once both files exist and the backend can run here with its settings."""
        from pathlib import Path as _P

        why = ""
        for edit, what in ((self.portrait_edit, "portrait or video"), (self.audio_edit, "audio")):
            path = edit.text().strip()
            if not path:
                why = why or f"Choose the {what} file."
            elif not _P(path).is_file():
                why = why or f"The {what} file {path} does not exist."
        if not why and not self.a2l_form.available:
            why = "The Audio2Lmk backend cannot run here with these settings (see above)."
        self.why_label.setText(why)
        self.ok_button.setEnabled(not why)

    def _on_backend(self) -> None:
        config_class = A2L_BACKENDS.get(self.a2l_form.name).Config
        takes_transcript = any(f.name == "transcript" for f in dataclasses.fields(config_class))
        self.transcript_edit.setEnabled(takes_transcript)
        self.transcript_edit.setPlaceholderText("optional: what is said (forced alignment: better lip sync)"
                                                if takes_transcript else "this backend takes no transcript")
        self.resize(self.width(), self.sizeHint().height())  # the backend's form has its own number of rows

    def values(self) -> dict:
        """MainWindow.create_project's arguments; ConfigError when a backend setting is invalid."""
        index = self.face_index_box.value()
        face_source = self.portrait_edit.text().strip()
        video = face_source if Path(face_source).suffix.lower() in VIDEO_EXTENSIONS else None
        return {"portrait": face_source, "video": video, "audio": self.audio_edit.text().strip(),
                "fps": float(self.fps_box.currentText()), "size": self.size_box.value(),
                "full_frame": self.full_frame_check.isChecked(), "face_index": None if index < 0 else index,
                "transcript": self.transcript_edit.toPlainText().strip() or None,
                "pose_template": self.pose_template_edit.text().strip() or None, "a2l": self.a2l_form.choice()}


def _autosave_title(path: Path) -> str:
    """What an autosave recovers, for people: the project's name (or "an untitled project") and when."""
    import datetime

    from engine.document.project_io import autosave_origin
    from engine.errors import TalklineError

    try:
        origin = autosave_origin(path)
    except TalklineError:
        origin = None
    when = datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return f"{Path(origin).name if origin else 'an untitled project'} (autosaved {when})"


def ask_recover(parent: QWidget | None, autosaves: list[Path]) -> bool:
    names = "\n".join(_autosave_title(p) for p in autosaves[:5])
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
                                          {"audio": AUDIO_FILTER, "video": VIDEO_FILTER}.get(kind, IMAGE_FILTER))
    return path or None
