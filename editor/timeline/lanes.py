"""Timeline lane items: labelled segments (words, phonemes, visemes, blinks), painted in device pixels (text
keeps its size at any zoom), skipping what is off screen; the selected segment is outlined."""
from __future__ import annotations

import bisect

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from engine.a2l.base_layer import Segment


def _visible_x(item: pg.GraphicsObject) -> tuple[float, float]:
    view = item.getViewBox()
    return tuple(view.viewRange()[0]) if view is not None else (-np.inf, np.inf)


class SegmentLaneItem(pg.GraphicsObject):
    """Segments drawn as alternating boxes in the band [row, row + 1] with their labels; `hint` is written in
    the band when there are none (e.g. the backend does not provide this track)."""

    def __init__(self, segments: list[Segment], row: int, colors: tuple[str, str], end: float, hint: str = ""):
        super().__init__()
        self.segments = sorted(segments, key=lambda s: s.start)
        self._starts = [s.start for s in self.segments]
        self.row, self.end = row, max(end, 1e-3)
        self.colors = (QColor(colors[0]), QColor(colors[1]))
        self.hint = hint if not self.segments else ""
        self.selected: int | None = None
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)  # a moving playhead repaints from the cache

    def boundingRect(self) -> QRectF:
        return QRectF(0.0, float(self.row), self.end, 1.0)

    def paint(self, painter: QPainter, *_):
        t0, t1 = _visible_x(self)
        first = max(bisect.bisect_right(self._starts, t0) - 1, 0)
        xf = painter.transform()
        painter.resetTransform()
        metrics = QFontMetrics(painter.font())
        if self.hint:
            band = xf.mapRect(QRectF(max(t0, 0.0), self.row, max(min(t1, self.end) - max(t0, 0.0), 0.0), 1.0))
            painter.setPen(QColor("#8a9095"))
            painter.drawText(band.adjusted(4, 0, 0, 0), Qt.AlignLeft | Qt.AlignVCenter, self.hint)
        painter.setPen(QPen(QColor("#15171a")))
        for i in range(first, len(self.segments)):
            seg = self.segments[i]
            if seg.start > t1:
                break
            rect = xf.mapRect(QRectF(seg.start, self.row + 0.08, seg.end - seg.start, 0.84))
            painter.fillRect(rect, self.colors[i % 2])
            if i == self.selected:
                painter.setPen(QPen(QColor("#ffd27a"), 2))
                painter.drawRect(rect.adjusted(1, 1, -1, -1))
            if rect.width() > 8:
                painter.setPen(QColor("#eeeeee"))
                label = metrics.elidedText(seg.label, Qt.ElideRight, int(rect.width()) - 2)
                painter.drawText(rect, Qt.AlignCenter, label)
        painter.setTransform(xf)




class LaneViewBox(pg.ViewBox):
    """The lanes' view: a left click selects the segment under it (and moves the playhead), a left drag that
    starts on a segment boundary moves it, any other left drag scrubs, a right click opens the lane menu; the
    wheel zooms time, a middle drag pans."""

    sigScrub = Signal(float, float)  # time, row
    sigBoundary = Signal(object)  # the drag event, when it started on a boundary
    sigContext = Signal(object)

    def __init__(self, boundary_hit):
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=True, y=False)
        self.boundary_hit = boundary_hit  # scene pos -> (lane, index) or None
        self._dragging_boundary = False

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.sigScrub.emit(p.x(), p.y())
        elif ev.button() == Qt.RightButton:
            ev.accept()
            self.sigContext.emit(ev)
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.LeftButton or axis is not None:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            self._dragging_boundary = self.boundary_hit(ev.buttonDownScenePos()) is not None
        if self._dragging_boundary:
            self.sigBoundary.emit(ev)
        else:
            p = self.mapSceneToView(ev.scenePos())
            self.sigScrub.emit(p.x(), p.y())
