"""Eyelids that close over the eye instead of squashing it.

The warp alone compresses the eyeball between the lids (a flattened iris). Inside the target eye
opening we instead show the source eyeball moved only with the eye as a whole (eye corners, or the
iris when the target has one), so the lowering lid, which the warp stretches down from the skin
above, covers the iris like real skin. Faded in with the amount of closing so open eyes keep the
warp's exact geometry.
"""
from __future__ import annotations

import numpy as np

from engine.face.contours import EYES, eye_polygon

CLOSING_FULL = 0.3  # fraction of closing at which the eyeball is fully un-squashed
FEATHER_SIGMA_PX = 0.7
POLY_SHIFT = 4
PAD_PX = 3


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def eye_opening(px: np.ndarray, eye) -> float:
    """Mean distance (px) between paired upper- and lower-lid points of one eye."""
    upper, lower, _ = eye
    return float(np.linalg.norm(px[list(upper[1:-1])] - px[list(lower[1:-1])], axis=1).mean())


def _fill(shape, poly: np.ndarray) -> np.ndarray:
    import cv2

    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(poly * (1 << POLY_SHIFT)).astype(np.int32)], 255, cv2.LINE_AA, POLY_SHIFT)
    return mask.astype(np.float32) / 255.0


def paint_eyes(frame: np.ndarray, source: np.ndarray, source_px: np.ndarray, target_px: np.ndarray) -> None:
    """Replaces the squashed eyeball in `frame` (modified in place) for every eye that is closing."""
    import cv2

    h, w = frame.shape[:2]
    for eye in EYES:
        open_s = eye_opening(source_px, eye)
        if open_s < 1.0:
            continue
        strength = float(_smoothstep((1.0 - eye_opening(target_px, eye) / open_s) / CLOSING_FULL))
        if strength <= 0.0:
            continue
        upper, lower, iris = eye
        corners = [upper[0], upper[-1]]
        if len(target_px) > iris and len(source_px) > iris:
            shift = target_px[iris] - source_px[iris]
        else:
            shift = target_px[corners].mean(axis=0) - source_px[corners].mean(axis=0)
        poly_t = target_px[list(eye_polygon(eye))]
        x0, y0 = np.maximum(np.floor(poly_t.min(axis=0)).astype(int) - PAD_PX, 0)
        x1, y1 = np.minimum(np.ceil(poly_t.max(axis=0)).astype(int) + PAD_PX + 1, [w, h])
        if x1 <= x0 or y1 <= y0:
            continue
        origin = np.array([x0, y0], dtype=np.float64)
        shape = (y1 - y0, x1 - x0)
        # Only where the moved source eye was open too: never paint source lid skin as eyeball.
        poly_s = source_px[list(eye_polygon(eye))] + shift
        mask = _fill(shape, poly_t - origin) * _fill(shape, poly_s - origin)
        alpha = cv2.GaussianBlur(mask, (0, 0), FEATHER_SIGMA_PX)[..., None] * strength
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        eyeball = cv2.remap(source, xs - np.float32(shift[0]), ys - np.float32(shift[1]), cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        patch = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(patch * (1 - alpha) + eyeball * alpha + 0.5, 0, 255).astype(np.uint8)
