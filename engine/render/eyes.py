"""Eyelids that close over the eye instead of squashing it.

The warp alone compresses the eyeball between the lids (a flattened iris). Inside the target eye
opening we instead show the source eyeball moved only with the eye as a whole (eye corners, or the
iris when the target has one), so the lowering lid, which the warp stretches down from the skin
above, covers the iris like real skin. Faded in with the amount of closing so open eyes keep the
warp's exact geometry.

Around a closing eye the lids themselves are redrawn first (seal_lids): the warp's grid interpolates across
the lid line, where its map jumps from the source's upper lid to its lower lid, so a shut eye kept a band of
eye white and iris as tall as a grid cell along the lash line.
"""
from __future__ import annotations

import numpy as np

from engine.easing import smoothstep
from engine.face.contours import EYES, eye_polygon
from engine.render.paint import ContourFrame, blend_patch, padded_box, polygon_mask

CLOSING_FULL = 0.3  # fraction of closing at which the eyeball is fully un-squashed
FEATHER_SIGMA_PX = 0.7
PAD_PX = 3
# The landmarks' lid lines run along the inner edge of the lid margins, where the eye white begins (on the lash
# line's eyeball side): a shut lid is sampled this share of the source's eye opening outside them, on the lid.
LID_EDGE_INSET = 0.15


def eye_opening(px: np.ndarray, eye) -> float:
    """Mean height (px) between the upper- and lower-lid lines over the middle of one eye, across the eye's
    axis. (Not the distance between paired lid points: a shut eye's lids meet on one curve while the pairs
    stay apart along it, which read as a quarter of the open eye.)"""
    frame = _lid_frame(px, eye)
    u = np.linspace(0.2, 0.8, 7) * frame.width
    return float(np.maximum(frame.lower(u) - frame.upper(u), 0.0).mean())


def _eyeball_shows(ratio: float) -> float:
    """How much eyeball an eye opened to `ratio` of the source's opening shows: none below the two lid margins
    (they meet: seal_lids draws them), all of it from twice their width."""
    return float(smoothstep(ratio / (2.0 * LID_EDGE_INSET)))


def _lid_frame(px: np.ndarray, eye) -> ContourFrame:
    """The eye's frame, u from the corner on the subject's right (the mouth's 78 -> 308 direction), v down."""
    upper, lower, _ = eye
    start, end = upper[0], upper[-1]
    if float((px[end] - px[start]) @ (px[308] - px[78])) < 0.0:
        start, end = end, start
    return ContourFrame(px, start, end, upper, lower)


def seal_lids(frame: np.ndarray, source: np.ndarray, source_px: np.ndarray, target_px: np.ndarray,
              head: np.ndarray, reach_px: float) -> None:
    """Where the target's lids are closer together than the source's (a blink, a squint), the pixels within
    `reach_px` of each target lid line take the source pixel at the same distance beyond the source's own lid
    line (the lid skin and lashes slide with the lid), and the pixels between the target lids take the nearer
    lid's edge (the lash line; paint_eyes then shows the eyeball in what opening is left). Faded back to the warp
    over `reach_px` beyond the lids and towards the corners, and in with the squeeze. `frame` is modified in
    place; `head`: the (2, 3) similarity source -> target."""
    import cv2

    scale = max(float(np.hypot(head[0, 0], head[1, 0])), 1e-6)
    h, w = frame.shape[:2]
    for eye in EYES:
        open_s, open_t = eye_opening(source_px, eye), eye_opening(target_px, eye)
        if open_s < 1.0:
            continue
        squeeze = open_s * scale - open_t
        strength = float(smoothstep(squeeze / max(reach_px, 1.0)))
        if strength <= 0.0:
            continue
        box = padded_box(target_px[list(eye_polygon(eye))], w, h, int(np.ceil(reach_px)) + 1)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        tf, sf = _lid_frame(target_px, eye), _lid_frame(source_px, eye)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        u, v = tf.uv(xs, ys)
        u_s = u * (sf.width / max(tf.width, 1e-6))
        up_t, lo_t = tf.upper(u), tf.lower(u)
        past_up, past_lo = np.maximum(up_t - v, 0.0), np.maximum(v - lo_t, 0.0)  # px beyond each target lid
        inset = LID_EDGE_INSET * open_s
        lids = []
        for v_s in (sf.upper(u_s) - inset - past_up / scale, sf.lower(u_s) + inset + past_lo / scale):
            p = sf.point(u_s[..., None], v_s[..., None]).astype(np.float32)
            lids.append(cv2.remap(source, p[..., 0], p[..., 1], cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE).astype(np.float32))
        # the upper lid above the lids' midline, the lower one below it, over one pixel (no stair-stepped seam)
        lower = np.clip(v - 0.5 * (up_t + lo_t) + 0.5, 0.0, 1.0)[..., None]
        layer = lids[0] + (lids[1] - lids[0]) * lower
        beyond = past_up + (past_lo - past_up) * lower[..., 0]
        feather = max(1.0, 0.5 * reach_px)
        along = np.minimum(u, tf.width - u)  # inside the corners
        # between the target lids only as far as no eyeball shows there (paint_eyes' own fade): a light squint's
        # opening keeps its eyeball, a shut one gets the lash line
        between = np.clip(np.minimum(v - up_t, lo_t - v) + 0.5, 0.0, 1.0) * _eyeball_shows(open_t / open_s / scale)
        alpha = ((1.0 - smoothstep(beyond / max(reach_px, 1.0))) * (1.0 - between) * smoothstep(along / feather)
                 * strength)
        blend_patch(frame, box, layer, alpha[..., None].astype(np.float32))


def paint_eyes(frame: np.ndarray, source: np.ndarray, source_px: np.ndarray, target_px: np.ndarray) -> None:
    """Replaces the squashed eyeball in `frame` (modified in place) for every eye that is closing."""
    import cv2

    h, w = frame.shape[:2]
    for eye in EYES:
        open_s = eye_opening(source_px, eye)
        if open_s < 1.0:
            continue
        ratio = eye_opening(target_px, eye) / open_s
        strength = float(smoothstep((1.0 - ratio) / CLOSING_FULL) * _eyeball_shows(ratio))
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
