"""Frame-time arithmetic: one place for how many frames cover a duration and for resampling per-frame arrays
to another frame rate."""
from __future__ import annotations

import math

import numpy as np


def frames_covering(duration: float, fps: float) -> int:
    """Frames needed to show `duration` seconds at `fps` (frame f covers [f/fps, (f+1)/fps)); at least 1."""
    return max(1, math.ceil(duration * fps - 1e-9))


def resample_frames(array: np.ndarray, src_fps: float, dst_fps: float, frames: int) -> np.ndarray:
    """`frames` frames at `dst_fps` of a (T, ...) per-frame array at `src_fps`: linear in time, the last frame
    held past the end. Keeps the dtype."""
    t = array.shape[0]
    src = np.clip(np.arange(frames) * (src_fps / dst_fps), 0, t - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, t - 1)
    w = (src - i0).reshape((frames,) + (1,) * (array.ndim - 1))
    return ((1 - w) * array[i0] + w * array[i1]).astype(array.dtype)
