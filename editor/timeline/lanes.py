"""Timeline lane items: labelled segments (phonemes, visemes, blinks) and keyframe diamonds per channel.

Both paint in device pixels (text and diamonds keep their size at any zoom) and skip what is off screen.
"""
from __future__ import annotations

import bisect

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPainter, QPen, QPolygonF

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
            if rect.width() > 8:
                painter.setPen(QColor("#eeeeee"))
                label = metrics.elidedText(seg.label, Qt.ElideRight, int(rect.width()) - 2)
                painter.drawText(rect, Qt.AlignCenter, label)
        painter.setTransform(xf)


