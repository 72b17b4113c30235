"""Graph editor: base, edit and result curves of the selected channels; drag keys and bezier handles,
box-select, delete, copy/paste, set interpolation. Every change is an undo command (one per drag)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QPen, QColor
from PySide6.QtWidgets import QGraphicsRectItem, QMenu, QVBoxLayout, QWidget

from editor.commands import CurvesCommand, edit_curves
from editor.session import EditorSession
from engine.document.changes import Change, ChangeKind
from engine.document.curves import Curve, Interpolation, Key
from engine.document.project import POSE_CHANNELS

PALETTE = ("#5fa8d3", "#e0a040", "#7cc47a", "#d36f6f", "#b58be0", "#5fd3c4", "#d3c45f", "#e07ab0")
HIT_PX = 7.0
HANDLE_MIN_DT = 1e-3


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


class GraphEditor(QWidget):
    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.selected_keys: set[tuple[str, int]] = set()
        self._clipboard: list[tuple[str, Key]] = []
        self._drag: dict | None = None
        self._drag_ids = itertools.count()

        self.view = GraphViewBox()
        self.plot = pg.PlotWidget(viewBox=self.view)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.addLegend(offset=(6, 6), labelTextSize="8pt")
        self.plot.setLabel("bottom", "time (s)      —  solid: edit layer,  dotted: base,  grey: base + edit")
        self.playhead = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ff9a2e", width=1.5))
        self.plot.addItem(self.playhead, ignoreBounds=True)
        self.band = QGraphicsRectItem()
        self.band.setPen(QPen(QColor("#e0e0e0"), 0, Qt.DashLine))
        self.band.setBrush(QColor(255, 255, 255, 25))
        self.band.setVisible(False)
        self.view.addItem(self.band, ignoreBounds=True)
        self._items: list[pg.GraphicsObject] = []
        self._key_points: list[tuple[Hit, float, float]] = []  # every drawn key/handle in view coordinates

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

        self.view.sigLeftDrag.connect(self._on_drag)
        self.view.sigLeftClick.connect(self._on_click)
        self.view.sigContext.connect(self._on_context)
        session.project_replaced.connect(self._on_replaced)
        session.selection_changed.connect(self._on_selection)
        session.project_changed.connect(self._on_project_changed)
        session.frame_changed.connect(lambda f: self.playhead.setValue(session.time))

    # --- drawing ---------------------------------------------------------------------------------
    def _on_replaced(self) -> None:
        self.selected_keys.clear()
        self.redraw(autorange=True)

    def _on_selection(self, _names) -> None:
        self.selected_keys = {s for s in self.selected_keys if s[0] in self.session.selection}
        self.redraw(autorange=True)

    def _on_project_changed(self, change: Change) -> None:
        # Gains scale only the evaluated motion; the graph draws the raw base tracks and the curves.
        if change.kind in (ChangeKind.BASE, ChangeKind.FPS) or (
                change.kind is ChangeKind.CHANNELS and any(n in self.session.selection for n in change.channels)):
            self.redraw()

    def base_track(self, name: str) -> np.ndarray | None:
        """The base layer's track of a channel: the pose always, a rig control where the backend gives it."""
        base = self.session.project.base
        if name in POSE_CHANNELS:
            return base.pose[:, POSE_CHANNELS.index(name)]
        return base.weights.get(name)

    def redraw(self, autorange: bool = False) -> None:
        for item in self._items:
            self.plot.removeItem(item)
        self._items, self._key_points = [], []
        self.plot.plotItem.legend.clear()
        project = self.session.project
        if project is None:
            return
        frames = np.arange(project.frame_count)
        times = frames / project.fps
        dense = np.linspace(0.0, project.duration, min(max(project.frame_count * 4, 200), 4000))
        for name, color in zip(self.session.selection, itertools.cycle(PALETTE)):
            curve = project.channels[name]
            base = self.base_track(name)
            if base is not None:
                self._add(pg.PlotDataItem(times, base, pen=pg.mkPen(color, width=1, style=Qt.DotLine)))
                result = base + curve.evaluate(times)
                self._add(pg.PlotDataItem(times, result, pen=pg.mkPen("#9a9ea2", width=1)))
            self._add(pg.PlotDataItem(dense, curve.evaluate(dense), pen=pg.mkPen(color, width=2), name=name))
            self._draw_keys(name, curve, color)
        self.playhead.setValue(self.session.time)
        if autorange:
            self.plot.enableAutoRange()
            self.plot.autoRange()
            self.plot.disableAutoRange()

    def _add(self, item) -> None:
        self.plot.addItem(item)
        self._items.append(item)

    def _draw_keys(self, name: str, curve: Curve, color: str) -> None:
        spots, handles_xy = [], []
        for i, key in enumerate(curve.keys):
            selected = (name, i) in self.selected_keys
            spots.append({"pos": (key.time, key.value), "size": 11 if selected else 9,
                          "brush": pg.mkBrush("#ffffff" if selected else color),
                          "pen": pg.mkPen("#111111"), "symbol": "d"})
            self._key_points.append((Hit(name, i), key.time, key.value))
            if selected and key.interpolation == Interpolation.BEZIER or (
                    selected and i > 0 and curve.keys[i - 1].interpolation == Interpolation.BEZIER):
                left, right = curve.resolved_handles(i)
                for side, (dt, dv) in (("left", left), ("right", right)):
                    if (side == "left" and i == 0) or (side == "right" and i == len(curve) - 1):
                        continue
                    hx, hy = key.time + dt, key.value + dv
                    handles_xy.append(((key.time, key.value), (hx, hy)))
                    self._key_points.append((Hit(name, i, side), hx, hy))
        for (x0, y0), (x1, y1) in handles_xy:
            self._add(pg.PlotDataItem([x0, x1], [y0, y1], pen=pg.mkPen("#bbbbbb", width=1),
                                      symbol="o", symbolSize=6, symbolBrush="#bbbbbb"))
        scatter = pg.ScatterPlotItem(spots=spots, pxMode=True)
        scatter.setZValue(10)
        self._add(scatter)

    # --- hit testing -----------------------------------------------------------------------------
    def scene_pos_of(self, x: float, y: float) -> QPointF:
        return self.view.mapViewToScene(QPointF(x, y))

    def key_scene_pos(self, channel: str, index: int) -> QPointF:
        key = self.session.project.channels[channel].keys[index]
        return self.scene_pos_of(key.time, key.value)

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
        if hit is None or hit.side is not None:
            if not additive:
                self.selected_keys.clear()
        else:
            key = (hit.channel, hit.index)
            if additive:
                self.selected_keys ^= {key}
            else:
                self.selected_keys = {key}
        self.redraw()

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
        self.selected_keys = (self.selected_keys | inside) if additive else inside
        self.redraw()

    def _drag_handle(self, pos: QPointF) -> None:
        hit: Hit = self._drag["hit"]
        origin: Curve = self._drag["origin"][hit.channel]
        key = origin.keys[hit.index]
        left, right = origin.resolved_handles(hit.index)
        dt, dv = pos.x() - key.time, pos.y() - key.value
        if hit.side == "left":
            left = (min(dt, -HANDLE_MIN_DT), dv)
        else:
            right = (max(dt, HANDLE_MIN_DT), dv)
        after = origin.copy()
        after.set_handles(hit.index, left, right)
        self._push({hit.channel: after}, "Move handle", ("graph-drag", self._drag["id"]))

    # --- edits (also used by the menu actions) ---------------------------------------------------
    def _push(self, after: dict[str, Curve], text: str, merge_id=None) -> None:
        project = self.session.project
        before = {n: project.channels[n].copy() for n in after}
        self.session.undo_stack.push(CurvesCommand(project, before, after, text, merge_id))

    def move_keys(self, keys, dt: float, dv: float, origin: dict[str, Curve], merge_id=None) -> None:
        """Move `keys` ((channel, index) in `origin`, the curves when the drag began) by (dt, dv)."""
        after, selection = {}, set()
        for name, curve in origin.items():
            moved = curve.copy()
            picked = [moved.keys[i] for c, i in sorted(keys) if c == name]
            for key in sorted(picked, key=lambda k: k.time, reverse=dt > 0):
                moved.move_key(moved.keys.index(key), max(key.time + dt, 0.0), key.value + dv)
            selection |= {(name, i) for i, k in enumerate(moved.keys) if any(k is p for p in picked)}
            after[name] = moved
        self.selected_keys = selection
        self._push(after, "Move keys", merge_id)

    def delete_selected(self) -> None:
        names = sorted({c for c, _ in self.selected_keys})
        chosen = set(self.selected_keys)

        def drop(name: str, curve: Curve) -> None:
            for i in sorted((i for c, i in chosen if c == name), reverse=True):
                curve.remove_key(i)

        if names:
            self.selected_keys.clear()
            edit_curves(self.session.undo_stack, self.session.project, names, drop, "Delete keys")

    def set_interpolation(self, interp: Interpolation) -> None:
        names = sorted({c for c, _ in self.selected_keys})
        chosen = set(self.selected_keys)
        if names:
            edit_curves(self.session.undo_stack, self.session.project, names,
                        lambda n, c: [c.set_interpolation(i, interp) for cn, i in chosen if cn == n],
                        f"Interpolation: {interp.value}")

    def copy_selected(self) -> None:
        channels = self.session.project.channels
        self._clipboard = [(c, channels[c].copy().keys[i]) for c, i in sorted(self.selected_keys)]

    def paste(self) -> None:
        """Paste the copied keys so that the earliest lands on the playhead."""
        if not self._clipboard:
            return
        t0 = min(k.time for _, k in self._clipboard)
        shift = self.session.time - t0
        names = sorted({c for c, _ in self._clipboard})
        clip = list(self._clipboard)

        def paste_into(name: str, curve: Curve) -> None:
            for c, k in clip:
                if c == name:
                    i = curve.set_key(k.time + shift, k.value, k.interpolation)
                    curve.set_handles(i, k.handle_left, k.handle_right)

        edit_curves(self.session.undo_stack, self.session.project, names, paste_into, "Paste keys")

    def _on_context(self, ev) -> None:
        hit = self.hit_test(ev.scenePos())
        if hit is not None and hit.side is None and (hit.channel, hit.index) not in self.selected_keys:
            self.selected_keys = {(hit.channel, hit.index)}
            self.redraw()
        menu = QMenu(self)
        for interp in Interpolation:
            action = QAction(interp.value.replace("_", " ").title(), menu)
            action.triggered.connect(lambda _=False, i=interp: self.set_interpolation(i))
            action.setEnabled(bool(self.selected_keys))
            menu.addAction(action)
        menu.addSeparator()
        delete = menu.addAction("Delete keys", self.delete_selected)
        delete.setEnabled(bool(self.selected_keys))
        menu.popup(ev.screenPos().toPoint())
