"""Eyelids that close over the eye instead of squashing it.

The warp alone compresses the eyeball between the lids (a flattened iris). Inside the target eye
opening we instead show the source eyeball moved only with the eye as a whole (eye corners, or the
iris when the target has one), so the lowering lid, which the warp stretches down from the skin
above, covers the iris like real skin. Faded in with the amount of closing so open eyes keep the
warp's exact geometry.
"""
from __future__ import annotations

import numpy as np

from engine.easing import smoothstep
from engine.face.contours import EYES, eye_polygon
from engine.render.paint import blend_patch, padded_box, polygon_mask

CLOSING_FULL = 0.3  # fraction of closing at which the eyeball is fully un-squashed
FEATHER_SIGMA_PX = 0.7
PAD_PX = 3


def eye_opening(px: np.ndarray, eye) -> float:
    """Mean distance (px) between paired upper- and lower-lid points of one eye."""
    upper, lower, _ = eye
    return float(np.linalg.norm(px[list(upper[1:-1])] - px[list(lower[1:-1])], axis=1).mean())


def paint_eyes(frame: np.ndarray, source: np.ndarray, source_px: np.ndarray, target_px: np.ndarray) -> None:
    """Replaces the squashed eyeball in `frame` (modified in place) for every eye that is closing."""
    import cv2

    h, w = frame.shape[:2]
    for eye in EYES:
        open_s = eye_opening(source_px, eye)
        if open_s < 1.0:
            continue
        strength = float(smoothstep((1.0 - eye_opening(target_px, eye) / open_s) / CLOSING_FULL))
        if strength <= 0.0:
            continue
        upper, lower, iris = eye
        corners = [upper[0], upper[-1]]
        if len(target_px) > iris and len(source_px) > iris:
            shift = target_px[iris] - source_px[iris]
        else:
            shift = target_px[corners].mean(axis=0) - source_px[corners].mean(axis=0)
        poly_t = target_px[list(eye_polygon(eye))]
        box = padded_box(poly_t, w, h, PAD_PX)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        origin = np.array([x0, y0], dtype=np.float64)
        shape = (y1 - y0, x1 - x0)
        # Only where the moved source eye was open too: never paint source lid skin as eyeball.
        poly_s = source_px[list(eye_polygon(eye))] + shift
        mask = polygon_mask(shape, poly_t - origin) * polygon_mask(shape, poly_s - origin)
        alpha = cv2.GaussianBlur(mask, (0, 0), FEATHER_SIGMA_PX)[..., None] * strength
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        eyeball = cv2.remap(source, xs - np.float32(shift[0]), ys - np.float32(shift[1]), cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        blend_patch(frame, box, eyeball, alpha)
