"""Synthetic expressions made by moving canonical-mesh vertices directly (jaw open, smile, blink).

They need no rig and no audio, so the warp renderer's tests, benchmark and previews can drive it with
known, physically plausible landmark targets. Amounts are in [0, 1]; results are (468, 3) meshes in cm.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from engine.geometry import project
from engine.render.face_regions import EYES, LOWER_INNER_LIP, UPPER_INNER_LIP


JAW_PIVOT_YZ = (-1.5, -2.0)  # temporomandibular joint, roughly level with the nose base, in front of the ear
JAW_MAX_DEG = 22.0  # about 3 cm of lip opening


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def jaw_weights(mesh: np.ndarray) -> np.ndarray:
    """(468,) share of each vertex in the jaw rotation: 1 below the mouth line, 0 above, soft at the sides."""
    corner_y = (mesh[61, 1] + mesh[291, 1] + mesh[78, 1] + mesh[308, 1]) / 4.0
    line_y = (mesh[13, 1] + mesh[14, 1]) / 2.0
    half_w = abs(mesh[291, 0] - mesh[61, 0]) / 2.0
    # Mouth line: parabola through the corners and the lips' meeting point; the jaw hangs below it.
    t = np.clip(mesh[:, 0] / half_w, -1.5, 1.5)
    mouth_line = line_y + (corner_y - line_y) * t**2
    w = _smoothstep((mouth_line - mesh[:, 1]) / 0.6 + 0.5)
    w *= 1.0 - _smoothstep((np.abs(mesh[:, 0]) - 4.5) / 2.5)  # the jaw angles near the ears barely move
    w[list(UPPER_INNER_LIP[1:-1])] = 0.0
    w[list(LOWER_INNER_LIP[1:-1])] = 1.0
    return w


def jaw_open(mesh: np.ndarray, amount: float) -> np.ndarray:
    """Rotates the jaw about the TMJ axis (canonical x), blended per vertex by jaw_weights."""
    w = jaw_weights(mesh)
    pivot = np.array([0.0, *JAW_PIVOT_YZ])
    rot = Rotation.from_euler("x", JAW_MAX_DEG * amount, degrees=True).as_matrix()
    rotated = (mesh - pivot) @ rot.T + pivot
    return mesh + w[:, None] * (rotated - mesh)


def smile(mesh: np.ndarray, amount: float) -> np.ndarray:
    """Pulls the mouth corners out and up with a Gaussian falloff (a zygomaticus-like pull)."""
    out = mesh.copy()
    for corner, side in ((61, -1.0), (291, 1.0)):
        d = np.linalg.norm(mesh - mesh[corner], axis=1)
        g = np.exp(-0.5 * (d / 1.1) ** 2)
        out += amount * g[:, None] * np.array([0.55 * side, 0.45, -0.15])
    return out


def blink(mesh: np.ndarray, amount: float, eyes: tuple = EYES) -> np.ndarray:
    """Lowers each upper lid onto its lower lid; the skin above follows less and less up to the brow."""
    out = mesh.copy()
    for upper, lower, _ in eyes:
        up, lo = mesh[list(upper)], mesh[list(lower)]
        xs_u, xs_l = np.argsort(up[:, 0]), np.argsort(lo[:, 0])
        x = mesh[:, 0]
        y_up = np.interp(x, up[xs_u, 0], up[xs_u, 1])
        y_lo = np.interp(x, lo[xs_l, 0], lo[xs_l, 1])
        x0, x1 = up[:, 0].min(), up[:, 0].max()
        inside_x = 1.0 - _smoothstep(np.maximum(x0 - x, x - x1) / 0.4)
        above = mesh[:, 1] - y_up  # >= 0 on and above the upper lid
        falloff = 1.0 - _smoothstep(above / 0.9)
        between = mesh[:, 1] > y_lo + 0.05
        w = inside_x * falloff * between * (np.abs(mesh[:, 2] - up[:, 2].mean()) < 1.5)
        out[:, 1] -= amount * w * (y_up - y_lo)  # the lid contour itself (w = 1) lands on the lower lid
    return out


def target_px(reference, mesh: np.ndarray, pose=None) -> np.ndarray:
    """(468, 2) target landmarks in the reference frame's pixels for a canonical mesh and relative pose."""
    return project(mesh, reference.transform, None if pose is None else np.asarray(pose, float),
                   reference.width, reference.height)


def demo_sequence(reference, frames: int = 60) -> np.ndarray:
    """(frames, 468, 2) a realistic test clip: jaw opens and closes, the head turns, one blink."""
    t = np.linspace(0.0, 1.0, frames)
    out = np.empty((frames, 468, 2))
    for i, ti in enumerate(t):
        m = jaw_open(reference.mesh, 0.5 - 0.5 * np.cos(4 * np.pi * ti))
        m = blink(m, float(np.exp(-0.5 * ((ti - 0.6) / 0.04) ** 2)))
        pose = np.array([4 * np.sin(2 * np.pi * ti), 15 * np.sin(2 * np.pi * ti), 3 * np.sin(4 * np.pi * ti), 0, 0, 0])
        out[i] = target_px(reference, m, pose)
    return out
