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
