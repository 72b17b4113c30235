"""Landmark export (.npz): per-frame 2D landmarks in pixels, the 3D canonical mesh and the head pose."""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from engine.errors import ExportError, ProjectFileError
from engine.export.atomic import replacing

_KEYS = ("landmarks_2d", "mesh", "pose", "fps", "image_size")


class LandmarkFileError(ProjectFileError):
    """A landmark or pose-template file is missing, unreadable or has the wrong content."""


@dataclass(frozen=True)
class LandmarkSequence:
    landmarks_2d: np.ndarray  # (T, 478 | 468, 2) float32 pixels of the output frame
    mesh: np.ndarray  # (T, 468, 3) float32 canonical cm
    pose: np.ndarray  # (T, 6) float32 [rx, ry, rz deg, tx, ty, tz cm] relative to the reference pose
    fps: float
    image_size: tuple[int, int]  # (width, height)

    @property
    def frame_count(self) -> int:
        return int(self.pose.shape[0])


def _validate(landmarks_2d, mesh, pose, fps, image_size) -> str | None:
    """The first thing wrong with the arrays, or None."""
    if landmarks_2d.ndim != 3 or landmarks_2d.shape[1] not in (468, 478) or landmarks_2d.shape[2] != 2:
        return f"landmarks_2d must be (T, 478 or 468, 2), got {landmarks_2d.shape}"
    t = landmarks_2d.shape[0]
    if mesh.shape != (t, 468, 3):
        return f"mesh must be ({t}, 468, 3) to match landmarks_2d, got {mesh.shape}"
    if pose.shape != (t, 6):
        return f"pose must be ({t}, 6) to match landmarks_2d, got {pose.shape}"
    if t == 0:
        return "the sequence has no frames"
    for name, arr in (("landmarks_2d", landmarks_2d), ("mesh", mesh), ("pose", pose)):
        if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all():
            return f"{name} must hold finite numbers"
    if fps.size != 1 or not np.isfinite(fps).all() or float(fps.reshape(())) <= 0:
        return f"fps must be one positive number, got {fps.tolist()}"
    if image_size.shape != (2,) or not np.issubdtype(image_size.dtype, np.integer) or (image_size <= 0).any():
        return f"image_size must be two positive integers (width, height), got {image_size.tolist()}"
    return None


def save_landmarks_npz(path: str | os.PathLike, landmarks_2d, mesh, pose, fps: float,
                       image_size: tuple[int, int]) -> str:
    """Writes the .npz atomically; returns its path. Raises ExportError on inconsistent arrays."""
    arrays = {
        "landmarks_2d": np.asarray(landmarks_2d, dtype=np.float32),
        "mesh": np.asarray(mesh, dtype=np.float32),
        "pose": np.asarray(pose, dtype=np.float32),
        "fps": np.asarray(float(fps), dtype=np.float64),
        "image_size": np.asarray(image_size, dtype=np.int32).reshape(-1),
    }
    problem = _validate(**arrays)
    if problem:
        raise ExportError(f"cannot export landmarks to {path}: {problem}")
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return os.path.abspath(os.fspath(path))


def load_landmarks_npz(path: str | os.PathLike) -> LandmarkSequence:
    """Reads a landmark .npz (never unpickles). Raises LandmarkFileError with the reason."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise LandmarkFileError(f"landmark file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in _KEYS if k not in data.files]
            if missing:
                raise LandmarkFileError(f"{path} is not a landmark export: missing {', '.join(missing)}")
            arrays = {k: data[k] for k in _KEYS}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise LandmarkFileError(f"cannot read {path}: not a valid .npz file ({exc})") from None
    problem = _validate(**arrays)
    if problem:
        raise LandmarkFileError(f"{path}: {problem}")
    w, h = (int(v) for v in arrays["image_size"])
    return LandmarkSequence(arrays["landmarks_2d"].astype(np.float32), arrays["mesh"].astype(np.float32),
                            arrays["pose"].astype(np.float32), float(arrays["fps"].reshape(())), (w, h))
