"""Render dock: queue renders of the whole clip or the in/out range (MP4, PNG sequence, landmarks, pose video)
with a chosen renderer and its settings (the project's by default; "Use as project default" makes the choice
the project's, undoably) on the single render thread; progress, ETA, cancel, open the result or its folder.

Every job writes its own files: the output stem is made unique against the files on disk and the jobs in the
queue (take.mp4, take_2.mp4, ...), and an in/out render names its frame range (take_f117-138.mp4)."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QMessageBox, QProgressBar, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from editor.commands import RendererCommand
from editor.config_form import ChoiceForm, entry_title
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


def _paths(settings: RenderSettings) -> list[str]:
    return [p for p in (settings.output, settings.frames_dir, settings.landmarks, settings.pose_video) if p]


def default_stem(project) -> str:
    """Beside a saved project (<project>_render); for an untitled one, in the home folder, named after the
    portrait (never the previous project's file)."""
    if project.path:
        return str(Path(project.path).with_suffix("")) + "_render"
    return str(Path.home() / f"{Path(project.source.path).stem or 'untitled'}_render")


def describe_outputs(outputs: list[str]) -> str:
    """What a render wrote, in a line: files by name, an image sequence as its folder and frame count (a minute
    of PNGs listed 1,800 names)."""
    frames = [o for o in outputs if o.endswith(".png")]
    folders = dict.fromkeys(str(Path(o).parent) for o in frames)
    parts = [f"{Path(folder).name}/ ({sum(str(Path(o).parent) == folder for o in frames)} frames)" for folder in folders]
    parts += [Path(o).name for o in outputs
              if not o.endswith(".png") and not (str(Path(o).parent) in folders and o.endswith(".wav"))]
    return ", ".join(parts)


def shown_output(outputs: list[str]) -> str:
    """What "Open result" opens: the video or file written first, an image sequence's folder."""
    first = outputs[0]
    return str(Path(first).parent) if first.endswith(".png") else first


class RenderDock(QWidget):
    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._default_stem = ""  # the output path Talkline chose (replaced as the project moves, unless edited)
        self.thread = RenderThread(self)
        self.items: dict[int, QListWidgetItem] = {}

        self.range_box = QComboBox()
        self.range_box.addItems(["Whole clip", "In/out range"])
        self.range_box.setToolTip("Render every frame, or only the in/out range (I / O on the timeline)")
        self.renderer_form = ChoiceForm(RENDERERS, "renderer")
        self.default_button = QPushButton("Use as project default")
        self.default_button.setToolTip("Make this renderer and its settings the project's (the 2D preview and "
                                       "headless renders of the project use it; undoable)")
        self.default_button.clicked.connect(self.set_project_default)
        self.format_label = QLabel("-")
        self.format_label.setToolTip("The project's frame size and rate")
        self.size_box = QSpinBox()
        self.size_box.setRange(128, 2048)
        self.size_box.setSingleStep(64)
        self.size_box.setSuffix(" px")
        self.size_box.setToolTip("Output frame size (the longer side)")
        self.fps_box = QComboBox()
        self.fps_box.addItems(list(FPS_CHOICES))
        self.fps_box.setToolTip("Output frame rate (\"project\": the project's)")
        self.kind_boxes = {k: QCheckBox(text) for k, text in OUTPUT_KINDS.items()}
        self.kind_boxes["mp4"].setChecked(True)
        for kind, box in self.kind_boxes.items():
            box.setToolTip(f"Write the {OUTPUT_KINDS[kind]}")
        self.side_by_side = QCheckBox("side by side [reference | pose | result]")
        self.side_by_side.setToolTip("Frames show the reference, the pose image and the result next to each other")
        self.stem_edit = QLineEdit(str(Path.home() / "talkline_render"))
        self.stem_edit.setToolTip("Output path without extension; each render gets its own name (take, take_2, "
                                  "...; an in/out render adds its frame range)")
        browse = QPushButton("Browse…")  # as in the New Project dialog ("…" alone was cut to "." at 28 px)
        browse.setToolTip("Choose the output file")
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
        self.render_button.setToolTip("Render on the background thread with these settings (Ctrl+R)")
        self.render_button.clicked.connect(self.queue_render)
        self.queue_list = QListWidget()
        self.queue_list.setToolTip("Render jobs: select one to cancel it or open its result")
        self.queue_list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.eta_label = QLabel("idle")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the selected render (a running one stops within a frame)")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.open_button = QPushButton("Open result")
        self.open_button.setToolTip("Open the selected render's output with the system's application")
        self.open_button.clicked.connect(self.open_selected)
        self.folder_button = QPushButton("Show in folder")
        self.folder_button.setToolTip("Open the folder that holds the selected render's output")
        self.folder_button.clicked.connect(self.show_selected_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.folder_button)

        renderer_box = QGroupBox("Renderer")
        renderer_layout = QVBoxLayout(renderer_box)
        renderer_layout.addWidget(self.renderer_form)
        renderer_layout.addWidget(self.default_button)

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
        self.thread.job_failed.connect(self._on_failed)
        self.thread.job_cancelled.connect(self._on_cancelled)
        self.renderer_form.availability_changed.connect(lambda _: self._update_buttons())
        session.project_replaced.connect(self._on_project)
        session.project_changed.connect(self._on_project_changed)
        self._update_buttons()

    def _on_project(self) -> None:
        project = self.session.project
        if project is not None:
            ref = project.reference
            self.size_box.setValue(max(ref.width, ref.height))
            self.renderer_form.set_choice(project.renderer)
            self._refresh_format()
            self._set_default_stem()
        self._update_buttons()

    def _set_default_stem(self) -> None:
        self._default_stem = default_stem(self.session.project)
        self.stem_edit.setText(self._default_stem)

    def follow_project_path(self) -> None:
        """After a save (as): an output path the user did not type follows the project to its folder (it stayed
        in the home folder of the untitled project)."""
        if self.session.project is not None and self.stem_edit.text() == self._default_stem:
            self._set_default_stem()

    def _on_project_changed(self, change: Change) -> None:
        if change.kind in (ChangeKind.IN_OUT, ChangeKind.FPS, ChangeKind.BASE):  # (a new base: a new length)
            self._refresh_format()
        elif change.kind is ChangeKind.RENDERER:
            self.renderer_form.set_choice(self.session.project.renderer)

    def _refresh_format(self) -> None:
        project = self.session.project
        ref = project.reference
        self.format_label.setText(f"{ref.width}x{ref.height} px, {project.fps:g} fps")
        marked = project.in_out_range() is not None
        self.range_box.model().item(1).setEnabled(marked)
        if not marked:
            self.range_box.setCurrentIndex(0)

    def _update_buttons(self) -> None:
        has_project = self.session.project is not None
        ok = has_project and self.renderer_form.available
        self.render_button.setEnabled(ok)
        self.default_button.setEnabled(ok)
        entry = self.selected_entry()
        self.cancel_button.setEnabled(entry is not None and entry.state in ("queued", "running"))
        done = entry is not None and entry.state == "done" and bool(entry.outputs)
        self.open_button.setEnabled(done)
        self.folder_button.setEnabled(done)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Render to", self.stem_edit.text(), "MP4 video (*.mp4)")
        if path:
            self.stem_edit.setText(os.path.splitext(path)[0])

    def frame_range(self) -> tuple[int, int]:
        """[start, stop) frames: the in/out range is [in, out) in seconds, the out point being the end of the
        last frame the user marked (MainWindow.set_out_point), so the marked frame is the last one rendered."""
        project = self.session.project
        span = project.in_out_range()
        if self.range_box.currentIndex() == 1 and span is not None:
            a, b = span
            start = project.frame_of(a)
            return start, min(max(round(b * project.fps), start + 1), project.frame_count)
        return 0, project.frame_count

    def unique_stem(self, stem: str, kinds: set[str]) -> str:
        """`stem`, or stem_2, stem_3 ... : the first whose outputs neither exist nor belong to a queued job."""
        taken = {p for e in self.thread.entries.values() for p in _paths(e.job.settings)}
        n = 1
        while True:
            candidate = stem if n == 1 else f"{stem}_{n}"
            paths = _paths(settings_for(candidate, kinds, None, False))
            if not any(p in taken or os.path.exists(p) for p in paths):
                return candidate
            n += 1

    def queue_render(self) -> int | None:
        """Queue a render of the current settings; the motion is evaluated now, so later edits don't leak in."""
        project = self.session.project
        kinds = {k for k, box in self.kind_boxes.items() if box.isChecked()}
        if project is None or not kinds:
            return None
        start, stop = self.frame_range()
        stem = self.stem_edit.text().strip()
        if (start, stop) != (0, project.frame_count):
            stem = f"{stem}_f{start}-{stop - 1}"
        stem = self.unique_stem(stem, kinds)
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
        # the project's frames; at another rate the render has its own count (a [0-150] 60 fps job writes 302)
        rate = "" if settings.fps is None else f" of {project.fps:g} fps, rendered at {settings.fps:g} fps"
        label = f"{Path(stem).name}  [frames {start}-{stop - 1}{rate}]  {', '.join(sorted(kinds))}"
        job_id = self.thread.submit(job, label)
        item = QListWidgetItem()
        self.items[job_id] = item
        self.queue_list.addItem(item)
        self.queue_list.setCurrentItem(item)
        self._set_state(job_id, "queued")
        return job_id

    def set_project_default(self) -> None:
        """The chosen renderer and its settings become the project's (one undo step)."""
        project = self.session.project
        if project is None:
            return
        try:
            choice = self.renderer_form.choice()
        except TalklineError as exc:
            show_error(self, exc)
            return
        if choice != project.renderer:
            self.session.undo_stack.push(RendererCommand(project, choice, entry_title(RENDERERS, choice.name)))

    def _set_state(self, job_id: int, state: str) -> None:
        entry, item = self.thread.entries.get(job_id), self.items.get(job_id)
        if entry is None or item is None:  # a late signal of a job the shutdown has already dropped
            return
        item.setText(f"#{job_id} {entry.label} — {state}")
        self._update_buttons()

    def _on_progress(self, job_id: int, p: Progress) -> None:
        self.progress.setValue(int(1000 * p.fraction))
        eta = f", ETA {p.eta:.1f} s" if p.eta is not None else ""
        self.eta_label.setText(f"#{job_id}: {p.message}, {p.elapsed:.1f} s elapsed{eta}")
        self._set_state(job_id, f"{100 * p.fraction:.0f}%")

    def _on_finished(self, job_id: int, outputs: list) -> None:
        self._set_state(job_id, f"done → {describe_outputs(outputs)}")
        self.progress.setValue(1000)
        self.eta_label.setText(f"#{job_id} done: {describe_outputs(outputs)}")

    def _on_failed(self, job_id: int, message: str) -> None:
        self._set_state(job_id, f"failed: {message.splitlines()[-1]}")
        self.progress.setValue(0)
        self.eta_label.setText(f"#{job_id} failed")

    def _on_cancelled(self, job_id: int) -> None:
        self._set_state(job_id, "cancelled")
        self.progress.setValue(0)
        self.eta_label.setText(f"#{job_id} cancelled")

    def selected_entry(self):
        job_id = self.selected_id()
        return self.thread.entries.get(job_id) if job_id is not None else None

    def selected_id(self) -> int | None:
        item = self.queue_list.currentItem()
        return next((i for i, it in self.items.items() if it is item), None)

    def cancel_selected(self) -> None:
        job_id = self.selected_id()
        if job_id is not None:
            self.thread.cancel(job_id)

    def open_selected(self) -> None:
        """Opens the selected render's output; where no application opens it, says so and offers its folder."""
        entry = self.selected_entry()
        if entry is None or not entry.outputs:
            return
        output = shown_output(entry.outputs)
        if QDesktopServices.openUrl(QUrl.fromLocalFile(output)):
            return
        answer = QMessageBox.question(
            self, "Open result", f"No application here opens {Path(output).name} (no video player is set up).\n\n"
            f"Show it in its folder instead?\n{Path(output).parent}", QMessageBox.Yes | QMessageBox.No,
            QMessageBox.Yes)
        if answer == QMessageBox.Yes:
            self._open_folder(output)

    def show_selected_folder(self) -> None:
        entry = self.selected_entry()
        if entry is not None and entry.outputs:
            self._open_folder(entry.outputs[0])

    def _open_folder(self, output: str) -> None:
        folder = str(Path(output).parent)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
            QMessageBox.information(self, "Show in folder", f"No file manager is set up. The output is:\n{output}")

    def unfinished(self) -> int:
        """Renders queued or running."""
        return sum(entry.state in ("queued", "running") for entry in self.thread.entries.values())

    def shutdown(self) -> None:
        """Cancels queued and running jobs and ends the render thread (before the window goes)."""
        if not self.thread.entries and not self.thread.isRunning():
            return
        self.thread.stop()
        self.thread.entries.clear()
        for signal in (self.thread.job_started, self.thread.job_progress, self.thread.job_finished,
                       self.thread.job_failed, self.thread.job_cancelled):
            signal.disconnect()
