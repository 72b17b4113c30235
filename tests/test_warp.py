"""The `warp` renderer on real portraits: identity, background, mouth interior, blinks, fidelity."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, strategies as st

from engine.face.landmarker import FaceLandmarkerSession
from engine.face.reference import analyze_portrait
from tests import warp_targets as wt
from engine.render.eyes import eye_opening
from engine.face.contours import EYES, eye_polygon, inner_lip_polygon
from engine.face.contours import mouth_opening
from engine.render.pose_image import LIP_INDICES
from engine.render.warp import WarpRenderer
from tests.media import media

@pytest.fixture(scope="module")
def olsen():  # colour photo, lips closed in the reference
    ref = analyze_portrait(media("portraits/hallo__6.jpg"))
    return ref, WarpRenderer(ref)


@pytest.fixture(scope="module")
def einstein():  # greyscale photo
    ref = analyze_portrait(media("portraits/LivePortrait__s12.jpg"))
    return ref, WarpRenderer(ref)


def _luma(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _polygon_mask(shape, pts: np.ndarray, erode: int = 0) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    if erode:
        mask = cv2.erode(mask, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8))
    return mask.astype(bool)


def test_output_shape_and_dtype(olsen):
    ref, renderer = olsen
    out = renderer.render(wt.target_px(ref, {"jawOpen": 0.5}))
    assert out.shape == ref.image.shape and out.dtype == np.uint8


@pytest.mark.parametrize("portrait", ["olsen", "einstein"])
def test_identity_target_reproduces_reference(portrait, request):
    ref, renderer = request.getfixturevalue(portrait)
    for target in (ref.landmarks_px, ref.landmarks_px[:468]):
        diff = np.abs(renderer.render(target).astype(int) - ref.image.astype(int))
        assert diff.mean() < 0.5 and np.percentile(diff, 99.9) <= 2


def test_projected_zero_motion_is_identity(olsen):
    ref, renderer = olsen
    out = renderer.render(wt.target_px(ref, None, np.zeros(6)))
    assert np.abs(out.astype(int) - ref.image.astype(int)).mean() < 2.0


def test_background_corner_stays_while_head_turns_and_face_moves(olsen):
    ref, renderer = olsen
    out = renderer.render(wt.target_px(ref, None, [0, 15, 0, 0, 0, 0]))
    corners = [(slice(0, 24), slice(0, 24)), (slice(0, 24), slice(-24, None)),
               (slice(-24, None), slice(0, 24)), (slice(-24, None), slice(-24, None))]
    for ys, xs in corners:  # sub-pixel resampling at most
        assert np.abs(out[ys, xs].astype(int) - ref.image[ys, xs].astype(int)).mean() < 1.0
    face = _polygon_mask(ref.image.shape, ref.landmarks_px[[10, 338, 297, 284, 454, 361, 152, 132, 234, 54, 67, 109]])
    assert np.abs(out[face].astype(int) - ref.image[face].astype(int)).mean() > 10


@pytest.mark.parametrize("yaw", [-20, 20])
def test_a_turning_head_keeps_a_smooth_jaw_line(olsen, yaw):
    """From ~12 degrees of yaw the near cheek's edge came out as a saw-tooth with the outline points' spacing
    (the triangles between the fast-moving outline and the cheek points inside it). The backward map along the
    outline now bends smoothly: its second difference down the rows stays small (p99 0.37-0.46 px before)."""
    from engine.face.contours import FACE_OVAL
    from engine.render.warp_field import WarpField

    ref, _ = olsen
    target = wt.target_px(ref, None, [0, yaw, 0, 0, 0, 0])
    field = WarpField(ref.landmarks_px[:468], ref.width, ref.height, 4)
    map_x = field.backward_map(target)[..., 0]
    band = np.zeros(ref.image.shape[:2], np.uint8)
    cv2.polylines(band, [np.round(target[list(FACE_OVAL)]).astype(np.int32)], True, 1, 24)
    bend = np.abs(np.diff(map_x, 2, axis=0))[band[1:-1] > 0]
    assert np.percentile(bend, 99) < 0.3


def test_invalid_landmark_shapes_raise_value_error(olsen):
    ref, renderer = olsen
    for bad in (np.zeros((467, 2)), np.zeros((468, 3)), np.zeros((2, 468, 2)), np.full((468, 2), np.nan)):
        with pytest.raises(ValueError):
            renderer.render(bad)
    with pytest.raises(ValueError):
        renderer.render(ref.landmarks_px, source=ref.image)  # source without its landmarks


def test_source_frame_with_own_landmarks_matches_reference_path(olsen):
    """A source frame with its own landmarks (a video's) warps as the reference does without the still background,
    which only a still's reference field keeps (its segmentation is made once)."""
    ref, _ = olsen
    renderer = WarpRenderer(ref, still_background=False)
    target = wt.target_px(ref, {"jawOpen": 0.7}, [0, 8, 0, 0, 0, 0])
    assert np.array_equal(renderer.render(target, source=ref.image, source_px=ref.landmarks_px), renderer.render(target))


def test_person_mask_separates_the_person_from_the_wall():
    """GrabCut seeded by the landmarks: the face, the hair above the forehead and the neck are the person; the wall
    beside the head is not."""
    from engine.face.contours import FACE_OVAL
    from engine.render.person_mask import person_mask

    ref = analyze_portrait(media("portraits/hallo__6.jpg"))
    mask = person_mask(ref.image, ref.landmarks_px)
    oval = ref.landmarks_px[list(FACE_OVAL)]
    centre, r = oval.mean(axis=0), np.linalg.norm(oval - oval.mean(axis=0), axis=1).mean()
    assert _polygon_mask(ref.image.shape, oval)[~mask].sum() == 0  # the whole face
    at = lambda dx, dy: bool(mask[int(centre[1] + dy * r), int(centre[0] + dx * r)])  # noqa: E731
    assert at(0.0, -1.2) and at(0.0, 1.3)  # hair above the forehead, the neck
    assert not at(-1.5, -0.5) and not at(1.5, -0.5)  # the wall either side of the head
    assert 0.3 < mask.mean() < 0.8


def test_a_logo_beside_the_hair_is_not_the_person():
    """A broadcaster's logo in the hair's colours, cut out as foreground apart from the person, moved with the head
    (JoyVASA's Eric Bana frame): the person is the one piece joined to the face."""
    from engine.render.person_mask import person_mask

    ref = analyze_portrait(media("portraits/JoyVASA__joyvasa_005.png"))
    mask = person_mask(ref.image, ref.landmarks_px)
    logo = (ref.image[15:100, 430:500].astype(int).sum(axis=2) > 300)  # its light grey strokes on the dark wall
    assert logo.sum() > 500 and mask[15:100, 430:500][logo].mean() < 0.05
    assert mask[ref.landmarks_px[:, 1].astype(int), ref.landmarks_px[:, 0].astype(int)].all()


def test_the_wall_behind_a_turning_head_stays_still():
    """A head turn and nod: beyond the person's silhouette (more than SILHOUETTE_FALLOFF face radii from it) the
    wall is the photo itself; without the segmentation the whole field around the head bent it (mean change 20
    grey levels there on this portrait), while the person is warped the same either way."""
    from engine.face.contours import FACE_OVAL
    from engine.render.person_mask import person_mask
    from engine.render.warp_field import SILHOUETTE_FALLOFF

    ref = analyze_portrait(media("portraits/hallo__6.jpg"))
    target = wt.target_px(ref, {"jawOpen": 0.3}, [4, 6, 3, 0.3, 0.2, 0])
    still, bent = (WarpRenderer(ref, still_background=on).render(target).astype(int) for on in (True, False))
    person = person_mask(ref.image, ref.landmarks_px)
    hull = cv2.convexHull(ref.landmarks_px[:468].astype(np.float32)).reshape(-1, 2)
    radius = np.linalg.norm(hull - hull.mean(axis=0), axis=1).mean()
    beyond = cv2.distanceTransform((~person).astype(np.uint8), cv2.DIST_L2, 5)
    wall = beyond > (SILHOUETTE_FALLOFF + 0.05) * radius  # a grid step past the fade
    assert wall.mean() > 0.2
    photo = ref.image.astype(int)
    assert np.abs(still - photo)[wall].mean() < 0.5 < 5.0 < np.abs(bent - photo)[wall].mean()
    face = _polygon_mask(ref.image.shape, target[list(FACE_OVAL)])
    assert np.abs(still - bent)[face].mean() < 0.5


@pytest.mark.parametrize("portrait", ["olsen", "einstein"])
def test_mouth_interior_appears_only_when_jaw_opens(portrait, request):
    ref, renderer = request.getfixturevalue(portrait)
    assert mouth_opening(ref.landmarks_px) < 0.05 * np.linalg.norm(ref.landmarks_px[308] - ref.landmarks_px[78])
    target = wt.target_px(ref, {"jawOpen": 0.8})
    inside = _polygon_mask(ref.image.shape, target[list(inner_lip_polygon())], erode=1)
    luma = _luma(renderer.render(target))[inside]
    skin = np.median(_luma(ref.image)[_polygon_mask(ref.image.shape, ref.landmarks_px[[50, 101, 118, 117, 123]])])
    assert inside.sum() > 300
    assert (luma < 0.35 * skin).mean() > 0.15, "no dark cavity"
    # Teeth lit like the skin, in a strip under the upper lip (they slide under it, never stretch).
    assert (luma > 0.6 * skin).mean() > 0.04, "no teeth"

    closed = wt.target_px(ref, {"jawOpen": 0.0})
    mouth_box = _polygon_mask(ref.image.shape, ref.landmarks_px[[61, 0, 291, 17]])
    diff = np.abs(renderer.render(closed).astype(int) - ref.image.astype(int))[mouth_box]
    assert diff.mean() < 2.0


def test_blink_covers_the_eyes(olsen):
    ref, renderer = olsen
    # The rig's eyeBlink=1 leaves this face's lids ~30% apart; meet them fully to test a closed eye.
    target = wt.target_px(ref, wt.BLINK)
    for upper, lower, _ in EYES:
        target[list(upper)] = target[list(lower)]
    out = renderer.render(target)
    for eye in EYES:
        assert eye_opening(target, eye) < 0.05 * eye_opening(ref.landmarks_px, eye)
        region = _polygon_mask(ref.image.shape, ref.landmarks_px[list(eye_polygon(eye))])
        # Lid skin and lashes replace the white, iris and pupil: a large change in the open eye's area.
        change = np.abs(out[region].astype(int) - ref.image[region].astype(int)).mean()
        # The sclera (the brightest part of an open eye) disappears under the lid: 0.67-0.70 of the open eye's
        # brightest tenth stays that bright on this portrait (bright lid skin), moving with 0.1 px of landmark
        # noise between framings.
        bright = np.percentile(_luma(ref.image)[region], 90)
        white_ref = (_luma(ref.image)[region] >= bright).mean()
        white_out = (_luma(out)[region] >= bright).mean()
        assert change > 15 and white_out < 0.75 * white_ref, (change, white_ref, white_out)
    half = renderer.render(wt.target_px(ref, {"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5}))
    region = _polygon_mask(ref.image.shape, ref.landmarks_px[list(eye_polygon(EYES[0]))])
    assert 0 < np.abs(half[region].astype(int) - ref.image[region].astype(int)).mean() < change


@pytest.mark.parametrize("name", ["portraits/hallo__6.jpg", "portraits/LivePortrait__s1.jpg"])
def test_a_shut_eye_shows_no_eyeball_along_the_lash_line(name):
    """The eyeballs painted pure green in the portrait: with the face's own eyeBlink = 1 (its lids meet) no green
    is left. Before, the warp's grid smeared the squeezed eyeball into a band along the lash line (a third of the
    eye's green stayed) and the eyeball layer painted itself into the closed lids' last pixel."""
    import dataclasses

    from engine.geometry import project
    from engine.rig import fit_to_face

    ref = analyze_portrait(media(name))
    image = ref.image.copy()
    for eye in EYES:
        cv2.fillPoly(image, [np.round(ref.landmarks_px[list(eye_polygon(eye))]).astype(np.int32)], (0, 255, 0))
    ref = dataclasses.replace(ref, image=image)
    rig, renderer = fit_to_face(ref.mesh), WarpRenderer(ref)

    def render(blink: float) -> tuple[np.ndarray, np.ndarray]:
        mesh = ref.mesh + rig.offsets_frame({"eyeBlinkLeft": blink, "eyeBlinkRight": blink}).astype(np.float64)
        target = project(mesh, ref.transform, None, ref.width, ref.height)
        return renderer.render(target).astype(int), target

    def green(blink: float) -> int:
        out = render(blink)[0]
        return int((out[..., 1] - np.maximum(out[..., 0], out[..., 2]) > 60).sum())

    painted = int((image == (0, 255, 0)).all(axis=-1).sum())
    open_eyes, half, shut = green(0.0), green(0.5), green(1.0)
    assert open_eyes > 0.9 * painted > 0
    assert 0.3 * open_eyes < half < 0.9 * open_eyes  # half shut: the lower half of the eyeball still shows
    assert shut < 0.1 * open_eyes, (open_eyes, half, shut)
    out, target = render(0.15)  # a light squint keeps its eyeball clear: no veil of lid colour over it
    opening = np.zeros(image.shape[:2], np.uint8)
    for eye in EYES:
        cv2.fillPoly(opening, [np.round(target[list(eye_polygon(eye))]).astype(np.int32)], 1)
    assert out[..., 1][cv2.erode(opening, np.ones((3, 3), np.uint8)) > 0].mean() > 250


@pytest.mark.parametrize("kind", ["ah", "oh_funnel", "eh_smile", "jaw_wide", "head_turn", "blink"])
def test_landmarker_finds_the_target_landmarks(olsen, kind):
    """The face landmarker, run on rendered rig expressions, finds the target landmarks, lips included."""
    ref, renderer = olsen
    target = wt.fidelity_targets(ref)[kind]
    with FaceLandmarkerSession() as session:
        faces = session.detect(renderer.render(target))
    assert len(faces) == 1
    dist = np.linalg.norm(faces[0].pixels(ref.width, ref.height)[:468] - target, axis=1)
    assert dist.mean() <= 3.5 and dist[list(LIP_INDICES)].mean() <= 3.5, (dist.mean(), dist[list(LIP_INDICES)].mean())


def test_far_cheek_outline_stays_on_the_silhouette(olsen):
    """A turned head keeps its far-side outline on the target's outer boundary, with no fold notch."""
    ref, renderer = olsen
    target = wt.target_px(ref, wt.SPEECH_EXPRESSIONS["ah"], [0, 18, 0, 0, 0, 0])
    field = renderer._field
    moved = field._silhouette(target, field._rigid_pinv @ target[field._rigid_idx].T.ravel())
    far = [454, 323, 361]  # subject's left cheek outline: hidden behind the cheek at this yaw
    assert np.all(moved[far, 0] > target[far, 0] + 3)
    hull = cv2.convexHull(target.astype(np.float32))
    # Within the source outline's own few-px inset from its hull (kept so that identity stays exact).
    assert all(abs(cv2.pointPolygonTest(hull, (float(x), float(y)), True)) < 3.5 for x, y in moved[far])


def test_a_sequence_warm_starts_each_backward_map_and_matches_single_renders(olsen):
    """WarpBackend.frames solves each frame's backward map from the previous frame's (2 Newton steps instead
    of 5): the frames match cold single-frame renders up to resampling noise."""
    from engine.render.warp import WarpBackend
    from engine.sources.portrait import PortraitSource

    ref, renderer = olsen
    targets = wt.demo_sequence(ref, 60)[:20]  # the benchmark clip: speech-like steps at 30 fps
    warm = list(WarpBackend(PortraitSource("olsen", ref)).frames(targets))
    for frame, target in zip(warm, targets):
        diff = np.abs(frame.astype(int) - renderer.render(target).astype(int))
        assert diff.mean() < 0.08 and np.percentile(diff, 99.9) <= 6


@given(st.lists(st.floats(-180.0, 180.0), min_size=3, max_size=3), st.floats(1.0, 3.0))
def test_a_turn_limit_keeps_small_turns_and_bounds_large_ones_along_their_direction(turn, scale):
    from engine.render.turn_limit import TurnLimit

    limit = TurnLimit(most=(25.0, 40.0, 25.0), knee=0.6)
    own = np.array([[5.0, -30.0, 2.0, 1.0, 2.0, 3.0]])  # a video frame's own pose: the limit is about it
    pose = own.copy()
    pose[0, :3] += turn
    shown = limit.shown(pose, own)
    np.testing.assert_array_equal(shown[0, 3:], pose[0, 3:])  # translations untouched
    length = lambda p: np.linalg.norm((p[0, :3] - own[0, :3]) / limit.most)  # noqa: E731
    assert length(shown) <= 1.0 + 1e-9
    if length(pose) <= limit.knee:
        np.testing.assert_allclose(shown, pose)
        assert not limit.past(pose, own).any()
    further = own.copy()
    further[0, :3] += scale * np.asarray(turn)
    assert length(limit.shown(further, own)) >= length(shown) - 1e-9  # turning further never shows less
    np.testing.assert_allclose(np.cross(shown[0, :3] - own[0, :3], turn), 0.0, atol=1e-6)  # same direction


def test_a_face_at_the_top_edge_moved_down_shows_no_streaks_above_it():
    """Full frame with the forehead at the picture's top edge: a head moving down pulled its top rows from past the
    edge, which repeated the edge row into vertical streaks of hair; the picture is mirrored there instead."""
    from engine.face.images import load_image
    from engine.face.reference import analyze_portrait

    image = load_image(media("portraits/hallo__6.jpg"))
    top = int(analyze_portrait(image, crop=False).landmarks_px[:, 1].min())
    cut = np.ascontiguousarray(image[top - 10:])
    ref = analyze_portrait(cut, crop=False, size=max(cut.shape[:2]))
    out = WarpRenderer(ref).render(ref.landmarks_px + (0.0, 20.0))
    x0, x1 = int(ref.landmarks_px[:, 0].min()), int(ref.landmarks_px[:, 0].max())

    def vertical_detail(picture):  # mean step between neighbouring rows along the top 12 rows above the face
        return np.abs(np.diff(picture[:12, x0:x1].astype(int), axis=0)).mean()

    assert vertical_detail(out) > 0.6 * vertical_detail(cut)  # repeated rows: 0.4 of the photo's own detail


def test_the_person_mask_is_the_same_every_time():
    """GrabCut starts from OpenCV's random generator: a second render in the same process segmented the portrait
    differently (784 pixels), so an editor's second render differed from its first by up to 10 grey levels."""
    from engine.render.person_mask import person_mask

    ref = analyze_portrait(media("portraits/hallo__6.jpg"))
    first = person_mask(ref.image, ref.landmarks_px)
    np.testing.assert_array_equal(person_mask(ref.image, ref.landmarks_px), first)
