"""A ViewBox for time lanes: left click/drag scrubs, wheel zooms time, middle drag pans, y stays fixed."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal


class ScrubViewBox(pg.ViewBox):
    sigScrub = Signal(float, float)  # time (s), y in view coordinates

    def __init__(self):
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=True, y=False)

    def _scrub(self, ev) -> None:
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        self.sigScrub.emit(p.x(), p.y())

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.LeftButton:
            self._scrub(ev)
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() == Qt.LeftButton:
            self._scrub(ev)
        else:
            super().mouseDragEvent(ev, axis)
