"""What the editor shows of each channel: the base layer's contribution (after gains and smoothing) and the
result (base + edit), per frame. Qt-free; cached per project state."""
from __future__ import annotations

import weakref
from dataclasses import astuple

import numpy as np

from engine.document.project import BLINK_CONTROLS, POSE_CHANNELS, Project

_cache: "weakref.WeakKeyDictionary[Project, tuple[tuple, dict[str, np.ndarray]]]" = weakref.WeakKeyDictionary()


def _smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    if sigma_frames <= 0 or x.shape[0] < 2:
        return x
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(x, sigma_frames, axis=0, mode="nearest")


def base_tracks(project: Project) -> dict[str, np.ndarray]:
    """channel -> (T,) base contribution after gains: the pose channels always (head gain, smoothing), a rig
    control where the backend gives its weight track (lip gain, or the blink gain for blinks; smoothing except
    blinks), as Project.evaluate_motion applies them. Channels the base layer does not drive are absent."""
    g = project.gains
    key = (id(project.base), project.fps, astuple(g))
    hit = _cache.get(project)
    if hit is not None and hit[0] == key:
        return hit[1]
    sigma = g.smoothing * project.fps
    base = project.base
    pose = g.head * _smooth(base.pose.astype(np.float64), sigma)
    tracks = {name: pose[:, i] for i, name in enumerate(POSE_CHANNELS)}
    for name, w in base.weights.items():
        if name in project.channels:
            w = w.astype(np.float64)
            tracks[name] = g.blink * w if name in BLINK_CONTROLS else g.lip * _smooth(w, sigma)
    _cache[project] = (key, tracks)
    return tracks


def channel_readout(project: Project, frame: int) -> dict[str, tuple[float | None, float, float]]:
    """channel -> (base or None, edit, result) at `frame`."""
    frame = int(min(max(frame, 0), project.frame_count - 1))
    tracks = base_tracks(project)
    edits = project.channel_samples()[frame]
    out = {}
    for j, name in enumerate(project.channel_names):
        b = tracks.get(name)
        base = None if b is None else float(b[frame])
        out[name] = (base, float(edits[j]), (base or 0.0) + float(edits[j]))
    return out


def edit_for_result(project: Project, name: str, frame: int, result: float) -> float:
    """The edit value that makes channel `name` show `result` at `frame` (what a key stores)."""
    b = base_tracks(project).get(name)
    return result - (float(b[frame]) if b is not None else 0.0)
