"""Small shared pieces of the painted layers (eyes, mouth interior): sub-pixel polygon masks,
the padded patch box around a polygon and the alpha blend into the frame."""
from __future__ import annotations

import numpy as np

POLY_SHIFT = 4  # cv2 fixed-point bits for sub-pixel polygon edges


def padded_box(poly: np.ndarray, width: int, height: int, pad: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the polygon's pixel bounding box grown by `pad` and clipped to the frame; None when empty."""
    x0, y0 = np.maximum(np.floor(poly.min(axis=0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(poly.max(axis=0)).astype(int) + pad + 1, [width, height])
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def polygon_mask(shape: tuple[int, int], poly: np.ndarray) -> np.ndarray:
    """(H, W) float32 0..1 anti-aliased fill of `poly` (pixel coordinates, sub-pixel edges)."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(poly * (1 << POLY_SHIFT)).astype(np.int32)], 255, cv2.LINE_AA, POLY_SHIFT)
    return mask.astype(np.float32) / 255.0


def blend_patch(frame: np.ndarray, box: tuple[int, int, int, int], layer: np.ndarray, alpha: np.ndarray) -> None:
    """frame[box] (uint8, modified in place) = frame * (1 - alpha) + layer * alpha, rounded; alpha is (h, w, 1)."""
    x0, y0, x1, y1 = box
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(patch * (1 - alpha) + layer * alpha + 0.5, 0, 255).astype(np.uint8)
