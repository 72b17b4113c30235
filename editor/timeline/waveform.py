"""Waveform drawing from a min/max pyramid: any zoom costs O(screen columns), so long files pan smoothly."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem


@dataclass(frozen=True)
class Envelope:
    times: np.ndarray  # (n,) seconds of each column's start
    mins: np.ndarray  # (n,)
    maxs: np.ndarray  # (n,)
    raw: bool  # True when zoomed in past one sample per column (mins == maxs == samples)


class WaveformPyramid:
    """Levels of per-block (min, max); level k has blocks of `factor ** k` samples (level 0 = the samples)."""

    def __init__(self, samples: np.ndarray, rate: float, factor: int = 4):
        self.rate = float(rate)
        self.factor = factor
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.levels: list[tuple[np.ndarray, np.ndarray]] = [(x, x)]
        mins, maxs = x, x
        while mins.size > 2 * factor:
            n = -(-mins.size // factor) * factor
            pad = n - mins.size
            mins = np.concatenate([mins, np.full(pad, mins[-1], np.float32)]).reshape(-1, factor).min(axis=1)
            maxs = np.concatenate([maxs, np.full(pad, maxs[-1], np.float32)]).reshape(-1, factor).max(axis=1)
            self.levels.append((mins, maxs))

    def envelope(self, t0: float, t1: float, columns: int) -> Envelope:
        """About `columns` (min, max) pairs covering [t0, t1]."""
        n = self.levels[0][0].size
        columns = max(int(columns), 1)
        spc = max((t1 - t0) * self.rate / columns, 1e-9)  # samples per column
        if spc <= 1.0:
            i0, i1 = max(int(t0 * self.rate) - 1, 0), min(int(np.ceil(t1 * self.rate)) + 2, n)
            x = self.levels[0][0][i0:i1]
            return Envelope(np.arange(i0, i0 + x.size) / self.rate, x, x, True)
        level = min(int(np.log(spc) / np.log(self.factor)), len(self.levels) - 1)
        block = self.factor ** level
        group = max(int(spc // block), 1)
        mins, maxs = self.levels[level]
        # Align the first column to a multiple of `group` so panning does not make the columns shimmer.
        j0 = max(int(t0 * self.rate / block) // group * group - group, 0)
        j1 = min(int(np.ceil(t1 * self.rate / block)) + 2 * group, mins.size)
        count = (j1 - j0) // group
        if count <= 0:
            return Envelope(np.zeros(0), np.zeros(0, np.float32), np.zeros(0, np.float32), False)
        j1 = j0 + count * group
        lo = mins[j0:j1].reshape(count, group).min(axis=1)
        hi = maxs[j0:j1].reshape(count, group).max(axis=1)
        times = (j0 + np.arange(count) * group) * block / self.rate
        return Envelope(times, lo, hi, False)


class WaveformItem(pg.PlotCurveItem):
    """Redraws its envelope for the visible range whenever the view's x range or width changes."""

    def __init__(self, pyramid: WaveformPyramid | None = None, color: str = "#5fa8d3"):
        super().__init__(pen=pg.mkPen(color, width=1))
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)  # a moving playhead repaints from the cache
        self.pyramid = pyramid
        self._view: pg.ViewBox | None = None
        self.centre, self.height = 0.0, 1.0  # where it is drawn in the view: centre + height * sample

    def place(self, centre: float, height: float) -> None:
        """Draws the waveform around `centre`, `height` view units for a full-scale sample (two share a row)."""
        self.centre, self.height = float(centre), float(height)
        self.refresh()

    def attach(self, view: pg.ViewBox) -> None:
        self._view = view
        view.addItem(self)
        view.sigXRangeChanged.connect(self.refresh)
        view.sigResized.connect(self.refresh)

    def set_pyramid(self, pyramid: WaveformPyramid | None) -> None:
        self.pyramid = pyramid
        self.refresh()

    def refresh(self, *_) -> None:
        if self.pyramid is None or self._view is None:
            self.setData([], [])
            return
        (t0, t1), width = self._view.viewRange()[0], max(self._view.width(), 1)
        env = self.pyramid.envelope(max(t0, 0.0), t1, int(width))
        if env.raw:
            self.setData(env.times, self.centre + self.height * env.mins, connect="all")
            return
        # One vertical segment per column: (t, min) -> (t, max).
        x = np.repeat(env.times, 2)
        y = np.empty(x.size, np.float32)
        y[0::2], y[1::2] = env.mins, env.maxs
        self.setData(x, self.centre + self.height * y, connect="pairs")
