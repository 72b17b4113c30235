import numpy as np
import pytest

from engine.a2l.base_layer import BaseLayer, Segment
from engine.audio.decode import load_audio
from engine.document.changes import Change, ChangeKind
from engine.document.curves import Curve, Interpolation
from engine.document.project import POSE_CHANNELS, FrameState, Gains, Project
from engine.geometry import project as project_points
from engine.plugins import A2L_BACKENDS, Choice
from engine.rig import load_rig
from engine.sources.audio import AudioSource
from tests.media import media
from tests.seams import FakeConfig, synthetic_source

AUDIO = "speech/Real3DPortrait__Obama_5s.wav"
FPS = 30.0


class Reference:
    """The synthetic face source's reference with its fitted rest mesh and rig (what the tests compare with)."""

    def __init__(self, source):
        self.source = source
        self.__dict__.update(transform=source.reference.transform, width=source.reference.width,
                             height=source.reference.height, rest_mesh=source.fitted.rest_mesh, rig=source.fitted.rig)


@pytest.fixture(scope="module")
def reference():
    return Reference(synthetic_source(256))


@pytest.fixture(scope="module")
def audio():
    return load_audio(media(AUDIO))


def make_base(frames: int, *, blinks: bool = False, seed: int = 0) -> BaseLayer:
    """A base layer with known, non-zero motion (smooth random expression offsets and pose)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / FPS
    expr = (0.05 * np.sin(2 * np.pi * 1.3 * t)[:, None, None] * rng.normal(size=(1, 468, 3))).astype(np.float32)
    pose = np.stack([3 * np.sin(2 * np.pi * f * t) for f in (0.3, 0.5, 0.2, 0.4, 0.6, 0.1)], axis=1)
    weights = {}
    offsets = expr
    if blinks:
        track = np.zeros(frames, np.float32)
        track[60:66] = [0.3, 0.8, 1.0, 1.0, 0.7, 0.2]
        weights = {"eyeBlinkLeft": track, "eyeBlinkRight": track.copy(), "jawOpen": np.full(frames, 0.1, np.float32)}
        offsets = expr + load_rig().offsets({"eyeBlinkLeft": track, "eyeBlinkRight": track})
    return BaseLayer(FPS, offsets, pose, weights, blinks=[Segment(60 / FPS, 66 / FPS, "blink")] if blinks else [])


def make_project(reference, audio, base=None) -> Project:
    base = base if base is not None else make_base(audio.frame_count(FPS))
    return Project(reference.source, AudioSource(media(AUDIO), audio), FPS, base)


def test_channels_cover_pose_and_every_rig_control(reference, audio):
    p = make_project(reference, audio)
    assert set(p.channels) == set(POSE_CHANNELS) | set(load_rig().controls)
    assert all(len(c) == 0 for c in p.channels.values())
    assert p.frame_count == audio.frame_count(FPS) == 151  # 5.013 s
    assert p.duration == pytest.approx(151 / FPS)
    assert p.frame_of(p.time_of(37)) == 37 and p.frame_of(-1.0) == 0 and p.frame_of(99.0) == 150


def test_evaluate_without_edits_is_the_base_layer(reference, audio):
    p = make_project(reference, audio)
    st = p.evaluate(40)
    assert isinstance(st, FrameState)
    assert np.allclose(st.mesh, reference.rest_mesh + p.base.offsets[40])
    assert np.allclose(st.pose, p.base.pose[40])
    expect = project_points(st.mesh, reference.transform, st.pose, reference.width, reference.height)
    assert np.allclose(st.landmarks_px, expect)
    assert st.values["rx"] == 0.0 and st.values["jawOpen"] == 0.0


def test_pose_key_adds_exactly(reference, audio):
    p = make_project(reference, audio)
    p.channels["rx"].set_key(p.time_of(20), 10.0)
    p.notify(Change.of_channels(["rx"]))
    st = p.evaluate(20)
    assert st.pose[0] == pytest.approx(p.base.pose[20, 0] + 10.0, abs=1e-12)
    assert np.allclose(st.pose[1:], p.base.pose[20, 1:])
    assert st.values["rx"] == 10.0
    assert p.evaluate(100).pose[0] == pytest.approx(p.base.pose[100, 0] + 10.0)  # held after the last key


def test_jaw_key_adds_exactly_the_rig_offsets(reference, audio):
    rig = load_rig()
    base = make_base(audio.frame_count(FPS))
    base.offsets[:] = 0.0
    p = make_project(reference, audio, base)
    p.channels["jawOpen"].set_key(1.0, 0.6, Interpolation.LINEAR)
    p.channels["jawOpen"].set_key(2.0, 0.0)  # no notify: the cache follows the curve's revision
    st = p.evaluate(30)
    assert np.array_equal(st.mesh, reference.rest_mesh + rig.offsets_frame({"jawOpen": 0.6}))
    mid = p.evaluate(45)  # linear midpoint
    assert np.allclose(mid.mesh, reference.rest_mesh + rig.offsets_frame({"jawOpen": 0.3}), atol=1e-6)
    assert mid.values["jawOpen"] == pytest.approx(0.3)
    assert np.array_equal(p.evaluate(75).mesh, reference.rest_mesh)  # after the last key at 0


def test_gains(reference, audio):
    p = make_project(reference, audio)
    p.channels["ry"].set_key(1.0, 5.0)
    p.set_gains(Gains(lip=0.0, head=0.0))
    st = p.evaluate(50)
    assert np.array_equal(st.mesh, reference.rest_mesh)  # lip 0: no base offsets, no edits
    assert np.allclose(st.pose, [0, 5.0, 0, 0, 0, 0])  # head 0: pose == channel values
    p.set_gains(Gains(lip=0.5, head=2.0))
    st = p.evaluate(50)
    assert np.allclose(st.mesh, reference.rest_mesh + 0.5 * p.base.offsets[50], atol=1e-7)
    assert np.allclose(st.pose, 2.0 * p.base.pose[50] + [0, 5.0, 0, 0, 0, 0])


def test_blink_gain_and_smoothing_keeps_blinks(reference, audio):
    rig = reference.rig  # blinks use the face-fitted lids
    base = make_base(audio.frame_count(FPS), blinks=True)
    p = make_project(reference, audio, base)
    blink = rig.offsets({"eyeBlinkLeft": base.weights["eyeBlinkLeft"], "eyeBlinkRight": base.weights["eyeBlinkRight"]})
    p.set_gains(Gains(lip=0.0, blink=1.0))
    closed = p.evaluate(63).mesh
    assert np.allclose(closed, reference.rest_mesh + blink[63], atol=1e-6)
    assert abs(closed[386, 1] - closed[374, 1]) < 0.05 and abs(closed[159, 1] - closed[145, 1]) < 0.05
    p.set_gains(Gains(lip=0.0, blink=0.0))
    assert np.allclose(p.evaluate(63).mesh, reference.rest_mesh, atol=1e-6)
    assert p.evaluate(63).base_values["eyeBlinkLeft"] == pytest.approx(1.0)
    # Smoothing (sigma 0.3 s) damps the 1.3 Hz expression and the pose, not the 6-frame blink.
    p.set_gains(Gains(smoothing=0.3))
    offsets, pose = p.base_arrays()
    expr = base.offsets - blink
    assert np.abs(offsets - blink)[30:-30].max() < 0.2 * np.abs(expr).max()  # away from the ends
    assert np.abs(offsets[63] - blink[63]).max() < 0.2 * np.abs(expr).max()  # the blink peak is intact
    assert np.abs(np.diff(pose, axis=0)).max() < 0.6 * np.abs(np.diff(base.pose, axis=0)).max()


def test_evaluate_motion_matches_evaluate(reference, audio):
    p = make_project(reference, audio)
    p.channels["tz"].set_key(0.5, -2.0)
    p.channels["tz"].set_key(3.0, 1.0, Interpolation.EASE_IN_OUT)
    p.channels["mouthSmileLeft"].set_key(1.0, 0.8)
    p.channels["mouthSmileLeft"].set_key(2.0, 0.1)
    p.set_gains(Gains(lip=1.5, head=0.7, smoothing=0.05))
    motion = p.evaluate_motion(10, 120)
    assert motion.frame_count == 110 and motion.fps == FPS
    for f in (10, 33, 47, 119):
        st = p.evaluate(f)
        assert np.allclose(motion.mesh[f - 10], st.mesh, atol=1e-6)
        assert np.allclose(motion.pose[f - 10], st.pose)
    lm = motion.landmarks_px(reference.transform, reference.width, reference.height)
    assert np.allclose(lm[23], p.evaluate(33).landmarks_px, atol=1e-4)
    assert p.evaluate_motion().frame_count == p.frame_count


def test_changed_signal_and_cache_invalidation(reference, audio):
    p = make_project(reference, audio)
    seen = []
    p.changed.connect(seen.append)
    before = p.evaluate(5).pose.copy()
    p.gains.head = 0.0  # in-place edit without notify: the cache still compares the gains
    assert np.allclose(p.evaluate(5).pose, 0.0) and not np.allclose(before, 0.0)
    curve = Curve()
    curve.set_key(0.0, 3.0)
    p.set_channel("tx", curve)
    p.set_in_out((1.0, 2.0))
    assert seen == [Change(ChangeKind.CHANNELS, ("tx",)), Change(ChangeKind.IN_OUT)]
    assert p.evaluate(5).pose[3] == 3.0
    with pytest.raises(ValueError):
        p.set_in_out((2.0, 1.0))
    with pytest.raises(KeyError):
        p.set_channel("nope", Curve())


def test_set_fps_resamples_base_and_keeps_keys(reference, audio):
    p = make_project(reference, audio)
    p.channels["rz"].set_key(1.0, 4.0, Interpolation.LINEAR)
    p.channels["rz"].set_key(2.0, 8.0)
    pose30 = p.base.pose[30].copy()
    p.set_fps(25.0)
    assert p.frame_count == audio.frame_count(25.0) == 126
    assert np.allclose(p.base.pose[25], pose30)  # t = 1 s in both rates
    assert p.evaluate(25).pose[2] == pytest.approx(pose30[2] + 4.0)
    assert p.frame_of(1.4) == 35 and p.evaluate(35).values["rz"] == pytest.approx(5.6)  # linear key at 1.4 s


def test_set_channels_notifies_once_and_invalidates_every_channel(reference, audio):
    p = make_project(reference, audio)
    before = p.evaluate(10)  # fills the per-channel sample cache
    seen = []
    p.changed.connect(seen.append)
    curves = {}
    for name, value in (("rx", 2.0), ("ty", -1.0), ("jawOpen", 0.5)):
        curves[name] = Curve()
        curves[name].set_key(0.0, value)
    p.set_channels(curves)
    assert seen == [Change(ChangeKind.CHANNELS, ("rx", "ty", "jawOpen"))]  # one notification for the whole edit
    assert all(p.channels[n] is c for n, c in curves.items())
    st = p.evaluate(10)
    assert st.values["rx"] == 2.0 and st.values["ty"] == -1.0 and st.values["jawOpen"] == 0.5
    assert st.pose[0] == pytest.approx(before.pose[0] + 2.0) and st.pose[4] == pytest.approx(before.pose[4] - 1.0)

    with pytest.raises(KeyError):  # an unknown name changes nothing
        p.set_channels({"rz": Curve(), "nope": Curve()})
    p.set_channels({})
    assert len(seen) == 1 and p.channels["rx"] is curves["rx"]


def test_set_base_swaps_base_and_backend_choice(reference, audio):
    p = make_project(reference, audio)
    assert p.a2l.name == "embedded" and p.renderer.name == "warp"  # the defaults
    seen = []
    p.changed.connect(seen.append)
    p.evaluate(5)
    base = make_base(p.frame_count, seed=3)
    choice = Choice("fake", FakeConfig(amplitude=0.2))
    p.set_base(base, choice)
    assert seen == [Change(ChangeKind.BASE)]
    assert p.base is base and p.a2l is choice
    assert np.allclose(p.evaluate(5).pose, base.pose[5])  # the cached base arrays were dropped


def test_evaluate_is_a_slice_of_evaluate_motion(reference, audio):
    p = make_project(reference, audio)
    p.channels["jawOpen"].set_key(1.0, 0.7)
    p.channels["ry"].set_key(0.5, 4.0)
    motion = p.evaluate_motion()
    lm = motion.landmarks_px(reference.transform, reference.width, reference.height)
    for f in (0, 31, 150):
        st = p.evaluate(f)
        np.testing.assert_array_equal(st.mesh, motion.mesh[f])
        np.testing.assert_array_equal(st.pose, motion.pose[f])
        np.testing.assert_array_equal(st.landmarks_px, lm[f])


def test_unknown_backend_is_a_clear_error():
    from engine.errors import BackendError

    with pytest.raises(BackendError, match="unknown Audio2Lmk backend 'nope'; known: embedded"):
        A2L_BACKENDS.get("nope")
