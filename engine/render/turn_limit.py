"""How far a renderer can turn the head away from its source picture, and the soft limit that keeps a turn there.

A 2D warp moves the pixels the source picture has: it cannot show the far side of a head. Turned past a point the
near cheek folds over the nose, the face's edge breaks into grid steps and the head detaches from its hair (a
typed 90 degree turn, a Live Link take of a look over the shoulder, a driver who turns away). A renderer names its
limit (RendererCapabilities.turn_limit); the render and the editor's preview show a turn up to its knee as it is
and compress the rest smoothly towards its maximum, so a turn that goes too far shows as the furthest turn the
renderer can show instead of a torn face. The motion itself (landmark exports, pose images, the editor's values)
keeps the turn as animated: a renderer with a limit of its own (or none) gets it all.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AXES = ("pitch", "yaw", "roll")  # pose[:, 0:3]: rotations about x, y, z in degrees (relative Euler 'xyz')


@dataclass(frozen=True)
class TurnLimit:
    """The turn away from the source picture's own pose, measured per frame as one number: the rotations (pitch,
    yaw, roll degrees) each in units of the axis' `most` and combined as a vector's length (a nod and a turn
    together fold the face sooner than either alone). Up to `knee` of that length a turn is shown as it is;
    beyond, its length approaches 1 (tanh, slope 1 at the knee: no kink in a steady turn), the axes in the
    same proportion."""

    most: tuple[float, float, float]
    knee: float

    def shown(self, pose: np.ndarray, source_pose: np.ndarray | None = None) -> np.ndarray:
        """(n, 6) pose as the renderer shows it: the rotations' distance from the source's own (None: a still,
        whose own pose is 0) soft-limited; translations unchanged."""
        pose = np.asarray(pose, np.float64)
        own = np.zeros_like(pose[..., :3]) if source_pose is None else np.asarray(source_pose, np.float64)[..., :3]
        turn = pose[..., :3] - own
        length = np.linalg.norm(turn / np.asarray(self.most), axis=-1, keepdims=True)
        span = 1.0 - self.knee
        limited = np.where(length > self.knee, self.knee + span * np.tanh((length - self.knee) / span), length)
        out = pose.copy()
        out[..., :3] = own + turn * (limited / np.maximum(length, 1e-12))
        return out

    def past(self, pose: np.ndarray, source_pose: np.ndarray | None = None) -> np.ndarray:
        """(n, 3) bool: the rotation is shown less turned than animated, by more than 0.5 degree (the
        compression just past the knee is invisible)."""
        return np.abs(np.asarray(pose, np.float64)[..., :3] - self.shown(pose, source_pose)[..., :3]) > 0.5
