"""The expression rig: regions, symmetry, magnitudes, smoothness, lip/lid ordering, linearity."""
from __future__ import annotations

import numpy as np
import pytest

from engine.rig import CONTROLS, Rig, load_rig
from engine.rig.mesh import (
    FaceGraph,
)
from engine.face.contours import (
    EYE_LEFT_LOWER,
    EYE_LEFT_UPPER,
    EYE_RIGHT_LOWER,
    EYE_RIGHT_UPPER,
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    LIPS_OUTER_LOWER,
    LIPS_OUTER_UPPER,
)
from engine.face.canonical import load_canonical_model

API_CONTROLS = (
    "jawOpen mouthClose mouthFunnel mouthPucker mouthSmileLeft mouthSmileRight mouthFrownLeft mouthFrownRight "
    "mouthStretchLeft mouthStretchRight mouthUpperUpLeft mouthUpperUpRight mouthLowerDownLeft mouthLowerDownRight "
    "mouthPressLeft mouthPressRight mouthRollLower mouthRollUpper cheekPuff eyeBlinkLeft eyeBlinkRight eyeWideLeft "
    "eyeWideRight browInnerUp browDownLeft browDownRight browOuterUpLeft browOuterUpRight"
).split()


@pytest.fixture(scope="module")
def rig() -> Rig:
    return load_rig()


@pytest.fixture(scope="module")
def mesh() -> np.ndarray:
    return load_canonical_model().vertices


@pytest.fixture(scope="module")
def graph(mesh) -> FaceGraph:
    return FaceGraph(mesh, load_canonical_model().triangles)


def moved(rig: Rig, name: str, weight: float = 1.0) -> np.ndarray:
    """(468,) distance each vertex travels (cm)."""
    return np.linalg.norm(rig.offsets_frame({name: weight}), axis=1)


def test_controls_shapes_and_dtypes(rig):
    assert set(API_CONTROLS) <= set(rig.controls) and rig.controls == CONTROLS
    assert rig.basis.shape == (len(CONTROLS), 468, 3) and rig.basis.dtype == np.float32
    assert np.isfinite(rig.basis).all()
    assert all(rig.ranges[name] == (0.0, 1.0) for name in CONTROLS)
    out = rig.offsets(np.zeros((5, len(CONTROLS))))
    assert out.shape == (5, 468, 3) and out.dtype == np.float32 and not out.any()
    assert rig.offsets_frame({}).shape == (468, 3)
    assert load_rig() is rig  # cached


def test_every_control_moves_something_visible(rig):
    for name in CONTROLS:
        assert moved(rig, name).max() > 0.15, name
        assert rig.region(name).sum() >= 10, name


def test_unknown_control_raises_clear_key_error(rig):
    with pytest.raises(KeyError, match="unknown rig control 'mouthSmile'"):
        rig.offsets_frame({"mouthSmile": 1.0})
    with pytest.raises(KeyError, match="jawOpen"):  # the message lists the known controls
        rig.index("jawopen")
    with pytest.raises(ValueError):
        rig.offsets(np.zeros((3, len(CONTROLS) - 1)))
    with pytest.raises(ValueError, match="differ in length"):
        rig.offsets({"jawOpen": np.zeros(3), "eyeBlinkLeft": np.zeros(4)})


def test_linearity_and_dict_matches_matrix(rig):
    rng = np.random.default_rng(0)
    a, b = rng.random((7, len(CONTROLS))), rng.random((7, len(CONTROLS)))
    np.testing.assert_allclose(rig.offsets(a + b), rig.offsets(a) + rig.offsets(b), atol=1e-5)
    np.testing.assert_allclose(rig.offsets(2.5 * a), 2.5 * rig.offsets(a), atol=1e-5)
    as_dict = {name: a[:, k] for k, name in enumerate(CONTROLS)}
    np.testing.assert_allclose(rig.offsets(as_dict), rig.offsets(a), atol=1e-6)
    np.testing.assert_allclose(rig.offsets_frame(dict(zip(CONTROLS, a[3]))), rig.offsets(a)[3], atol=1e-6)
    # Reference: the explicit sum of weighted basis fields.
    np.testing.assert_allclose(rig.offsets(a)[0], np.tensordot(a[0], rig.basis, axes=1), atol=1e-5)


def test_jaw_open_opens_the_mouth_about_a_third_of_the_eye_distance(rig, mesh):
    d = rig.offsets_frame({"jawOpen": 1.0})
    m = mesh + d
    iod = np.linalg.norm(mesh[33] - mesh[263])
    gap = np.linalg.norm(m[13] - m[14])
    assert 0.28 * iod < gap < 0.4 * iod
    assert d[152, 1] < -1.5  # the chin drops...
    # ... the jaw turns about its hinge: the chin travels about as far as the lower lip, down and back.
    assert np.linalg.norm(d[152]) > 0.8 * np.linalg.norm(d[14]) and d[152, 2] < -0.5
    assert abs(d[13, 1]) < 0.1  # the upper lip stays
    for still in (10, 33, 133, 263, 362, 1, 159, 386, 70, 300):  # forehead, eye corners, nose tip, lids, brows
        assert np.linalg.norm(d[still]) < 0.02, still
    # Halfway opens about halfway (the rig is linear; the rotation was baked at weight 1).
    half = mesh + rig.offsets_frame({"jawOpen": 0.5})
    assert 0.45 < (np.linalg.norm(half[13] - half[14]) - 0.55) / (gap - 0.55) < 0.55


def test_jaw_open_falls_off_into_the_cheeks(rig, mesh):
    dist = moved(rig, "jawOpen")
    # Along the face contour from the chin up to the ear the motion decreases steadily.
    contour = [152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234]
    assert dist[contour[0]] > 1.5 and dist[contour[-1]] < 0.02
    assert np.all(np.diff(dist[contour]) < 0.05)


def test_mouth_close_closes_the_lips_against_an_open_jaw(rig, mesh):
    both = mesh + rig.offsets_frame({"jawOpen": 1.0, "mouthClose": 1.0})
    rest = mesh[13] - mesh[14]
    for u, low in zip(LIPS_INNER_UPPER, LIPS_INNER_LOWER):
        np.testing.assert_allclose(both[u] - both[low], mesh[u] - mesh[low], atol=0.05)
    assert np.linalg.norm(both[13] - both[14] - rest) < 0.05
    assert (both[152, 1] - mesh[152, 1]) < -1.5  # the jaw stays open
    assert (both[14, 1] - mesh[14, 1]) < -0.3  # the closed lips sit lower than at rest


def test_blink_closes_exactly_one_eye(rig, mesh):
    for name, (up, lo), (other_up, other_lo) in (
        ("eyeBlinkLeft", (EYE_LEFT_UPPER, EYE_LEFT_LOWER), (EYE_RIGHT_UPPER, EYE_RIGHT_LOWER)),
        ("eyeBlinkRight", (EYE_RIGHT_UPPER, EYE_RIGHT_LOWER), (EYE_LEFT_UPPER, EYE_LEFT_LOWER)),
    ):
        d = rig.offsets_frame({name: 1.0})
        m = mesh + d
        for u, low in zip(up[1:-1], lo[1:-1]):
            assert np.linalg.norm(m[u] - m[low]) < 0.05, (name, u, low)
        assert np.abs(d[list(other_up + other_lo)]).max() < 1e-3
        assert np.abs(d[list(up[:1] + up[-1:])]).max() < 1e-6  # the eye corners stay
        half = mesh + rig.offsets_frame({name: 0.5})
        assert half[up[4], 1] - half[lo[4], 1] == pytest.approx(0.5 * (mesh[up[4], 1] - mesh[lo[4], 1]), abs=0.02)
    left = mesh + rig.offsets_frame({"eyeBlinkLeft": 1.0})
    assert np.linalg.norm(left[386] - left[374]) < 0.05


def test_eye_wide_opens_the_lids(rig, mesh):
    d = rig.offsets_frame({"eyeWideLeft": 1.0})
    assert d[386, 1] > 0.12 and d[374, 1] < 0 and np.abs(d[159]).max() < 1e-3


def test_region_expectations(rig, mesh):
    """Each control moves its part of the face and leaves far parts still (cm at weight 1)."""
    x, y = mesh[:, 0], mesh[:, 1]
    upper_face = y > 1.5  # eyes, brows, forehead
    lower_face = y < -2.5  # mouth, chin
    for name in CONTROLS:
        dist = moved(rig, name)
        if name.startswith(("mouth", "jaw", "cheek")):
            assert dist[upper_face].max() < 0.05, name
        if name.startswith(("eye", "brow")):
            assert dist[lower_face].max() < 1e-3, name
        if name.endswith("Left"):
            assert dist[x < -1.0].max() < 0.02, name  # the subject's right half stays
        if name.endswith("Right"):
            assert dist[x > 1.0].max() < 0.02, name
    corner = {"mouthSmileLeft": (291, [0.2, 0.3, None]), "mouthFrownLeft": (291, [None, -0.3, None]),
              "mouthStretchLeft": (291, [0.3, None, None])}
    for name, (vertex, mins) in corner.items():
        d = rig.offsets_frame({name: 1.0})[vertex]
        for axis, bound in enumerate(mins):
            if bound is not None:
                assert (d[axis] > bound) if bound > 0 else (d[axis] < bound), (name, axis, d)
    assert rig.offsets_frame({"mouthUpperUpLeft": 1.0})[269, 1] > 0.3
    assert rig.offsets_frame({"mouthLowerDownLeft": 1.0})[405, 1] < -0.3
    assert rig.offsets_frame({"mouthPucker": 1.0})[291, 0] < -0.5  # corners gather in
    assert rig.offsets_frame({"mouthPucker": 1.0})[0, 2] > 0.4  # lips push forward
    assert rig.offsets_frame({"mouthFunnel": 1.0})[14, 1] < -0.2  # the lips part
    assert rig.offsets_frame({"browInnerUp": 1.0})[[107, 336], 1].min() > 0.4
    assert rig.offsets_frame({"browOuterUpLeft": 1.0})[300, 1] > 0.4
    assert rig.offsets_frame({"browDownLeft": 1.0})[336, 1] < -0.3
    puff = rig.offsets_frame({"cheekPuff": 1.0})
    for side in (1, -1):  # each cheek bulges outwards, sideways and forwards
        cheek = int(np.argmin(np.linalg.norm(mesh - [side * 3.9, -3.6, 2.9], axis=1)))
        assert np.linalg.norm(puff[cheek]) > 0.4 and side * puff[cheek, 0] > 0.15 and puff[cheek, 2] > 0


def test_left_and_right_controls_are_mirror_images(rig, graph):
    mirror = graph.mirror
    assert np.array_equal(mirror[mirror], np.arange(468))
    flip = np.array([-1.0, 1.0, 1.0], dtype=np.float32)
    for name in CONTROLS:
        field = rig.basis[rig.index(name)]
        if name.endswith("Left"):
            twin = rig.basis[rig.index(name.replace("Left", "Right"))]
            np.testing.assert_allclose(twin, field[mirror] * flip, atol=1e-5, err_msg=name)
        elif not name.endswith("Right"):  # central controls are symmetric themselves
            np.testing.assert_allclose(field, field[mirror] * flip, atol=2e-3, err_msg=name)


def test_fields_are_smooth_no_tearing(rig, graph):
    """Across every surface edge (openings excluded) the displacement differs by at most about the edge's
    length: a crude bound that any tear or spike (a vertex left behind its neighbours) breaks."""
    e, length = graph.edges, graph.edge_lengths
    for name in CONTROLS:
        b = rig.basis[rig.index(name)].astype(np.float64)
        ratio = np.linalg.norm(b[e[:, 0]] - b[e[:, 1]], axis=1) / length
        assert ratio.max() < 1.6, (name, ratio.max())
    # Each vertex moves like the average of its neighbours (no isolated spikes), all controls at once.
    b = rig.offsets_frame(dict.fromkeys(CONTROLS, 1.0)).astype(np.float64)
    neighbour_mean = np.array([b[list(nb)].mean(axis=0) for nb in graph.adjacency])
    assert np.linalg.norm(b - neighbour_mean, axis=1).max() < 1.0


def _worst_case_min(a0: np.ndarray, a: np.ndarray, rig: Rig) -> np.ndarray:
    """Exact minimum over all weights in [0, 1]^K with mouthClose <= jawOpen of a0 + a @ w (a: (K, n))."""
    jaw, close = rig.index("jawOpen"), rig.index("mouthClose")
    rest = [k for k in range(len(rig.controls)) if k not in (jaw, close)]
    jaw_pair = np.minimum(0.0, np.minimum(a[jaw], a[jaw] + a[close]))
    return a0 + np.minimum(a[rest], 0.0).sum(axis=0) + jaw_pair


def test_inner_lips_never_cross(rig, mesh):
    """The upper inner lip stays above the lower inner lip for every combination in range (the gap is
    linear in the weights, so its minimum over the box is found exactly), with mouthClose <= jawOpen."""
    up, lo = list(LIPS_INNER_UPPER[1:-1]), list(LIPS_INNER_LOWER[1:-1])
    b = rig.basis.astype(np.float64)
    worst = _worst_case_min(mesh[up, 1] - mesh[lo, 1], b[:, up, 1] - b[:, lo, 1], rig)
    assert worst.min() > 0.05, worst
    # Each single control at full range keeps the order too (mouthClose only with the jaw open).
    for name in CONTROLS:
        values = {name: 1.0, "jawOpen": 1.0} if name == "mouthClose" else {name: 1.0}
        m = mesh + rig.offsets_frame(values)
        assert np.all(m[up, 1] > m[lo, 1]), name


def test_lids_never_cross(rig, mesh):
    for up_loop, lo_loop in ((EYE_LEFT_UPPER, EYE_LEFT_LOWER), (EYE_RIGHT_UPPER, EYE_RIGHT_LOWER)):
        up, lo = list(up_loop[1:-1]), list(lo_loop[1:-1])
        b = rig.basis.astype(np.float64)
        worst = _worst_case_min(mesh[up, 1] - mesh[lo, 1], b[:, up, 1] - b[:, lo, 1], rig)
        assert worst.min() > -0.01, worst  # at most touching (a full blink is exactly closed)


def test_lips_keep_their_volume(rig, mesh):
    """Press and roll thin the lips but never through: the outer contours stay outside the inner ones."""
    rng = np.random.default_rng(1)
    lip_controls = [n for n in CONTROLS if n.startswith("mouth") and n != "mouthClose"]
    samples = [dict.fromkeys(lip_controls, 0.0) | {n: 1.0 for n in picks}
               for picks in (["mouthRollUpper", "mouthRollLower", "mouthPressLeft", "mouthPressRight"],
                             ["mouthRollUpper", "mouthPressLeft"], ["mouthFunnel", "mouthPucker"])]
    samples += [dict(zip(lip_controls, rng.random(len(lip_controls)))) for _ in range(50)]
    for values in samples:
        m = mesh + rig.offsets_frame(values)
        for outer, inner, sign in ((LIPS_OUTER_UPPER, LIPS_INNER_UPPER, 1), (LIPS_OUTER_LOWER, LIPS_INNER_LOWER, -1)):
            ix = m[list(inner), 0]
            order = np.argsort(ix)
            centre = list(outer[3:-3])  # the middle of the lip, where the thickness is well defined
            inner_y = np.interp(m[centre, 0], ix[order], m[list(inner), 1][order])
            thickness = sign * (m[centre, 1] - inner_y)
            rest = sign * (mesh[centre, 1] - np.interp(mesh[centre, 0], np.sort(mesh[list(inner), 0]),
                                                       mesh[list(inner), 1][np.argsort(mesh[list(inner), 0])]))
            assert np.all(thickness > 0.1 * rest), (values, thickness, rest)


def test_offsets_of_many_frames_are_the_weighted_basis_in_float32(rig):
    w = np.random.default_rng(2).random((1000, len(CONTROLS))).astype(np.float32)
    out = rig.offsets(w)
    assert out.dtype == np.float32 and out.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(out.reshape(1000, -1), w @ rig.basis.reshape(len(CONTROLS), -1), rtol=1e-5, atol=1e-5)
