"""The main window: docks around the 2D preview, menus built from the actions table, file handling,
autosave/recovery, regeneration and project creation on workers."""
from __future__ import annotations

import bisect
import dataclasses
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QFrame, QInputDialog, QLabel, QMainWindow, QMenu, QMessageBox,
                               QProgressBar, QScrollArea, QStackedWidget, QStyle)

from editor.actions import ACTIONS, ActionSpec
from editor import key_edits
from editor.commands import (AudioSourceCommand, BaseEditCommand, CurvesCommand, FaceSourceCommand, InOutCommand,
                             RegenerateCommand, VideoRelinkCommand, edit_curves, lane_edits_since_prediction)
from editor.dialogs import (AUDIO_FILTER, IMAGE_FILTER, PROJECT_FILTER, VIDEO_EXTENSIONS, VIDEO_FILTER, NewProjectDialog,
                            ask_recover, ask_relink, show_error)
from editor.graph_editor import GraphEditor
from editor.inspector import Inspector
from editor.playback import PlaybackController
from editor.preview2d import Preview2D
from editor.render_dock import RenderDock
from editor.session import EditorSession, FrameFollower
from editor.shortcuts import WindowKeys
from editor.timeline import TimelineWidget
from editor.timeline.ruler import TIME_MODES
from editor.viewport3d import Viewport3D
from editor.welcome import WelcomePanel
from editor.workers import WARNINGS, run_task
from engine import pipeline
from engine.document.curves import Interpolation
from engine.document.project import Project
from engine.document.project_io import (EXTENSION, DamagedAutosaveWarning, audio_source_at, autosave_path,
                                        discard_autosave, find_recoverable, keep_declined, load_project,
                                        missing_sources, recover_autosave, recoverable_for, relink_source,
                                        save_project, write_autosave)
from engine.errors import ConfigError, MultipleFacesError
from engine.face.images import IMAGE_SUFFIXES
from engine.plugins import A2L_BACKENDS, Choice, default_choice
from engine.sources.audio import AudioSource
from engine.sources.portrait import Framing, PortraitSource

# The saved dock layout's version: a layout saved by an editor with other docks is not restored.
LAYOUT_VERSION = 1
# Shares of the window's height the timeline and the graph editor get back when the window grows: the centre took
# all the new height, so a window once made small kept a 3-row dope sheet and a strip of graph editor on a
# large screen. The inspector gets back the width it opens with (its readouts were cut off: "b -0.1...").
TIMELINE_MIN_SHARE = 0.22
GRAPH_MIN_SHARE = 0.14
INSPECTOR_WIDTH = 440
# ... and so does the 3D viewport (up to a third of the window's width). When the window shrinks, the bottom docks
# shrink with it in proportion (down to those shares): Qt took it all from the top row, so after a very large
# window and back the viewport was 297 px wide and the top row 226 px high at 1600x1000 (it opens 520 and 376).
VIEWPORT_WIDTH = 520
AUTOSAVE_INTERVAL_MS = 60_000
AUTOSAVE_DEBOUNCE_MS = 5_000
MAX_RECENT = 8


def _create_on_worker(request, **progress) -> Project:
    """pipeline.create_project, plus what the timeline will show that takes a while to compute (a dub video's
    own sound, decoded and laid out), so the window never waits for it."""
    project = pipeline.create_project(request, **progress)
    getattr(project.source, "sound", None)
    return project


def _portrait_on_worker(path: str, framing: Framing, progress=None) -> PortraitSource:
    """A replacement portrait found and framed (no progress to report: one face detection)."""
    return PortraitSource.analyze(path, framing)


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, use_audio: bool | None = None):
        super().__init__()
        self.setWindowTitle("Talkline")
        self.resize(1600, 960)
        self.settings = settings or QSettings("Talkline", "Talkline")
        self.session = EditorSession(self)
        self.playback = PlaybackController(self.session, self, use_audio=use_audio)
        self.busy: set[object] = set()
        self._scratch: dict[int, Path] = {}  # id(project) -> scratch folder holding its sources (the demo)
        self._closed = False
        # Autosaves this window wrote or took over by recovering them: the only ones it may delete. Another
        # session's (a crash's) stays until the user recovers it or edits over it.
        self._own_autosaves: set[Path] = set()

        self.preview = Preview2D(self.session)
        self.viewport = Viewport3D(self.session)
        self.timeline = TimelineWidget(self.session)
        self.graph = GraphEditor(self.session)
        self.inspector = Inspector(self.session)
        self.render_dock = RenderDock(self.session)
        self.welcome = WelcomePanel()
        self.centre = QStackedWidget()
        # in a scroll area: the stack's minimum is its largest page's, and the welcome card with its recent list
        # squeezed the timeline and graph editor even while a project was shown
        self.welcome_page = QScrollArea()
        self.welcome_page.setWidget(self.welcome)
        self.welcome_page.setWidgetResizable(True)
        self.welcome_page.setFrameShape(QFrame.NoFrame)
        self.centre.addWidget(self.welcome_page)
        self.centre.addWidget(self.preview)
        self.setCentralWidget(self.centre)
        self.welcome.demo_requested.connect(self.open_demo)
        self.welcome.new_requested.connect(self.new_project)
        self.welcome.open_requested.connect(self.open_project_dialog)
        self.welcome.recent_requested.connect(self.open_project)
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
        self.resizeDocks([self.docks["viewport"]], [VIEWPORT_WIDTH], Qt.Horizontal)
        self.resizeDocks([self.docks["inspector"]], [INSPECTOR_WIDTH], Qt.Horizontal)
        self.resizeDocks([self.docks["timeline"], self.docks["graph"]], [340, 230], Qt.Vertical)

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
        self._frame_label_follower = FrameFollower(s, self._update_frame_label, 200, self)
        s.undo_stack.cleanChanged.connect(self._update_title)
        s.undo_stack.cleanChanged.connect(self._on_clean)
        s.undo_stack.canUndoChanged.connect(self.actions_by_id["undo"].setEnabled)
        s.undo_stack.canRedoChanged.connect(self.actions_by_id["redo"].setEnabled)
        # the Edit menu names what undo and redo will do ("Undo Move 3 keys")
        s.undo_stack.undoTextChanged.connect(lambda text: self._name_step("undo", "&Undo", text))
        s.undo_stack.redoTextChanged.connect(lambda text: self._name_step("redo", "&Redo", text))
        self.actions_by_id["undo"].setEnabled(False)
        self.actions_by_id["redo"].setEnabled(False)
        self.playback.notice.connect(lambda msg: self.statusBar().showMessage(msg, 10_000))
        self.inspector.regenerate_requested.connect(self.regenerate)
        self.inspector.scale_requested.connect(self.scale_channels)
        self.timeline.base_edit_requested.connect(self.edit_base)
        self.timeline.realign_requested.connect(self.realign)
        self.actions_by_id["loop"].setChecked(self.playback.loop)
        style = self.style()
        for name, icon in (("go_in", QStyle.SP_MediaSkipBackward), ("play", QStyle.SP_MediaPlay),
                           ("stop", QStyle.SP_MediaStop), ("go_out", QStyle.SP_MediaSkipForward),
                           ("loop", QStyle.SP_BrowserReload)):
            self.actions_by_id[name].setIcon(style.standardIcon(icon))
        self.timeline.add_transport([self.actions_by_id[a] for a in ("go_in", "play", "stop", "go_out", "loop")])
        self.timeline.link_time(self.graph.plot)
        self.preview.frame_shown.connect(self.viewport.show_state)  # 3D and 2D always on the same frame
        s.playing_changed.connect(self._on_playing)
        s.keys_selected.connect(lambda _: self._sync_interpolation_menu())
        s.project_changed.connect(lambda _: self._sync_interpolation_menu())
        self.window_keys = WindowKeys(self, self.actions_by_id.values())
        self.window_keys.install()
        WARNINGS.warned.connect(self.show_note)  # (a method, not a lambda: gone with the window)
        self._restore_layout()
        self._update_title()

    def show_note(self, message: str) -> None:
        """An engine warning, in the status bar."""
        self.statusBar().showMessage(f"Note: {message}", 20_000)

    # --- the window's layout, kept between sessions -----------------------------------------------------
    def _restore_layout(self) -> None:
        """The window's size, the docks' places and sizes (hidden ones too) and the time unit as they were when
        the editor was last closed (each launch started from the default layout)."""
        geometry, state = self.settings.value("window/geometry"), self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state, LAYOUT_VERSION)
        unit = self.settings.value("window/time_unit")
        if unit in TIME_MODES:
            self.set_time_unit(unit)

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.setValue("window/time_unit", self.timeline.mode_box.currentText())

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
            tip = spec.tip or spec.title.replace("&", "").rstrip("…")
            action.setToolTip(f"{tip} ({spec.shortcut})" if spec.shortcut else tip)
            action.setStatusTip(tip)
            if spec.shortcut:
                action.setShortcut(spec.shortcut)
                action.setShortcutContext(Qt.WindowShortcut)
            action.setCheckable(spec.checkable)
            action.triggered.connect(self._handler(spec))
            menu = menu_for(spec.menu)
            if "/" in spec.menu and spec.arg is not None and spec.menu.split("/")[1] in ("Time &Unit", "&Preview",
                                                                                      "Key &Interpolation"):
                action.setCheckable(True)
                groups.setdefault(spec.menu, QActionGroup(self)).addAction(action)
            menu.addAction(action)
            self.addAction(action)  # shortcuts work whichever dock has focus
            self.actions_by_id[spec.id] = action
            if spec.id == "open_demo":
                recent = menu.addMenu("Open &Recent")
                recent.setObjectName("recent")
        self._mirror_panel_controls()
        view = menu_for("&View")
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())

    def _mirror_panel_controls(self) -> None:
        """The View menu's ticks follow the panels' own controls: a combo or check box changed in its panel left
        the menu ticking the old state (and W then had to be pressed twice)."""
        by_arg = {(spec.handler, spec.arg): spec.id for spec in ACTIONS if spec.arg is not None}

        def tick(handler: str):
            return lambda text: self.actions_by_id[by_arg[(handler, text)]].setChecked(True)

        for combo, handler in ((self.timeline.mode_box, "set_time_unit"), (self.preview.mode_box, "set_preview_mode")):
            combo.currentTextChanged.connect(tick(handler))
            tick(handler)(combo.currentText())
        for box, action_id in ((self.viewport.wire_box, "wireframe"), (self.graph.normalise_box, "normalise")):
            box.toggled.connect(self.actions_by_id[action_id].setChecked)
            self.actions_by_id[action_id].setChecked(box.isChecked())

    def _handler(self, spec: ActionSpec):
        method = getattr(self, spec.handler)
        if spec.checkable:
            return lambda checked: method(checked)
        return (lambda: method(spec.arg)) if spec.arg is not None else (lambda: method())

    # --- project lifecycle -----------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.session.project

    def confirm_discard(self, doing: str = "continuing") -> bool:
        """Before the open project is replaced or closed: True when it is clean, or its unsaved edits were saved
        or knowingly discarded; False when the user cancels (or a save fails)."""
        if self.project is None or self.session.undo_stack.isClean():
            return True
        name = Path(self.project.path).name if self.project.path else "The untitled project"
        answer = QMessageBox.question(self, "Unsaved changes",
                                      f"{name} has unsaved changes. Save them before {doing}?",
                                      QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Cancel:
            return False
        if answer == QMessageBox.Save:
            return self.save()
        return True

    def set_project(self, project: Project | None, modified: bool = False) -> None:
        self.playback.stop()
        old = self.project
        if old is not None and old is not project:
            # The old project was saved or knowingly discarded: its autosave is not work to recover.
            self.autosave_debounce.stop()
            self._discard_own_autosave(old)
            self._scratch.pop(id(old), None)
        self.session.set_project(project)
        self.centre.setCurrentWidget(self.preview if project is not None else self.welcome_page)
        if modified:
            self.session.undo_stack.resetClean()
        if project is not None:
            if project.path:
                self._add_recent(project.path)
            self._offer_relink()
            self.session.set_selection(self._animated_channels()[:4] or ["jawOpen"])
            gaps = getattr(getattr(project.source, "track", None), "gaps", None)
            if gaps:  # a dub's video without a face there: those frames keep the source's mouth
                spans = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in gaps[:3]) + (" ..." if len(gaps) > 3 else "")
                self.statusBar().showMessage(f"No face in the video at {spans}: those frames stay as filmed", 15_000)
        self._update_title()

    def _animated_channels(self) -> list[str]:
        return [n for n, c in self.project.channels.items() if len(c)]

    def _offer_relink(self) -> None:
        missing = missing_sources(self.project)
        if "video" in missing:
            path = ask_relink(self, "video", self.project.source.path)
            if path:
                self._relink("video", path)
            else:
                self.statusBar().showMessage("Video missing: the preview and renders need it (File > Relink Video)",
                                             10_000)
        if "audio" in missing:
            path = ask_relink(self, "audio", self.project.audio_source.path)
            if path:
                self._relink("audio", path)
            else:
                self.statusBar().showMessage("Audio missing: playback is silent and regeneration is off", 10_000)
        changed = self.project.audio_source.changed(self.project.fps)
        if changed:  # another file put at the audio's path: this one is the project's audio from now on
            source = self.project.audio_source
            self.session.undo_stack.push(AudioSourceCommand(self.project, AudioSource(source.path, source.clip)))
            self._offer_regenerate_for_new_audio(changed)

    def _relink(self, kind: str, path: str) -> None:
        # each an undo step that marks the project modified (a relink was lost on close)
        try:
            if kind == "audio":
                self.session.undo_stack.push(AudioSourceCommand(self.project, audio_source_at(path)))
                self._offer_regenerate_for_new_audio()
            elif kind == "video":
                before = self.project.source.path
                relink_source(self.project, "video", path)  # VideoReadError, nothing changed: another video
                self.session.undo_stack.push(VideoRelinkCommand(self.project, before))
            else:
                relink_source(self.project, kind, path)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)

    def _offer_regenerate_for_new_audio(self, changed: str | None = None) -> None:
        """Audio of another length than the animation (a new take, not the moved file), or another recording
        `changed` (how the file at a saved project's path differs from the one it was animated to): offer to
        animate it."""
        project = self.project
        clip = project.audio
        longer = clip is not None and abs(clip.duration - project.duration) >= 1.0 / project.fps
        if clip is None or not (longer or changed):
            return
        if project.source.kind == "video" and longer:  # its frames are the tracked video's, laid out for the 1st audio
            self.statusBar().showMessage("The new audio is of another length: a dub keeps its video's frames, so "
                                         "make a new dub for it", 15_000)
            return
        what = (f"The audio file has changed since the project was saved: it is {changed}." if changed else
                f"The new audio is {clip.duration:.2f} s long, the animation {project.duration:.2f} s.")
        answer = QMessageBox.question(
            self, "New audio", f"{what} Regenerate the animation from the new audio now? (Your keys are kept; Undo "
            "brings the old animation back.)", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        if answer == QMessageBox.Yes:
            self.regenerate(project.a2l, confirmed=True)  # (lane edits of the old audio mean nothing now)

    def export_livelink(self) -> None:
        from engine.document.interchange import export_livelink

        if self.project is None:
            return
        stem = Path(self.project.path).with_suffix("") if self.project.path else \
            Path(self.last_folder()) / Path(self.project.source.path).stem
        path, _ = QFileDialog.getSaveFileName(self, "Export Live Link Face CSV", f"{stem}_livelink.csv",
                                              "Live Link Face CSV (*.csv)")
        if not path:
            return
        try:
            frames = export_livelink(self.project, path)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)
            return
        self.statusBar().showMessage(f"Wrote {frames} frames to {path}", 8_000)

    def import_livelink(self) -> None:
        """A Live Link Face take becomes keys from the playhead on (one undo step)."""
        from engine.export.livelink import read_livelink_csv

        path = self._take_file("Import Live Link Face CSV", "Live Link Face CSV (*.csv);;All files (*)")
        if not path:
            return
        try:
            with warnings.catch_warnings(record=True) as caught:  # clipped values, skipped rows: said below
                warnings.simplefilter("always")
                take = read_livelink_csv(path)
        except (OSError, ValueError) as exc:
            show_error(self, ConfigError(str(exc) if isinstance(exc, ValueError) else f"{Path(path).name}: {exc}"))
            return
        self._import_take(take, Path(path).name)
        if caught:
            self.statusBar().showMessage(" · ".join(str(w.message) for w in caught), 15_000)

    def import_performance(self) -> None:
        """A performance filmed on video is tracked (on a worker) and becomes keys from the playhead on."""
        from engine.document.interchange import VIDEO_TAKE_TOLERANCE
        from engine.export.livelink import take_of_track
        from engine.face.track import cached_track

        path = self._take_file("Import Performance from Video",
                               f"Videos ({' '.join('*' + e for e in VIDEO_EXTENSIONS)});;All files (*)")
        if not path:
            return
        project = self.project

        def done(track):
            if self.project is project:  # not another project opened meanwhile
                self._import_take(take_of_track(track), Path(path).name, VIDEO_TAKE_TOLERANCE)

        self._run(f"Tracking the face in {Path(path).name}…", cached_track, path, on_done=done)

    def _take_file(self, caption: str, filter_: str) -> str | None:
        """The file of a take to import into the open project, or None (no project, or the user cancelled)."""
        if self.project is None:
            return None
        path, _ = QFileDialog.getOpenFileName(self, caption, self.last_folder(), filter_)
        return path or None

    def _import_take(self, take, name: str, tolerance: float | None = None) -> None:
        """The take's keys from the playhead on, as one undo step."""
        from engine.document.interchange import TAKE_TOLERANCE, import_livelink

        after = import_livelink(self.project, take, start=self.session.time, tolerance=tolerance or TAKE_TOLERANCE)
        if not after:
            self.statusBar().showMessage(f"{name}: nothing to import here", 8_000)
            return
        before = {n: self.project.channels[n].copy() for n in after}
        self.session.undo_stack.push(CurvesCommand(self.project, before, after,
                                                   f"Import {name} ({len(after)} channels)"))
        self.session.set_selection([n for n in ("jawOpen", "mouthSmileLeft", "ry") if n in after] or list(after)[:3])
        self.statusBar().showMessage(f"Imported {len(take.times)} frames at {take.fps:g} fps into {len(after)} "
                                     "channels", 8_000)

    def relink_audio(self) -> None:
        """Locate a missing audio file, or replace the project's audio with another file."""
        if self.project is None:
            return
        current = self.project.audio_source.path
        if self.project.audio is None:
            path = ask_relink(self, "audio", current)
        else:  # it is there: no "not found" warning, just the choice of another file
            path, _ = QFileDialog.getOpenFileName(self, "Replace the audio", str(Path(current).parent), AUDIO_FILTER)
        if path:
            self._relink("audio", path)

    def relink_video(self, path: str | None = None) -> None:
        """Locate a dub's moved video (asked for when `path` is None); it must be the tracked video."""
        if self.project is None:
            return
        if self.project.source.kind != "video":
            self.statusBar().showMessage("This project animates a portrait, not a video (File > Replace Portrait "
                                         "gives it another face)", 8_000)
            return
        current = self.project.source.path
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Locate the video", str(Path(current).parent), VIDEO_FILTER)
        if path:
            self._relink("video", path)

    def replace_portrait(self, path: str | None = None, face_index: int | None = None) -> None:
        """Another portrait for the project (asked for when `path` is None): found on a worker and framed at the
        first one's size and framing, then swapped in as one undo step. A picture of several faces asks which
        (the first picture's face index meant another picture's faces)."""
        project = self.project
        if project is None:
            return
        if project.source.kind != "portrait":
            self.statusBar().showMessage("A dub's face is its video's: make a new dub for another video", 8_000)
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Replace the portrait", str(Path(project.source.path).parent),
                                                  IMAGE_FILTER)
            if not path:
                return

        def done(source) -> None:
            if self.project is project:  # (not if another project was opened meanwhile)
                self.session.undo_stack.push(FaceSourceCommand(project, source))

        def failed(exc) -> None:
            if isinstance(exc, MultipleFacesError) and face_index is None and self.project is project:
                index, ok = QInputDialog.getInt(self, "Replace the portrait", f"{Path(path).name} shows {exc.count} "
                                                "faces. Which one (0 = the leftmost)?", 0, 0, exc.count - 1)
                if ok:
                    self.replace_portrait(path, index)
            else:
                show_error(self, exc)

        framing = dataclasses.replace(project.source.framing, face_index=face_index)
        self._run("Finding the face…", _portrait_on_worker, os.path.abspath(path), framing, on_done=done,
                  on_error=failed, report_errors=False)

    def new_project(self, portrait: str = "", audio: str = "", dialog: NewProjectDialog | None = None) -> None:
        """The New Project dialog, then the project made on a worker. When that fails (no face, an unreadable
        file), the dialog comes back as it was filled in once the error is closed: nothing is typed twice. (Asked
        again first about unsaved edits: another project may have been opened and edited meanwhile.)"""
        if not self.confirm_discard("starting a new project"):
            return
        dialog = dialog or NewProjectDialog(self, portrait, audio)
        if dialog.exec() != NewProjectDialog.Accepted:
            return
        try:
            values = dialog.values()
        except ConfigError as exc:
            show_error(self, exc)
            self.new_project(dialog=dialog)
            return
        self.create_project(**values, on_error=lambda _exc: self.new_project(dialog=dialog))

    def create_project(self, portrait: str, audio: str, *, fps: float = 30.0, size: int = 512,
                       full_frame: bool = False, face_index: int | None = None, transcript: str | None = None,
                       pose_template: str | os.PathLike | None = None, a2l: Choice | None = None,
                       video: str | None = None, on_error=None):
        """Analyse + predict on a worker (engine.pipeline, as the CLI does); the window stays responsive.
        `transcript` goes into the backend's config when it takes one; `video`: a dub of that video (tracked on
        the worker; its frame rate is the project's) instead of a portrait; `on_error(exc)` runs after the error
        is shown."""
        a2l = a2l or default_choice(A2L_BACKENDS)
        if transcript and any(f.name == "transcript" for f in dataclasses.fields(a2l.config)):
            a2l = a2l.replace(transcript=transcript)
        request = pipeline.ProjectRequest(portrait=None if video else portrait, audio=audio, fps=fps,
                                          framing=Framing(size, full_frame, face_index), a2l=a2l,
                                          pose_template=pose_template, video=video)
        return self._run("Creating project…", _create_on_worker, request,
                         on_done=self._replacing("the new project", lambda p: self.set_project(p, modified=True)),
                         on_error=on_error)

    def _replacing(self, what: str, open_it):
        """`open_it` for a project made on a worker, asking again about unsaved edits first if the open project was
        edited while it was made (the window stays responsive: those edits were replaced without a word)."""
        asked = (self.project, self.session.undo_stack.index())

        def done(project) -> None:
            edited = (self.project, self.session.undo_stack.index()) != asked
            if edited and not self.confirm_discard(f"opening {what}"):
                self.statusBar().showMessage(f"Kept the open project's edits: {what} was not opened", 10_000)
                return
            open_it(project)

        return done

    def open_demo(self) -> None:
        """Builds the demo in a scratch folder; saving it copies its sources beside the project file."""
        from engine.demo import build_demo_project

        if not self.confirm_discard("opening the demo"):
            return
        folder = Path(tempfile.mkdtemp(prefix="talkline-demo-"))

        def done(project):
            self.set_project(project, modified=True)
            self._scratch[id(project)] = folder

        self._run("Building the demo (astronaut + espeak-ng)…", build_demo_project, folder,
                  on_done=self._replacing("the demo", done))

    def _run(self, message: str, fn, *args, on_done, on_error=None, report_errors: bool = True, **kwargs):
        """fn on a worker with the status bar's progress; on_done(result), or the error shown (unless
        `report_errors` is False: on_error then says what is to be said) and on_error(exc)."""
        self.statusBar().showMessage(message)
        self.progress.setValue(0)
        self.progress.show()
        token = object()
        self.busy.add(token)

        def finish():
            self.busy.discard(token)
            self.progress.setVisible(bool(self.busy))
            if self.statusBar().currentMessage() == message:  # (not a note the work left meanwhile)
                self.statusBar().clearMessage()

        def done(result):
            finish()
            on_done(result)

        def failed(exc):
            finish()
            if report_errors:
                show_error(self, exc)
            if on_error is not None:
                on_error(exc)

        return run_task(fn, *args, on_done=done, on_error=failed,
                        on_progress=lambda p: self.progress.setValue(int(100 * p)), **kwargs)

    def last_folder(self) -> str:
        """The folder of the last project opened or saved (the home folder at first)."""
        folder = self.settings.value("last_folder", "")
        return folder if folder and os.path.isdir(folder) else str(Path.home())

    def _remember_folder(self, path: str) -> None:
        self.settings.setValue("last_folder", str(Path(path).resolve().parent))

    def open_project_dialog(self) -> None:
        if not self.confirm_discard("opening another project"):
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self.last_folder(), PROJECT_FILTER)
        if path:
            self.open_project(path, ask=False)

    def open_project(self, path: str, ask: bool = True) -> bool:
        """Open a project file (asking first about unsaved edits of the open one, unless `ask` is False)."""
        if ask and not self.confirm_discard("opening another project"):
            return False
        try:
            project = load_project(path)
        except Exception as exc:  # noqa: BLE001  (ProjectFileError, or a bug: shown, never a crash)
            show_error(self, exc)
            if not os.path.exists(path) and path in self.recent_files():  # a dead entry would fail every time
                self.settings.setValue("recent", [p for p in self.recent_files() if p != path])
                self._refresh_recent()
            return False
        if self._offer_recovery_of(path):
            self._remember_folder(path)
            return True
        self.set_project(project)
        self._remember_folder(path)
        return True

    def _offer_recovery_of(self, path: str) -> bool:
        """Work a crash left on the project being opened (opening its file directly must not pass it by): True
        when it was recovered. Declined, it is kept aside (the next autosave would write over it). This window's
        own autosave (the edits just discarded to open the file again) is not offered."""
        if autosave_path(path) in self._own_autosaves:
            return False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DamagedAutosaveWarning)
            found = recoverable_for(path)
        for w in caught:
            self.statusBar().showMessage("Autosave damaged, not offered for recovery: " + str(w.message), 60_000)
        if found is None:
            return False
        if not ask_recover(self, [found]):
            kept = keep_declined(found)
            self.statusBar().showMessage(f"The unrecovered work is kept as {kept}", 30_000)
            return False
        try:
            project = recover_autosave(found)
        except Exception as exc:  # noqa: BLE001  (unreadable after all: the saved project opens)
            show_error(self, exc)
            return False
        self.set_project(project, modified=True)
        self._back_up_recovered(found)
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
        path, _ = QFileDialog.getSaveFileName(self, "Save project", self.suggested_path(), PROJECT_FILTER)
        if not path:
            return False
        if not path.endswith(EXTENSION):
            path += EXTENSION
        return self._save_to(path)

    def suggested_path(self) -> str:
        """Where Save As starts: the project's file, or for an untitled one the last folder used, named after
        the portrait (never the working directory)."""
        if self.project.path:
            return self.project.path
        stem = Path(self.project.source.path).stem or "untitled"
        return str(Path(self.last_folder()) / f"{stem}{EXTENSION}")

    def _adopt_scratch_sources(self, path: str) -> None:
        """A project built in a scratch folder (the demo) gets copies of its audio and portrait beside its file,
        so the saved project does not point into a temporary folder."""
        scratch = self._scratch.get(id(self.project))
        if scratch is None:
            return
        target = Path(path).resolve()
        for kind, source in (("audio", self.project.audio_source.path), ("portrait", self.project.source.path)):
            src = Path(source).resolve()
            if src.is_relative_to(scratch.resolve()) and src.exists():
                copy = target.with_name(f"{target.stem}_{src.name}")
                shutil.copyfile(src, copy)
                relink_source(self.project, kind, copy)
        self._scratch.pop(id(self.project), None)

    def _save_to(self, path: str) -> bool:
        try:
            self._adopt_scratch_sources(path)
            save_project(self.project, path)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)
            return False
        self.session.undo_stack.setClean()
        self._add_recent(self.project.path)
        self._remember_folder(self.project.path)
        self.statusBar().showMessage(f"Saved {self.project.path}", 5_000)
        self.render_dock.follow_project_path()
        self._update_title()
        return True

    def autosave(self) -> None:
        if self.project is not None and not self.session.undo_stack.isClean():
            try:
                self._own_autosaves.add(write_autosave(self.project))
            except Exception as exc:  # noqa: BLE001  (a failed autosave must not interrupt editing)
                self.statusBar().showMessage(f"Autosave failed: {exc}", 10_000)

    def _on_clean(self, clean: bool) -> None:
        """Undone back to the saved state: the autosave of the undone edits is not work to recover (a crash then
        offered edits the user had taken back)."""
        if clean and self.project is not None:
            self._discard_own_autosave(self.project)

    def _discard_own_autosave(self, project: Project) -> None:
        path = autosave_path(project.path)
        if path in self._own_autosaves:
            discard_autosave(path)
            self._own_autosaves.discard(path)

    def _back_up_recovered(self, found: Path) -> None:
        """Recovered work is written to this window's autosave at once (it existed only in memory until the next
        timer tick: a second crash then lost it); the autosave it came from goes once the copy is down."""
        try:
            ours = write_autosave(self.project)
        except Exception as exc:  # noqa: BLE001  (the found file then stays: nothing is lost)
            self.statusBar().showMessage(f"Autosave failed: {exc}", 10_000)
            return
        self._own_autosaves.add(ours)
        if ours != found:
            discard_autosave(found)

    def offer_recovery(self) -> bool:
        """At startup: offer the newest autosave left by a crash. True when one was recovered."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DamagedAutosaveWarning)
            found = find_recoverable()
        damaged = [str(w.message) for w in caught if issubclass(w.category, DamagedAutosaveWarning)]
        for w in caught:  # anything else is passed on as it came
            if not issubclass(w.category, DamagedAutosaveWarning):
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        if damaged:  # said once, without a blocking box: there is nothing the user must decide
            self.statusBar().showMessage("Autosave damaged, not offered for recovery: " + "; ".join(damaged),
                                         60_000)
        if not found or not ask_recover(self, found):
            return False
        try:
            project = recover_autosave(found[0])
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)
            return False
        self.set_project(project, modified=True)
        self._back_up_recovered(found[0])
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
        if hasattr(self, "welcome"):
            self.welcome.set_recent(self.recent_files())

    # --- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        self.open_dropped([u.toLocalFile() for u in event.mimeData().urls()])

    def open_dropped(self, paths: list[str]) -> None:
        """A project file opens; a face source (a portrait, else a video to dub) and an audio file (any other file,
        e.g. the new speech) prefill the new-project dialog."""
        projects = [p for p in paths if p.endswith(EXTENSION)]
        if projects:
            self.open_project(projects[0])
            return
        faces = ([p for p in paths if Path(p).suffix.lower() in IMAGE_SUFFIXES]
                 + [p for p in paths if Path(p).suffix.lower() in VIDEO_EXTENSIONS])
        face = faces[0] if faces else ""
        others = [p for p in paths if p != face]
        self.new_project(face, others[0] if others else "")

    # --- editing ---------------------------------------------------------------------------------
    def _name_step(self, action_id: str, label: str, text: str) -> None:
        action = self.actions_by_id[action_id]
        named = f"{label} {text}" if text else label
        action.setText(named)
        action.setToolTip(f"{named.replace('&', '')} ({action.shortcut().toString()})")

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
        if self.project is not None:
            key_edits.delete(self.session)

    def copy_keys(self) -> None:
        if self.project is not None:
            n = key_edits.copy(self.session)
            self.statusBar().showMessage(f"Copied {n} key{'s' if n != 1 else ''}", 3_000)

    def paste_keys(self) -> None:
        if self.project is not None:
            key_edits.paste(self.session)

    def set_interpolation(self, name: str) -> None:
        if self.project is not None:
            key_edits.set_interpolation(self.session, Interpolation(name))
        self._sync_interpolation_menu()

    def _sync_interpolation_menu(self) -> None:
        """The Key Interpolation menu shows the selected keys' common mode (none checked when mixed)."""
        current = self.graph.current_interpolation()
        for interp in Interpolation:
            action = self.actions_by_id[f"interp_{interp.value}"]
            action.setChecked(interp == current)
            action.setEnabled(bool(self.session.key_selection))

    def scale_keys_dialog(self) -> None:
        if self.project is None or not self.session.key_selection:
            self.statusBar().showMessage("Select keys first (dope sheet or graph editor)", 5_000)
            return
        percent, ok = QInputDialog.getDouble(self, "Scale keys", "Scale the selected keys' timing around the "
                                             "playhead by (%):", 100.0, 1.0, 1000.0, 1)
        if ok:
            key_edits.scale(self.session, percent / 100.0)

    def graph_frame_all(self) -> None:
        self.graph.frame_all()

    def graph_frame_selected(self) -> None:
        self.graph.frame_selected()

    def set_graph_normalised(self, on: bool) -> None:
        self.graph.normalise_box.setChecked(on)

    def regenerate(self, a2l: Choice, confirmed: bool = False) -> None:
        """Predict a new base layer with `a2l` on a worker; swapping it in is one undo step. Asks first when it
        would replace lip-sync lane edits (unless the user has `confirmed` a regenerate already)."""
        project = self.project
        if project is None:
            return
        if project.audio is None:
            self.statusBar().showMessage("Relink the audio before regenerating", 5_000)
            return
        edits = 0 if confirmed else lane_edits_since_prediction(self.session.undo_stack)
        if edits and QMessageBox.question(
                self, "Regenerate", f"Regenerating predicts the whole lip sync anew: your {edits} lip-sync lane "
                f"edit{'s' if edits > 1 else ''} (boundaries, labels, re-aligned stretches) will be replaced. Keys "
                "are kept, and Undo brings the edits back.\n\nRegenerate?",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.No) != QMessageBox.Yes:
            return
        self.inspector.set_regenerating(True)
        audio = project.audio_source

        def done(base):
            self.inspector.set_regenerating(False)
            # (an undone relink while it ran: that base is of audio the project no longer has)
            if self.project is project and project.audio_source is audio:
                self.session.undo_stack.push(RegenerateCommand(project, base, a2l))

        worker = self._run("Regenerating the base layer…", pipeline.regenerate_base, project, a2l, on_done=done)
        worker.errored.connect(lambda _: self.inspector.set_regenerating(False))

    def edit_base(self, base, text: str) -> None:
        """A lip-sync lane edit: the new base layer is one undo step (edit layers kept)."""
        if self.project is not None:
            self.session.undo_stack.push(BaseEditCommand(self.project, base, text))

    def realign(self, start: float, end: float, transcript: str):
        """Re-predict [start, end] with its typed transcript on a worker and splice it in (one undo step)."""
        project = self.project
        if project is None:
            return None
        if project.audio is None:
            self.statusBar().showMessage("Relink the audio before re-aligning", 5_000)
            return None

        def done(base):
            if self.project is project:
                self.session.undo_stack.push(BaseEditCommand(project, base, f"Re-align \"{transcript}\""))

        return self._run(f"Re-aligning {start:.2f}-{end:.2f} s…", pipeline.repredict_range, project, start, end,
                         transcript, on_done=done)

    def scale_channels(self, names, factor: float, over: str, ramp: float) -> None:
        """Scale a channel group's result by `factor` over the in/out range or the selected word, as eased keys."""
        from engine.document.edits import scale_channels

        project = self.project
        if project is None:
            return
        if over == "word":
            sel = self.session.segment_selection
            words = self.timeline.lane_segments("words")
            if sel is None or sel[0] != "words" or sel[1] >= len(words):
                self.statusBar().showMessage("Select a word in the word lane first", 5_000)
                return
            span = (words[sel[1]].start, words[sel[1]].end)
        else:
            if project.in_out is None:
                self.statusBar().showMessage("Set an in/out range first (I and O)", 5_000)
                return
            span = project.in_out
        names = [n for n in names if n in project.channels]
        if not names:
            self.statusBar().showMessage("No channels to scale (select some in the inspector)", 5_000)
            return
        after = scale_channels(project, names, span[0], span[1], factor, ramp)
        before = {n: project.channels[n].copy() for n in after}
        what = names[0] if len(names) == 1 else f"{len(names)} channels"
        self.session.undo_stack.push(CurvesCommand(project, before, after,
                                                   f"Scale {what} to {100 * factor:.0f} % "
                                                   f"({span[0]:.2f}-{span[1]:.2f} s)"))

    # --- transport -------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        self.playback.toggle()

    def set_playing(self, on: bool) -> None:
        if on != self.playback.playing:
            self.playback.toggle()
        self._on_playing(self.playback.playing)

    def _on_playing(self, playing: bool) -> None:
        action = self.actions_by_id["play"]
        if action.isChecked() != playing:
            action.setChecked(playing)

    def go_to_in_out(self, which: int) -> None:
        project = self.project
        if project is None:
            return
        self.playback.stop()
        a, b = project.in_out or (0.0, project.duration)
        self.session.set_frame(project.frame_of(a) if which == 0 else project.frame_of(b - 0.5 / project.fps))

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
        if a >= b:  # an in point after the out point (or an out before the in): the other end lets go, as in NLEs
            a, b = (a, project.duration) if start is not None else (0.0, b)
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

    def _update_frame_label(self) -> None:
        if self.project is not None:
            self.frame_label.setText(f"frame {self.session.frame}  {self.session.time:.3f} s")

    def _on_frame(self, frame: int) -> None:
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

    def resizeEvent(self, event):
        super().resizeEvent(event)
        old, size = event.oldSize(), event.size()
        # (not on the first show, whose old size is invalid: widths restored from the last session stay)
        if old.isValid() and size.width() > old.width():
            for dock, width in ((self.docks["inspector"], INSPECTOR_WIDTH), (self.docks["viewport"], VIEWPORT_WIDTH)):
                if dock.isVisible() and dock.width() < width:
                    self.resizeDocks([dock], [min(width, size.width() // 3)], Qt.Horizontal)
        if size.height() == old.height():
            return
        height = size.height()
        shares = {"timeline": TIMELINE_MIN_SHARE, "graph": GRAPH_MIN_SHARE}
        # (a hidden dock keeps a stale height and a floating one its own window's: neither takes the window's)
        docks = [(d, max(int(share * height), d.minimumSizeHint().height())) for d, share in
                 ((self.docks[n], share) for n, share in shares.items())
                 if d.isVisible() and not d.isFloating()]
        if not docks:
            return
        if size.height() > old.height():
            wanted = [max(d.height(), least) for d, least in docks]
        elif old.isValid():
            wanted = [max(round(d.height() * height / old.height()), least) for d, least in docks]
        else:
            return
        if wanted != [d.height() for d, _ in docks]:
            self.resizeDocks([d for d, _ in docks], wanted, Qt.Vertical)

    # --- shutdown --------------------------------------------------------------------------------
    def closeEvent(self, event):
        if self._closed:
            super().closeEvent(event)
            return
        if not self.confirm_discard("closing"):
            event.ignore()
            return
        renders = self.render_dock.unfinished()
        if renders and QMessageBox.question(
                self, "Render in progress",
                f"{renders} render{'s are' if renders > 1 else ' is'} not finished. Stop {'them' if renders > 1 else 'it'} "
                "and close? (What is half written is removed.)",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.No) != QMessageBox.Yes:
            event.ignore()
            return
        self._closed = True
        WARNINGS.warned.disconnect(self.show_note)
        self._save_layout()
        self.window_keys.remove()
        self.playback.stop()
        self.autosave_timer.stop()
        self.autosave_debounce.stop()
        self.render_dock.shutdown()
        self.preview.renderer.shutdown()
        if self.project is not None:
            self._discard_own_autosave(self.project)  # a clean exit leaves nothing of its own to recover
        self.viewport.close_canvas()
        super().closeEvent(event)
