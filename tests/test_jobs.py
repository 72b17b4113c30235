"""Render jobs: outputs at other sizes and frame rates, progress, cancel."""
import math

import av
import numpy as np
import pytest

from engine.audio.decode import load_audio
from engine.errors import RenderCancelled
from engine.face.reference import analyze_portrait
from engine.jobs import RenderJob, RenderSettings
from engine.motion import Motion
from tests.media import espeak_wav, media


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    audio = load_audio(espeak_wav("Hello there", tmp_path_factory.mktemp("a") / "s.wav"))
    ref = analyze_portrait(media("portraits/hallo__6.jpg"))
    n = audio.frame_count(30)
    pose = np.zeros((n, 6))
    pose[:, 1] = np.linspace(0, 10, n)  # a slow head turn
    return ref, audio, Motion(30.0, np.repeat(ref.rest_mesh[None], n, 0), pose)


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
