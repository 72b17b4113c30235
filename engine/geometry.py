"""Coordinate contracts (AniPortrait-compatible).

- Pose (6,) = [rx, ry, rz, tx, ty, tz]: Euler degrees, scipy 'xyz' (extrinsic, R = Rz @ Ry @ Rx),
  translation in cm, relative to the reference head pose: camera = ref_transform @ E(pose) @ vertex.
- Camera: MediaPipe's default perspective camera (vertical FOV 63 deg, near 1, far 10000, y flipped,
  w = 1.0001 * -Z as in the reference implementation's projection matrix).
- Screen -> metric landmarks: MediaPipe's face-geometry pipeline (two-pass scale estimate with a
  weighted orthogonal Procrustes fit to the canonical model), so a portrait's canonical mesh can be
  recovered from its normalized landmarks and the facial transformation matrix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

VERTICAL_FOV_DEG = 63.0
NEAR = 1.0
FAR = 10000.0
FOCAL = 1.0 / np.tan(np.radians(VERTICAL_FOV_DEG) / 2.0)  # 1.6318517
W_SCALE = FAR * NEAR / (FAR - NEAR)  # 1.00010001: w = W_SCALE * -Z


def pose_to_matrix(pose: np.ndarray) -> np.ndarray:
    """(..., 6) pose -> (..., 4, 4) rigid transforms E(pose)."""
    pose = np.asarray(pose, dtype=np.float64)
    flat = pose.reshape(-1, 6)
    mats = np.zeros((flat.shape[0], 4, 4))
    mats[:, :3, :3] = Rotation.from_euler("xyz", flat[:, :3], degrees=True).as_matrix()
    mats[:, :3, 3] = flat[:, 3:]
    mats[:, 3, 3] = 1.0
    return mats.reshape(pose.shape[:-1] + (4, 4))


def matrix_to_pose(mats: np.ndarray) -> np.ndarray:
    """(..., 4, 4) rigid transforms -> (..., 6) poses (inverse of pose_to_matrix)."""
    mats = np.asarray(mats, dtype=np.float64)
    flat = mats.reshape(-1, 4, 4)
    out = np.empty((flat.shape[0], 6))
    out[:, :3] = Rotation.from_matrix(flat[:, :3, :3]).as_euler("xyz", degrees=True)
    out[:, 3:] = flat[:, :3, 3]
    return out.reshape(mats.shape[:-2] + (6,))


def relative_pose(reference_transform: np.ndarray, transforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 6) pose and (T,) scale with reference @ E(pose) @ (scale * v) == transform @ v: a tracked frame's head
    pose relative to a reference frame, MediaPipe's small per-frame scale change returned apart (fold it into
    the mesh)."""
    rel = np.linalg.inv(reference_transform)[None] @ np.asarray(transforms, dtype=np.float64).reshape(-1, 4, 4)
    scale = np.cbrt(np.linalg.det(rel[:, :3, :3]))
    # The nearest rotation: the Procrustes fit is a similarity, numerically not exactly orthogonal.
    u, _, vt = np.linalg.svd(rel[:, :3, :3] / scale[:, None, None])
    rel[:, :3, :3] = u @ vt
    return matrix_to_pose(rel), scale


def camera_points(vertices: np.ndarray, ref_transform: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
    """Canonical vertices (..., N, 3) -> camera-space points, applying E(pose) then the reference transform."""
    m = np.asarray(ref_transform, dtype=np.float64)
    if pose is not None:
        m = m @ pose_to_matrix(pose)
    return np.einsum("...ij,...nj->...ni", m[..., :3, :3], vertices) + m[..., None, :3, 3]


def project_camera_points(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Camera-space points (..., N, 3), Z < 0 in front -> pixel coordinates (..., N, 2) of a W x H frame."""
    aspect = width / height
    w = W_SCALE * -points[..., 2]
    x_ndc = (FOCAL / aspect) * points[..., 0] / w
    y_ndc = -FOCAL * points[..., 1] / w
    return np.stack([(x_ndc + 1.0) * 0.5 * width, (y_ndc + 1.0) * 0.5 * height], axis=-1)


def project(vertices: np.ndarray, ref_transform: np.ndarray, pose: np.ndarray | None, width: int, height: int) -> np.ndarray:
    """Canonical mesh (..., N, 3) + relative pose (..., 6) -> pixel landmarks (..., N, 2)."""
    return project_camera_points(camera_points(vertices, ref_transform, pose), width, height)


@dataclass(frozen=True)
class Similarity:
    scale: float
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    def matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.scale * self.rotation
        m[:3, 3] = self.translation
        return m


def weighted_procrustes(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> Similarity:
    """Scale s, rotation R, translation t minimising sum_i w_i |s R x_i + t - y_i|^2 (weighted Umeyama)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_x = w @ source
    mu_y = w @ target
    xc = source - mu_x
    yc = target - mu_y
    cov = (yc * w[:, None]).T @ xc
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag(d) @ vt
    var_x = (w * (xc**2).sum(axis=1)).sum()
    scale = float((sig * d).sum() / var_x)
    translation = mu_y - scale * rotation @ mu_x
    return Similarity(scale, rotation, translation)


def screen_to_metric(
    landmarks_norm: np.ndarray, width: int, height: int, canonical: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's ScreenToMetricSpaceConverter for face landmarks.

    landmarks_norm: (468, 3) normalized (x, y in [0, 1] of the frame, z scaled like x).
    Returns (metric landmarks in camera space (468, 3), pose transform canonical -> camera (4, 4)).
    """
    height_at_near = 2.0 * NEAR * np.tan(0.5 * np.radians(VERTICAL_FOV_DEG))
    width_at_near = width * height_at_near / height
    left, bottom = -0.5 * width_at_near, -0.5 * height_at_near

    screen = np.asarray(landmarks_norm, dtype=np.float64)[:, :3].T.copy()  # 3 x N
    screen[1] = 1.0 - screen[1]  # origin top-left
    screen *= np.array([width_at_near, height_at_near, width_at_near])[:, None]
    screen += np.array([left, bottom, 0.0])[:, None]
    depth_offset = screen[2].mean()

    def estimate_scale(points: np.ndarray) -> float:
        return weighted_procrustes(canonical, points.T, weights).scale

    def move_rescale_unproject(scale: float) -> np.ndarray:
        pts = screen.copy()
        pts[2] = (pts[2] - depth_offset + NEAR) / scale
        pts[0] = pts[0] * pts[2] / NEAR
        pts[1] = pts[1] * pts[2] / NEAR
        pts[2] *= -1.0  # change handedness
        return pts

    first = screen.copy()
    first[2] *= -1.0
    s1 = estimate_scale(first)
    s2 = estimate_scale(move_rescale_unproject(s1))
    metric = move_rescale_unproject(s1 * s2).T
    transform = weighted_procrustes(canonical, metric, weights).matrix()
    return metric, transform


def canonical_from_metric(metric: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Maps camera-space metric landmarks back into canonical space through the inverse transform."""
    inv = np.linalg.inv(transform)
    return metric @ inv[:3, :3].T + inv[:3, 3]
