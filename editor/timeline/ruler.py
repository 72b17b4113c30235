"""Time ruler: one axis that labels seconds as frames, timecode (HH:MM:SS:FF) or seconds."""
from __future__ import annotations

import math

import pyqtgraph as pg

TIME_MODES = ("frames", "timecode", "seconds")


def format_time(seconds: float, mode: str, fps: float) -> str:
    if mode == "frames":
        return str(int(round(seconds * fps)))
    if mode == "timecode":
        frames = int(round(seconds * fps))
        per_second = int(math.ceil(fps))
        total_s, ff = divmod(frames, per_second)
        hh, rem = divmod(total_s, 3600)
        mm, ss = divmod(rem, 60)
        return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"
    return f"{seconds:.2f}s" if seconds % 1 else f"{int(seconds)}s"


class TimeAxis(pg.AxisItem):
    def __init__(self, orientation: str = "top", fps: float = 30.0, mode: str = "seconds"):
        super().__init__(orientation)
        self.fps, self.mode = fps, mode

    def set_format(self, fps: float, mode: str) -> None:
        if mode not in TIME_MODES:
            raise ValueError(f"unknown time mode {mode!r}")
        self.fps, self.mode = fps, mode
        self.picture = None
        self.update()

    def tickSpacing(self, minVal, maxVal, size):
        levels = super().tickSpacing(minVal, maxVal, size)
        if self.mode == "seconds":
            return levels
        # Frames and timecode: never tick more finely than one frame.
        frame = 1.0 / self.fps
        return [(max(s, frame), o) for s, o in levels]

    def tickStrings(self, values, scale, spacing):
        return [format_time(v, self.mode, self.fps) if v >= 0 else "" for v in values]
