"""What a painted layer must match to sit in a photo: its white (the eye whites under this photo's light and
colour grade), its skin, lip and darkest colours, how colourful it is, how soft it is and how grainy.

Measured once per source frame from the frame and its landmarks; the mouth interior (engine.render.mouth)
takes every colour, its blur and its grain from here, so a teal-graded film still, a soft webcam frame, a
greyscale print and a painting each get an interior in their own look.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.face.contours import EYES, FACE_OVAL, LIPS_INNER_LOWER, LIPS_INNER_UPPER, LIPS_OUTER_LOWER, \
    LIPS_OUTER_UPPER, eye_polygon

CHEEK_POINTS = (50, 280, 101, 330, 118, 347, 205, 425)  # mid-cheek landmarks: skin, no hair, lit
# Eye whites: the brightest SCLERA_SHARE of the eye opening once the iris disc (grown by IRIS_MARGIN) is
# left out; fewer than SCLERA_MIN_PX such pixels (closed or tiny eyes) falls back to the skin's own hue.
SCLERA_SHARE = 0.35
IRIS_MARGIN = 1.2
SCLERA_MIN_PX = 12
BLACK_SHARE = 0.02  # the darkest 2 % of the face region (nostrils, lash line, hair) is this photo's black
# Blur: Zhuo & Sim's gradient-ratio defocus estimate at the face's strongest edges (the top EDGE_SHARE of
# gradient magnitude): re-blurred by REBLUR_PX, an edge of blur s keeps a gradient ratio of
# sqrt(s^2 + REBLUR^2) / s. SOBEL_BLUR_PX is what the 3x3 Sobel adds itself (calibrated on synthetic edges of
# known blur 0.5-3 px: the raw estimate is sqrt(s^2 + 0.75^2) within 0.1 px).
EDGE_SHARE = 0.02
REBLUR_PX = 1.0
SOBEL_BLUR_PX = 0.75
MAX_BLUR_PX = 4.0
# Chroma (mean |channel - grey| of the cheeks and lips, 0..255) of a plainly colour photo; greyscale is ~0.
FULL_COLOUR_CHROMA = 12.0


@dataclass(frozen=True)
class PhotoLook:
    white: np.ndarray  # (3,) RGB 0..255 of the eye whites: what white looks like in this photo
    skin: np.ndarray  # (3,) cheek colour
    lip: np.ndarray  # (3,) lip colour
    black: np.ndarray  # (3,) the photo's darkest colour around the face
    colourful: float  # 0 (greyscale) .. 1 (a plainly colour photo)
    blur_px: float  # Gaussian sigma (px) of the photo's own softness at the face
    grain: float  # std (0..255) of its fine-scale noise and texture on the skin

    @staticmethod
    def measure(image: np.ndarray, px: np.ndarray) -> "PhotoLook":
        img = np.asarray(image[..., :3], dtype=np.float32)
        luma_img = luma(img)
        lip_pts = np.vstack([(px[list(LIPS_INNER_UPPER)] + px[list(LIPS_OUTER_UPPER)]) / 2,
                             (px[list(LIPS_INNER_LOWER)] + px[list(LIPS_OUTER_LOWER)]) / 2])
        skin = sample(img, px[list(CHEEK_POINTS)]).mean(axis=0)
        lip = sample(img, lip_pts).mean(axis=0)
        chroma = float(np.abs(skin - skin.mean()).mean() + np.abs(lip - lip.mean()).mean()) / 2
        colourful = float(np.clip(chroma / FULL_COLOUR_CHROMA, 0.0, 1.0))

        face = _polygon_mask(img.shape[:2], px[list(FACE_OVAL)])
        face_luma = luma_img[face]
        if face_luma.size > 50:
            dark = face_luma <= np.quantile(face_luma, BLACK_SHARE)
            black = img[face][dark].mean(axis=0)
        else:
            black = np.zeros(3, np.float32)

        white = _sclera(img, luma_img, px)
        if white is None:  # no eye white to see: a neutral white of the skin's brightness, tinted like it
            white = skin / max(float(skin.mean()), 1.0) * min(255.0, 1.25 * float(skin.max()))
        blur, grain = _softness(luma_img, px, face)
        return PhotoLook(white.astype(np.float64), skin.astype(np.float64), lip.astype(np.float64),
                         black.astype(np.float64), colourful, blur, grain)


def luma(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    x = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
    return img[y, x]


def _polygon_mask(shape, poly: np.ndarray) -> np.ndarray:
    import cv2

    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    return mask.astype(bool)


def _sclera(img: np.ndarray, luma_img: np.ndarray, px: np.ndarray) -> np.ndarray | None:
    import cv2

    picks = []
    for eye in EYES:
        mask = _polygon_mask(img.shape[:2], px[list(eye_polygon(eye))]).astype(np.uint8)
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8))  # off the lid margin and lashes
        iris = eye[2]
        if len(px) > iris + 4:
            radius = np.linalg.norm(px[iris + 1:iris + 5] - px[iris], axis=1).mean() * IRIS_MARGIN
            cv2.circle(mask, tuple(int(round(c)) for c in px[iris]), int(np.ceil(radius)), 0, -1)
        sel = mask.astype(bool)
        if sel.sum() < SCLERA_MIN_PX:
            continue
        values, lum = img[sel], luma_img[sel]
        picks.append(values[lum >= np.quantile(lum, 1.0 - SCLERA_SHARE)])
    if not picks or sum(len(p) for p in picks) < SCLERA_MIN_PX:
        return None
    return np.vstack(picks).mean(axis=0)


def _softness(luma_img: np.ndarray, px: np.ndarray, face: np.ndarray) -> tuple[float, float]:
    """(blur sigma px, grain std) of the face region."""
    import cv2

    x0, y0 = np.maximum(np.floor(px[:468].min(axis=0)).astype(int), 0)
    x1, y1 = np.ceil(px[:468].max(axis=0)).astype(int) + 1
    region = luma_img[y0:y1, x0:x1]
    inside = face[y0:y1, x0:x1]
    if region.shape[0] < 8 or region.shape[1] < 8 or inside.sum() < 64:
        return 0.0, 0.0

    def grad(a):
        return np.hypot(cv2.Sobel(a, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(a, cv2.CV_32F, 0, 1, ksize=3)) / 8

    g0 = grad(region)
    g1 = grad(cv2.GaussianBlur(region, (0, 0), REBLUR_PX))
    strong = inside & (g0 >= np.quantile(g0[inside], 1.0 - EDGE_SHARE)) & (g1 > 1e-3)
    ratio = g0[strong] / g1[strong]
    raw = float(np.median(REBLUR_PX / np.sqrt(np.maximum(ratio**2 - 1.0, 1e-4)))) if strong.any() else 0.0
    blur = float(np.clip(np.sqrt(max(raw**2 - SOBEL_BLUR_PX**2, 0.0)), 0.0, MAX_BLUR_PX))
    # Grain: a robust std (MAD) of what a 1 px blur removes, on the skin (inside the face, off its edges).
    detail = (region - cv2.GaussianBlur(region, (0, 0), 1.0))[inside & (g0 < np.quantile(g0[inside], 0.7))]
    grain = 1.4826 * float(np.median(np.abs(detail - np.median(detail)))) if detail.size else 0.0
    return blur, grain
