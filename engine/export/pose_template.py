"""AniPortrait head-pose templates (pose_temp.npy): (N, 6) float64 [rx, ry, rz deg, tx, ty, tz] at 30 fps, each row
the head's pose relative to the reference picture's, applied on top of its head transform (as the reference
audio2vid applies a template, and Talkline's pose is). The reference's generate_ref_pose takes a driving video's
first frame as that reference (its first row is near 0, before smoothing); a template Talkline writes starts where
its animation starts. Reading loops them ping-pong as the reference audio2vid does."""
from __future__ import annotations

import os

import numpy as np

from engine.errors import ExportError
from engine.export.atomic import replacing
from engine.export.landmarks import LandmarkFileError
from engine.limits import MAX_FRAMES

TEMPLATE_FPS = 30.0


def resample_pose(pose: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linear resampling as generate_ref_pose.py: int(N * fps_out / fps_in) samples spread evenly over the
    same span (both ends kept). Not engine.timing.resample_frames on purpose: templates must match the files
    the reference implementation writes and reads."""
    n = pose.shape[0]
    if fps_in == fps_out or n < 2:
        return pose.astype(np.float64)
    count = max(2, int(n * fps_out / fps_in))
    old_t = np.linspace(0.0, n / fps_in, n)
    new_t = np.linspace(0.0, n / fps_in, count)
    return np.stack([np.interp(new_t, old_t, pose[:, c]) for c in range(pose.shape[1])], axis=1)


def ping_pong(seq: np.ndarray, n_frames: int) -> np.ndarray:
    """The sequence then its reverse without either endpoint (seq[-2:0:-1]), tiled and cut to n_frames."""
    mirrored = np.concatenate([seq, seq[-2:0:-1]], axis=0)
    reps = n_frames // len(mirrored) + 1
    return np.tile(mirrored, (reps, 1))[:n_frames]


def save_pose_template(path: str | os.PathLike, pose, fps: float) -> str:
    """Writes pose (T, 6) at `fps` as an AniPortrait template (N, 6) float64 at 30 fps; returns its path."""
    pose = np.asarray(pose, dtype=np.float64)
    if pose.ndim != 2 or pose.shape[1] != 6 or pose.shape[0] == 0 or not np.isfinite(pose).all():
        raise ExportError(f"pose must be a non-empty finite (T, 6) array, got {pose.shape}")
    if not fps > 0:
        raise ExportError(f"frame rate must be positive, got {fps}")
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, resample_pose(pose, float(fps), TEMPLATE_FPS), allow_pickle=False)
    return os.path.abspath(os.fspath(path))


# Rotations in degrees and translations: a head turned past 360 degrees or moved this far is no pose.
MAX_TEMPLATE_VALUE = 1e4


def read_pose_template(path: str | os.PathLike) -> np.ndarray:
    """The (N, 6) float64 template at 30 fps, validated."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise LandmarkFileError(f"pose template not found: {path}")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic != b"\x93NUMPY":  # np.load would try anything else as a pickle and say so
            raise LandmarkFileError(f"cannot read {path}: not a NumPy .npy array file (AniPortrait's pose_temp.npy "
                                    "is one)")
        # mapped, not read: the header's shape is checked against the file and the limits before any allocation
        seq = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise LandmarkFileError(f"cannot read {path}: not a valid .npy array ({exc})") from None
    if not isinstance(seq, np.ndarray) or seq.ndim != 2 or seq.shape[1] != 6 or seq.shape[0] == 0:
        raise LandmarkFileError(f"{path}: a pose template must be an (N, 6) array, got {getattr(seq, 'shape', '?')}")
    if seq.shape[0] > MAX_FRAMES:
        raise LandmarkFileError(f"{path}: a pose template of {seq.shape[0]} rows is longer than the "
                                f"{MAX_FRAMES} frames a take may have")
    if seq.dtype.kind not in "fiu":
        raise LandmarkFileError(f"{path}: a pose template must hold real numbers, got {seq.dtype}")
    seq = np.array(seq, np.float64)
    if not np.isfinite(seq).all() or np.abs(seq).max() > MAX_TEMPLATE_VALUE:
        raise LandmarkFileError(f"{path}: a pose template must hold finite numbers within +-{MAX_TEMPLATE_VALUE:g} "
                                "(degrees and translations)")
    return seq


def fit_pose_template(template: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """(n_frames, 6) pose at `fps` from a template at 30 fps, looped ping-pong as the reference audio2vid."""
    if n_frames < 1:
        raise LandmarkFileError(f"cannot make a pose sequence of {n_frames} frames")
    return ping_pong(resample_pose(np.asarray(template, np.float64), TEMPLATE_FPS, float(fps)), n_frames)


def load_pose_template(path: str | os.PathLike, n_frames: int, fps: float) -> np.ndarray:
    """(n_frames, 6) float64 pose at `fps` from an AniPortrait template file, looped ping-pong."""
    return fit_pose_template(read_pose_template(path), n_frames, fps)
