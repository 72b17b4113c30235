"""The headless main job end to end, as a user runs it: real portrait, espeak-ng speech, MP4 decoded back."""
import math
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from tests.media import espeak_wav, media

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return espeak_wav("Bob made a map of the moon.", tmp_path_factory.mktemp("speech") / "speech.wav")


def test_render_writes_h264_aac_with_all_extras(tmp_path, speech):
    out = tmp_path / "talk.mp4"
    result = run_cli("render", media("portraits/AniPortrait__Aragaki.png"), speech, "-o", out, "--fps", 25,
                     "--landmarks", tmp_path / "lm.npz", "--pose-video", tmp_path / "pose.mp4",
                     "--transcript", "Bob made a map of the moon.")
    assert result.returncode == 0, result.stderr
    import soundfile as sf

    duration = sf.info(str(speech)).duration
    with av.open(str(out)) as container:
        v, a = container.streams.video[0], container.streams.audio[0]
        assert v.codec_context.name == "h264" and a.codec_context.name == "aac"
        assert (v.codec_context.width, v.codec_context.height) == (512, 512)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(v)]
    assert len(frames) == math.ceil(duration * 25 - 1e-9)
    # the face moves: frames differ over time, most of all around the mouth
    diffs = [np.abs(frames[i].astype(int) - frames[0].astype(int)).mean() for i in range(len(frames))]
    assert max(diffs) > 1.0
    lm = np.load(tmp_path / "lm.npz", allow_pickle=False)
    assert lm["landmarks_2d"].shape == (len(frames), 468, 2) and lm["pose"].shape == (len(frames), 6)
    assert float(lm["fps"]) == 25
    with av.open(str(tmp_path / "pose.mp4")) as container:
        assert container.streams.video[0].codec_context.width == 512


def test_demo_speaks_its_sentence(tmp_path):
    """The README's main job: the built-in portrait speaks a synthesized sentence into an H.264+AAC file."""
    out = tmp_path / "demo.mp4"
    result = run_cli("demo", "-o", out, "--text", "Bob made a map.")
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        v = container.streams.video[0]
        assert v.codec_context.name == "h264" and container.streams.audio[0].codec_context.name == "aac"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(v)]
    assert len(frames) > 20 and max(np.abs(f.astype(int) - frames[0]).mean() for f in frames) > 1.0


def test_predict_writes_motion_and_mouth_cues(tmp_path, speech):
    out = tmp_path / "motion.npz"
    result = run_cli("predict", speech, "--portrait", media("portraits/hallo__6.jpg"), "-o", out, "--accurate-phones",
                     "--mouth-cues", tmp_path / "cues.tsv", "--pose-template-out", tmp_path / "pose_temp.npy")
    assert result.returncode == 0, result.stderr
    data = np.load(out, allow_pickle=False)
    assert data["mesh"].shape[1:] == (468, 3) and float(data["fps"]) == 30
    assert tuple(data["image_size"]) == (512, 512)
    lines = (tmp_path / "cues.tsv").read_text().strip().splitlines()
    assert lines[0].startswith("0.00") and lines[-1].endswith("X")
    template = np.load(tmp_path / "pose_temp.npy", allow_pickle=False)
    assert template.dtype == np.float64 and template.shape[1] == 6


@pytest.mark.parametrize("args, message", [
    (("render", "missing.png", "AUDIO", "-o", "x.mp4"), "image not found"),
    (("render", "not_a_person/LivePortrait__s25.jpg", "AUDIO", "-o", "x.mp4"), "no face found"),
    (("render", "portraits/hallo__6.jpg", "talking_videos/EDTalk__mouth_source.mp4", "-o", "x.mp4"),
     "no audio stream"),
    (("render", "portraits/hallo__6.jpg", "BADAUDIO", "-o", "x.mp4"), "cannot read"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, speech, args, message):
    bad_audio = tmp_path / "bad.wav"
    bad_audio.write_bytes(b"RIFF....not audio at all")
    resolved = []
    for a in args:
        if a == "AUDIO":
            a = speech
        elif a == "BADAUDIO":
            a = bad_audio
        elif "/" in a and not a.startswith("-"):
            a = media(a)
        resolved.append(a)
    result = run_cli(*resolved[:-1], tmp_path / "x.mp4")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("talkline: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.mp4").exists()
