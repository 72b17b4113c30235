"""The main window: docks around the 2D preview, menus built from the actions table, file handling,
autosave/recovery, regeneration and project creation on workers."""
from __future__ import annotations

import bisect
import dataclasses
import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu, QMessageBox, QProgressBar

from editor.actions import ACTIONS, ActionSpec
from editor.commands import InOutCommand, RegenerateCommand, edit_curves
from editor.dialogs import PROJECT_FILTER, NewProjectDialog, ask_recover, ask_relink, show_error
from editor.graph_editor import GraphEditor
from editor.inspector import Inspector
from editor.playback import PlaybackController
from editor.preview2d import Preview2D
from editor.render_dock import RenderDock
from editor.session import EditorSession
from editor.timeline import TimelineWidget
from editor.viewport3d import Viewport3D
from editor.workers import run_task
from engine import pipeline
from engine.document.curves import Interpolation
from engine.document.project import Project
from engine.document.project_io import (EXTENSION, autosave_path, discard_autosave, find_recoverable, load_project,
                                        missing_sources, recover_autosave, relink_source, save_project,
                                        write_autosave)
from engine.errors import ConfigError
from engine.plugins import A2L_BACKENDS, Choice, default_choice
from engine.sources.portrait import Framing

AUTOSAVE_INTERVAL_MS = 60_000
AUTOSAVE_DEBOUNCE_MS = 5_000
MAX_RECENT = 8
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, use_audio: bool | None = None):
        super().__init__()
        self.setWindowTitle("Talkline")
        self.resize(1600, 960)
        self.settings = settings or QSettings("Talkline", "Talkline")
        self.session = EditorSession(self)
        self.playback = PlaybackController(self.session, self, use_audio=use_audio)
        self.busy: set[object] = set()

        self.preview = Preview2D(self.session)
        self.viewport = Viewport3D(self.session)
        self.timeline = TimelineWidget(self.session)
        self.graph = GraphEditor(self.session)
        self.inspector = Inspector(self.session)
        self.render_dock = RenderDock(self.session)
        self.setCentralWidget(self.preview)
        self.docks = {
            "viewport": self._dock("3D Viewport", self.viewport, Qt.LeftDockWidgetArea),
            "inspector": self._dock("Inspector", self.inspector, Qt.RightDockWidgetArea),
            "render": self._dock("Render", self.render_dock, Qt.RightDockWidgetArea),
            "timeline": self._dock("Timeline", self.timeline, Qt.BottomDockWidgetArea),
            "graph": self._dock("Graph Editor", self.graph, Qt.BottomDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["inspector"], self.docks["render"])
        self.docks["inspector"].raise_()
        self.splitDockWidget(self.docks["timeline"], self.docks["graph"], Qt.Vertical)
        self.setCorner(Qt.BottomLeftCorner, Qt.BottomDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self.resizeDocks([self.docks["viewport"]], [520], Qt.Horizontal)
        self.resizeDocks([self.docks["inspector"]], [380], Qt.Horizontal)
        self.resizeDocks([self.docks["timeline"], self.docks["graph"]], [300, 250], Qt.Vertical)

        self.actions_by_id: dict[str, QAction] = {}
        self._build_menus()
        self.recent_menu = self.menuBar().findChild(QMenu, "recent")
        self._refresh_recent()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self.frame_label = QLabel("")
        self.statusBar().addPermanentWidget(self.frame_label)
        self.setAcceptDrops(True)

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.autosave_debounce = QTimer(self)
        self.autosave_debounce.setSingleShot(True)
        self.autosave_debounce.setInterval(AUTOSAVE_DEBOUNCE_MS)
        self.autosave_debounce.timeout.connect(self.autosave)

        s = self.session
        s.project_changed.connect(lambda _: self.autosave_debounce.start())
        s.frame_changed.connect(self._on_frame)
        s.undo_stack.cleanChanged.connect(self._update_title)
        s.undo_stack.canUndoChanged.connect(self.actions_by_id["undo"].setEnabled)
        s.undo_stack.canRedoChanged.connect(self.actions_by_id["redo"].setEnabled)
        self.actions_by_id["undo"].setEnabled(False)
        self.actions_by_id["redo"].setEnabled(False)
        self.playback.notice.connect(lambda msg: self.statusBar().showMessage(msg, 10_000))
        self.inspector.regenerate_requested.connect(self.regenerate)
        self.actions_by_id["loop"].setChecked(self.playback.loop)
        self._update_title()

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        menus: dict[str, QMenu] = {}
        groups: dict[str, QActionGroup] = {}

        def menu_for(path: str) -> QMenu:
            if path not in menus:
                parent, _, title = path.rpartition("/")
                menus[path] = (menu_for(parent).addMenu(title) if parent else self.menuBar().addMenu(title))
                if path == "&File":
                    menus[path].setToolTipsVisible(True)
            return menus[path]

        for spec in ACTIONS:
            action = QAction(spec.title, self)
            if spec.shortcut:
                action.setShortcut(spec.shortcut)
                action.setShortcutContext(Qt.WindowShortcut)
            action.setCheckable(spec.checkable)
            action.triggered.connect(self._handler(spec))
            menu = menu_for(spec.menu)
            if "/" in spec.menu and spec.arg is not None and spec.menu.split("/")[1] in ("Time &Unit", "&Preview"):
                action.setCheckable(True)
                groups.setdefault(spec.menu, QActionGroup(self)).addAction(action)
            menu.addAction(action)
            self.addAction(action)  # shortcuts work whichever dock has focus
            self.actions_by_id[spec.id] = action
            if spec.id == "open_demo":
                recent = menu.addMenu("Open &Recent")
                recent.setObjectName("recent")
        self.actions_by_id["unit_timecode"].setChecked(True)
        self.actions_by_id["preview_render"].setChecked(True)
        view = menu_for("&View")
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())

    def _handler(self, spec: ActionSpec):
        method = getattr(self, spec.handler)
        if spec.checkable:
            return lambda checked: method(checked)
        return (lambda: method(spec.arg)) if spec.arg is not None else (lambda: method())

    # --- project lifecycle -----------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.session.project

    def set_project(self, project: Project | None, modified: bool = False) -> None:
        self.playback.stop()
        self.session.set_project(project)
        if modified:
            self.session.undo_stack.resetClean()
        if project is not None:
            if project.path:
                self._add_recent(project.path)
            self._offer_relink()
            self.session.set_selection(self._animated_channels()[:4] or ["jawOpen"])
        self._update_title()

    def _animated_channels(self) -> list[str]:
        return [n for n, c in self.project.channels.items() if len(c)]

    def _offer_relink(self) -> None:
        if "audio" in missing_sources(self.project):
            path = ask_relink(self, "audio", self.project.audio_source.path)
            if path:
                self._relink("audio", path)
            else:
                self.statusBar().showMessage("Audio missing: playback is silent and regeneration is off", 10_000)

    def _relink(self, kind: str, path: str) -> None:
        try:
            relink_source(self.project, kind, path)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)

    def relink_audio(self) -> None:
        if self.project is None:
            return
        path = ask_relink(self, "audio", self.project.audio_source.path)
        if path:
            self._relink("audio", path)

    def new_project(self, portrait: str = "", audio: str = "") -> None:
        dialog = NewProjectDialog(self, portrait, audio)
        if dialog.exec() != NewProjectDialog.Accepted:
            return
        try:
            values = dialog.values()
        except ConfigError as exc:
            show_error(self, exc)
            return
        self.create_project(**values)

    def create_project(self, portrait: str, audio: str, *, fps: float = 30.0, size: int = 512,
                       full_frame: bool = False, face_index: int | None = None, transcript: str | None = None,
                       pose_template: str | os.PathLike | None = None, a2l: Choice | None = None):
        """Analyse + predict on a worker (engine.pipeline, as the CLI does); the window stays responsive.
        `transcript` goes into the backend's config when it takes one."""
        a2l = a2l or default_choice(A2L_BACKENDS)
        if transcript and any(f.name == "transcript" for f in dataclasses.fields(a2l.config)):
            a2l = a2l.replace(transcript=transcript)
        request = pipeline.ProjectRequest(portrait=portrait, audio=audio, fps=fps,
                                          framing=Framing(size, full_frame, face_index), a2l=a2l,
                                          pose_template=pose_template)
        return self._run("Creating project…", pipeline.create_project, request,
                         on_done=lambda p: self.set_project(p, modified=True))

    def open_demo(self) -> None:
        from engine.demo import build_demo_project

        folder = Path(tempfile.gettempdir()) / "talkline-demo"
        self._run("Building the demo (astronaut + espeak-ng)…", build_demo_project, folder,
                  on_done=lambda p: self.set_project(p, modified=True))

    def _run(self, message: str, fn, *args, on_done, **kwargs):
        self.statusBar().showMessage(message)
        self.progress.setValue(0)
        self.progress.show()
        token = object()
        self.busy.add(token)

        def finish():
            self.busy.discard(token)
            self.progress.setVisible(bool(self.busy))
            self.statusBar().clearMessage()

        def done(result):
            finish()
            on_done(result)

        def failed(exc):
            finish()
            show_error(self, exc)

        return run_task(fn, *args, on_done=done, on_error=failed,
                        on_progress=lambda p: self.progress.setValue(int(100 * p)), **kwargs)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str) -> bool:
        try:
            project = load_project(path)
        except Exception as exc:  # noqa: BLE001  (ProjectFileError, or a bug: shown, never a crash)
            show_error(self, exc)
            return False
        self.set_project(project)
        return True

    def save(self) -> bool:
        if self.project is None:
            return False
        if not self.project.path:
            return self.save_as()
        return self._save_to(self.project.path)

    def save_as(self) -> bool:
        if self.project is None:
            return False
        path, _ = QFileDialog.getSaveFileName(self, "Save project", self.project.path or "", PROJECT_FILTER)
        if not path:
            return False
        if not path.endswith(EXTENSION):
            path += EXTENSION
        return self._save_to(path)

    def _save_to(self, path: str) -> bool:
        try:
            save_project(self.project, path)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)
            return False
        self.session.undo_stack.setClean()
        self._add_recent(self.project.path)
        self.statusBar().showMessage(f"Saved {self.project.path}", 5_000)
        self._update_title()
        return True

    def autosave(self) -> None:
        if self.project is not None and not self.session.undo_stack.isClean():
            try:
                write_autosave(self.project)
            except Exception as exc:  # noqa: BLE001  (a failed autosave must not interrupt editing)
                self.statusBar().showMessage(f"Autosave failed: {exc}", 10_000)

    def offer_recovery(self) -> bool:
        """At startup: offer the newest autosave left by a crash. True when one was recovered."""
        found = find_recoverable()
        if not found or not ask_recover(self, found):
            return False
        try:
            project = recover_autosave(found[0])
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)
            return False
        discard_autosave(found[0])
        self.set_project(project, modified=True)
        return True

    def _update_title(self, *_) -> None:
        name = Path(self.project.path).name if self.project is not None and self.project.path else "untitled"
        dirty = "*" if self.project is not None and not self.session.undo_stack.isClean() else ""
        self.setWindowTitle(f"{name}{dirty} — Talkline" if self.project is not None else "Talkline")

    # --- recent files ----------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _add_recent(self, path: str) -> None:
        files = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", files[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            self.recent_menu.addAction(path, lambda p=path: self.open_project(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    # --- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        self.open_dropped([u.toLocalFile() for u in event.mimeData().urls()])

    def open_dropped(self, paths: list[str]) -> None:
        """A project file opens; a portrait and/or an audio file prefill the new-project dialog."""
        projects = [p for p in paths if p.endswith(EXTENSION)]
        if projects:
            self.open_project(projects[0])
            return
        images = [p for p in paths if Path(p).suffix.lower() in IMAGE_SUFFIXES]
        others = [p for p in paths if p not in images]
        self.new_project(images[0] if images else "", others[0] if others else "")

    # --- editing ---------------------------------------------------------------------------------
    def undo(self) -> None:
        self.session.undo_stack.undo()

    def redo(self) -> None:
        self.session.undo_stack.redo()

    def set_key_on_selection(self) -> None:
        """Key every selected channel at the playhead with its current edit value."""
        if self.project is None:
            return
        names = self.session.selection
        if not names:
            self.statusBar().showMessage("Select channels in the inspector first (tick their boxes)", 5_000)
            return
        values, t = self.session.frame_state().values, self.session.time
        edit_curves(self.session.undo_stack, self.project, names,
                    lambda n, c: c.set_key(t, values.get(n, 0.0)), f"Set key on {len(names)} channel(s)")

    def delete_keys(self) -> None:
        self.graph.delete_selected()

    def copy_keys(self) -> None:
        self.graph.copy_selected()

    def paste_keys(self) -> None:
        self.graph.paste()

    def set_interpolation(self, name: str) -> None:
        self.graph.set_interpolation(Interpolation(name))

    def regenerate(self, a2l: Choice) -> None:
        """Predict a new base layer with `a2l` on a worker; swapping it in is one undo step."""
        project = self.project
        if project is None:
            return
        if project.audio is None:
            self.statusBar().showMessage("Relink the audio before regenerating", 5_000)
            return
        self.inspector.regenerate_button.setEnabled(False)

        def done(base):
            self.inspector.regenerate_button.setEnabled(True)
            if self.project is project:
                self.session.undo_stack.push(RegenerateCommand(project, base, a2l))

        worker = self._run("Regenerating the base layer…", pipeline.regenerate_base, project, a2l, on_done=done)
        worker.errored.connect(lambda _: self.inspector.regenerate_button.setEnabled(True))

    # --- transport -------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        self.playback.toggle()

    def shuttle(self, direction: int) -> None:
        self.playback.shuttle(direction)

    def stop(self) -> None:
        self.playback.stop()

    def step_frames(self, n: int) -> None:
        self.playback.stop()
        self.session.set_frame(self.session.frame + n)

    def step_seconds(self, seconds: float) -> None:
        if self.project is not None:
            self.step_frames(round(seconds * self.project.fps))

    def jump_key(self, direction: int) -> None:
        times = self.session.key_times()
        t = self.session.time
        eps = 0.5 / self.project.fps if self.project is not None else 0.0
        if direction > 0:
            i = bisect.bisect_right(times, t + eps)
            target = times[i] if i < len(times) else None
        else:
            i = bisect.bisect_left(times, t - eps)
            target = times[i - 1] if i > 0 else None
        if target is not None:
            self.playback.stop()
            self.session.set_time(target)

    def _set_range(self, start: float | None = None, end: float | None = None) -> None:
        project = self.project
        if project is None:
            return
        a, b = project.in_out or (0.0, project.duration)
        a, b = (start if start is not None else a), (end if end is not None else b)
        if a < b:
            self.session.undo_stack.push(InOutCommand(project, (a, b)))

    def set_in_point(self) -> None:
        self._set_range(start=self.session.time)

    def set_out_point(self) -> None:
        if self.project is not None:
            self._set_range(end=self.session.time + 1.0 / self.project.fps)

    def clear_in_out(self) -> None:
        if self.project is not None and self.project.in_out is not None:
            self.session.undo_stack.push(InOutCommand(self.project, None))

    def set_loop(self, on: bool) -> None:
        self.playback.loop = on

    def _on_frame(self, frame: int) -> None:
        if self.project is not None:
            self.frame_label.setText(f"frame {frame}  {self.session.time:.3f} s")
        if not self.playback.playing:
            self.playback.play_grain(self.session.time)

    # --- view ------------------------------------------------------------------------------------
    def zoom_timeline(self, factor: float) -> None:
        self.timeline.zoom(factor)

    def fit_timeline(self) -> None:
        self.timeline.fit()

    def set_time_unit(self, unit: str) -> None:
        self.timeline.mode_box.setCurrentText(unit)

    def set_preview_mode(self, mode: str) -> None:
        self.preview.set_mode(mode)

    def set_wireframe(self, on: bool) -> None:
        self.viewport.wire_box.setChecked(on)

    def queue_render(self) -> None:
        self.docks["render"].raise_()
        self.render_dock.queue_render()

    def cancel_render(self) -> None:
        self.render_dock.cancel_selected()

    # --- shutdown --------------------------------------------------------------------------------
    def closeEvent(self, event):
        if self.project is not None and not self.session.undo_stack.isClean():
            answer = QMessageBox.question(self, "Unsaved changes", "Save the changes before closing?",
                                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel,
                                          QMessageBox.Save)
            if answer == QMessageBox.Cancel or (answer == QMessageBox.Save and not self.save()):
                event.ignore()
                return
        self.playback.stop()
        self.autosave_timer.stop()
        self.autosave_debounce.stop()
        self.render_dock.shutdown()
        self.preview.renderer.shutdown()
        if self.project is not None:
            discard_autosave(autosave_path(self.project.path))  # a clean exit leaves nothing to recover
        self.viewport.close_canvas()
        super().closeEvent(event)
