"""Rendering over a source video (dubbing): the renderer works on a window that follows the face (small and of
one size, so it is fast and any renderer fits), and only the lower face of its output is blended back into
the untouched source frame, under a feathered mask, so the upper face, the background and the frame's edges
stay the source's to the pixel."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Feather of the lower-face mask (Gaussian sigma, share of the face-box side): wide enough that no edge shows
# on skin, narrow enough that the eyes (~0.35 of the face box above the mouth) stay outside.
FEATHER_SHARE = 0.035
# The mask grows by this share of the face box beyond the moved vertices' outline, so the blend happens where
# the warp has already faded out (the seam falls on unmoved pixels).
MASK_GROW_SHARE = 0.04
MASK_FLOOR = 0.5 / 255  # mask values below this change no 8-bit pixel


# The mask is a feathered blob, so it is built smaller and enlarged linearly: at a scale that leaves the feather
# at least MASK_SIGMA_SMALL_PX small pixels (sigma ~14 px at 720p -> 4x smaller), where linear enlargement stays
# within ~0.1 of the full-size mask at the seam's edge (a ~1 px shift of the feather) at 1/16 of the cost of the
# dilation and blur, which were half the dubbing time at 720p. Small windows are built at full size.
MASK_SIGMA_SMALL_PX = 3.0
MAX_MASK_SCALE = 4


# The feathered mask is below MASK_FLOOR beyond this many sigmas past the grown hull (a straight edge blurred:
# Phi(-3) = 0.0013 < 0.5/255), so a renderer need only get that far right.
MASK_REACH_SIGMAS = 3.0


def _feather(face_side: float) -> tuple[float, int]:
    """(Gaussian sigma px, growth px) of the lower-face mask for a face of `face_side` px."""
    return max(1.0, FEATHER_SHARE * face_side), max(1, int(round(MASK_GROW_SHARE * face_side)))


def lower_face_mask(points_px: list[np.ndarray], side: int, face_side: float,
                    box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The hull of the given lower-face points (source's and target's), grown and feathered: float32 in [0, 1]
    over the (side, side) window, or over `box` (x0, y0, x1, y1) of it (built over that part only)."""
    import cv2

    x0, y0, x1, y1 = box or (0, 0, side, side)
    sigma, grow = _feather(face_side)
    scale = int(min(MAX_MASK_SCALE, max(1.0, sigma / MASK_SIGMA_SMALL_PX)))
    small = -(-side // scale)
    # the coarse canvas over the box, a coarse pixel to spare on each side (the enlargement interpolates there)
    cx0, cy0 = max(x0 // scale - 1, 0), max(y0 // scale - 1, 0)
    cx1, cy1 = min(-(-x1 // scale) + 1, small), min(-(-y1 // scale) + 1, small)
    # small pixel j covers full pixels j*scale .. j*scale + scale - 1: its centre is at j*scale + (scale - 1) / 2
    hull = cv2.convexHull((np.concatenate(points_px).astype(np.float32) - (scale - 1) / 2) / scale
                          - np.float32([cx0, cy0]))
    mask = np.zeros((cy1 - cy0, cx1 - cx0), np.uint8)
    cv2.fillConvexPoly(mask, np.round(hull * 16).astype(np.int32), 255, shift=4)  # sub-pixel vertices
    if scale == 1:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        mask = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)
    else:
        # the same disc in coarse pixels: distances, not a kernel of whole coarse pixels (4 px steps)
        outside = cv2.distanceTransform(255 - mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        mask = cv2.GaussianBlur((outside <= (grow + 0.5) / scale).astype(np.float32), (0, 0), sigma / scale)
        mask = cv2.resize(mask, (mask.shape[1] * scale, mask.shape[0] * scale), interpolation=cv2.INTER_LINEAR)
    ox, oy = x0 - cx0 * scale, y0 - cy0 * scale
    return mask[oy:oy + (y1 - y0), ox:ox + (x1 - x0)]


def _mask_box(points_px: list[np.ndarray], side: int, face_side: float, margin: float = 0.0):
    """(x0, y0, x1, y1): the part of the window where lower_face_mask(points_px, ...) can change a pixel (the
    grown hull, MASK_REACH_SIGMAS of feather and a coarse mask pixel of enlargement), grown by `margin` px and
    clipped to the window; None when that part is empty (the face has left the window)."""
    sigma, grow = _feather(face_side)
    reach = grow + MASK_REACH_SIGMAS * sigma + MAX_MASK_SCALE + margin
    pts = np.concatenate([np.asarray(p, dtype=np.float64) for p in points_px])
    x0, y0 = np.maximum(np.floor(pts.min(axis=0) - reach).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pts.max(axis=0) + reach).astype(int) + 1, side)
    return (int(x0), int(y0), int(x1), int(y1)) if x1 > x0 and y1 > y0 else None


def lower_face_region(points_px: list[np.ndarray], side: int, face_side: float):
    """(x0, y0, x1, y1) of the window a renderer must get right for lower_face_mask(points_px, ...), or None: the
    mask's support grown by how far the lower face moves (a backward warp there reads source pixels that far
    away); a renderer adds its own margin (the warp: two grid steps)."""
    source, target = (np.asarray(p, dtype=np.float64) for p in points_px)
    return _mask_box(points_px, side, face_side, float(np.max(np.linalg.norm(target - source, axis=1))))


def blend_back(frame: np.ndarray, window, rendered: np.ndarray, mask: np.ndarray,
               box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The source frame with the window's masked part replaced by the rendered pixels (`mask` covers `box` of the
    window, by default all of it)."""
    import cv2

    out = frame.copy()
    h, w = frame.shape[:2]
    bx0, by0, bx1, by1 = box or (0, 0, window.side, window.side)
    x0, y0 = max(window.x + bx0, 0), max(window.y + by0, 0)  # the box's part inside the frame
    x1, y1 = min(window.x + bx1, w), min(window.y + by1, h)
    if x1 <= x0 or y1 <= y0:
        return out
    mx, my = x0 - window.x - bx0, y0 - window.y - by0  # where that part starts in the mask
    m = mask[my:my + (y1 - y0), mx:mx + (x1 - x0)]
    # only the mask's support is blended (the lower face: ~0.3 of the window at 720p)
    rows, cols = np.flatnonzero(m.max(axis=1) > MASK_FLOOR), np.flatnonzero(m.max(axis=0) > MASK_FLOOR)
    if not len(rows):
        return out
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    m = np.ascontiguousarray(m[r0:r1, c0:c1])
    src = out[y0 + r0:y0 + r1, x0 + c0:x0 + c1]
    sx, sy = x0 - window.x + c0, y0 - window.y + r0  # in the rendered window
    new = np.ascontiguousarray(rendered[sy:sy + (r1 - r0), sx:sx + (c1 - c0)])
    # src (1 - m) + new m, rounded, in one pass of OpenCV's (a quarter of numpy's time at 720p)
    out[y0 + r0:y0 + r1, x0 + c0:x0 + c1] = cv2.blendLinear(np.ascontiguousarray(src), new, 1.0 - m, m)
    return out


def render_clip(source, renderer, landmarks: np.ndarray, *, progress=None, cancel=None):
    """Frames for (T, N, 2) landmarks in the source's frame: the renderer's frames for a still; over a video,
    each window rendered and its lower face blended back into the source frame (frames without a usable face
    pass through untouched)."""
    if getattr(source, "window", None) is None:
        yield from renderer.frames(landmarks, progress=progress, cancel=cancel)
        return
    windowed = np.stack([source.to_window(i, px) for i, px in enumerate(landmarks)])
    # A renderer that can is asked for the blended part of each window only (~0.3 of it at 720p), each frame's
    # found as the renderer reaches it
    partial = {"regions": _Regions(source, windowed)} if renderer.capabilities.regions else {}
    for i, rendered in enumerate(renderer.frames(windowed, progress=progress, cancel=cancel, **partial)):
        yield compose_frame(source, i, rendered, windowed[i])


def render_one(source, renderer, landmarks: np.ndarray, index: int = 0) -> np.ndarray:
    """One frame (the editor's preview): as render_clip, for frame `index`."""
    if getattr(source, "window", None) is None:
        return renderer.preview(landmarks, index)
    target = source.to_window(index, landmarks)
    partial = {"region": _region(source, index, target)} if renderer.capabilities.regions else {}
    return compose_frame(source, index, renderer.preview(target, index, **partial), target)


def _lower_points(source, index: int, target_window_px: np.ndarray) -> list[np.ndarray]:
    """The lower face's outline points of the source frame and of the target, in the window's pixels."""
    source_px = source.window_landmarks(index)
    return [source_px[source.lower_points], np.asarray(target_window_px)[source.lower_points]]


class _Regions(Sequence):
    """The lower-face region of each window (see _region), computed when asked for."""

    def __init__(self, source, windowed: np.ndarray):
        self.source, self.windowed = source, windowed

    def __len__(self) -> int:
        return len(self.windowed)

    def __getitem__(self, index: int):
        return _region(self.source, index, self.windowed[index])


def _region(source, index: int, target_window_px: np.ndarray):
    return lower_face_region(_lower_points(source, index, target_window_px), source.window(index).side,
                             source.face_side)


def compose_frame(source, index: int, rendered: np.ndarray, target_window_px: np.ndarray) -> np.ndarray:
    full = source.full_frame(index)
    if not source.usable(index):
        return full
    window = source.window(index)
    points = _lower_points(source, index, target_window_px)
    box = _mask_box(points, window.side, source.face_side)  # the mask is built and searched there only
    if box is None:
        return full
    out = blend_back(full, window, rendered, lower_face_mask(points, window.side, source.face_side, box), box)
    x0, y0, x1, y1 = source.picture  # letterbox or pillarbox bars stay as they are
    out[:y0], out[y1:], out[:, :x0], out[:, x1:] = full[:y0], full[y1:], full[:, :x0], full[:, x1:]
    return out
