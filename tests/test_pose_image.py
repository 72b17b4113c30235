import numpy as np
import pytest
from mediapipe.tasks.python.components.containers import landmark as mp_landmark
from mediapipe.tasks.python.vision import drawing_utils

from engine.face.reference import analyze_portrait
from engine.render.pose_image import LIP_INDICES, POSE_IMAGE_SPEC, draw_pose_image, pose_image_rgb
from tests.media import media


@pytest.fixture(scope="module")
def reference():
    return analyze_portrait(media("portraits/AniPortrait__lyl.png"))


class _Connection:
    def __init__(self, start, end):
        self.start, self.end = start, end


def mediapipe_drawing(landmarks_norm: np.ndarray) -> np.ndarray:
    """The reference implementation's drawing path: MediaPipe's own draw_landmarks with the colour dict."""
    spec = {}
    connections = []
    for _, colour, edges in POSE_IMAGE_SPEC:
        for edge in edges:
            spec[edge] = drawing_utils.DrawingSpec(color=colour, thickness=2)
            connections.append(_Connection(*edge))
    image = np.zeros((512, 512, 3), np.uint8)
    lms = [mp_landmark.NormalizedLandmark(x=float(x), y=float(y), z=0.0) for x, y in landmarks_norm]
    drawing_utils.draw_landmarks(image, lms, connections, landmark_drawing_spec=None, connection_drawing_spec=spec)
    return image


def test_byte_identical_to_mediapipe_drawing(reference):
    ours = draw_pose_image(reference.landmarks_px, reference.width, reference.height)
    assert ours.shape == (512, 512, 3) and ours.dtype == np.uint8
    assert np.array_equal(ours, mediapipe_drawing(reference.landmarks[:, :2]))
    # also for a frame of another size (normalised by W, H) and with 468 points
    pts = reference.landmarks_px[:468] * [1.5, 0.75]
    assert np.array_equal(draw_pose_image(pts, 768, 384), mediapipe_drawing(pts / [768, 384]))


def test_spec_matches_reference_tables():
    assert len(POSE_IMAGE_SPEC) == 13
    counts = {name: len(edges) for name, _, edges in POSE_IMAGE_SPEC}
    assert counts["face_oval"] == 26 and counts["left_eye"] == 16 and counts["right_eyebrow"] == 8
    colours = [c for name, c, _ in POSE_IMAGE_SPEC if name.startswith("lips")]
    assert len(set(colours)) == 8  # 8 distinct lip colours
    assert len(LIP_INDICES) == 40


def test_known_edges_have_their_colours(reference):
    image = draw_pose_image(reference.landmarks_px, reference.width, reference.height)
    palette = {c for _, c, _ in POSE_IMAGE_SPEC}
    drawn = {tuple(int(v) for v in px) for px in image.reshape(-1, 3) if px.any()}
    assert drawn <= palette  # lines only, no anti-aliasing, no other colours (no irises, no dots)
    # the chin edge (152, 148) of the oval is drawn in the oval colour at its pixel endpoints
    p = np.minimum(np.floor(reference.landmarks[152, :2] * 512).astype(int), 511)
    assert tuple(image[p[1], p[0]]) == (10, 200, 10)
    # the iris centre (468) is not drawn on
    iris = np.floor(reference.landmarks[468, :2] * 512).astype(int)
    assert not image[iris[1] - 1 : iris[1] + 2, iris[0] - 1 : iris[0] + 2].any()


def test_points_outside_the_frame_drop_their_edges(reference):
    pts = reference.landmarks_px.copy()
    pts[152] = [-10.0, 300.0]  # chin outside the frame
    image = draw_pose_image(pts, reference.width, reference.height)
    full = draw_pose_image(reference.landmarks_px, reference.width, reference.height)
    chin = np.floor(reference.landmarks[152, :2] * 512).astype(int)
    assert full[chin[1], chin[0]].any() and not image[chin[1], chin[0]].any()
    assert np.array_equal(image, mediapipe_drawing(pts / [reference.width, reference.height]))


def test_rgb_display_variant_swaps_channels(reference):
    raw = draw_pose_image(reference.landmarks_px, 512, 512)
    assert np.array_equal(pose_image_rgb(reference.landmarks_px, 512, 512), raw[..., ::-1])
    with pytest.raises(ValueError):
        draw_pose_image(np.zeros((10, 2)), 512, 512)
