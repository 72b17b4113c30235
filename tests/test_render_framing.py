"""Framing of the square face crop: shifted inside the image before padding, and a padded crop's extension is
a plausible continuation (never the edge row repeated: the streaks of BORDER_REPLICATE)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.face.images import load_image
from engine.face.reference import (FREE_EXTENSION, MAX_CROP_SHIFT, MIN_CROP_EXPAND, analyze_portrait, crop_rect, extend_border,
                                   square_crop)
from tests.media import media

# Portraits whose 1.8x face crop ran past the image by 40-76 px of 512 (bottom, sides, top); their own borders
# are textured, so any run of identical rows or columns there is made by the framing.
PADDED = ("portraits/SadTalker__happy.png", "stylized/AniTalker__statue.jpg", "portraits/Moore-AnimateAnyone__4.png",
          "stylized/SadTalker__art_7.png")
EDGE_DEPTH = 48  # px of the frame inspected from each border (more than any padding the old framing made)


def identical_run(image: np.ndarray) -> int:
    """Longest run of identical consecutive rows or columns starting at any border of `image`."""
    longest = 0
    a = image.astype(np.int16)
    for side in (a, a[::-1], a.transpose(1, 0, 2), a.transpose(1, 0, 2)[::-1]):
        same = np.all(side[1:EDGE_DEPTH] == side[:EDGE_DEPTH - 1], axis=(1, 2))
        run = int(np.argmin(same)) if not same.all() else len(same)
        longest = max(longest, run)
    return longest


@pytest.mark.parametrize("rel", PADDED, ids=lambda p: p.rsplit("/", 1)[-1])
def test_portraits_that_needed_padding_have_no_repeated_edge_rows(rel):
    ref = analyze_portrait(media(rel), min_confidence=0.5)
    assert ref.image.shape == (512, 512, 3)
    assert identical_run(ref.image) == 0
    centre = ref.landmarks_px[:468].mean(axis=0)
    assert np.all(np.abs(centre - 256) < 64)  # still framed on the face


def test_a_crop_that_must_extend_past_the_image_is_a_blurred_continuation():
    image = load_image(media("portraits/hallo__6.jpg"))[60:520, 120:500]  # a tight selfie: the face fills it
    box = (60.0, 40.0, 330.0, 420.0)  # 270 x 380 face box in a 380 x 460 image
    crop = square_crop(image, box, 1.8)
    left, top, side = crop_rect(box, 1.8, image.shape[1], image.shape[0])
    assert crop.shape == (side, side, 3)
    assert side == round(MIN_CROP_EXPAND * 380) and left < 0 and top < 0  # shrunk, and still past the image
    # The real pixels are kept exactly; the band outside varies row to row and column to column.
    assert np.array_equal(crop[-top:-top + image.shape[0], -left:-left + image.shape[1]], image)
    assert identical_run(crop) == 0
    # Out of focus: far less fine detail outside than inside, yet not a flat fill.
    outside = crop[:-top - 2].astype(np.float64)
    inside = image[:60].astype(np.float64)
    detail = lambda a: np.abs(np.diff(a, axis=1)).mean()
    assert 0.1 < detail(outside) < 0.6 * detail(inside)


def test_the_crop_slides_inside_the_image_by_at_most_a_tenth():
    # 600 x 600 image, the 1.8x square (540 px) centred on the face would run 50 px past the bottom: it slides
    # up inside the image (FREE_EXTENSION, 0, is left to the extension: a mirrored strip read as a smudge).
    box = (150.0, 270.0, 450.0, 490.0)
    left, top, side = crop_rect(box, 1.8, 600, 600)
    assert side == 540 and 0 <= left <= 600 - side
    assert top + side - 600 == round(FREE_EXTENSION * side)
    # Too close to the edge for a tenth of the side: the face leaves the centre by a tenth, the rest is padded.
    box = (200.0, 530.0, 500.0, 750.0)
    left, top, side = crop_rect(box, 1.8, 600, 800)
    assert top + side > 800 and abs((top + side / 2) - 640) == pytest.approx(MAX_CROP_SHIFT * side, abs=1)


def test_a_head_cut_by_the_photos_edge_is_framed_from_real_pixels():
    """Aragaki's hair touches the photo's top edge; the crop ran 3 % of its side past it, and the mirrored, blurred
    hair there read as a dark smudge above the head in every frame."""
    image = load_image(media("portraits/AniPortrait__Aragaki.png"))
    from engine.face.landmarker import FaceLandmarkerSession
    from engine.face.reference import face_box

    with FaceLandmarkerSession() as session:
        face = session.detect(image)[0]
    h, w = image.shape[:2]
    left, top, side = crop_rect(face_box(face.pixels(w, h)), 1.8, w, h)
    assert 0 <= top and top + side <= h and 0 <= left and left + side <= w


def test_extend_border_keeps_the_image_and_grows_it():
    rng = np.random.default_rng(0)
    image = (rng.random((40, 30, 3)) * 255).astype(np.uint8)
    out = extend_border(image, 5, 50, 70, 0)  # wider than the image itself on the left
    assert out.shape == (95, 100, 3)
    assert np.array_equal(out[5:45, 70:100], image)
    assert identical_run(out) == 0
