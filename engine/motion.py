"""A motion sequence ready to render: the full per-frame canonical mesh and relative head pose."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.geometry import project


@dataclass
class Motion:
    fps: float
    mesh: np.ndarray  # (T, 468, 3) canonical mesh per frame (reference mesh + offsets + edits), cm
    pose: np.ndarray  # (T, 6) relative head pose per frame

    def __post_init__(self):
        if self.mesh.ndim != 3 or self.mesh.shape[1:] != (468, 3) or self.pose.shape != (self.mesh.shape[0], 6):
            raise ValueError(f"motion shapes disagree: mesh {self.mesh.shape}, pose {self.pose.shape}")

    @property
    def frame_count(self) -> int:
        return int(self.mesh.shape[0])

    def landmarks_px(self, ref_transform: np.ndarray, width: int, height: int) -> np.ndarray:
        """(T, 468, 2) pixel landmarks in the output frame."""
        return project(self.mesh, ref_transform, self.pose, width, height)

    def resampled(self, fps: float) -> "Motion":
        """The same motion at another frame rate (linear in time), covering ceil(duration * fps) frames."""
        from engine.timing import frames_covering, resample_frames

        if fps == self.fps:
            return self
        n = frames_covering(self.frame_count / self.fps, fps)
        return Motion(fps, resample_frames(self.mesh, self.fps, fps, n), resample_frames(self.pose, self.fps, fps, n))
