"""The warp renderer's mouth interior: no pop between the real and painted teeth through a jaw-open sweep, and
colours, softness and grain taken from the photo."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.face.contours import LIPS_INNER_LOWER, LIPS_INNER_UPPER, inner_lip_polygon
from engine.face.images import load_image
from engine.face.reference import analyze_portrait
from engine.render.photo import PhotoLook
from engine.render.warp import WarpRenderer
from tests import warp_targets as wt
from tests.media import media

SWEEP_STEPS = 24  # jawOpen 0 -> 1: ~1.5 px of lip motion a step at 512 px
UPPER_SHARE = 0.45  # the upper part of the portrait's open mouth: its upper teeth
# Mean change (grey levels) of the upper teeth allowed between two frames of the sweep: jawOpen moves neither
# the head nor the upper lip, so nothing but resampling at the lips' soft edge explains a change there (the
# previous release: up to 7.3 per step as the warp stretched them and then painted teeth faded in over them).
MAX_UPPER_TEETH_STEP = 2.5


def _chroma(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=np.float64)
    return rgb[..., :2] / np.maximum(rgb.sum(axis=-1, keepdims=True), 1.0)


def _interior(frame: np.ndarray, target: np.ndarray) -> np.ndarray:
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(target[list(inner_lip_polygon())]).astype(np.int32)], 1)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
    return frame[mask.astype(bool)].astype(np.float64)


def upper_teeth_region(ref) -> np.ndarray:
    """(H, W) bool: the upper UPPER_SHARE of the portrait's open mouth, 1 px inside its lips."""
    px = ref.landmarks_px
    mask = np.zeros(ref.image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(px[list(inner_lip_polygon())]).astype(np.int32)], 1)
    ys, xs = np.nonzero(mask)
    contour = lambda idx: np.interp(xs, *zip(*sorted((px[i, 0], px[i, 1]) for i in idx)))  # noqa: E731
    up, lo = contour(LIPS_INNER_UPPER), contour(LIPS_INNER_LOWER)
    keep = ys < up + UPPER_SHARE * (lo - up)
    region = np.zeros_like(mask)
    region[ys[keep], xs[keep]] = 1
    return cv2.erode(region, np.ones((3, 3), np.uint8)).astype(bool)


@pytest.mark.parametrize("portrait", ["astronaut", "portraits/Moore-AnimateAnyone__4.png"])
def test_teeth_in_the_portrait_do_not_pop_through_a_jaw_sweep(portrait):
    """The portrait's own upper teeth stay as they are at every opening of a jawOpen sweep (no switch to
    painted teeth, no stretching), while the mouth does open."""
    if portrait == "astronaut":
        from skimage.data import astronaut

        image = astronaut()
    else:
        image = load_image(media(portrait))
    ref = analyze_portrait(image)
    renderer = WarpRenderer(ref)
    region = upper_teeth_region(ref)
    assert region.sum() > 200
    previous = ref.image.astype(np.float64)
    steps = []
    for amount in np.linspace(0.0, 1.0, SWEEP_STEPS + 1)[1:]:
        frame = renderer.render(wt.target_px(ref, {"jawOpen": amount})).astype(np.float64)
        steps.append(np.abs(frame - previous)[region].mean())
        previous = frame
    assert max(steps) < MAX_UPPER_TEETH_STEP, np.round(steps, 2)
    target = wt.target_px(ref, {"jawOpen": 1.0})
    assert _interior(previous.astype(np.uint8), target).mean() < 0.7 * _interior(ref.image, target).mean()


@pytest.fixture(scope="module")
def olsen_image():
    return load_image(media("portraits/hallo__6.jpg"))


@pytest.mark.parametrize("grade", [(0.75, 1.0, 1.12), (1.1, 0.97, 0.8)], ids=["teal", "warm"])
def test_interior_colours_come_from_the_photo(olsen_image, grade):
    """A colour grade of the photo (a teal film look, a warm one) carries over to the teeth and the cavity:
    the teeth take the eye whites' hue, the cavity the photo's dark and lip colours."""
    graded = np.clip(olsen_image * np.array(grade), 0, 255).astype(np.uint8)
    ref = analyze_portrait(graded)
    look = PhotoLook.measure(ref.image, ref.landmarks_px)
    target = wt.target_px(ref, {"jawOpen": 0.7})
    inside = _interior(WarpRenderer(ref).render(target), target)
    luma = inside @ [0.299, 0.587, 0.114]
    teeth = inside[luma >= np.percentile(luma, 96)].mean(axis=0)
    cavity = inside[luma <= np.percentile(luma, 50)].mean(axis=0)
    expected_cavity = look.black + (look.lip - look.black) * 0.2
    assert np.abs(_chroma(teeth) - _chroma(look.white)).max() < 0.03, (teeth, look.white)
    assert np.abs(_chroma(cavity) - _chroma(expected_cavity)).max() < 0.03, (cavity, expected_cavity)
    assert np.abs(cavity - expected_cavity).mean() < 25  # and about as dark


def test_a_soft_photo_gets_a_soft_interior(olsen_image):
    """The painted teeth and cavity are as soft as the photo around them: a blurred copy of the portrait gets
    a blurrier interior (less fine detail) than the sharp one, and its own grain on the cavity."""
    detail = {}
    for name, image in (("sharp", olsen_image), ("soft", cv2.GaussianBlur(olsen_image, (0, 0), 2.5))):
        ref = analyze_portrait(image)
        target = wt.target_px(ref, {"jawOpen": 0.7})
        frame = WarpRenderer(ref).render(target)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float64)
        lap = np.abs(cv2.Laplacian(grey, cv2.CV_64F))
        mask = np.zeros(grey.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(target[list(inner_lip_polygon())]).astype(np.int32)], 1)
        detail[name] = lap[cv2.erode(mask, np.ones((5, 5), np.uint8)).astype(bool)].mean()
        assert PhotoLook.measure(ref.image, ref.landmarks_px).blur_px > (1.0 if name == "soft" else 0.0)
    assert detail["soft"] < 0.6 * detail["sharp"], detail


def test_a_moustache_stays_in_front_of_the_opening():
    """Einstein's moustache hangs over his upper lip: opened, the hair along the lip edge is still there (dark),
    not painted over by teeth."""
    ref = analyze_portrait(media("portraits/LivePortrait__s12.jpg"))
    renderer = WarpRenderer(ref)
    assert renderer._mouth.hair is not None
    target = wt.target_px(ref, {"jawOpen": 0.6})
    with_hair = renderer.render(target).astype(np.float64)
    import dataclasses

    renderer._mouth = dataclasses.replace(renderer._mouth, hair=None)
    without = renderer.render(target).astype(np.float64)
    changed = np.abs(with_hair - without).max(axis=2) > 20
    assert changed.sum() > 20  # hair strands drawn over the interior
    assert (with_hair[changed].mean(axis=1) < without[changed].mean(axis=1)).mean() > 0.8  # darker: hair


def test_painted_teeth_are_lit_like_real_teeth():
    """Lit front teeth in real videos are about as bright as the cheeks and 1.2x the shaded eye whites, with the
    eye whites' tint (bench/measure_teeth.py). On a pink-skinned photo with dim eye whites the painted teeth
    were 0.9x the cheeks and yellowed: they read grey-green between red lips."""
    ref = analyze_portrait(media("portraits/LivePortrait__s1.jpg"))
    look = PhotoLook.measure(ref.image, ref.landmarks_px)
    target = wt.target_px(ref, {"jawOpen": 0.7})
    inside = _interior(WarpRenderer(ref).render(target), target)
    luma = inside @ [0.299, 0.587, 0.114]
    teeth = inside[luma >= np.percentile(luma, 96)].mean(axis=0)
    skin_luma = float(np.dot(look.skin, [0.299, 0.587, 0.114]))
    assert float(np.dot(teeth, [0.299, 0.587, 0.114])) > 0.92 * skin_luma, (teeth, look.skin)  # (shaded a little)
    assert abs(teeth[2] / teeth[1] - look.white[2] / look.white[1]) < 0.03, (teeth, look.white)  # not yellowed


def test_a_video_frames_own_interior_is_left_to_the_warp_up_to_its_opening():
    """Over a dub's video frame (the actor smiling with teeth), a target mouth between a slit and the frame's own
    opening keeps the warp's moved interior: the interior layers, anchored for a still's whole clip, painted a band
    of cavity under the upper lip and a dark line across the teeth there. Wider than the frame's opening they
    extend it; a still's own interior stays rigid (its layers) at every opening; below a slit the lips seal."""
    from engine.face.contours import mouth_opening
    from engine.media.video_read import iter_video_frames
    from engine.render.mouth import MouthStyle, paint_mouth, seal_lips

    image = next(f for i, (_, f) in enumerate(iter_video_frames(
        media("talking_videos/SadTalker__WDA_KatieHill_000.mp4"))) if i == 23)  # a wide smile, teeth showing
    px = analyze_portrait(image).landmarks_px
    style, head = MouthStyle.of(image, px), np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    opening = mouth_opening(px)
    assert style.real and opening > 20

    def target(share: float) -> np.ndarray:  # the lower lip moved so that the opening is `share` of the frame's
        t = px.copy()
        t[list(LIPS_INNER_LOWER[1:-1]), 1] -= (1.0 - share) * opening
        return t

    def changed(paint, share: float, **kw) -> float:
        frame = image.copy()
        paint(frame, target(share), **kw)
        return float(np.abs(frame.astype(int) - image).sum())

    for share in (0.5, 0.9):
        assert changed(lambda f, t: paint_mouth(f, t, style, head, moving_source=True), share) == 0
        assert changed(lambda f, t: seal_lips(f, image, px, t, head, 6.0, moving_source=True), share) == 0
        assert changed(lambda f, t: paint_mouth(f, t, style, head), share) > 0  # a still: its rigid layers
    assert changed(lambda f, t: paint_mouth(f, t, style, head, moving_source=True), 1.4) > 0
    assert changed(lambda f, t: seal_lips(f, image, px, t, head, 6.0, moving_source=True), 0.05) > 0
    assert changed(lambda f, t: seal_lips(f, image, px, t, head, 6.0), 0.5) > 0  # a still: sealed under its layers
