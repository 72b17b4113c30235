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


class ContourFrame:
    """A feature's own frame between two corner landmarks: u along the corners (from `start`, the corner on the
    subject's right), v across (down on an upright face, whatever its roll); the `upper` and `lower` contours as
    functions of u. The lips and the eyelids use it to move pixels across a contour instead of through the warp's
    grid."""

    def __init__(self, px: np.ndarray, start: int, end: int, upper, lower):
        self.c0 = px[start].astype(np.float64)
        d = px[end] - px[start]
        self.axis = d / max(float(np.linalg.norm(d)), 1e-6)
        self.normal = np.array([-self.axis[1], self.axis[0]])
        self.width = float(np.linalg.norm(d))
        self._up = self._contour(px, upper)
        self._lo = self._contour(px, lower)

    def _contour(self, px, idx):
        p = px[list(idx)] - self.c0
        pu, pv = p @ self.axis, p @ self.normal
        order = np.argsort(pu)
        return pu[order], pv[order]

    def uv(self, xs, ys):
        rx, ry = xs - self.c0[0], ys - self.c0[1]
        return rx * self.axis[0] + ry * self.axis[1], rx * self.normal[0] + ry * self.normal[1]

    def point(self, u, v) -> np.ndarray:
        return self.c0 + u * self.axis + v * self.normal

    def upper(self, u):
        return np.interp(u, *self._up)

    def lower(self, u):
        return np.interp(u, *self._lo)

    def along(self, px: np.ndarray, idx, u):
        """v of the contour through landmarks `idx` of `px` at u (e.g. an outer lip edge)."""
        return np.interp(u, *self._contour(px, idx))
