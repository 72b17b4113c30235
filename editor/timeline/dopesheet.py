"""Dope sheet: one row per animated (or selected) channel with its keys as diamonds, on the timeline's time
axis. Rows keep a fixed height (names always readable) and scroll (scroll bar, or the wheel; Ctrl+wheel zooms
time). Click selects a key (Shift toggles), dragging on empty space box-selects across channels (Shift adds),
dragging selected keys retimes them (snapped to frames), Ctrl+drag scales them around the playhead; a click on
empty space moves the playhead. Delete / Ctrl+C / Ctrl+V work on the selection (Edit menu). The selection is
the session's: the graph editor shows the channels of the selected keys."""
from __future__ import annotations

import itertools

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QHBoxLayout, QScrollBar, QWidget

from editor import key_edits
from editor.session import EditorSession
from engine.document.changes import Change, ChangeKind

ROW_PX = 18
HIT_PX = 7.0
AXIS_WIDTH = 124  # the label column of the timeline, the dope sheet and the graph editor: time axes line up
KEY_COLOR = QColor("#e0a040")
SELECTED_COLOR = QColor("#ffffff")


class RowAxis(pg.AxisItem):
    """The channel names, one per row at the row's height (no tick logic: every visible row is labelled)."""

    def __init__(self, sheet: "DopeSheet"):
        super().__init__("left")
        self.sheet = sheet
        self.setWidth(AXIS_WIDTH)
        self.setStyle(showValues=False, tickLength=0)

    def label_rects(self) -> dict[str, QRectF]:
        """Each visible row's label rectangle in this item's coordinates."""
        view = self.linkedView()
        if view is None:
            return {}
        (_, _), (y0, y1) = view.viewRange()
        out = {}
        for row, name in enumerate(self.sheet.rows):
            if row + 1 <= y0 or row >= y1:
                continue
            top = self.mapFromScene(view.mapViewToScene(QPointF(0, row))).y()
            bottom = self.mapFromScene(view.mapViewToScene(QPointF(0, row + 1))).y()
            out[name] = QRectF(2, min(top, bottom), self.width() - 6, abs(bottom - top))
        return out

    def paint(self, p: QPainter, *_):
        bounds = self.boundingRect()
        p.setClipRect(bounds)
        metrics = QFontMetrics(p.font())
        selected = set(self.sheet.session.selection)
        bold = QFont(p.font())
        bold.setBold(True)
        for name, rect in self.label_rects().items():
            is_sel = name in selected
            p.setFont(bold if is_sel else self.font())
            p.setPen(QColor("#f0b050") if is_sel else QColor("#c8cbce"))
            p.drawText(rect, Qt.AlignRight | Qt.AlignVCenter, metrics.elidedText(name, Qt.ElideLeft, int(rect.width())))


class DopeKeysItem(pg.GraphicsObject):
    """Row bands and a diamond per key, painted in device pixels (keys keep their size at any zoom)."""

    RADIUS = 5.0

    def __init__(self, sheet: "DopeSheet"):
        super().__init__()
        self.sheet = sheet
        self.end = 1.0
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)  # a moving playhead repaints from the cache

    def boundingRect(self) -> QRectF:
        return QRectF(0.0, 0.0, self.end, float(max(len(self.sheet.rows), 1)))

    def paint(self, painter: QPainter, *_):
        view = self.getViewBox()
        if view is None:
            return
        (t0, t1), (y0, y1) = view.viewRange()
        xf = painter.transform()
        painter.resetTransform()
        sheet = self.sheet
        selected_rows = set(sheet.session.selection)
        for row, name in enumerate(sheet.rows):
            if row + 1 <= y0 or row >= y1:
                continue
            band = xf.mapRect(QRectF(max(t0, 0.0), row, max(min(t1, self.end) - max(t0, 0.0), 0.0), 1.0))
            painter.fillRect(band, QColor(224, 160, 64, 26) if name in selected_rows else
                             QColor(255, 255, 255, 8 if row % 2 else 0))
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(QColor("#1a1a1a"), 1))
        r = self.RADIUS
        sel = sheet.session.key_selection
        for row, name in enumerate(sheet.rows):
            if row + 1 <= y0 or row >= y1:
                continue
            times = sheet.key_times(name)
            for i in np.flatnonzero((times >= t0) & (times <= t1)):
                c = xf.map(QPointF(float(times[i]), row + 0.5))
                s = r + 1.5 if (name, int(i)) in sel else r
                painter.setBrush(QBrush(SELECTED_COLOR if (name, int(i)) in sel else KEY_COLOR))
                painter.drawPolygon(QPolygonF([QPointF(c.x(), c.y() - s), QPointF(c.x() + s, c.y()),
                                               QPointF(c.x(), c.y() + s), QPointF(c.x() - s, c.y())]))
        painter.setTransform(xf)


class DopeViewBox(pg.ViewBox):
    sigLeftDrag = Signal(object)
    sigLeftClick = Signal(object)
    sigWheelRows = Signal(int)

    def __init__(self):
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=True, y=False)
        self.invertY(True)

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
        else:
            super().mouseClickEvent(ev)

    def wheelEvent(self, ev, axis=None):
        if ev.modifiers() & Qt.ControlModifier:
            super().wheelEvent(ev, axis)  # zoom time
        else:
            ev.accept()
            self.sigWheelRows.emit(-1 if ev.delta() > 0 else 1)


def _press_modifiers(view: pg.ViewBox, ev):
    """The modifiers held when a drag's button went down, or now (pyqtgraph's drag event has the latest move's)."""
    mods = ev.modifiers()
    scene = view.scene()
    for click in getattr(scene, "clickEvents", None) or []:
        mods |= click.modifiers()
    return mods


class DopeSheet(QWidget):
    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.rows: list[str] = []
        self._times: dict[str, np.ndarray] = {}
        self._drag: dict | None = None
        self._drag_ids = itertools.count()

        self.view = DopeViewBox()
        self.axis = RowAxis(self)
        self.plot = pg.PlotWidget(viewBox=self.view, axisItems={"left": self.axis})
        self.plot.hideAxis("bottom")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setToolTip("Dope sheet: click a key to select it (Shift toggles), drag on empty space to box-select, "
                             "drag keys to retime them, Ctrl+drag to scale them around the playhead; Delete, "
                             "Ctrl+C, Ctrl+V (at the playhead); wheel scrolls the rows, Ctrl+wheel zooms time")
        self.keys_item = DopeKeysItem(self)
        self.plot.addItem(self.keys_item)
        self.band = QGraphicsRectItem()
        self.band.setPen(QPen(QColor("#e0e0e0"), 0, Qt.DashLine))
        self.band.setBrush(QColor(255, 255, 255, 25))
        self.band.setVisible(False)
        self.view.addItem(self.band, ignoreBounds=True)
        self.scroll = QScrollBar(Qt.Vertical)
        self.scroll.setToolTip("Scroll the channel rows")
        self.scroll.valueChanged.connect(lambda _: self._apply_rows())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.scroll)

        self.view.sigResized.connect(self._apply_rows)
        self.view.sigLeftClick.connect(self._on_click)
        self.view.sigLeftDrag.connect(self._on_drag)
        self.view.sigWheelRows.connect(lambda step: self.scroll.setValue(self.scroll.value() + step))
        session.project_replaced.connect(self.refresh)
        self._selected: tuple[str, ...] = ()  # the selection last shown (to scroll to what it adds)
        session.selection_changed.connect(self._on_selection)
        session.keys_selected.connect(lambda _: self.keys_item.update())
        session.project_changed.connect(self._on_project_changed)

    # --- rows ----------------------------------------------------------------------------------------
    def _on_project_changed(self, change: Change) -> None:
        if change.kind in (ChangeKind.CHANNELS, ChangeKind.FPS, ChangeKind.BASE):
            self.refresh()

    def refresh(self) -> None:
        project = self.session.project
        if project is None:
            self.rows, self._times = [], {}
        else:
            shown = set(self.session.selection) | {n for n, c in project.channels.items() if len(c)}
            self.rows = [n for n in project.channel_names if n in shown]
            self._times = {n: np.array([k.time for k in project.channels[n].keys]) for n in self.rows}
            self.keys_item.prepareGeometryChange()
            self.keys_item.end = max(project.duration, 1e-3)
        self._apply_rows()
        self.keys_item.update()

    def key_times(self, name: str) -> np.ndarray:
        return self._times.get(name, np.zeros(0))

    @property
    def visible_rows(self) -> float:
        return max(self.view.height(), 1.0) / ROW_PX

    def _apply_rows(self) -> None:
        visible = self.visible_rows
        hidden = max(len(self.rows) - int(visible), 0)
        self.scroll.blockSignals(True)
        self.scroll.setRange(0, hidden)
        self.scroll.setPageStep(max(int(visible), 1))
        self.scroll.blockSignals(False)
        self.scroll.setVisible(hidden > 0)
        top = float(self.scroll.value())
        self.view.setYRange(top, top + visible, padding=0)
        self.axis.update()

    def _on_selection(self, names) -> None:
        """Rows follow the selection, and a channel just selected elsewhere (the inspector, the graph editor)
        is scrolled into view."""
        added = [n for n in names if n not in self._selected]
        self._selected = tuple(names)
        self.refresh()
        if added:
            self.scroll_to(added[-1])

    def scroll_to(self, name: str) -> None:
        if name in self.rows:
            row = self.rows.index(name)
            if not self.scroll.value() <= row < self.scroll.value() + int(self.visible_rows):
                self.scroll.setValue(min(row, self.scroll.maximum()))

    def label_rects(self) -> dict[str, QRectF]:
        """Visible rows' name rectangles in the plot widget's coordinates (tests, screenshots)."""
        out = {}
        for name, rect in self.axis.label_rects().items():
            out[name] = self.plot.mapFromScene(self.axis.mapRectToScene(rect)).boundingRect()
        return out

    # --- hit testing ---------------------------------------------------------------------------------
    def key_scene_pos(self, name: str, index: int) -> QPointF:
        return self.view.mapViewToScene(QPointF(float(self._times[name][index]), self.rows.index(name) + 0.5))

    def hit_test(self, scene_pos: QPointF) -> tuple[str, int] | None:
        p = self.view.mapSceneToView(scene_pos)
        row = int(np.floor(p.y()))
        if not 0 <= row < len(self.rows):
            return None
        name = self.rows[row]
        times = self._times[name]
        if not times.size:
            return None
        i = int(np.argmin(np.abs(times - p.x())))
        key = self.view.mapViewToScene(QPointF(float(times[i]), row + 0.5))
        return (name, i) if abs(key.x() - scene_pos.x()) <= HIT_PX else None

    def row_at(self, scene_pos: QPointF) -> str | None:
        row = int(np.floor(self.view.mapSceneToView(scene_pos).y()))
        return self.rows[row] if 0 <= row < len(self.rows) else None

    # --- mouse ---------------------------------------------------------------------------------------
    def _select(self, keys) -> None:
        keys = frozenset(keys)
        self.session.set_key_selection(keys)
        channels = [n for n in self.session.project.channel_names if any(k[0] == n for k in keys)]
        if channels and set(channels) != set(self.session.selection):
            self.session.set_selection(channels)  # the graph editor follows

    def _on_click(self, ev) -> None:
        if self.session.project is None:
            return
        hit = self.hit_test(ev.scenePos())
        additive = bool(ev.modifiers() & Qt.ShiftModifier)
        if hit is not None:
            keys = set(self.session.key_selection)
            self._select(keys ^ {hit} if additive else {hit})
            return
        if not additive:
            self.session.set_key_selection(frozenset())
        self.session.set_time(self.view.mapSceneToView(ev.scenePos()).x())

    def _on_drag(self, ev) -> None:
        session = self.session
        if session.project is None:
            return
        if ev.isStart():
            hit = self.hit_test(ev.buttonDownScenePos())
            if hit is None:
                self._drag = {"kind": "box"}
            else:
                if hit not in session.key_selection:
                    self._select({hit})
                names = {c for c, _ in session.key_selection}
                scale = bool(_press_modifiers(self.view, ev) & Qt.ControlModifier)
                self._drag = {"kind": "scale" if scale else "move", "id": next(self._drag_ids),
                              "origin": {n: session.project.channels[n].copy() for n in names},
                              "selection": session.key_selection,
                              "start": self.view.mapSceneToView(ev.buttonDownScenePos()).x()}
        if self._drag is None:
            return
        pos = self.view.mapSceneToView(ev.scenePos())
        d = self._drag
        if d["kind"] == "box":
            start = self.view.mapSceneToView(ev.buttonDownScenePos())
            rect = QRectF(start, pos).normalized()
            self.band.setRect(rect)
            self.band.setVisible(not ev.isFinish())
            if ev.isFinish():
                self._box_select(rect, bool(_press_modifiers(self.view, ev) & Qt.ShiftModifier))
        elif d["kind"] == "move":
            key_edits.move(session, pos.x() - d["start"], d["origin"], d["selection"], ("dope-drag", d["id"]))
        else:
            pivot = session.time
            if abs(d["start"] - pivot) > 1e-6:
                factor = (pos.x() - pivot) / (d["start"] - pivot)
                key_edits.scale(session, factor, d["origin"], d["selection"], ("dope-drag", d["id"]))
        if ev.isFinish():
            self._drag = None

    def _box_select(self, rect: QRectF, additive: bool) -> None:
        inside = set()
        for row, name in enumerate(self.rows):
            if rect.top() <= row + 0.5 <= rect.bottom():
                times = self._times[name]
                inside |= {(name, int(i)) for i in np.flatnonzero((times >= rect.left()) & (times <= rect.right()))}
        self._select((set(self.session.key_selection) | inside) if additive else inside)
