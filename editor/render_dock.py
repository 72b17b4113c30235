"""Render dock: queue renders of the whole clip or the in/out range (MP4, PNG sequence, landmarks, pose video)
with a chosen renderer and its settings (the project's by default) on the single render thread; progress, ETA,
cancel, open the result."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QProgressBar, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from editor.config_form import ChoiceForm
from editor.dialogs import show_error
from editor.session import EditorSession
from editor.workers import RenderThread
from engine.document.changes import Change, ChangeKind
from engine.errors import TalklineError
from engine.jobs import Progress, RenderJob, RenderSettings
from engine.plugins import RENDERERS, Choice

OUTPUT_KINDS = {"mp4": "MP4 video (H.264 + AAC)", "frames": "PNG sequence", "landmarks": "landmarks .npz",
                "pose_video": "pose-image video"}


FPS_CHOICES = ("project", "24", "25", "30", "50", "60")


def settings_for(stem: str, kinds: set[str], renderer: Choice | None, side_by_side: bool, size: int | None = None,
                 fps: float | None = None) -> RenderSettings:
    """Output paths derived from one stem (e.g. /out/take1 -> take1.mp4, take1_frames/, ...)."""
    return RenderSettings(size=size, fps=fps,
        output=f"{stem}.mp4" if "mp4" in kinds else None,
        frames_dir=f"{stem}_frames" if "frames" in kinds else None,
        landmarks=f"{stem}_landmarks.npz" if "landmarks" in kinds else None,
        pose_video=f"{stem}_pose.mp4" if "pose_video" in kinds else None,
        side_by_side=side_by_side, renderer=renderer)


class RenderDock(QWidget):
    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.thread = RenderThread(self)
        self.items: dict[int, QListWidgetItem] = {}

        self.range_box = QComboBox()
        self.range_box.addItems(["Whole clip", "In/out range"])
        self.renderer_form = ChoiceForm(RENDERERS, "renderer")
        self.format_label = QLabel("-")
        self.size_box = QSpinBox()
        self.size_box.setRange(128, 2048)
        self.size_box.setSingleStep(64)
        self.size_box.setSuffix(" px")
        self.fps_box = QComboBox()
        self.fps_box.addItems(list(FPS_CHOICES))
        self.kind_boxes = {k: QCheckBox(text) for k, text in OUTPUT_KINDS.items()}
        self.kind_boxes["mp4"].setChecked(True)
        self.side_by_side = QCheckBox("side by side [reference | pose | result]")
        self.stem_edit = QLineEdit(str(Path.home() / "talkline_render"))
        browse = QPushButton("…")
        browse.setFixedWidth(28)
        browse.clicked.connect(self._browse)
        stem_row = QHBoxLayout()
        stem_row.addWidget(self.stem_edit, 1)
        stem_row.addWidget(browse)

        form = QFormLayout()
        form.addRow("Range", self.range_box)
        form.addRow("Project", self.format_label)
        form.addRow("Size", self.size_box)
        form.addRow("Frame rate", self.fps_box)
        form.addRow("Output", stem_row)
        kinds = QVBoxLayout()
        for box in self.kind_boxes.values():
            kinds.addWidget(box)
        kinds.addWidget(self.side_by_side)
        form.addRow("Write", kinds)

        self.render_button = QPushButton("Queue render")
        self.render_button.clicked.connect(self.queue_render)
        self.queue_list = QListWidget()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.eta_label = QLabel("idle")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.open_button = QPushButton("Open result")
        self.open_button.clicked.connect(self.open_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.open_button)

        renderer_box = QGroupBox("Renderer")
        QVBoxLayout(renderer_box).addWidget(self.renderer_form)

        layout = QVBoxLayout(self)
        layout.addWidget(renderer_box)
        layout.addLayout(form)
        layout.addWidget(self.render_button)
        layout.addWidget(QLabel("Queue"))
        layout.addWidget(self.queue_list, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.eta_label)
        layout.addLayout(buttons)

        self.thread.job_started.connect(lambda i: self._set_state(i, "running"))
        self.thread.job_progress.connect(self._on_progress)
        self.thread.job_finished.connect(self._on_finished)
        self.thread.job_failed.connect(lambda i, msg: self._set_state(i, f"failed: {msg.splitlines()[-1]}"))
        self.thread.job_cancelled.connect(self._on_cancelled)
        session.project_replaced.connect(self._on_project)
        session.project_changed.connect(self._on_project_changed)

    def _on_project(self) -> None:
        project = self.session.project
        if project is None:
            return
        ref = project.reference
        self.size_box.setValue(max(ref.width, ref.height))
        self.renderer_form.set_choice(project.renderer)
        self._refresh_format()
        if project.path:
            self.stem_edit.setText(str(Path(project.path).with_suffix("")) + "_render")

    def _on_project_changed(self, change: Change) -> None:
        if change.kind in (ChangeKind.IN_OUT, ChangeKind.FPS):
            self._refresh_format()
        elif change.kind is ChangeKind.RENDERER:
            self.renderer_form.set_choice(self.session.project.renderer)

    def _refresh_format(self) -> None:
        project = self.session.project
        ref = project.reference
        self.format_label.setText(f"{ref.width}x{ref.height} px, {project.fps:g} fps")
        self.range_box.model().item(1).setEnabled(project.in_out is not None)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Render to", self.stem_edit.text(), "MP4 video (*.mp4)")
        if path:
            self.stem_edit.setText(os.path.splitext(path)[0])

    def frame_range(self) -> tuple[int, int]:
        project = self.session.project
        if self.range_box.currentIndex() == 1 and project.in_out is not None:
            a, b = project.in_out
            return project.frame_of(a), project.frame_of(b) + 1
        return 0, project.frame_count

    def queue_render(self) -> int | None:
        """Queue a render of the current settings; the motion is evaluated now, so later edits don't leak in."""
        project = self.session.project
        kinds = {k for k, box in self.kind_boxes.items() if box.isChecked()}
        if project is None or not kinds:
            return None
        start, stop = self.frame_range()
        stem = self.stem_edit.text().strip()
        ref = project.reference
        size = self.size_box.value()
        fps_text = self.fps_box.currentText()
        try:  # a renderer setting out of range, or a renderer that cannot run here: say so, queue nothing
            settings = settings_for(stem, kinds, self.renderer_form.choice(), self.side_by_side.isChecked(),
                                    size=None if size == max(ref.width, ref.height) else size,
                                    fps=None if fps_text == "project" else float(fps_text))
            job = RenderJob.for_project(project, settings, start, stop)
        except TalklineError as exc:
            show_error(self, exc)
            return None
        label = f"{Path(stem).name}  [{start}-{stop - 1}]  {', '.join(sorted(kinds))}"
        job_id = self.thread.submit(job, label)
        item = QListWidgetItem()
        self.items[job_id] = item
        self.queue_list.addItem(item)
        self.queue_list.setCurrentItem(item)
        self._set_state(job_id, "queued")
        return job_id

    def _set_state(self, job_id: int, state: str) -> None:
        self.items[job_id].setText(f"#{job_id} {self.thread.entries[job_id].label} — {state}")

    def _on_progress(self, job_id: int, p: Progress) -> None:
        self.progress.setValue(int(1000 * p.fraction))
        eta = f", ETA {p.eta:.1f} s" if p.eta is not None else ""
        self.eta_label.setText(f"#{job_id}: {p.message}, {p.elapsed:.1f} s elapsed{eta}")
        self._set_state(job_id, f"{100 * p.fraction:.0f}%")

    def _on_finished(self, job_id: int, outputs: list) -> None:
        self._set_state(job_id, "done")
        self.progress.setValue(1000)
        self.eta_label.setText(f"#{job_id} done: {', '.join(Path(o).name for o in outputs)}")

    def _on_cancelled(self, job_id: int) -> None:
        self._set_state(job_id, "cancelled")
        self.eta_label.setText(f"#{job_id} cancelled")

    def selected_id(self) -> int | None:
        item = self.queue_list.currentItem()
        return next((i for i, it in self.items.items() if it is item), None)

    def cancel_selected(self) -> None:
        job_id = self.selected_id()
        if job_id is not None:
            self.thread.cancel(job_id)

    def open_selected(self) -> None:
        job_id = self.selected_id()
        if job_id is not None and self.thread.entries[job_id].outputs:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.thread.entries[job_id].outputs[0]))

    def shutdown(self) -> None:
        self.thread.stop()
