import numpy as np
import pytest
from PIL import Image

from engine.errors import (FaceModelMissingError, FaceTooSmallError, ImageReadError, MultipleFacesError,
                           NoFaceError)
from engine.face.canonical import load_canonical_model
from engine.face.images import MAX_SIDE, load_image
from engine.face.model_file import face_landmarker_path
from engine.face.reference import analyze_portrait
from engine.geometry import project
from tests.media import PORTRAITS, media


def reprojection_error(ref) -> float:
    px = project(ref.mesh, ref.transform, np.zeros(6), ref.width, ref.height)
    return float(np.linalg.norm(px - ref.landmarks_px[:468], axis=1).mean())


def test_canonical_model_from_task_bundle():
    m = load_canonical_model()
    assert m.vertices.shape == (468, 3) and m.triangles.shape == (898, 3)
    assert (m.procrustes_weights > 0).sum() == 33
    assert m.triangles.min() == 0 and m.triangles.max() == 467
    # MediaPipe's canonical face is left/right symmetric: eye corners 33 and 263 mirror each other
    np.testing.assert_allclose(m.vertices[33] * [-1, 1, 1], m.vertices[263], atol=1e-5)


@pytest.mark.parametrize("path", PORTRAITS, ids=lambda p: p.rsplit("/", 1)[-1])
def test_real_portraits_project_onto_their_landmarks(path):
    ref = analyze_portrait(path)
    assert ref.image.shape == (512, 512, 3) and ref.image.dtype == np.uint8
    assert ref.landmarks.shape == (478, 3) and ref.mesh.shape == (468, 3) and ref.transform.shape == (4, 4)
    # issue target: <= 1.5 px mean at 512
    assert reprojection_error(ref) < 0.1
    # the square crop centres the face
    centre = ref.landmarks_px[:468].mean(axis=0)
    assert np.all(np.abs(centre - 256) < 60)
    # the neutral mesh is a face-sized MediaPipe mesh (inter-ocular distance ~ 9 cm)
    iod = np.linalg.norm(ref.mesh[33] - ref.mesh[263])
    assert 7.0 < iod < 11.0


def test_full_frame_keeps_aspect():
    ref = analyze_portrait(media("portraits/EDTalk__uncrop_face.jpg"), crop=False, size=512)  # 840x1024
    assert ref.height == 512 and ref.width % 2 == 0 and abs(ref.width - 420) <= 2
    assert reprojection_error(ref) < 0.1


@pytest.fixture(scope="module")
def aragaki():
    return load_image(media("portraits/AniPortrait__Aragaki.png"))


def _save(tmp_path, name, image: Image.Image, **kw) -> str:
    path = tmp_path / name
    image.save(path, **kw)
    return str(path)


def test_rgba_grayscale_16bit_and_exif(tmp_path, aragaki):
    base = analyze_portrait(aragaki)
    rgba = Image.fromarray(aragaki).convert("RGBA")
    gray = Image.fromarray(aragaki).convert("L")
    gray16 = Image.fromarray((np.asarray(gray).astype(np.uint16) * 257))
    assert gray16.mode in ("I;16", "I")
    for path in (_save(tmp_path, "a.png", rgba), _save(tmp_path, "g.png", gray), _save(tmp_path, "g16.png", gray16)):
        img = load_image(path)
        assert img.shape == aragaki.shape and img.dtype == np.uint8
        ref = analyze_portrait(path)
        # the same face, landmark for landmark; the framing may sit a few px apart (the crop hugs the photo's
        # edge, and its size follows the detected face box), so compare after matching position and scale
        a, b = (p - p.mean(0) for p in (ref.landmarks_px[:468], base.landmarks_px[:468]))
        assert np.abs(a * (np.linalg.norm(b) / np.linalg.norm(a)) - b).mean() < 3.0
    # 16-bit values are scaled, not clipped
    assert abs(load_image(_save(tmp_path, "g16b.png", gray16)).mean() - np.asarray(gray).mean()) < 1.0
    # A photo stored sideways with EXIF orientation 6 (rotate 90 CW to view) loads upright.
    sideways = Image.fromarray(aragaki).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(tmp_path, "exif.jpg", sideways, exif=exif.tobytes(), quality=95)
    upright = load_image(path)
    assert upright.shape == aragaki.shape
    assert np.abs(upright.astype(int) - aragaki.astype(int)).mean() < 6


def test_very_large_image_is_downscaled_and_works(tmp_path, aragaki):
    import cv2

    big = cv2.resize(aragaki, (5200, 5200), interpolation=cv2.INTER_CUBIC)
    path = _save(tmp_path, "big.jpg", Image.fromarray(big), quality=90)
    img = load_image(path)
    assert max(img.shape[:2]) == MAX_SIDE
    assert reprojection_error(analyze_portrait(path)) < 0.1


@pytest.mark.parametrize("k, how", [(1, "90 degrees clockwise"), (3, "90 degrees counter-clockwise")])
def test_a_portrait_lying_on_its_side_says_how_to_turn_it(k, how):
    """A phone photo whose EXIF orientation was stripped: its pixels lie on their side, and "no face found" gave
    no clue; the error now says which way to turn the picture."""
    image = np.ascontiguousarray(np.rot90(load_image(media("portraits/hallo__6.jpg")), k))
    with pytest.raises(NoFaceError, match=f"lying on its side: turn the picture {how}"):
        analyze_portrait(image)


@pytest.mark.parametrize("tilt", [15.0, 20.0])
def test_a_head_tilted_in_the_photo_is_found_and_framed_as_it_is(tilt):
    """A selfie with the head tilted 15-20 degrees scored under the portrait threshold: "no face found ... roughly
    frontal". It is found in the picture turned back, and framed with its own tilt."""
    import cv2

    image = load_image(media("portraits/hallo__6.jpg"))
    h, w = image.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), tilt, 1.0)
    side = int(w * abs(turn[0, 0]) + h * abs(turn[0, 1]))
    turn[:, 2] += ((side - w) / 2, (side - h) / 2)
    tilted = cv2.warpAffine(image, turn, (side, side), borderValue=(128, 128, 128))  # a canvas holding all of it
    ref = analyze_portrait(tilted)
    upright = analyze_portrait(image)

    def eye_line(r):  # degrees of the line from the right eye's outer corner to the left's, in the picture
        (x0, y0), (x1, y1) = r.landmarks_px[33], r.landmarks_px[263]
        return np.degrees(np.arctan2(y1 - y0, x1 - x0))

    assert eye_line(ref) - eye_line(upright) == pytest.approx(-tilt, abs=3.0)  # counter-clockwise is up in y


def test_no_face_in_animals_and_blank_images(tmp_path):
    for rel in ("not_a_person/LivePortrait__s22.jpg", "not_a_person/LivePortrait__s25.jpg"):
        with pytest.raises(NoFaceError, match="no face found"):
            analyze_portrait(media(rel))
    blank = _save(tmp_path, "blank.png", Image.new("RGB", (400, 300), (128, 128, 128)))
    with pytest.raises(NoFaceError):
        analyze_portrait(blank)


def test_several_faces_ask_for_an_index(aragaki):
    other = load_image(media("portraits/hallo__6.jpg"))
    import cv2

    other = cv2.resize(other, aragaki.shape[1::-1])
    pair = np.concatenate([aragaki, other], axis=1)
    with pytest.raises(MultipleFacesError, match="2 faces found.*--face-index 0..1") as info:
        analyze_portrait(pair)
    assert info.value.count == 2
    left = analyze_portrait(pair, face_index=0)
    right = analyze_portrait(pair, face_index=1)
    assert np.abs(left.image.astype(int) - right.image.astype(int)).mean() > 10
    with pytest.raises(MultipleFacesError, match="out of range"):
        analyze_portrait(pair, face_index=5)


def test_face_too_small(aragaki):
    import cv2

    # detectable, but the face box is only ~80 px across
    canvas = np.full((500, 500, 3), 200, np.uint8)
    canvas[160:340, 160:340] = cv2.resize(aragaki, (180, 180), interpolation=cv2.INTER_AREA)
    with pytest.raises(FaceTooSmallError, match="too small"):
        analyze_portrait(canvas)


def test_an_output_far_larger_than_the_photo_says_it_is_upscaled():
    """--size 2048 from a 624 px photo was upscaled 3.3x in silence (soft, and 1.6 s a frame at 4096)."""
    import warnings

    with pytest.warns(UserWarning, match=r"gives 624 px for the 2048 px output: upscaled 3\.3x"):
        analyze_portrait(media("portraits/hallo__6.jpg"), size=2048, crop=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analyze_portrait(media("portraits/hallo__6.jpg"), size=1024, crop=False)


def test_a_face_cut_off_by_the_picture_edge_is_said_to_be(tmp_path):
    """The photo cut below the nose: the face is found, its lower part filled in (blurred, and the jaw moves into
    it) in silence; now a warning says so. Cut at the middle of the face: the error says the whole face must be in."""
    import cv2

    image = cv2.imread(media("portraits/hallo__6.jpg"))
    cv2.imwrite(str(tmp_path / "cut.png"), image[: int(0.66 * image.shape[0])])
    with pytest.warns(UserWarning, match=r"runs off the picture's edge \(\d+ % of it is outside\)"):
        analyze_portrait(tmp_path / "cut.png")
    cv2.imwrite(str(tmp_path / "half.png"), image[:, : int(0.55 * image.shape[1])])
    with pytest.raises(NoFaceError, match="all of it inside the picture"):
        analyze_portrait(tmp_path / "half.png")


def test_a_face_near_the_edge_and_an_odd_full_frame_size_are_said_to_be(tmp_path):
    """A face near the photo's left edge: the crop's left 13 % was filled with a blurred extension in silence. An
    odd --size with --full-frame gave a 256 px frame for 255 without a word."""
    import warnings

    import cv2

    image = cv2.imread(media("portraits/LivePortrait__s1.jpg"))
    h, w = image.shape[:2]
    cv2.imwrite(str(tmp_path / "edge.png"), image[int(0.05 * h):int(0.75 * h), int(0.30 * w):int(0.95 * w)])
    with pytest.warns(UserWarning, match=r"near the picture's left edge: the frame's left \d+ % lies past the photo"):
        analyze_portrait(tmp_path / "edge.png", size=256)
    # a photo the face fills: every side of the frame is filled in (it named the bottom alone)
    full = cv2.imread(media("portraits/hallo__6.jpg"))
    h, w = full.shape[:2]
    cv2.imwrite(str(tmp_path / "close.png"), full[int(0.16 * h):int(0.8 * h), int(0.18 * w):int(0.82 * w)])
    with pytest.warns(UserWarning, match=r"near the picture's \w+, \w+, \w+ and \w+ edges: the frame's \w+ \d+ %, "
                                         r"\w+ \d+ %, \w+ \d+ % and \w+ \d+ % lie past the photo and are filled in"):
        analyze_portrait(tmp_path / "close.png", size=256)
    with pytest.warns(UserWarning, match=r"the full frame at 255 px is 254x254: H.264 needs even sides"):
        analyze_portrait(media("portraits/hallo__6.jpg"), size=255, crop=False)  # (was 256: larger than asked)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a face with room around it, an even size: nothing to say
        analyze_portrait(media("portraits/LivePortrait__s1.jpg"), size=256)
        analyze_portrait(media("portraits/hallo__6.jpg"), size=256, crop=False)


def test_a_face_a_tenth_of_a_wide_photo_is_found_and_framed_or_named_too_small(aragaki):
    import cv2

    from engine.face.reference import PORTRAIT_MIN_CONFIDENCE, detect_faces
    from engine.face.landmarker import FaceLandmarkerSession

    # a 2000x1500 photo whose face spans ~11 % of its height: the face detector alone finds nothing there
    canvas = cv2.resize(cv2.GaussianBlur(aragaki, (0, 0), 8), (2000, 1500))
    canvas[500:860, 1200:1560] = cv2.resize(aragaki, (360, 360), interpolation=cv2.INTER_AREA)
    with FaceLandmarkerSession(min_confidence=PORTRAIT_MIN_CONFIDENCE) as session:
        assert session.detect(canvas) == []
        faces, small = detect_faces(session, canvas)
    assert small and len(faces) == 1
    centre = faces[0].pixels(2000, 1500)[:468].mean(0)
    assert 1200 < centre[0] < 1560 and 500 < centre[1] < 860
    ref = analyze_portrait(canvas)  # the square crop brings the face back to a size the landmarker sees
    assert np.all(np.abs(ref.landmarks_px[:468].mean(0) - 256) < 60) and reprojection_error(ref) < 0.1
    with pytest.raises(FaceTooSmallError, match="too small for full-frame framing .* leave out --full-frame"):
        analyze_portrait(canvas, crop=False)


def test_unreadable_and_missing_images(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(ImageReadError, match="cannot read image"):
        load_image(bad)
    with pytest.raises(ImageReadError, match="not found"):
        load_image(tmp_path / "missing.png")


def test_model_file_override(monkeypatch, tmp_path):
    assert face_landmarker_path().stat().st_size == 3_758_596
    monkeypatch.setenv("TALKLINE_FACE_MODEL", str(tmp_path / "nope.task"))
    with pytest.raises(FaceModelMissingError, match="nope.task"):
        face_landmarker_path()
