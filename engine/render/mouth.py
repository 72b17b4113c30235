"""The mouth interior: what a warp cannot invent when the target opens the mouth, matched to the photo.

The interior is three layers, built once per source frame in that frame's pixels (the "atlas") and moved per
output frame like the anatomy they stand for:
  - upper teeth move with the head (the skull's similarity motion from the warp field): the upper lip slides
    over them, so they never stretch; a strip shows under the lip when the jaw drops;
  - lower teeth move with the jaw (the chin's motion relative to the head), behind the upper ones;
  - the cavity and a tongue hint (wide openings only) are painted per frame between them.
When the source frame already shows its mouth interior (open lips, usually teeth), the atlas layers ARE its
pixels (split between the upper and lower layer at the bite line) with painted teeth only where the source
shows lips, so every opening uses the real, moved teeth and extends them: there is nothing to switch to
and nothing pops. (A dub's video frame is a new source every frame: there the layers only extend an opening
wider than the frame's own; up to it the warp moves the frame's own interior with its lips.)
Otherwise the teeth are painted: sized from the face's metric scale, coloured from the
photo's own white (the eye whites) and skin light, blurred to the photo's softness, with its grain
(engine.render.photo). The layers are composited inside the target inner-lip polygon with a soft edge (no
dark ring); a moustache that hangs over the upper lip stays in front of the interior.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.easing import smoothstep
from engine.face.contours import (EYE_OUTER_CORNERS as EYE_CORNERS, LIPS_INNER_LOWER, LIPS_INNER_UPPER,
                                  LIPS_OUTER_LOWER, LIPS_OUTER_UPPER, inner_lip_polygon, mouth_opening)
from engine.render.paint import ContourFrame, blend_patch, padded_box, polygon_mask
from engine.render.photo import PhotoLook, luma, sample

# Tooth crowns as seen from the front, midline outwards (central incisor, lateral, canine, two premolars),
# cm: widths are the projected mesiodistal widths of an average adult arch (the canine and premolars turn
# away from the camera); heights are crown lengths. Converted to px by the face's own metric scale, so the
# teeth fit this mouth whatever its expression in the source.
UPPER_WIDTHS_CM = (0.85, 0.65, 0.55, 0.45, 0.38)
UPPER_HEIGHTS_CM = (1.05, 0.9, 1.0, 0.8, 0.75)
LOWER_WIDTHS_CM = (0.55, 0.6, 0.55, 0.45, 0.4)
LOWER_HEIGHTS_CM = (0.9, 0.9, 1.0, 0.8, 0.75)
UPPER_SHOW_CM = 0.3  # upper incisal edge below the closed lips' line: the strip speech shows under the lip
SMILE_ARC_CM = 0.12  # the canines' tips sit this much higher than the central incisors' edges
OVERBITE_CM = 0.25  # lower incisors' edges hide this far behind the upper ones at a closed bite
GUM_CM = 0.35  # gum drawn beyond the crowns (shows only when a lip pulls far back)
TIP_ROUND = 0.25  # crown corners rounded over this share of the tooth's width
INCISAL_CM = 0.12  # translucent, darker band along the biting edge
GAP_CM = 0.025  # interproximal shadow between neighbouring teeth (1/e half-width)
GAP_DARKEN = 0.3
RECEDE_FROM = 0.55  # teeth beyond this share of the half mouth width recede into the dark of the cheeks
LOWER_LIGHT = 0.8  # lower teeth sit in the upper teeth's and lip's shade
# Lit front teeth, measured in 11 real talking-head videos (bench/measure_teeth.py: the brightest tenth of the
# open mouth's pixels against the same frame's PhotoLook): their colour is the eye whites' (the same tint within
# a few percent per channel, not yellower), their brightness a median 1.23x the eye whites' (which sit in the
# lids' shade; 1.01-1.69 over the clips) and 1.04x the cheeks' (0.85-1.59: dark skin is far darker than its
# teeth); rounded down. The brighter of the two estimates is taken (the eye-white one fails when the eyes are
# small or shaded, the skin one on dark skin).
TEETH_OF_WHITE = 1.2
TEETH_OF_SKIN = 1.0
TEETH_MAX = 245.0
CAVITY_OF_LIP = 0.2  # the cavity: the photo's black, this far towards the lip colour (light from the lips)
TONGUE_OF_LIP = 0.6
# Cavity light: CAVITY_LIT x the cavity colour right behind the lips (the wet inner lips catch light; a
# darker rim there read as a dark outline and cost the landmarker 0.04 px on the lips), CAVITY_DEEP in the
# middle of the opening, and CAVITY_CORNER_DARK less towards the corners.
CAVITY_LIT = 1.6
CAVITY_DEEP = 0.7
CAVITY_CORNER_DARK = 0.4
GUM_OF_LIP = 0.9
# Lower teeth ride on the lower lip's middle (the jaw carries both; the chin is no proxy: under perspective
# the rig's jawOpen moves its landmark 0.58x as far as the lower lip, which would bare a full crown): at
# JAW_FOLLOW of its motion, a wide-open jaw shows the lower edges (~0.1 cm at jawOpen 1, as in photos of an
# open "ah"); never above a closed bite.
JAW_FOLLOW = 0.96
LOWER_LIP_MIDDLE = (87, 14, 317)
# Tongue hint: a hump behind the lower teeth rising TONGUE_RISE_CM above their edge, faded in as the
# opening at the midline grows from TONGUE_FROM_CM to TONGUE_FULL_CM (wide vowels); TONGUE_HALF_WIDTH of the
# mouth's half width.
TONGUE_RISE_CM = 0.55
TONGUE_FROM_CM = 0.9
TONGUE_FULL_CM = 1.6
TONGUE_HALF_WIDTH = 0.62
TONGUE_EDGE_CM = 0.12  # its top edge is soft: it is wet and rounded, not cut out
UPPER_LIP_SHADOW = 0.8  # the upper lip's contact shadow on the painted upper teeth right under it
UPPER_LIP_SHADOW_CM = 0.2
# The source interior is used (and nothing painted over it fades) once the lips are this far apart
# (share of the inner mouth width): enough to show the teeth or the dark of an open mouth.
REAL_INTERIOR_OPENING = 0.06
REAL_DILATE_PX = 2  # source pixels kept around the inner-lip polygon, so the layers meet the lips seamlessly
BITE_CONTRAST = 25.0  # grey levels between the interior's bright and dark rows below which it shows no teeth
OPEN_RATIO_FULL = 0.06  # interior layers: (opening - source opening) / width at which they are fully shown
# A target opening under this share of the mouth's width is a slit: it shows the lips' edges and shadow, not the
# teeth. Lips the target closes below the source's opening are sealed there (seal_lips), fading out up to it, and a
# still's own interior fades in over it (the same ramp as above).
SEAL_SLIT = OPEN_RATIO_FULL
FEATHER_SIGMA_PX = 0.8  # the inner-lip edge's softness on a sharp photo
# ... plus this share of the photo's own blur: the warped lips bring their softness; a fully photo-soft edge
# cost the landmarker 0.015 px on the lips (bench_warp --fidelity) for no visible gain.
EDGE_BLUR_SHARE = 0.5
PAINT_SHARPNESS_PX = 0.5  # the blur an anti-aliased painted edge already has
PAD_PX = 4
ATLAS_MARGIN_CM = 1.6  # atlas reach beyond the mouth corners and above/below the closed lips
# Moustache over the lips: the skin between nose and upper lip darker than the cheeks by this share marks
# one (a full moustache: 0.62 darker on the benchmark portraits; stubble 0.30, a shaded shaven lip 0.27); then source pixels within HAIR_BAND_CM under the upper inner lip that are darker than the lips by
# HAIR_DARKER stay in front of the interior, hanging from the upper lip.
MOUSTACHE_DARKER = 0.45
HAIR_BAND_CM = 0.25
HAIR_DARKER = 0.25
# Closed lips are drawn from the outer (1 - SEAL_INNER_SKIP) of each source lip's thickness: next to an open
# mouth the landmarker's inner-lip contour runs up to a quarter of the lip over the teeth's edge.
SEAL_INNER_SKIP = 0.25
UPPER_LIP_SKIN = (164, 167, 393, 165, 391, 92, 322)  # skin between the nose and the upper lip
GRAIN_SEED = 11


@dataclass(frozen=True)
class MouthStyle:
    """The source frame's mouth, measured once: colours, scale, look and the layer atlas."""

    look: PhotoLook
    teeth: np.ndarray  # (3,) lit front-teeth colour
    cavity: np.ndarray
    tongue: np.ndarray
    width_px: float  # source inner mouth width
    opening_px: float  # source opening
    px_per_cm: float
    real: bool  # the source's own interior is used
    origin: np.ndarray  # (2,) source px of atlas pixel (0, 0)
    upper: np.ndarray  # (h, w, 4) float32 premultiplied RGBA: head-anchored layer
    lower: np.ndarray  # (h, w, 4) float32 premultiplied RGBA: jaw-anchored layer
    hair: np.ndarray | None  # (h, w, 4) premultiplied: moustache hanging from the upper lip, or None
    grain: np.ndarray  # (h, w) float32 static noise of the photo's grain strength
    source_px: np.ndarray  # (N, 2) source landmarks

    @staticmethod
    def of(image: np.ndarray, px: np.ndarray, look: PhotoLook | None = None) -> "MouthStyle":
        """The style of `image` with landmarks `px`; `look`: the photo's measured look when already known (the
        frames of one video share their reference frame's)."""
        from engine.face.canonical import load_canonical_model

        img = np.ascontiguousarray(image[..., :3])
        look = look or PhotoLook.measure(img, px)
        canon = load_canonical_model().vertices
        ppc = float(np.linalg.norm(px[EYE_CORNERS[0]] - px[EYE_CORNERS[1]])
                    / np.linalg.norm(canon[EYE_CORNERS[0]] - canon[EYE_CORNERS[1]]))
        width = float(np.linalg.norm(px[308] - px[78]))
        opening = mouth_opening(px)
        real = opening > REAL_INTERIOR_OPENING * max(width, 1.0)
        teeth = _teeth_colour(img, px, look, real)
        black, lip = look.black, look.lip
        cavity = black + (lip - black) * CAVITY_OF_LIP
        tongue = black + (lip - black) * TONGUE_OF_LIP
        gum = black + (lip - black) * GUM_OF_LIP
        frame = _MouthFrame(px)
        margin = ATLAS_MARGIN_CM * ppc
        corners = px[[61, 291, 78, 308]]
        lips = px[list(LIPS_INNER_UPPER + LIPS_INNER_LOWER)]
        x0, y0 = np.floor(np.minimum(corners.min(0), lips.min(0)) - margin).astype(int)
        x1, y1 = np.ceil(np.maximum(corners.max(0), lips.max(0)) + margin).astype(int) + 1
        origin = np.array([x0, y0], dtype=np.float64)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        u, v = frame.uv(xs, ys)
        x = u - frame.mid
        stomion = 0.5 * (frame.upper(u) + frame.lower(u))
        split = stomion.copy()
        if real:
            split = frame.upper(u) + _bite_share(img, px, frame) * (frame.lower(u) - frame.upper(u))
        half_w = 0.5 * width
        noise = _grain_noise(xs.shape)
        grain_amp = look.grain
        # Upper teeth hang down to their edge; lower teeth stand up to theirs, hidden behind at a closed bite.
        up_edge = (split if real else stomion + UPPER_SHOW_CM * ppc)
        lo_edge = up_edge - (0.0 if real else OVERBITE_CM * ppc)
        upper = _teeth_layer(x, v, up_edge, UPPER_WIDTHS_CM, UPPER_HEIGHTS_CM, -1.0, ppc, half_w, teeth, cavity,
                             gum, 1.0)
        lower = _teeth_layer(x, v, lo_edge, LOWER_WIDTHS_CM, LOWER_HEIGHTS_CM, 1.0, ppc, half_w, teeth, cavity,
                             gum, LOWER_LIGHT)
        upper[..., :3] *= _lip_shadow(v - frame.upper(u), ppc)[..., None].astype(np.float32)
        # As soft as the photo (less what painting anti-aliased already has), then its grain on top.
        sigma = float(np.sqrt(max(look.blur_px**2 - PAINT_SHARPNESS_PX**2, 0.0)))
        if sigma > 0.05:
            import cv2

            upper, lower = (cv2.GaussianBlur(layer, (0, 0), sigma) for layer in (upper, lower))
        for layer in (upper, lower):
            layer[..., :3] += (noise * grain_amp)[..., None] * layer[..., 3:4]
        if real:
            _overlay_source(upper, lower, img, px, origin, v, split)
        hair = _moustache(img, px, look, frame, origin, u, v, ppc)
        return MouthStyle(look, teeth, cavity, tongue, width, opening, ppc, real, origin, upper, lower, hair,
                          noise * np.float32(grain_amp), np.asarray(px, dtype=np.float64))


@lru_cache(maxsize=8)  # a video's mouth atlas keeps a few sizes for many frames; a still has one
def _grain_noise(shape: tuple[int, int]) -> np.ndarray:
    """Unit Gaussian noise of the atlas (seeded, so the same for a shape: a video's frames reuse it), read-only."""
    noise = np.random.default_rng(GRAIN_SEED).standard_normal(shape).astype(np.float32)
    noise.flags.writeable = False
    return noise


class _MouthFrame(ContourFrame):
    """A mouth's own frame: u along the inner corners (78 -> 308), v across (down on an upright face), the
    inner-lip contours as functions of u and the midline between the central lip points."""

    def __init__(self, px: np.ndarray):
        super().__init__(px, 78, 308, LIPS_INNER_UPPER, LIPS_INNER_LOWER)
        self.mid = float(((px[13] + px[14]) / 2 - self.c0) @ self.axis)


def _teeth_colour(img: np.ndarray, px: np.ndarray, look: PhotoLook, real: bool) -> np.ndarray:
    """Lit front-teeth colour: the real teeth when the source shows them, else the photo's white balance
    (eye whites) at the brightness of lit teeth (see TEETH_OF_WHITE)."""
    white_luma = max(float(luma(look.white)), 1.0)
    tint = look.white / white_luma
    level = min(max(TEETH_OF_WHITE * white_luma, TEETH_OF_SKIN * float(luma(look.skin))), TEETH_MAX)
    teeth = tint / float(luma(tint)) * level
    if real:
        poly = px[list(inner_lip_polygon())]
        box = padded_box(poly, img.shape[1], img.shape[0], 1)  # the mouth's box, not the whole frame
        if box is None:
            return np.clip(teeth, 0.0, 255.0)
        x0, y0, x1, y1 = box
        mask = polygon_mask((y1 - y0, x1 - x0), poly - [x0, y0]) > 0.5
        inside = img[y0:y1, x0:x1][mask].astype(np.float64)
        if len(inside) > 20:
            lum = luma(inside)
            bright = inside[lum >= np.percentile(lum, 85)].mean(axis=0)
            sat = lambda c: float(c.max() - c.min()) / max(float(c.max()), 1.0)  # noqa: E731
            # Teeth, not lips: brighter than the lips and less saturated.
            if luma(bright) > 1.15 * luma(look.lip) and sat(bright) < 0.8 * sat(look.lip) + 0.02:
                teeth = bright
    return np.clip(teeth, 0.0, 255.0)


def _bite_share(img: np.ndarray, px: np.ndarray, frame: _MouthFrame) -> float:
    """Where the source interior divides into what the head carries (upper teeth) and what the jaw carries, as
    a share of the opening, from the brightness profile across the opening's central columns: below the first
    bright (teeth) band when it starts in the upper half (upper teeth, then a dark gap, lower teeth or the
    lower lip), above it when it starts lower (lower teeth under a dark gap); the middle without teeth."""
    import cv2

    shares = np.linspace(0.04, 0.96, 24)
    us = frame.mid + np.linspace(-0.2, 0.2, 9) * np.linalg.norm(px[308] - px[78])
    up, lo = frame.upper(us), frame.lower(us)
    pts = frame.point(us[None, :, None], (up + shares[:, None] * (lo - up))[..., None])  # (24, 9, 2)
    x0, y0 = np.maximum(np.floor(pts.reshape(-1, 2).min(axis=0)).astype(int) - 1, 0)  # the sampled patch only
    x1, y1 = np.ceil(pts.reshape(-1, 2).max(axis=0)).astype(int) + 2
    if x1 <= x0 or y1 <= y0 or x0 >= img.shape[1] or y0 >= img.shape[0]:  # the mouth is outside the frame
        return 0.5
    grey = cv2.cvtColor(np.ascontiguousarray(img[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    profile = cv2.remap(grey, (pts[..., 0] - x0).astype(np.float32), (pts[..., 1] - y0).astype(np.float32),
                        cv2.INTER_LINEAR).mean(axis=1)
    lo_level, hi_level = np.percentile(profile, 10), np.percentile(profile, 90)
    if hi_level - lo_level < BITE_CONTRAST:
        return 0.5
    bright = profile > 0.5 * (lo_level + hi_level)
    start = int(np.argmax(bright))
    end = start + int(np.argmin(bright[start:])) if not bright[start:].all() else len(bright)
    if shares[start] < 0.5:
        return float(shares[end - 1] + 0.5 * (shares[1] - shares[0])) if end < len(bright) else 0.85
    return float(shares[start] - 0.5 * (shares[1] - shares[0]))


def _teeth_layer(x, v, edge, widths_cm, heights_cm, direction, ppc, half_w, teeth, cavity, gum, light):
    """(h, w, 4) premultiplied RGBA of one row of teeth whose biting edge is at v = edge (per pixel); the
    crowns extend away from it in `direction` (-1: up, the upper row), gums beyond the crowns."""
    widths = np.asarray(widths_cm) * ppc
    edges = np.concatenate([[0.0], np.cumsum(widths)])
    ax = np.abs(x)
    k = np.clip(np.searchsorted(edges, ax) - 1, 0, len(widths) - 1)
    arc = SMILE_ARC_CM * ppc * np.clip(ax / max(edges[3], 1.0), 0.0, 1.0) ** 2  # canine tips sit higher
    into = (v - (edge - arc)) * direction  # distance from the biting edge into the crown (> 0 inside)
    height = np.asarray(heights_cm)[k] * ppc
    # Crown and gum are opaque only between the biting edge and the gum's end: the rest of the atlas (most of it)
    # is transparent black, so only this band is painted.
    band = (into > -0.5) & (into < height + GUM_CM * ppc + 2.0)
    layer = np.zeros(x.shape + (4,), np.float32)
    ax, k, into, height, edge_k = ax[band], k[band], into[band], height[band], edges[k[band]]
    w = widths[k]
    t = np.clip((ax - edge_k) / w * 2.0 - 1.0, -1.0, 1.0)  # -1..1 across the tooth
    # Rounded crown corners at the biting edge: the edge recedes near both sides of each tooth.
    side = np.clip((np.abs(t) - (1.0 - 2.0 * TIP_ROUND)) / (2.0 * TIP_ROUND), 0.0, 1.0)
    corner = TIP_ROUND * w * (1.0 - np.sqrt(np.clip(1.0 - side**2, 0.0, 1.0)))
    tooth_a = smoothstep((into - corner) / 1.0 + 0.5) * (1.0 - smoothstep((into - height) / 1.0 + 0.5))
    gum_a = smoothstep((into - height) / 1.0 + 0.5) * (1.0 - smoothstep((into - height - GUM_CM * ppc) / 2.0))
    shade = 0.88 + 0.12 * np.cos(t * np.pi / 2)
    gap_px = np.minimum(ax - edge_k, edges[k + 1] - ax)
    shade = shade * (1.0 - GAP_DARKEN * np.exp(-((gap_px / max(0.6, GAP_CM * ppc)) ** 2)))
    incisal = 1.0 - 0.12 * (1.0 - smoothstep(into / max(INCISAL_CM * ppc, 1.0)))
    recede = smoothstep((ax / max(half_w, 1.0) - RECEDE_FROM) / (1.0 - RECEDE_FROM))
    lit = teeth[None, :] * (light * shade * incisal)[..., None]
    colour = lit + (cavity - lit) * (0.85 * recede)[..., None]
    gum_c = gum[None, :] * (light * (1.0 - 0.6 * recede))[..., None]
    layer[band, :3] = colour * tooth_a[..., None] + gum_c * gum_a[..., None]
    layer[band, 3] = np.clip(tooth_a + gum_a, 0.0, 1.0)
    return layer


def _overlay_source(upper, lower, img, px, origin, v, split) -> None:
    """The source's own interior over the painted layers: above the bite line into the head-anchored layer,
    below it into the jaw-anchored one (in place; premultiplied)."""
    import cv2

    h, w = upper.shape[:2]
    poly = px[list(inner_lip_polygon())] - origin
    mask = polygon_mask((h, w), poly)
    if REAL_DILATE_PX:
        mask = cv2.dilate(mask, np.ones((2 * REAL_DILATE_PX + 1,) * 2, np.uint8))
    x0, y0 = int(origin[0]), int(origin[1])
    ih, iw = img.shape[:2]
    src = np.zeros((h, w, 3), np.float32)
    sy0, sy1, sx0, sx1 = max(y0, 0), min(y0 + h, ih), max(x0, 0), min(x0 + w, iw)
    if sy1 <= sy0 or sx1 <= sx0:
        return
    src[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
    inside = np.zeros((h, w), np.float32)
    inside[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = 1.0
    mask = mask * inside
    above = np.clip(split - v + 0.5, 0.0, 1.0)  # 1 above the bite line, 0 below, 1 px ramp
    for layer, share in ((upper, mask * above), (lower, mask * (1.0 - above))):
        a = share[..., None]
        layer[..., :3] = layer[..., :3] * (1.0 - a) + src * a
        layer[..., 3:4] = layer[..., 3:4] * (1.0 - a) + a


def _moustache(img, px, look, frame, origin, u, v, ppc) -> np.ndarray | None:
    """Hair hanging over the upper lip's edge (source pixels just under the upper inner lip that are much
    darker than the lips), when the skin between nose and lip is hair-dark; None without a moustache."""
    upper_lip_skin = luma(sample(img, px[list(UPPER_LIP_SKIN)]).astype(np.float32)).mean()  # 7 pixels, not the frame
    if upper_lip_skin > (1.0 - MOUSTACHE_DARKER) * float(luma(look.skin)):
        return None
    h, w = u.shape
    d = v - frame.upper(u)  # below the upper inner lip
    band = (d > -1.0) & (d < HAIR_BAND_CM * ppc)
    x0, y0 = int(origin[0]), int(origin[1])
    ih, iw = img.shape[:2]
    ys = np.clip(np.arange(h) + y0, 0, ih - 1)
    xs = np.clip(np.arange(w) + x0, 0, iw - 1)
    src = img[ys[:, None], xs[None, :]].astype(np.float32)
    dark = smoothstep(((1.0 - HAIR_DARKER) * float(luma(look.lip)) - luma(src)) / (0.15 * float(luma(look.lip)) + 1))
    alpha = (dark * band * (1.0 - smoothstep(d / max(HAIR_BAND_CM * ppc, 1.0)))).astype(np.float32)
    if alpha.max() < 0.05:
        return None
    return np.concatenate([src * alpha[..., None], alpha[..., None]], axis=-1)


def head_similarity(source_px: np.ndarray, target_px: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares similarity source -> target of the stable upper-face landmarks (for callers
    without a warp field's own fit)."""
    idx = [33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 98, 327, 234, 454, 10, 151]
    p, q = source_px[idx], target_px[idx]
    pm, qm = p.mean(0), q.mean(0)
    pc, qc = p - pm, q - qm
    den = max(float((pc**2).sum()), 1e-9)
    a = float((pc * qc).sum()) / den
    b = float((pc[:, 0] * qc[:, 1] - pc[:, 1] * qc[:, 0]).sum()) / den
    m = np.array([[a, -b], [b, a]])
    return np.hstack([m, (qm - m @ pm)[:, None]])


def paint_mouth(frame: np.ndarray, target_px: np.ndarray, style: MouthStyle, head: np.ndarray | None = None,
                moving_source: bool = False) -> None:
    """Paints the interior into `frame` (H, W, 3 uint8, modified in place) inside the target's inner lips.
    `head`: the (2, 3) similarity source -> target of the head (the warp field's), else fitted here.
    `moving_source`: the source is this output frame's own video frame (a dub), not a still."""
    import cv2

    scale = float(np.hypot(head[0, 0], head[1, 0])) if head is not None else 1.0
    opening = mouth_opening(target_px)
    if style.real and not moving_source:  # a still's own interior, fading out as the lips close to a slit
        strength = float(smoothstep(opening / max(style.width_px * scale, 1.0) / SEAL_SLIT))
    else:
        # Only where the target opens wider than the source. A video frame's interior is what the actor did at
        # that moment: up to its own opening the warp moves it with the lips (teeth squeezed with the jaw read as
        # a closer bite), while the layers, anchored for a still's whole clip, left a band of painted cavity
        # under the lip and a dark line across the teeth.
        extra = (opening - style.opening_px * scale) / max(style.width_px * scale, 1.0)
        strength = float(smoothstep(extra / OPEN_RATIO_FULL))
    if strength <= 0.0:
        return
    poly = target_px[list(inner_lip_polygon())]
    h, w = frame.shape[:2]
    box = padded_box(poly, w, h, PAD_PX + int(np.ceil(2 * style.look.blur_px)))
    if box is None:
        return
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    edge_sigma = float(np.hypot(FEATHER_SIGMA_PX, EDGE_BLUR_SHARE * style.look.blur_px))
    alpha = cv2.GaussianBlur(polygon_mask((bh, bw), poly - [x0, y0]), (0, 0), edge_sigma) * strength
    if alpha.max() < 0.5 / 255:
        return

    H = head_similarity(style.source_px, target_px) if head is None else np.asarray(head, dtype=np.float64)
    scale = float(np.hypot(H[0, 0], H[1, 0]))
    ppc = style.px_per_cm * scale
    tf = _MouthFrame(target_px)
    # The jaw: the lower lip's motion beyond the head's, never closing past the source's bite.
    lip_s = style.source_px[list(LOWER_LIP_MIDDLE)].mean(axis=0)
    jaw = (target_px[list(LOWER_LIP_MIDDLE)].mean(axis=0) - (H[:, :2] @ lip_s + H[:, 2])) * JAW_FOLLOW
    jaw_n = float(jaw @ tf.normal)
    floor = -0.5 * style.opening_px * scale
    if jaw_n < floor:
        jaw = jaw + (floor - jaw_n) * tf.normal

    def place(layer: np.ndarray, shift: np.ndarray, channels: int) -> np.ndarray:
        m = H.copy()
        m[:, 2] = H[:, :2] @ style.origin + H[:, 2] + shift - [x0, y0]
        out = cv2.warpAffine(layer, m, (bw, bh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return out.reshape(bh, bw, channels)

    zero = np.zeros(2)
    upper = place(style.upper, zero, 4)
    lower = place(style.lower, jaw, 4)
    grain = place(style.grain, zero, 1)

    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    u, v = tf.uv(xs, ys)
    x = u - tf.mid
    v_up, v_lo = tf.upper(u), tf.lower(u)
    gap = np.maximum(v_lo - v_up, 1e-3)
    # Cavity: lit a little near the lips, darkest deep inside and towards the corners (the cheeks' shade).
    depth = np.clip(np.minimum(v - v_up, v_lo - v) / (0.5 * gap), 0.0, 1.0)
    half_w = 0.5 * max(float(np.linalg.norm(target_px[308] - target_px[78])), 1.0)
    corner = np.clip(np.abs(x) / half_w, 0.0, 1.0) ** 2
    colour = style.cavity[None, None, :] * ((CAVITY_LIT - (CAVITY_LIT - CAVITY_DEEP) * depth)
                                            * (1.0 - CAVITY_CORNER_DARK * corner))[..., None]
    # Tongue hint: a hump behind the lower teeth, riding on the jaw, for wide openings.
    gap_mid_cm = float(tf.lower(tf.mid) - tf.upper(tf.mid)) / max(ppc, 1e-6)
    show = float(smoothstep((gap_mid_cm - TONGUE_FROM_CM) / (TONGUE_FULL_CM - TONGUE_FROM_CM)))
    if show > 0.0:
        src_frame = _MouthFrame(style.source_px)
        stomion = 0.5 * (src_frame.upper(src_frame.mid) + src_frame.lower(src_frame.mid))
        edge_src = src_frame.point(src_frame.mid, stomion + (UPPER_SHOW_CM - OVERBITE_CM) * style.px_per_cm)
        edge_t = H[:, :2] @ edge_src + H[:, 2] + jaw
        edge_v = float((edge_t - tf.c0) @ tf.normal)
        half = TONGUE_HALF_WIDTH * 0.5 * float(np.linalg.norm(target_px[308] - target_px[78]))
        r = np.clip(np.abs(x) / max(half, 1.0), 0.0, 1.0)
        top = edge_v - TONGUE_RISE_CM * ppc * (1.0 - r**2)
        soft = max(1.0, style.look.blur_px + 0.5, TONGUE_EDGE_CM * ppc)
        tongue_a = smoothstep((v - top) / soft + 0.5) * (1.0 - smoothstep((r - 0.5) / 0.5)) * show
        tongue_shade = 1.0 - 0.4 * smoothstep((v - top) / max(0.5 * ppc, 1.0)) - 0.3 * r**2
        tongue = style.tongue[None, None, :] * tongue_shade[..., None]
        colour = colour + (tongue - colour) * tongue_a[..., None]
    colour = colour + grain  # the photo's grain, riding on the head
    # Back to front: lower teeth, upper teeth (in front: overbite), hair hanging from the upper lip.
    for layer in (lower, upper):
        colour = layer[..., :3] + colour * (1.0 - layer[..., 3:4])
    if style.hair is not None:
        hair = _hang_from_upper_lip(style, tf, u, v, ppc / style.px_per_cm)
        colour = hair[..., :3] + colour * (1.0 - hair[..., 3:4])
    blend_patch(frame, box, colour, alpha[..., None])


def seal_lips(frame: np.ndarray, source: np.ndarray, source_px: np.ndarray, target_px: np.ndarray,
              head: np.ndarray, reach_px: float, moving_source: bool = False) -> None:
    """Where the target closes the lips more than the source frame has them (a dub's silence over a speaking
    actor), a backward warp squeezes the source's open mouth into the lip line and its teeth stay visible there
    as a band as wide as the warp's grid. The lips are instead drawn from the source's lips: each pixel of a
    target lip takes the source pixel at the same place across that lip (inner edge to outer edge, so the outer
    edges stay where the warp put them), pixels between the target's inner lips take the nearer lip's edge
    (its lips drawn from their outer part: SEAL_INNER_SKIP), and the skin beyond the outer edge fades back to the warp
    over `reach_px`; faded in with the squeeze. `frame` is modified in place; `head`: the (2, 3) similarity
    source -> target."""
    import cv2

    scale = max(float(np.hypot(head[0, 0], head[1, 0])), 1e-6)
    opening = mouth_opening(target_px)
    squeeze = mouth_opening(source_px) * scale - opening
    # over a video frame (moving_source) only a slit is sealed: wider, the warp's moved interior shows (paint_mouth);
    # a still's interior layers cover whatever the seal leaves inside the lips
    width = max(float(np.linalg.norm(target_px[308] - target_px[78])), 1.0)
    slit = 1.0 - smoothstep(opening / (width * SEAL_SLIT)) if moving_source else 1.0
    strength = float(smoothstep(squeeze / max(reach_px, 1.0)) * slit)
    if strength <= 0.0:
        return
    h, w = frame.shape[:2]
    box = padded_box(target_px[list(LIPS_OUTER_UPPER + LIPS_OUTER_LOWER)], w, h, int(np.ceil(reach_px)) + 1)
    if box is None:
        return
    x0, y0, x1, y1 = box
    tf, sf = _MouthFrame(target_px), _MouthFrame(source_px)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    u, v = tf.uv(xs, ys)
    width_t = max(float(np.linalg.norm(target_px[308] - target_px[78])), 1e-6)
    u_s = u * (float(np.linalg.norm(source_px[308] - source_px[78])) / width_t)  # along the mouth, corner to corner
    upper = v < 0.5 * (tf.upper(u) + tf.lower(u))  # above the target's midline: the upper lip's pixels
    v_s = np.empty_like(v)
    beyond = np.zeros_like(v)  # px past the target lip's outer edge (the skin around the mouth)
    for sel, inner, sign, idx in ((upper, "upper", -1.0, LIPS_OUTER_UPPER), (~upper, "lower", 1.0, LIPS_OUTER_LOWER)):
        in_t, in_s = getattr(tf, inner)(u[sel]), getattr(sf, inner)(u_s[sel])
        out_t, out_s = tf.along(target_px, idx, u[sel]), sf.along(source_px, idx, u_s[sel])
        thick_t, thick_s = np.maximum(sign * (out_t - in_t), 1.0), np.maximum(sign * (out_s - in_s), 1.0)
        across = np.clip(sign * (v[sel] - in_t) / thick_t, 0.0, 1.0)  # 0 at (and inside) the inner edge, 1 outer
        past = np.maximum(sign * (v[sel] - out_t), 0.0)
        v_s[sel] = in_s + sign * ((SEAL_INNER_SKIP + (1.0 - SEAL_INNER_SKIP) * across) * thick_s + past / scale)
        beyond[sel] = past
    p = sf.point(u_s[..., None], v_s[..., None]).astype(np.float32)
    lips = cv2.remap(source, p[..., 0], p[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    along = np.minimum(u, width_t - u)  # inside the inner corners
    feather = max(1.0, 0.5 * reach_px)
    alpha = (1.0 - smoothstep(beyond / max(reach_px, 1.0))) * smoothstep(along / feather) * strength
    blend_patch(frame, box, lips.astype(np.float32), alpha[..., None].astype(np.float32))


def _lip_shadow(below_upper_lip: np.ndarray, ppc: float) -> np.ndarray:
    """Light factor of painted upper teeth right under the upper lip (its contact shadow; the photo's own teeth
    have theirs)."""
    return UPPER_LIP_SHADOW + (1 - UPPER_LIP_SHADOW) * smoothstep(below_upper_lip / max(UPPER_LIP_SHADOW_CM * ppc, 1.0))


def _hang_from_upper_lip(style: MouthStyle, tf: _MouthFrame, u, v, scale: float) -> np.ndarray:
    """The moustache layer sampled at the same distance under the upper inner lip as in the source."""
    import cv2

    sf = _MouthFrame(style.source_px)
    w_t = max(float(tf._up[0][-1] - tf._up[0][0]), 1e-6)
    w_s = float(sf._up[0][-1] - sf._up[0][0])
    u_s = sf._up[0][0] + (u - tf._up[0][0]) * (w_s / w_t)
    v_s = sf.upper(u_s) + (v - tf.upper(u)) / scale
    p = sf.point(u_s[..., None], v_s[..., None]) - style.origin
    return cv2.remap(style.hair, p[..., 0].astype(np.float32), p[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT)
