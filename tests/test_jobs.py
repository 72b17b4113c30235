"""Render jobs: outputs at other sizes and frame rates, progress, cancel, renderers from the registry."""
import math

import av
import numpy as np
import pytest

from engine.audio.decode import load_audio
from engine.errors import BackendError, RenderCancelled
from engine.jobs import RenderJob, RenderSettings
from engine.motion import Motion
from engine.plugins import Choice
from engine.sources.portrait import PortraitSource
from tests.media import espeak_wav, media
from tests.seams import FlatConfig, NeedsWeightsA2L, synthetic_source


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    audio = load_audio(espeak_wav("Hello there", tmp_path_factory.mktemp("a") / "s.wav"))
    source = PortraitSource.analyze(media("portraits/hallo__6.jpg"))
    n = audio.frame_count(30)
    pose = np.zeros((n, 6))
    pose[:, 1] = np.linspace(0, 10, n)  # a slow head turn
    return source, audio, Motion(30.0, np.repeat(source.fitted.rest_mesh[None], n, 0), pose)


def test_motion_resampling_is_linear_in_time(inputs):
    _, _, motion = inputs
    m25 = motion.resampled(25.0)
    assert m25.frame_count == math.ceil(motion.frame_count / 30 * 25 - 1e-9)
    expected = motion.pose[8, 1] * 0.6 + motion.pose[9, 1] * 0.4  # frame 7 at 25 fps lies at frame 8.4 at 30 fps
    assert m25.pose[7, 1] == pytest.approx(expected)
    assert motion.resampled(30.0) is motion


def test_render_at_another_size_and_fps(tmp_path, inputs):
    ref, audio, motion = inputs
    out = tmp_path / "small.mp4"
    job = RenderJob(ref, motion, audio, RenderSettings(output=str(out), size=256, fps=25.0))
    progress = list(job.run())
    assert progress[-1].done == progress[-1].total == math.ceil(motion.frame_count / 30 * 25 - 1e-9)
    assert job.outputs == [str(out)]
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (256, 256)
        assert float(v.base_rate) == pytest.approx(25.0)
        assert sum(1 for _ in c.decode(v)) == progress[-1].total


def test_cancel_leaves_no_file_and_keeps_an_existing_one(tmp_path, inputs):
    ref, audio, motion = inputs
    out = tmp_path / "take.mp4"
    out.write_bytes(b"previous render")
    job = RenderJob(ref, motion, audio, RenderSettings(output=str(out), landmarks=str(tmp_path / "lm.npz")))
    with pytest.raises(RenderCancelled):
        for p in job.run():
            if p.done == 3:
                job.cancel()
    assert out.read_bytes() == b"previous render"
    assert not (tmp_path / "lm.npz").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["take.mp4"]  # no temp files left behind


def test_a_full_disk_at_the_end_of_a_render_keeps_every_previous_output(tmp_path, inputs, monkeypatch):
    """The outputs were committed one by one: a pose video or landmark file that then failed on a full disk left
    the new render beside the old landmarks (or the other way round). Everything that can fail comes first."""
    from engine.errors import ExportError
    from engine.export.video import VideoWriter

    ref, audio, motion = inputs
    olds = {name: f"previous {name}".encode() for name in ("take.mp4", "pose.mp4", "lm.npz")}
    for name, data in olds.items():
        (tmp_path / name).write_bytes(data)
    finish = VideoWriter.finish

    def full_on_the_pose_video(self):
        if self.path.endswith("pose.mp4"):
            self.abort()
            raise ExportError(f"cannot write {self.path}: No space left on device")
        finish(self)

    monkeypatch.setattr(VideoWriter, "finish", full_on_the_pose_video)
    job = RenderJob(ref, motion, audio, RenderSettings(output=str(tmp_path / "take.mp4"), landmarks=str(
        tmp_path / "lm.npz"), pose_video=str(tmp_path / "pose.mp4")))
    with pytest.raises(ExportError, match="No space left"):
        list(job.run())
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == olds


def test_a_windowed_renderer_from_the_registry_drives_the_job(tmp_path, fake_backends):
    """The fake renderer yields frames in batches (like a diffusion renderer's context windows): the job writes
    every frame in order, with the landmarks the motion projects to."""
    source = synthetic_source(128)
    n = 11
    pose = np.zeros((n, 6))
    pose[:, 1] = np.linspace(0, 12, n)
    motion = Motion(25.0, np.repeat(source.fitted.rest_mesh[None], n, 0), pose)
    frames_dir = tmp_path / "frames"
    job = RenderJob(source, motion, None, RenderSettings(frames_dir=str(frames_dir),
                                                          renderer=Choice("flat", FlatConfig(window=4))))
    assert [p.done for p in job.run()] == list(range(1, n + 1))
    import cv2

    ref = source.reference
    lm = motion.landmarks_px(ref.transform, ref.width, ref.height)
    for i in (0, 5, 10):
        frame = cv2.imread(str(frames_dir / f"frame_{i + 1:06d}.png"))
        x, y = np.round(lm[i, 1]).astype(int)  # a landmark the fake draws white
        assert tuple(frame[y, x]) == (255, 255, 255)
    assert len(list(frames_dir.glob("frame_*.png"))) == n


def test_an_unknown_or_unavailable_renderer_fails_before_rendering(tmp_path, fake_backends):
    from engine.plugins import RENDERERS

    source = synthetic_source(64)
    motion = Motion(25.0, source.fitted.rest_mesh[None], np.zeros((1, 6)))
    with pytest.raises(BackendError, match="unknown renderer 'nope'"):
        RenderJob(source, motion, None, RenderSettings(output=str(tmp_path / "x.mp4"), renderer=Choice("nope", None)))
    RENDERERS.register("gpu_only", NeedsWeightsA2L)  # any class with available() saying no
    try:
        with pytest.raises(BackendError, match="cannot run here: needs a weights folder"):
            RenderJob(source, motion, None, RenderSettings(output=str(tmp_path / "x.mp4"),
                                                            renderer=Choice("gpu_only", NeedsWeightsA2L.Config())))
    finally:
        RENDERERS.unregister("gpu_only")
    assert not list(tmp_path.iterdir())


def test_streamed_project_motion_equals_the_documents_evaluation(tmp_path):
    """The job evaluates a project a chunk at a time (memory flat in length) to exactly what the document
    evaluates, edits, gains and smoothing included; resampled chunks equal the resampled whole."""
    import shutil
    from pathlib import Path

    from engine.document.project_io import load_project
    from engine.jobs import LandmarkSequence, MotionChunks

    fixtures = Path(__file__).parent / "fixtures"
    shutil.copy(fixtures / "schema1.talkline", tmp_path)
    shutil.copy(fixtures / "schema1_speech.wav", tmp_path)
    project = load_project(tmp_path / "schema1.talkline")
    whole = project.evaluate_motion(5, 33)
    chunks = MotionChunks.of_project(project, 5, 33)
    assert chunks.frame_count == whole.frame_count
    # Edits after the job was made don't leak into it.
    from engine.document.curves import Curve

    jaw = Curve()
    jaw.set_key(0.0, 1.0)
    project.set_channel("jawOpen", jaw)
    for a, b in ((0, 7), (7, 14), (20, 28)):
        part = chunks.chunk(a, b)
        np.testing.assert_allclose(part.mesh, whole.mesh[a:b], atol=1e-9)
        np.testing.assert_allclose(part.pose, whole.pose[a:b], atol=1e-9)
    ref = project.reference
    expected = whole.resampled(50.0).landmarks_px(ref.transform, ref.width, ref.height)
    seq = LandmarkSequence(chunks.resampled(50.0), ref.transform, ref.width, ref.height, chunk_frames=6)
    assert len(seq) == len(expected) and seq.shape == expected.shape
    np.testing.assert_allclose(seq[4:17], expected[4:17], atol=1e-9)  # across chunk boundaries
    np.testing.assert_allclose(seq[-1], expected[-1], atol=1e-9)
    np.testing.assert_allclose(np.stack(list(seq)), expected, atol=1e-9)


def test_predicts_landmark_arrays_equal_the_whole_evaluation_chunk_by_chunk(tmp_path, monkeypatch):
    """`predict` fills the landmark .npz's arrays a chunk at a time (a whole-length evaluation held ~12 float64
    copies: 1.4 GB for 6 min); they equal the whole evaluation, across chunk boundaries too."""
    import shutil
    from pathlib import Path

    from engine import jobs
    from engine.document.project_io import load_project

    fixtures = Path(__file__).parent / "fixtures"
    shutil.copy(fixtures / "schema1.talkline", tmp_path)
    shutil.copy(fixtures / "schema1_speech.wav", tmp_path)
    project = load_project(tmp_path / "schema1.talkline")
    monkeypatch.setattr(jobs, "CHUNK_FRAMES", 7)  # several chunks, the last one short
    landmarks, mesh, pose = jobs.landmark_arrays(project)
    whole, ref = project.evaluate_motion(), project.reference
    assert landmarks.dtype == mesh.dtype == pose.dtype == np.float32
    np.testing.assert_allclose(landmarks, whole.landmarks_px(ref.transform, ref.width, ref.height), atol=1e-3)
    np.testing.assert_allclose(mesh, whole.mesh, atol=1e-5)
    np.testing.assert_allclose(pose, whole.pose, atol=1e-5)


def test_a_long_render_holds_one_chunk_of_motion_at_a_time(tmp_path, fake_backends, monkeypatch):
    """Frames flow through in order while the motion is evaluated chunk by chunk: no evaluation spans more
    than CHUNK_FRAMES, and a chunk is evaluated once."""
    import engine.jobs as jobs
    from engine.jobs import MotionChunks

    monkeypatch.setattr(jobs, "CHUNK_FRAMES", 16)
    source = synthetic_source(64)
    n = 100
    pose = np.zeros((n, 6))
    pose[:, 1] = np.linspace(0, 12, n)
    motion = Motion(25.0, np.repeat(source.fitted.rest_mesh[None], n, 0), pose)
    spans = []

    def evaluate(a, b):
        spans.append((a, b))
        return Motion(25.0, motion.mesh[a:b], motion.pose[a:b])

    out = tmp_path / "long.mp4"
    job = RenderJob(source, MotionChunks(25.0, n, evaluate), None,
                    RenderSettings(output=str(out), landmarks=str(tmp_path / "l.npz"),
                                   renderer=Choice("flat", FlatConfig(window=5))))
    assert [p.done for p in job.run()] == list(range(1, n + 1))
    assert max(b - a for a, b in spans) <= 16 and len(spans) == len(set(spans)) == -(-n // 16)
    saved = np.load(tmp_path / "l.npz")["landmarks_2d"]
    ref = source.reference
    np.testing.assert_allclose(saved, motion.landmarks_px(ref.transform, ref.width, ref.height), atol=1e-3)
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(c.streams.video[0])) == n


def test_an_encoder_error_on_the_writer_thread_fails_the_job_and_leaves_no_file(tmp_path, inputs, monkeypatch):
    from engine.errors import ExportError
    from engine.export.video import VideoWriter

    source, audio, motion = inputs
    calls = {"n": 0}
    original = VideoWriter.write

    def failing(self, frame):
        calls["n"] += 1
        if calls["n"] == 5:
            raise ExportError("disk full")
        return original(self, frame)

    monkeypatch.setattr(VideoWriter, "write", failing)
    out = tmp_path / "x.mp4"
    with pytest.raises(ExportError, match="disk full"):
        list(RenderJob(source, motion, audio, RenderSettings(output=str(out), size=128)).run())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("smoothing", [0.0, 0.02, 0.3])
def test_a_window_of_the_base_equals_those_frames_of_the_whole(tmp_path, smoothing):
    """Renders evaluate the base layer a window at a time (smoothing margin included) to stay flat in memory;
    every window, at the ends too, equals the document's full-length evaluation."""
    import shutil
    from dataclasses import replace
    from pathlib import Path

    from engine.document.project import evaluate_base
    from engine.document.project_io import load_project

    fixtures = Path(__file__).parent / "fixtures"
    shutil.copy(fixtures / "schema1.talkline", tmp_path)
    shutil.copy(fixtures / "schema1_speech.wav", tmp_path)
    project = load_project(tmp_path / "schema1.talkline")
    project.set_gains(replace(project.gains, smoothing=smoothing))  # 0.3 s: a 36-frame kernel, wider than windows
    offsets, pose = project.base_arrays()
    n = project.frame_count
    for a, b in ((0, 1), (0, 5), (3, 11), (17, 18), (n - 6, n), (n - 1, n), (0, n)):
        part_offsets, part_pose = evaluate_base(project.base, project.rig, project.fps, project.gains, a, b)
        np.testing.assert_allclose(part_offsets, offsets[a:b], atol=1e-12)
        np.testing.assert_allclose(part_pose, pose[a:b], atol=1e-12)


def test_a_render_the_free_memory_cannot_hold_is_refused_with_the_size_that_fits(tmp_path, monkeypatch):
    from engine import limits
    from engine.errors import MemoryLimitError

    source = synthetic_source(256)
    motion = Motion(25.0, np.repeat(source.fitted.rest_mesh[None], 3, 0), np.zeros((3, 6)))
    monkeypatch.setattr(limits, "free_memory_bytes", lambda: 2 * 2**20)  # 2 MB free: 256^2 frames need ~6 MB
    with pytest.raises(MemoryLimitError, match=r"needs about .* for 256x256 frames, more than the 0.0 GB free: "
                                                r"render at a size of 14\d px or less \(--size\)"):
        RenderJob(source, motion, None, RenderSettings(output=str(tmp_path / "x.mp4")))
    assert not list(tmp_path.iterdir())
    # a landmark export alone needs ~8 KB a frame
    RenderJob(source, motion, None, RenderSettings(landmarks=str(tmp_path / "lm.npz")))
    monkeypatch.setattr(limits, "free_memory_bytes", lambda: 10_000)
    with pytest.raises(MemoryLimitError, match="render a shorter range"):
        RenderJob(source, motion, None, RenderSettings(landmarks=str(tmp_path / "lm.npz")))


def test_free_memory_is_read_from_the_system():
    from engine.limits import free_memory_bytes, memory_shortfall

    free = free_memory_bytes()
    assert free is None or 0 < free < 2**50
    assert memory_shortfall(1) is None and memory_shortfall(2**60) is not None


def test_a_project_rendered_at_another_rate_covers_its_audio(tmp_path):
    """A 25 fps project of 4.405 s rendered at 60 fps made 267 frames (its 111 whole frames, 4.44 s, at 60 fps)
    and padded the audio with silence; a direct render at 60 fps makes ceil(4.405 x 60) = 265."""
    from engine.audio.decode import AudioClip
    from engine.document.project import Project
    from engine.jobs import MotionChunks
    from engine.sources.audio import AudioSource
    from engine.timing import frames_covering
    from tests.seams import synthetic_source
    from tests.test_project import make_base

    rate = 16000
    clip = AudioClip(samples=np.zeros((int(4.405 * rate), 1), np.float32), rate=rate)
    project = Project(synthetic_source(), AudioSource("take.wav", clip), 25.0, make_base(clip.frame_count(25.0)))
    assert project.frame_count == 111
    chunks = MotionChunks.of_project(project)
    assert chunks.resampled(60.0).frame_count == frames_covering(4.405, 60.0) == 265
    assert chunks.resampled(24.0).frame_count == frames_covering(4.405, 24.0)
    part = MotionChunks.of_project(project, 50, 75)  # a range: its own whole frames
    assert part.resampled(50.0).frame_count == 50
    tail = MotionChunks.of_project(project, 100)  # a range to the end: up to the audio's end
    assert tail.resampled(60.0).frame_count == frames_covering(4.405 - 4.0, 60.0)
    # audio shorter than the animation (relinked to a shorter take): the animation's length, not the audio's
    short = AudioClip(samples=np.zeros((2 * rate, 1), np.float32), rate=rate)
    project.audio_source = AudioSource("short.wav", short)
    assert MotionChunks.of_project(project).resampled(50.0).frame_count == frames_covering(111 / 25.0, 50.0)
    assert MotionChunks.of_project(project, 60, 90).resampled(50.0).frame_count == 60
    # a range from the first frame is a range (its image sequence keeps the other ranges' frames)
    from engine.jobs import RenderJob, RenderSettings

    settings = RenderSettings(frames_dir=str(tmp_path / "f"))
    assert RenderJob.for_project(project, settings).whole and not RenderJob.for_project(project, settings, 0, 10).whole


def test_a_turn_past_what_the_warp_can_show_is_rendered_at_its_limit(tmp_path, inputs):
    """A typed 90 degree turn tore the face (the warp cannot show the far side of a head): the warp renders the
    furthest turn it can show instead and the render says where; the landmark export keeps the turn."""
    from engine.render.warp import WarpBackend

    source, _, _ = inputs
    pose = np.zeros((6, 6))
    pose[:, 1] = [0.0, 10.0, 20.0, 40.0, 90.0, 90.0]
    pose[5, 0] = 40.0  # a nod on top of the turn
    motion = Motion(30.0, np.repeat(source.fitted.rest_mesh[None], 6, 0), pose)
    job = RenderJob(source, motion, None, RenderSettings(frames_dir=str(tmp_path / "f"),
                                                          landmarks=str(tmp_path / "lm.npz")))
    with pytest.warns(UserWarning, match=r"^f: the head turns further than the warp renderer can show between 0\.1 "
                                         r"and 0\.2 s \(pitch 40, yaw 90 degrees at most, from the picture's own "
                                         r"pose\): shown turned less"):
        list(job.run())
    np.testing.assert_allclose(np.load(tmp_path / "lm.npz")["pose"], pose, atol=1e-4)

    limit = WarpBackend.capabilities.turn_limit
    shown = limit.shown(pose)
    np.testing.assert_array_equal(shown[:3], pose[:3])  # speech-sized and moderate turns as animated
    assert 30.0 < shown[4, 1] < 40.0 and shown[5, 1] < shown[4, 1] and 0.0 < shown[5, 0] < 25.0

    import cv2

    # the frames are those of the same warp without a limit, animated at the shown turns
    import dataclasses

    from engine.plugins import RENDERERS

    class UnlimitedWarp(WarpBackend):
        name = "unlimited_warp"
        capabilities = dataclasses.replace(WarpBackend.capabilities, turn_limit=None)

    RENDERERS.register(UnlimitedWarp.name, UnlimitedWarp)
    try:
        list(RenderJob(source, Motion(30.0, motion.mesh, shown), None, RenderSettings(
            frames_dir=str(tmp_path / "g"), renderer=Choice(UnlimitedWarp.name, UnlimitedWarp.Config()))).run())
    finally:
        RENDERERS.unregister(UnlimitedWarp.name)
    for i in range(6):
        rendered, expected = (cv2.imread(str(tmp_path / d / f"frame_{i + 1:06d}.png")) for d in ("f", "g"))
        assert np.abs(rendered.astype(int) - expected).max() <= 1  # the pose's float rounding at most
