"""Synthesised mouth interior: what a warp cannot invent when the target opens a closed mouth.

Painted in the mouth's own frame (u along the inner corners, v across, in output pixels) so head roll
is free: a dark cavity, a tongue hint, lower teeth standing on the lower lip (partly hidden by it) and
upper teeth hanging from the upper lip in front of them. Teeth are sized by the REFERENCE mouth width
(they do not grow when the lips stretch). The layer is clipped to the target inner-lip polygon with a
feathered edge and faded in by how much more open the target is than the reference.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.easing import smoothstep
from engine.face.contours import (LIPS_INNER_LOWER, LIPS_INNER_UPPER, LIPS_OUTER_LOWER, LIPS_OUTER_UPPER,
                                  inner_lip_polygon, mouth_opening)
from engine.render.paint import blend_patch, padded_box, polygon_mask

# Projected tooth widths from the midline outwards, as fractions of the inner mouth width; heights of
# their visible part (upper, lower), the same unit. Molars beyond are lost in the dark of the corners.
TOOTH_WIDTHS = (0.15, 0.12, 0.10, 0.085, 0.075)
UPPER_TOOTH_HEIGHTS = (0.16, 0.14, 0.145, 0.115, 0.1)
LOWER_TOOTH_HEIGHTS = (0.09, 0.085, 0.09, 0.075, 0.065)
# The lips cover the teeth: at most this share of the local opening shows upper / lower teeth; the rest
# slides under the lip (the tips keep their shape), so a small opening shows mostly upper tooth edges
# over a dark gap and the lower teeth only appear when the jaw drops.
UPPER_GAP_SHARE = 0.6
LOWER_GAP_SHARE = 0.25
IVORY = np.array([0.97, 0.94, 0.87])
OPEN_RATIO_FULL = 0.06  # opening / mouth width beyond which the interior is fully synthesised
FEATHER_SIGMA_PX = 0.8
PAD_PX = 3


@dataclass(frozen=True)
class MouthStyle:
    """Colours (float RGB 0..255) and sizes measured once on the reference portrait."""
    teeth: np.ndarray
    cavity: np.ndarray
    tongue: np.ndarray
    width_px: float  # reference inner mouth width
    opening_px: float  # reference opening

    @staticmethod
    def of(image: np.ndarray, px: np.ndarray) -> "MouthStyle":
        import cv2

        img = image.astype(np.float64)
        lip_pts = np.vstack([(px[list(LIPS_INNER_UPPER)] + px[list(LIPS_OUTER_UPPER)]) / 2,
                             (px[list(LIPS_INNER_LOWER)] + px[list(LIPS_OUTER_LOWER)]) / 2])
        lip = _sample(img, lip_pts).mean(axis=0)
        cheeks = _sample(img, np.vstack([px[[50, 280, 101, 330, 118, 347]]])).mean(axis=0)  # cheek landmarks
        width = float(np.linalg.norm(px[308] - px[78]))
        opening = mouth_opening(px)
        # Colourless photos get colourless teeth; otherwise teeth are ivory lit like the skin.
        chroma = np.abs(cheeks - cheeks.mean()).mean() + np.abs(lip - lip.mean()).mean()
        ivory = IVORY if chroma > 4.0 else np.full(3, IVORY.mean())
        teeth = ivory * np.clip(0.8 * cheeks.mean() + 75.0, 120.0, 250.0)
        if opening > 0.08 * width:  # teeth already visible: take their colour from the portrait
            mask = np.zeros(image.shape[:2], np.uint8)
            cv2.fillPoly(mask, [np.round(px[list(inner_lip_polygon())]).astype(np.int32)], 1)
            inside = img[mask.astype(bool)]
            if len(inside) > 20:
                luma = inside.mean(axis=1)
                bright = inside[luma >= np.percentile(luma, 85)].mean(axis=0)
                # Lip pixels are not teeth: teeth are brighter and less saturated than the lips.
                sat = lambda c: float(c.max() - c.min()) / max(float(c.max()), 1.0)
                if bright.mean() > max(0.6 * teeth.mean(), 1.25 * lip.mean()) and sat(bright) < 0.8 * sat(lip):
                    # Half ivory at the same brightness: the sample mixes in lip and gum pixels.
                    teeth = 0.5 * bright + 0.5 * ivory * (bright.mean() / ivory.mean())
        cavity = lip * 0.16 + 4.0
        tongue = lip * 0.62 + np.array([8.0, 0.0, 0.0]) * (chroma > 4.0)
        return MouthStyle(teeth, cavity, tongue, width, opening)


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    x = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
    return img[y, x]


def _teeth_row(x: np.ndarray, heights: tuple[float, ...], width: float):
    """For signed distance x (px) from the midline: visible tooth height (px) with rounded tips,
    cylindrical shading across each tooth, dark gaps between teeth."""
    edges = np.concatenate([[0.0], np.cumsum(TOOTH_WIDTHS)]) * width
    ax = np.abs(x)
    k = np.clip(np.searchsorted(edges, ax) - 1, 0, len(TOOTH_WIDTHS) - 1)
    w = np.diff(edges)[k]
    t = np.clip((ax - edges[k]) / w * 2.0 - 1.0, -1.0, 1.0)  # -1..1 across the tooth
    height = np.asarray(heights)[k] * width * (1.0 - 0.22 * t**4)
    shade = 0.88 + 0.12 * np.cos(t * np.pi / 2)
    gap_px = np.minimum(ax - edges[k], edges[k + 1] - ax)
    shade = shade * (1.0 - 0.28 * np.exp(-((gap_px / max(0.5, 0.008 * width)) ** 2)))
    # The arch recedes into the dark of the cheeks: later teeth sink into the cavity colour.
    recede = smoothstep((ax / (0.5 * width) - 0.35) / 0.55)
    return np.clip(shade, 0.0, 1.0), height, recede


def paint_mouth(frame: np.ndarray, target_px: np.ndarray, style: MouthStyle) -> None:
    """Paints the interior into `frame` (H, W, 3 uint8, modified in place) where the target mouth is open."""
    import cv2

    opening = mouth_opening(target_px)
    extra = (opening - style.opening_px) / max(style.width_px, 1.0)
    strength = float(smoothstep(extra / OPEN_RATIO_FULL))
    if strength <= 0.0:
        return
    poly = target_px[list(inner_lip_polygon())]
    h, w = frame.shape[:2]
    box = padded_box(poly, w, h, PAD_PX)
    if box is None:
        return
    x0, y0, x1, y1 = box
    mask = polygon_mask((y1 - y0, x1 - x0), poly - [x0, y0])
    alpha = cv2.GaussianBlur(mask, (0, 0), FEATHER_SIGMA_PX) * strength

    # Mouth frame: u along the inner corners, v perpendicular (downwards on an upright face).
    c0, c1 = target_px[78], target_px[308]
    axis = (c1 - c0) / max(np.linalg.norm(c1 - c0), 1e-6)
    normal = np.array([-axis[1], axis[0]])
    ys, xs = np.mgrid[y0:y1, x0:x1]
    rel = np.stack([xs - c0[0], ys - c0[1]], axis=-1)
    u, v = rel @ axis, rel @ normal

    def contour(idx):
        p = (target_px[list(idx)] - c0)
        pu, pv = p @ axis, p @ normal
        order = np.argsort(pu)
        return np.interp(u, pu[order], pv[order])

    v_up, v_lo = contour(LIPS_INNER_UPPER), contour(LIPS_INNER_LOWER)
    mid = ((target_px[13] + target_px[14]) / 2 - c0) @ axis
    x = u - mid  # signed distance from the teeth midline
    gap = np.maximum(v_lo - v_up, 1e-3)
    W = style.width_px

    # Cavity: darkest in the middle of the opening, a little light reaches in near the lips.
    depth = np.clip(np.minimum(v - v_up, v_lo - v) / (0.5 * gap), 0, 1)
    colour = style.cavity[None, None, :] * (1.25 - 0.5 * depth)[..., None]
    # Tongue: a rounded hump resting behind the lower teeth.
    tongue_top = v_lo - 0.45 * gap - 0.05 * W
    tongue_r = np.clip(np.abs(x) / (0.32 * W), 0, 1)
    tongue_in = smoothstep((v - (tongue_top + 0.25 * gap * tongue_r**2)) / 2.0) * (1 - tongue_r**4)
    tongue_shade = 0.55 + 0.4 * smoothstep((v - tongue_top) / (0.4 * gap + 1))
    colour = colour * (1 - tongue_in[..., None]) + (style.tongue * tongue_shade[..., None] * tongue_in[..., None])
    # Lower teeth, then upper teeth in front of them (overbite).
    for heights, anchor, sign, light, share in ((LOWER_TOOTH_HEIGHTS, v_lo, -1.0, 0.72, LOWER_GAP_SHARE),
                                                (UPPER_TOOTH_HEIGHTS, v_up, 1.0, 1.0, UPPER_GAP_SHARE)):
        shade, height, recede = _teeth_row(x, heights, W)
        hidden = np.maximum(max(heights) * W - share * gap, 0.0)  # under the lip
        into = (v - anchor) * sign + hidden  # distance from the tooth's root edge into the mouth
        cover = smoothstep((height - into) / 1.2) * (into > -3.0) * (1.0 - smoothstep((np.abs(x) - 0.46 * W) / 3.0))
        lip_shadow = 0.7 + 0.3 * smoothstep((into - hidden) / (0.07 * W))
        tip = 1.0 - 0.12 * smoothstep((into - 0.8 * height) / (0.2 * height + 1e-3))
        lit = style.teeth * (light * shade * lip_shadow * tip)[..., None]
        tooth = lit + (style.cavity - lit) * (0.9 * recede)[..., None]
        colour = colour * (1 - cover[..., None]) + tooth * cover[..., None]
    # The lips' inner edge shades what lies right behind it.
    edge = np.minimum(v - v_up, v_lo - v)
    colour *= (0.68 + 0.32 * smoothstep(edge / 2.5))[..., None]

    blend_patch(frame, box, colour, alpha[..., None])
