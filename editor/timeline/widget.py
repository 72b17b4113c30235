"""TimelineWidget: the transport bar, the waveform and the lip-sync lanes (words, phonemes, visemes, blinks)
in x-linked pyqtgraph plots of fixed height, and the dope sheet below them (it takes the remaining height and
scrolls its rows, so adding keyed channels never shrinks the waveform). One playhead and in/out range across
all of them."""
from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QInputDialog, QLabel, QMenu, QPushButton,
                               QToolButton, QVBoxLayout, QWidget)

from editor.session import EditorSession
from editor.timeline.dopesheet import DopeSheet
from editor.timeline.lanes import LaneViewBox, SegmentLaneItem
from editor.timeline.ruler import TIME_MODES, TimeAxis, format_time
from editor.timeline.scrub_view import ScrubViewBox
from editor.timeline.waveform import WaveformItem, WaveformPyramid
from engine.audio.decode import ANALYSIS_RATE
from engine.document import lipsync
from engine.document.changes import Change, ChangeKind
from engine.plugins import A2L_BACKENDS

AXIS_WIDTH = 124  # the label column of the timeline, the dope sheet and the graph editor: time axes line up
LANE_ROWS = ("words", "phonemes", "visemes", "blinks")
ROW_PX = 18
WAVE_PX = 84
RULER_PX = 24
PLAYHEAD_PEN = pg.mkPen("#ff9a2e", width=2)
EDITABLE = ("words", "phonemes", "visemes")
BOUNDARY_PX = 5.0
SOURCE_SOUND_COLOUR = "#7d8590"  # grey: heard nowhere, shown for timing against the new audio
class TimelineWidget(QWidget):
    base_edit_requested = Signal(object, str)  # an edited BaseLayer, the undo text
    realign_requested = Signal(float, float, str)  # start, end (s), transcript of that stretch

    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.pyramid: WaveformPyramid | None = None
        self._pyramid_audio = None  # the AudioClip self.pyramid was built from (rebuilt only when it changes)

        self.mode_box = QComboBox()
        self.mode_box.addItems(TIME_MODES)
        self.mode_box.setCurrentText("timecode")
        self.mode_box.setToolTip("Show times as frames, timecode (HH:MM:SS:FF) or seconds")
        self.mode_box.currentTextChanged.connect(self._on_mode)
        fit = QPushButton("Fit")
        fit.setToolTip("Zoom to the whole clip (\\)")
        fit.clicked.connect(self.fit)
        self.readout = QLabel("")
        self.readout.setToolTip("Playhead frame and time")
        self.transport = QHBoxLayout()  # MainWindow puts the transport actions' buttons here
        self.transport.setSpacing(2)
        header = QHBoxLayout()
        header.setContentsMargins(4, 2, 4, 2)
        header.addLayout(self.transport)
        header.addSpacing(12)
        header.addWidget(QLabel("Time unit"))
        header.addWidget(self.mode_box)
        header.addWidget(fit)
        header.addStretch(1)
        header.addWidget(self.readout)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.layout.setSpacing(0)
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.ruler = TimeAxis("top")
        self.wave_plot = self._add_plot(0, {"top": self.ruler})
        self.lane_plot = self._add_plot(1, view=LaneViewBox(self.boundary_hit))
        self.lane_plot.setXLink(self.wave_plot)
        self.lane_plot.getViewBox().invertY(True)
        self.wave_plot.setYRange(-1.0, 1.0, padding=0.05)
        self.lane_plot.setYRange(0, len(LANE_ROWS), padding=0)
        self.lane_plot.getAxis("left").setTicks([[(i + 0.5, n) for i, n in enumerate(LANE_ROWS)]])
        layout_ = self.graphics.ci.layout
        layout_.setRowFixedHeight(0, WAVE_PX + RULER_PX)
        layout_.setRowFixedHeight(1, ROW_PX * len(LANE_ROWS))
        self.graphics.setFixedHeight(WAVE_PX + RULER_PX + ROW_PX * len(LANE_ROWS) + 4)

        self.waveform = WaveformItem()
        self.waveform.attach(self.wave_plot.getViewBox())
        # a dub project's source video: its own sound (muted) under the new audio, as the picture plays it
        self.source_waveform = WaveformItem(color=SOURCE_SOUND_COLOUR)
        self.source_waveform.attach(self.wave_plot.getViewBox())
        self.source_pyramid: WaveformPyramid | None = None
        self._source_sound = None  # the array source_pyramid was built from
        self.lane_items: list[SegmentLaneItem] = []
        self._linked: list[pg.PlotItem] = []  # other views on this time axis (the graph editor)
        self._fitted: float | None = None  # the clip length the view was last fitted to (None: a new project)
        self.dope_sheet = DopeSheet(session)
        self.dope_sheet.plot.setXLink(self.wave_plot)
        self.playheads = [pg.InfiniteLine(angle=90, pen=PLAYHEAD_PEN) for _ in range(3)]
        self.in_out_regions = [pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 200, 80, 28),
                                                   pen=pg.mkPen("#e0a040", width=1)) for _ in range(3)]
        for plot, line, region in zip(self.plots, self.playheads, self.in_out_regions):
            plot.addItem(region, ignoreBounds=True)
            plot.addItem(line, ignoreBounds=True)
            line.setZValue(100)
            region.setZValue(-10)
        self.wave_plot.getViewBox().sigScrub.connect(self._on_scrub)
        lane_view = self.lane_plot.getViewBox()
        lane_view.sigScrub.connect(self._on_lane_click)
        lane_view.sigBoundary.connect(self._on_boundary_drag)
        lane_view.sigContext.connect(self._on_lane_context)
        self.boundary_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ffd27a", width=2))
        self.boundary_line.setVisible(False)
        self.lane_plot.addItem(self.boundary_line, ignoreBounds=True)
        self._boundary: tuple[str, int] | None = None
        self.lane_plot.getViewBox().setToolTip(
            "Lip-sync lanes: click a word, phoneme or viseme to select it; drag a boundary to retime the mouth "
            "there; right-click to change a phoneme or viseme or to re-align a stretch with its transcript")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.graphics)
        layout.addWidget(self.dope_sheet, 1)

        session.project_replaced.connect(self._on_replaced)
        session.segment_selected.connect(self._on_segment_selected)
        session.project_changed.connect(self._on_project_changed)
        session.frame_changed.connect(self._on_frame)
        self._rebuild()

    def add_transport(self, actions) -> None:
        """Buttons for the transport actions (play, stop, loop, go to in/out), sharing their state."""
        for action in actions:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            self.transport.addWidget(button)

    @property
    def plots(self) -> tuple[pg.PlotItem, ...]:
        return (self.wave_plot, self.lane_plot, self.dope_sheet.plot.getPlotItem())

    def link_time(self, plot: pg.PlotItem) -> None:
        """Another view shares this time axis (same range, same limits: without them, zooming out there left
        this axis at its limit and equal times stopped lining up)."""
        plot.setXLink(self.wave_plot)
        self._linked.append(plot)
        self._set_time_limits()

    def _set_time_limits(self) -> None:
        project = self.session.project
        if project is None:
            return
        duration = project.duration
        for view in (p.getViewBox() for p in self.plots + tuple(self._linked)):
            view.setLimits(xMin=-0.05 * duration, xMax=duration * 1.05, minXRange=2.0 / project.fps)

    def _add_plot(self, row: int, axes: dict | None = None, view=None) -> pg.PlotItem:
        plot = self.graphics.addPlot(row=row, col=0, viewBox=view or ScrubViewBox(), axisItems=axes or {})
        plot.hideAxis("bottom")
        plot.showAxis("top", row == 0)
        left = plot.getAxis("left")
        left.setWidth(AXIS_WIDTH)
        left.setStyle(hideOverlappingLabels=False, textFillLimits=[(0, 1.0)])  # every lane keeps its name
        plot.hideButtons()
        plot.setMenuEnabled(False)
        return plot

    # --- model -> view ---------------------------------------------------------------------------
    def _on_replaced(self) -> None:
        self._fitted = None
        self._rebuild()

    def _rebuild(self) -> None:
        project = self.session.project
        for item in self.lane_items:
            self.lane_plot.removeItem(item)
        self.lane_items = []
        for line in self.playheads:
            line.setVisible(project is not None)
        if project is None:  # the empty timeline shows no playhead and no in/out band
            self.waveform.set_pyramid(None)
            self._show_source_sound(None)
            for region in self.in_out_regions:
                region.setVisible(False)
            return
        audio = project.audio
        if audio is not self._pyramid_audio:  # a base or fps change keeps the audio: no need to rebuild the pyramid
            self.pyramid = WaveformPyramid(audio.mono16k, ANALYSIS_RATE) if audio is not None else None
            self._pyramid_audio = audio
        self.ruler.set_format(project.fps, self.mode_box.currentText())
        self._set_time_limits()
        self._build_lanes()
        self.waveform.set_pyramid(self.pyramid)
        self._show_source_sound(getattr(project.source, "sound", None))
        self._refresh_in_out()
        # Fitted to a new project or length only: a lane edit, its undo or a regenerate keeps the zoom the user
        # works at (each reset it to the whole clip).
        if self._fitted != project.duration:
            self._fitted = project.duration
            self.fit()
        self._on_frame(self.session.frame)

    def _show_source_sound(self, sound) -> None:
        """With a source video's sound the audio row splits: the new audio above, the source's (muted) below."""
        if sound is not self._source_sound:
            self.source_pyramid = WaveformPyramid(sound, ANALYSIS_RATE) if sound is not None else None
            self._source_sound = sound
        split = self.source_pyramid is not None
        self.waveform.place(0.5 if split else 0.0, 0.5 if split else 1.0)
        self.source_waveform.place(-0.5, 0.5)
        self.source_waveform.set_pyramid(self.source_pyramid)
        self.wave_plot.getAxis("left").setTicks(
            [[(0.5, "audio"), (-0.5, "source (muted)")]] if split else [[(0.0, "audio")]])

    def _build_lanes(self) -> None:
        project = self.session.project
        base = project.base
        backend = A2L_BACKENDS.get(project.a2l.name)
        caps = backend.capabilities
        colors = (("#6a5a2f", "#5a4c27"), ("#3b5a7a", "#2f4a66"), ("#5a3b7a", "#4a2f66"), ("#3b7a5a", "#2f664a"))
        words = self.words()
        tracks = (words, base.phonemes, base.visemes, base.blinks)
        hints = ("no words: select a stretch and type its transcript" if caps.phonemes else
                 f"not provided by {backend.title}",) + tuple(
            "" if has else f"not provided by {backend.title}" for has in (caps.phonemes, caps.phonemes, caps.blinks))
        for row, (segs, col, hint) in enumerate(zip(tracks, colors, hints)):
            item = SegmentLaneItem(segs, row, col, project.duration, hint)
            self.lane_plot.addItem(item)
            self.lane_items.append(item)
        self._on_segment_selected(self.session.segment_selection)

    def words(self) -> list:
        """The word segments shown in the word lane (engine.document.lipsync derives them)."""
        return lipsync.word_segments(self.session.project)

    def lane_segments(self, lane: str) -> list:
        item = self.lane_items[LANE_ROWS.index(lane)] if self.lane_items else None
        return item.segments if item is not None else []

    def _on_segment_selected(self, selection) -> None:
        for lane, item in zip(LANE_ROWS, self.lane_items):
            index = selection[1] if selection is not None and selection[0] == lane else None
            if item.selected != index:
                item.selected = index
                item.update()

    # --- lip-sync lanes ---------------------------------------------------------------------------
    def _lane_at(self, y: float) -> str | None:
        row = int(np.floor(y))
        return LANE_ROWS[row] if 0 <= row < len(LANE_ROWS) else None

    def boundary_hit(self, scene_pos) -> tuple[str, int] | None:
        """(lane, index of the segment that starts there) when scene_pos is on an editable boundary."""
        view = self.lane_plot.getViewBox()
        p = view.mapSceneToView(scene_pos)
        lane = self._lane_at(p.y())
        if lane not in EDITABLE or self.session.project is None:
            return None
        segments = self.lane_segments(lane)
        best = None
        for i in range(1, len(segments)):
            if abs(segments[i].start - segments[i - 1].end) > 1e-6:
                continue  # a gap, not a shared boundary
            x = view.mapViewToScene(QPointF(segments[i].start, p.y())).x()
            d = abs(x - scene_pos.x())
            if d <= BOUNDARY_PX and (best is None or d < best[0]):
                best = (d, (lane, i))
        return best[1] if best else None

    def boundary_scene_pos(self, lane: str, index: int):
        """Scene position of the boundary before segment `index` of a lane (tests)."""
        row = LANE_ROWS.index(lane)
        return self.lane_plot.getViewBox().mapViewToScene(QPointF(self.lane_segments(lane)[index].start, row + 0.5))

    def segment_scene_pos(self, lane: str, index: int):
        seg = self.lane_segments(lane)[index]
        row = LANE_ROWS.index(lane)
        return self.lane_plot.getViewBox().mapViewToScene(QPointF(0.5 * (seg.start + seg.end), row + 0.5))

    def _on_lane_click(self, t: float, y: float) -> None:
        lane = self._lane_at(y)
        if lane in EDITABLE:
            index = lipsync.segment_at(self.lane_segments(lane), t)
            self.session.set_segment_selection((lane, index) if index is not None else None)
        self.session.set_time(t)

    def _on_boundary_drag(self, ev) -> None:
        view = self.lane_plot.getViewBox()
        if ev.isStart():
            self._boundary = self.boundary_hit(ev.buttonDownScenePos())
        if self._boundary is None:
            return
        t = view.mapSceneToView(ev.scenePos()).x()
        self.boundary_line.setValue(t)
        self.boundary_line.setVisible(not ev.isFinish())
        if ev.isFinish():
            lane, index = self._boundary
            self._boundary = None
            project = self.session.project
            try:
                base = lipsync.move_boundary(project.base, lane, index, t, min_len=1.0 / project.fps,
                                             words=self.words())
            except ValueError:
                return
            self.base_edit_requested.emit(base, f"Move {lane[:-1]} boundary")

    def _on_lane_context(self, ev) -> None:
        p = self.lane_plot.getViewBox().mapSceneToView(ev.scenePos())
        lane = self._lane_at(p.y())
        if lane not in EDITABLE or self.session.project is None:
            return
        index = lipsync.segment_at(self.lane_segments(lane), p.x())
        if index is not None:
            self.session.set_segment_selection((lane, index))
        menu = self.lane_menu(lane, index)
        menu.popup(ev.screenPos().toPoint())

    def lane_menu(self, lane: str, index: int | None) -> QMenu:
        """Change a phoneme or viseme (the mouth reshapes over its span); re-align a stretch with its text."""
        menu = QMenu(self)
        menu.setObjectName("lane_menu")
        if index is not None and lane in ("phonemes", "visemes"):
            current = self.lane_segments(lane)[index].label
            change = menu.addMenu(f"Change {current} to")
            change.setObjectName("change_label")
            for label in lipsync.label_choices(lane):
                action = QAction(label, change)
                action.setEnabled(label != current)
                action.triggered.connect(lambda _=False, l=label: self.relabel(lane, index, l))
                change.addAction(action)
        # Each stretch that can be re-aligned is named with its span: a right-click selects the segment under it,
        # and a single menu entry silently used that instead of the in/out range the user had set.
        for name, stretch in self.realign_stretches():
            action = menu.addAction(f"Type the transcript of {name} ({stretch[0]:.2f}-{stretch[1]:.2f} s) and re-align "
                                    "it…", lambda s=stretch: self.ask_realign(*s))
            action.setObjectName("realign")
        if not menu.findChildren(QAction, "realign"):
            menu.addAction("Type the transcript of a selection and re-align it… (select a segment or set in/out)"
                           ).setEnabled(False)
        return menu

    def relabel(self, lane: str, index: int, label: str) -> None:
        project = self.session.project
        base = lipsync.relabel(project.base, lane, index, label, project.rig)
        if not base.words:  # a project saved before base layers kept words: keep the derived ones
            base = dataclasses.replace(base, words=self.words())
        self.base_edit_requested.emit(base, f"Change {lane[:-1]} to {label}")

    def realign_stretches(self) -> list[tuple[str, tuple[float, float]]]:
        """The stretches a typed transcript can re-align: the selected lip-sync segment's, the in/out range."""
        project = self.session.project
        out = []
        sel = self.session.segment_selection
        if sel is not None:
            segments = self.lane_segments(sel[0])
            if sel[1] < len(segments):
                out.append((f"the selected {sel[0][:-1]}", (segments[sel[1]].start, segments[sel[1]].end)))
        if project is not None and project.in_out is not None:
            out.append(("the in/out range", project.in_out))
        return out

    def ask_realign(self, start: float, end: float) -> None:
        words = [w.label for w in self.words() if w.end > start + 1e-6 and w.start < end - 1e-6]
        text, ok = QInputDialog.getText(self, "Re-align a stretch",
                                        f"What is said from {start:.2f} s to {end:.2f} s:", text=" ".join(words))
        if ok and text.strip():
            self.realign_requested.emit(start, end, text.strip())

    def _on_project_changed(self, change: Change) -> None:
        if change.kind is ChangeKind.IN_OUT:
            self._refresh_in_out()
        elif change.kind in (ChangeKind.BASE, ChangeKind.SOURCES, ChangeKind.FPS):
            self._rebuild()

    def _refresh_in_out(self) -> None:
        in_out = self.session.project.in_out
        for region in self.in_out_regions:
            region.setVisible(in_out is not None)
            if in_out is not None:
                region.setRegion(in_out)

    def _on_frame(self, frame: int) -> None:
        project = self.session.project
        if project is None:
            return
        t = project.time_of(frame)
        for line in self.playheads:
            line.setValue(t)
        mode = self.mode_box.currentText()
        self.readout.setText(f"frame {frame} / {project.frame_count - 1}   {format_time(t, 'timecode', project.fps)}"
                             if mode != "seconds" else f"{t:.3f} s")

    # --- view -> model ---------------------------------------------------------------------------
    def _on_scrub(self, t: float, y: float) -> None:
        self.session.set_time(t)

    def _on_mode(self, mode: str) -> None:
        if self.session.project is not None:
            self.ruler.set_format(self.session.project.fps, mode)
            self._on_frame(self.session.frame)

    # --- zoom ------------------------------------------------------------------------------------
    def fit(self) -> None:
        if self.session.project is not None:
            self.wave_plot.setXRange(0.0, self.session.project.duration, padding=0.01)

    def zoom(self, factor: float) -> None:
        """Zoom time around the playhead (factor < 1 zooms in)."""
        (t0, t1), t = self.wave_plot.viewRange()[0], self.session.time
        self.wave_plot.setXRange(t - (t - t0) * factor, t + (t1 - t) * factor, padding=0)
