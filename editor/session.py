"""The editor's Qt-side state around a Project: playhead, channel selection, undo stack, cached frame state.

Views subscribe to these signals (and to `project_changed`, the GUI-thread relay of Project.changed);
none of them owns the document.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from engine.document.changes import Change, ChangeKind
from engine.document.project import FrameState, Project

# Changes that alter the evaluated motion (the views showing the playhead frame redraw on these).
MOTION_CHANGES = frozenset({ChangeKind.CHANNELS, ChangeKind.GAINS, ChangeKind.BASE, ChangeKind.FPS, ChangeKind.FACE})


class EditorSession(QObject):
    project_replaced = Signal()  # a different Project (or None) is now open
    project_changed = Signal(object)  # relay of Project.changed: an engine.document.changes.Change
    frame_changed = Signal(int)
    selection_changed = Signal(tuple)  # selected channel names
    keys_selected = Signal(object)  # frozenset of (channel, key index): the dope sheet's and graph's selection
    playing_changed = Signal(bool)
    segment_selected = Signal(object)  # (lane, index) of the selected lip-sync segment, or None

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.project: Project | None = None
        self.undo_stack = QUndoStack(self)
        self.frame = 0
        self.selection: tuple[str, ...] = ()
        self.key_selection: frozenset[tuple[str, int]] = frozenset()
        self.clipboard: list = []  # (channel, Key) copied from the dope sheet or the graph editor
        self.playing = False  # the playhead is moving on its own (views may refresh less)
        self.segment_selection: tuple[str, int] | None = None  # ("words" | "phonemes" | "visemes", index)
        self._state: FrameState | None = None
        self._state_frame = -1

    def set_project(self, project: Project | None) -> None:
        if self.project is not None:
            self.project.changed.disconnect(self._on_project_changed)
        self.project = project
        self.undo_stack.clear()
        self._state = None
        self.frame = 0
        self.selection = ()
        self.key_selection = frozenset()
        self.segment_selection = None
        if project is not None:
            project.changed.connect(self._on_project_changed)
        self.project_replaced.emit()
        self.selection_changed.emit(self.selection)
        self.frame_changed.emit(self.frame)

    def _on_project_changed(self, change: Change) -> None:
        self._state = None
        if change.kind is ChangeKind.CHANNELS and self.key_selection:
            channels = self.project.channels
            self.set_key_selection(k for k in self.key_selection if k[1] < len(channels[k[0]]))
        self.project_changed.emit(change)
        if change.kind in (ChangeKind.BASE, ChangeKind.FPS) and self.project is not None:
            self.set_frame(min(self.frame, self.project.frame_count - 1))

    # --- playhead -------------------------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        return self.project.frame_count if self.project is not None else 0

    @property
    def time(self) -> float:
        return self.project.time_of(self.frame) if self.project is not None else 0.0

    def set_frame(self, frame: int) -> None:
        if self.project is None:
            return
        frame = max(0, min(int(frame), self.project.frame_count - 1))
        if frame != self.frame:
            self.frame = frame
            self.frame_changed.emit(frame)

    def set_time(self, seconds: float) -> None:
        if self.project is not None:
            self.set_frame(self.project.frame_of(seconds))

    def frame_state(self) -> FrameState:
        """The evaluated playhead frame, shared by every view (evaluated once per frame or change)."""
        if self._state is None or self._state_frame != self.frame:
            self._state = self.project.evaluate(self.frame)
            self._state_frame = self.frame
        return self._state

    # --- channel selection ----------------------------------------------------------------------
    def set_selection(self, names) -> None:
        names = tuple(dict.fromkeys(names))
        if names != self.selection:
            self.selection = names
            self.selection_changed.emit(names)

    def set_key_selection(self, keys) -> None:
        keys = frozenset(keys)
        if keys != self.key_selection:
            self.key_selection = keys
            self.keys_selected.emit(keys)

    def set_segment_selection(self, selection: tuple[str, int] | None) -> None:
        if selection != self.segment_selection:
            self.segment_selection = selection
            self.segment_selected.emit(selection)

    def set_playing(self, playing: bool) -> None:
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)

    def key_times(self) -> list[float]:
        """Sorted times of every key on every channel (for next/previous key)."""
        if self.project is None:
            return []
        return sorted({k.time for c in self.project.channels.values() for k in c.keys})


class FrameFollower(QObject):
    """Calls `fn()` when the playhead moves: at once when the user moves it, at most every `interval_ms` during
    playback (the inspector's and graph editor's readouts need not follow every played frame), and once more
    when playback stops."""

    def __init__(self, session: EditorSession, fn, interval_ms: int, parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.fn = session, fn
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(fn)
        session.frame_changed.connect(self._on_frame)
        session.playing_changed.connect(self._on_playing)

    def _on_frame(self, _frame: int) -> None:
        if not self.session.playing:
            self.timer.stop()
            self.fn()
        elif not self.timer.isActive():
            self.timer.start()

    def _on_playing(self, playing: bool) -> None:
        if not playing:
            self.timer.stop()
            self.fn()
