"""Graph editor: base, edit and result curves of the selected channels; drag keys and bezier handles, box-select,
delete, copy/paste, set interpolation (the menu shows the selected keys' mode). Home frames all, F frames the
selected keys; edits never re-frame the view. "Normalised" draws each channel in its own 0..1 range (channels
with different units side by side). Its time axis is linked to the timeline's (same time, same x).

The key selection is the session's (shared with the dope sheet); every change is one named undo step."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QPen
from PySide6.QtWidgets import QCheckBox, QGraphicsRectItem, QHBoxLayout, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from editor import key_edits
from editor.session import EditorSession, FrameFollower
from engine.document import edits
from engine.document.changes import Change, ChangeKind
from engine.document.curves import Curve, Interpolation
from engine.document.project import POSE_CHANNELS
from engine.document.readout import base_tracks

PALETTE = ("#5fa8d3", "#e0a040", "#7cc47a", "#d36f6f", "#b58be0", "#5fd3c4", "#d3c45f", "#e07ab0")
HIT_PX = 7.0
HANDLE_MIN_DT = 1e-3
AXIS_WIDTH = 124  # the label column of the timeline, the dope sheet and the graph editor: time axes line up
INTERP_TITLES = {i: i.value.replace("_", " ").title().replace("In Out", "In-Out") for i in Interpolation}


@dataclass(frozen=True)
class Hit:
    channel: str
    index: int
    side: str | None = None  # None = the key itself, "left"/"right" = that bezier handle


class GraphViewBox(pg.ViewBox):
    """Left drag edits (keys, handles, box select); middle drag pans, right drag zooms, wheel zooms."""

    sigLeftDrag = Signal(object)
    sigLeftClick = Signal(object)
    sigContext = Signal(object)

    def __init__(self):
        super().__init__(enableMenu=False)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() == Qt.LeftButton and axis is None:
            ev.accept()
            self.sigLeftDrag.emit(ev)
        else:
            super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.LeftButton:
            ev.accept()
            self.sigLeftClick.emit(ev)
        elif ev.button() == Qt.RightButton:
            ev.accept()
            self.sigContext.emit(ev)
        else:
            super().mouseClickEvent(ev)


class _KeySpots(pg.ScatterPlotItem):
    """The keys' diamonds. pyqtgraph's scatter takes a click on one of its spots for itself, so a click right on a
    key never reached the view and did not select it (only a click a few pixels beside it did): clicks pass."""

    def mouseClickEvent(self, ev):
        ev.ignore()


class GraphEditor(QWidget):
    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._drag: dict | None = None
        self._drag_ids = itertools.count()
        self._norm: dict[str, tuple[float, float]] = {}  # channel -> (lo, span) in normalised view

        self.normalise_box = QCheckBox("Normalised")
        self.normalise_box.setToolTip("Draw each channel in its own 0..1 range (channels with different units)")
        self.normalise_box.toggled.connect(lambda _: self.redraw(frame="all"))
        frame_all = QPushButton("Frame all")
        frame_all.setToolTip("Fit every curve in view (Home)")
        frame_all.clicked.connect(self.frame_all)
        frame_sel = QPushButton("Frame selected")
        frame_sel.setToolTip("Fit the selected keys in view (F)")
        frame_sel.clicked.connect(self.frame_selected)
        self.legend_label = QLabel("")
        self.legend_label.setObjectName("hint")
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        for w in (self.normalise_box, frame_all, frame_sel):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.legend_label)

        self.view = GraphViewBox()
        self.plot = pg.PlotWidget(viewBox=self.view)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.hideButtons()  # pyqtgraph's stray "A" (auto-range) in a corner: Frame all and Home do that here
        # a backdrop so the curves passing under the legend do not cross its labels
        self.plot.addLegend(offset=(6, 6), labelTextSize="8pt", brush=pg.mkBrush(24, 26, 30, 210))
        self.plot.getAxis("left").setWidth(AXIS_WIDTH)
        self.plot.setLabel("bottom", "solid: edit layer · dotted: base · grey: result (base + edit)")
        self.plot.setToolTip("Drag keys and handles; drag on empty space to box-select (Shift adds); right-click "
                             "for interpolation; middle-drag pans, wheel zooms; Home frames all, F the selection")
        self.playhead = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ff9a2e", width=1.5))
        self.playhead.setVisible(False)
        self.plot.addItem(self.playhead, ignoreBounds=True)
        self.band = QGraphicsRectItem()
        self.band.setPen(QPen(QColor("#e0e0e0"), 0, Qt.DashLine))
        self.band.setBrush(QColor(255, 255, 255, 25))
        self.band.setVisible(False)
        self.view.addItem(self.band, ignoreBounds=True)
        self._items: list[pg.GraphicsObject] = []
        self._key_items: list[pg.GraphicsObject] = []
        self._key_points: list[tuple[Hit, float, float]] = []  # every drawn key/handle in view coordinates

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.plot)

        self.view.sigLeftDrag.connect(self._on_drag)
        self.view.sigLeftClick.connect(self._on_click)
        self.view.sigContext.connect(self._on_context)
        session.project_replaced.connect(self._on_replaced)
        session.selection_changed.connect(self._on_selection)
        session.keys_selected.connect(lambda _: self._draw_all_keys())
        session.project_changed.connect(self._on_project_changed)
        self._follow = FrameFollower(session, lambda: self.playhead.setValue(session.time), 100, self)

    # --- the shared key selection -------------------------------------------------------------------
    @property
    def selected_keys(self) -> frozenset[tuple[str, int]]:
        return self.session.key_selection

    @selected_keys.setter
    def selected_keys(self, keys) -> None:
        self.session.set_key_selection(keys)

    # --- drawing ---------------------------------------------------------------------------------
    def _on_replaced(self) -> None:
        self.playhead.setVisible(self.session.project is not None)
        self.redraw(frame="all")

    def _on_selection(self, _names) -> None:
        shown = bool(self._items)
        self.selected_keys = {s for s in self.selected_keys if s[0] in self.session.selection}
        self.redraw(frame=None if shown else "y")

    def _on_project_changed(self, change: Change) -> None:
        if change.kind in (ChangeKind.BASE, ChangeKind.FPS, ChangeKind.GAINS) or (
                change.kind is ChangeKind.CHANNELS and any(n in self.session.selection for n in change.channels)):
            self.redraw()
            if change.kind is ChangeKind.CHANNELS and self._drag is None:
                self._reveal([y for handle, _, y in self._key_points
                              if handle.side is None and handle.channel in change.channels])
            elif change.kind is ChangeKind.BASE:  # a regenerate's curves went off the top
                self._reveal([item.yData for item in self._items if item.yData is not None])

    def _reveal(self, ys) -> None:
        """Grows the value range to show these values (keys or curves) when they fall outside it: a head-pose key
        of 14 degrees set in the inspector sat off-screen until Home. Never shrinks it, and not while dragging
        here: the view stays put under the pointer."""
        if not len(ys):
            return
        ys = np.concatenate([np.ravel(y) for y in ys])
        lo, hi = self.plot.getViewBox().viewRange()[1]
        y0, y1 = float(ys.min()), float(ys.max())
        if y0 >= lo and y1 <= hi:
            return
        # the margin is a share of the range shown, not of the values' own spread: one key (no spread) sat on the
        # view's edge with its diamond cut in half
        lo, hi = min(lo, y0), max(hi, y1)
        pad = 0.08 * (hi - lo)
        self.plot.setYRange(lo - (pad if y0 <= lo else 0.0), hi + (pad if y1 >= hi else 0.0), padding=0)

    def base_track(self, name: str) -> np.ndarray | None:
        """The base layer's track of a channel: the pose always, a rig control where the backend gives it."""
        base = self.session.project.base
        if name in POSE_CHANNELS:
            return base.pose[:, POSE_CHANNELS.index(name)]
        return base.weights.get(name)

    @property
    def normalised(self) -> bool:
        return self.normalise_box.isChecked()

    def to_view(self, name: str, value):
        lo, span = self._norm.get(name, (0.0, 1.0))
        return (np.asarray(value) - lo) / span if self.normalised else value

    def redraw(self, frame: str | None = None) -> None:
        """Rebuild the curves; `frame` "all" re-frames both axes, "y" the values only (never after edits)."""
        for item in self._items:
            self.plot.removeItem(item)
        self._items = []
        self.plot.plotItem.legend.clear()
        project = self.session.project
        if project is None:
            self._clear_keys()
            return
        times = np.arange(project.frame_count) / project.fps
        dense = np.linspace(0.0, project.duration, min(max(project.frame_count * 4, 200), 4000))
        tracks = base_tracks(project)
        self._norm = {}
        for name, color in zip(self.session.selection, itertools.cycle(PALETTE)):
            curve = project.channels[name]
            base = tracks.get(name)
            edit_dense = curve.evaluate(dense)
            result = None if base is None else base + curve.evaluate(times)
            values = [edit_dense] + ([base, result] if base is not None else [])
            lo = min(float(np.min(v)) for v in values)
            hi = max(float(np.max(v)) for v in values)
            self._norm[name] = (lo, max(hi - lo, 1e-6))
            if base is not None:
                self._add(pg.PlotDataItem(times, self.to_view(name, base),
                                          pen=pg.mkPen(color, width=1, style=Qt.DotLine)))
                self._add(pg.PlotDataItem(times, self.to_view(name, result), pen=pg.mkPen("#9a9ea2", width=1)))
            self._add(pg.PlotDataItem(dense, self.to_view(name, edit_dense), pen=pg.mkPen(color, width=2), name=name))
        self.legend_label.setText("normalised: each channel 0..1" if self.normalised else "")
        self.playhead.setValue(self.session.time)
        self._draw_all_keys()
        if frame == "all":
            self.frame_all()
        elif frame == "y":
            self._frame_y()

    def _add(self, item) -> None:
        self.plot.addItem(item)
        self._items.append(item)

    def _clear_keys(self) -> None:
        for item in self._key_items:
            self.plot.removeItem(item)
        self._key_items, self._key_points = [], []

    def _draw_all_keys(self) -> None:
        self._clear_keys()
        project = self.session.project
        if project is None:
            return
        for name, color in zip(self.session.selection, itertools.cycle(PALETTE)):
            self._draw_keys(name, project.channels[name], color)

    def _draw_keys(self, name: str, curve: Curve, color: str) -> None:
        spots, handles_xy = [], []
        selected_keys = self.selected_keys
        for i, key in enumerate(curve.keys):
            selected = (name, i) in selected_keys
            y = float(self.to_view(name, key.value))
            spots.append({"pos": (key.time, y), "size": 11 if selected else 9,
                          "brush": pg.mkBrush("#ffffff" if selected else color),
                          "pen": pg.mkPen("#111111"), "symbol": "d"})
            self._key_points.append((Hit(name, i), key.time, y))
            if selected and key.interpolation == Interpolation.BEZIER or (
                    selected and i > 0 and curve.keys[i - 1].interpolation == Interpolation.BEZIER):
                left, right = curve.resolved_handles(i)
                for side, (dt, dv) in (("left", left), ("right", right)):
                    if (side == "left" and i == 0) or (side == "right" and i == len(curve) - 1):
                        continue
                    hx, hy = key.time + dt, float(self.to_view(name, key.value + dv))
                    handles_xy.append(((key.time, y), (hx, hy)))
                    self._key_points.append((Hit(name, i, side), hx, hy))
        for (x0, y0), (x1, y1) in handles_xy:
            item = pg.PlotDataItem([x0, x1], [y0, y1], pen=pg.mkPen("#bbbbbb", width=1), symbol="o", symbolSize=6,
                                   symbolBrush="#bbbbbb")
            self.plot.addItem(item)
            self._key_items.append(item)
        scatter = _KeySpots(spots=spots, pxMode=True)
        scatter.setZValue(10)
        self.plot.addItem(scatter)
        self._key_items.append(scatter)

    # --- framing -------------------------------------------------------------------------------------
    def frame_all(self) -> None:
        """Fit every drawn curve (Home)."""
        if self.session.project is None:
            return
        self.plot.enableAutoRange()
        self.plot.autoRange()
        self.plot.disableAutoRange()

    def _frame_y(self) -> None:
        ys = [y for _, _, y in self._key_points]
        for item in self._items:
            data = item.getData()[1]
            if data is not None and len(data):
                ys += [float(np.min(data)), float(np.max(data))]
        if ys:
            lo, hi = min(ys), max(ys)
            pad = max(0.08 * (hi - lo), 0.05)
            self.plot.setYRange(lo - pad, hi + pad, padding=0)

    def frame_selected(self) -> None:
        """Fit the selected keys (F); with none selected, frame all."""
        points = [(x, y) for h, x, y in self._key_points if h.side is None and (h.channel, h.index) in
                  self.selected_keys]
        if not points:
            self.frame_all()
            return
        xs, ys = zip(*points)
        dx = max(max(xs) - min(xs), 10.0 / self.session.project.fps)
        dy = max(max(ys) - min(ys), 0.2 if not self.normalised else 0.2)
        self.plot.setXRange(min(xs) - 0.25 * dx, max(xs) + 0.25 * dx, padding=0)
        self.plot.setYRange(min(ys) - 0.25 * dy, max(ys) + 0.25 * dy, padding=0)

    # --- hit testing -----------------------------------------------------------------------------
    def scene_pos_of(self, x: float, y: float) -> QPointF:
        return self.view.mapViewToScene(QPointF(x, y))

    def key_scene_pos(self, channel: str, index: int) -> QPointF:
        key = self.session.project.channels[channel].keys[index]
        return self.scene_pos_of(key.time, float(self.to_view(channel, key.value)))

    def hit_test(self, scene_pos: QPointF) -> Hit | None:
        best, best_d = None, HIT_PX
        for hit, x, y in reversed(self._key_points):  # handles were appended after their key: prefer them
            p = self.scene_pos_of(x, y)
            d = float(np.hypot(p.x() - scene_pos.x(), p.y() - scene_pos.y()))
            if d < best_d:
                best, best_d = hit, d
        return best

    # --- mouse -----------------------------------------------------------------------------------
    def _on_click(self, ev) -> None:
        hit = self.hit_test(ev.scenePos())
        additive = bool(ev.modifiers() & Qt.ShiftModifier)
        keys = set(self.selected_keys)
        if hit is None or hit.side is not None:
            if not additive:
                keys.clear()
        else:
            key = (hit.channel, hit.index)
            keys = keys ^ {key} if additive else {key}
        self.selected_keys = keys

    def _on_drag(self, ev) -> None:
        if ev.isStart():
            hit = self.hit_test(ev.buttonDownScenePos())
            if hit is None:
                self._drag = {"kind": "box"}
            else:
                if hit.side is None and (hit.channel, hit.index) not in self.selected_keys:
                    self.selected_keys = {(hit.channel, hit.index)}
                names = {hit.channel} if hit.side else {c for c, _ in self.selected_keys}
                self._drag = {"kind": "handle" if hit.side else "keys", "hit": hit, "id": next(self._drag_ids),
                              "origin": {n: self.session.project.channels[n].copy() for n in names},
                              "selection": frozenset(self.selected_keys),
                              "start": self.view.mapSceneToView(ev.buttonDownScenePos())}
        if self._drag is None:
            return
        pos = self.view.mapSceneToView(ev.scenePos())
        if self._drag["kind"] == "box":
            start = self.view.mapSceneToView(ev.buttonDownScenePos())
            self.band.setRect(QRectF(start, pos).normalized())
            self.band.setVisible(not ev.isFinish())
            if ev.isFinish():
                self._select_in(QRectF(start, pos).normalized(), bool(ev.modifiers() & Qt.ShiftModifier))
        elif self._drag["kind"] == "keys":
            start = self._drag["start"]
            self.move_keys(self._drag["selection"], pos.x() - start.x(), pos.y() - start.y(),
                           self._drag["origin"], merge_id=("graph-drag", self._drag["id"]))
        else:
            self._drag_handle(pos)
        if ev.isFinish():
            self._drag = None

    def _select_in(self, rect: QRectF, additive: bool) -> None:
        inside = {(h.channel, h.index) for h, x, y in self._key_points if h.side is None and rect.contains(x, y)}
        self.selected_keys = (set(self.selected_keys) | inside) if additive else inside

    def _drag_handle(self, pos: QPointF) -> None:
        hit: Hit = self._drag["hit"]
        origin: Curve = self._drag["origin"][hit.channel]
        key = origin.keys[hit.index]
        left, right = origin.resolved_handles(hit.index)
        lo, span = self._norm.get(hit.channel, (0.0, 1.0)) if self.normalised else (0.0, 1.0)
        dt, dv = pos.x() - key.time, (pos.y() * span + lo) - key.value
        if hit.side == "left":
            left = (min(dt, -HANDLE_MIN_DT), dv)
        else:
            right = (max(dt, HANDLE_MIN_DT), dv)
        after = origin.copy()
        after.set_handles(hit.index, left, right)
        key_edits.push(self.session, {hit.channel: after}, "Move handle", self.selected_keys,
                       ("graph-drag", self._drag["id"]))

    # --- edits (also used by the menu actions) ---------------------------------------------------
    def move_keys(self, keys, dt: float, dv: float, origin: dict[str, Curve], merge_id=None) -> None:
        """Move `keys` ((channel, index) in `origin`, the curves when the drag began) by (dt, dv); dv is in view
        units (scaled back per channel in the normalised view). Times are not snapped: this is the value editor."""
        project = self.session.project
        # one move for the whole group (the dope sheet's): at the clip's ends it stops as one and keeps its spacing
        after, selection = edits.move_keys(origin, keys, dt, None, project.time_of(project.frame_count - 1))
        for name, i in selection:
            span = self._norm.get(name, (0.0, 1.0))[1] if self.normalised else 1.0
            key = after[name].keys[i]
            after[name].move_key(i, key.time, key.value + dv * span)
        key_edits.push(self.session, after, f"Move {key_edits._keys(len(keys))}", selection, merge_id)

    def delete_selected(self) -> None:
        key_edits.delete(self.session)

    def set_interpolation(self, interp: Interpolation) -> None:
        key_edits.set_interpolation(self.session, interp)

    def copy_selected(self) -> None:
        key_edits.copy(self.session)

    def paste(self) -> None:
        key_edits.paste(self.session)

    def current_interpolation(self) -> Interpolation | None:
        project = self.session.project
        return None if project is None else edits.common_interpolation(project.channels, self.selected_keys)

    def _on_context(self, ev) -> None:
        hit = self.hit_test(ev.scenePos())
        if hit is not None and hit.side is None and (hit.channel, hit.index) not in self.selected_keys:
            self.selected_keys = {(hit.channel, hit.index)}
        menu = self.context_menu()
        menu.popup(ev.screenPos().toPoint())

    def context_menu(self) -> QMenu:
        """Interpolation modes (the selected keys' common mode checked) and delete."""
        menu = QMenu(self)
        current = self.current_interpolation()
        group = QActionGroup(menu)
        for interp in Interpolation:
            action = QAction(INTERP_TITLES[interp], menu)
            action.setCheckable(True)
            action.setChecked(interp == current)
            action.setData(interp.value)
            action.triggered.connect(lambda _=False, i=interp: self.set_interpolation(i))
            action.setEnabled(bool(self.selected_keys))
            group.addAction(action)
            menu.addAction(action)
        menu.addSeparator()
        delete = menu.addAction("Delete keys", self.delete_selected)
        delete.setEnabled(bool(self.selected_keys))
        return menu
