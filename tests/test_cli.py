"""The headless main job end to end, as a user runs it: real portrait, espeak-ng speech, MP4 decoded back."""
import math
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from PIL import Image

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
    assert "warning" not in result.stderr  # a first run was warned about the demo's own temporary picture
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
    # the cues show the mouth on its own frames: they lagged the animated mouth (led 50 ms) by a frame
    from engine.face.contours import lip_gap_ratio

    gap = lip_gap_ratio(data["mesh"])
    starts = np.array([float(line.split("\t")[0]) for line in lines])
    opening = {"A": 0.0, "B": 0.2, "C": 0.5, "D": 0.9, "E": 0.5, "F": 0.3, "G": 0.1, "H": 0.4, "X": 0.0}
    cue = np.array([opening[lines[np.searchsorted(starts, i / 30 + 1e-9, side="right") - 1].split("\t")[1]]
                    for i in range(len(gap))])
    r = {shift: np.corrcoef(gap[max(0, -shift):len(gap) - max(0, shift)],
                            cue[max(0, shift):len(cue) - max(0, -shift)])[0, 1] for shift in (-1, 0, 1)}
    assert r[0] > max(r[-1], r[1]) and r[0] > 0.5, r
    template = np.load(tmp_path / "pose_temp.npy", allow_pickle=False)
    assert template.dtype == np.float64 and template.shape[1] == 6


@pytest.mark.parametrize("args, message", [
    (("render", "missing.png", "AUDIO", "-o", "x.mp4"), "image not found"),
    (("render", "not_a_person/LivePortrait__s25.jpg", "AUDIO", "-o", "x.mp4"), "no face found"),
    (("render", "portraits/hallo__6.jpg", "talking_videos/EDTalk__mouth_source.mp4", "-o", "x.mp4"),
     "no audio stream"),
    (("render", "portraits/hallo__6.jpg", "BADAUDIO", "-o", "x.mp4"), "cannot read"),
    (("dub", "portraits/hallo__6.jpg", "AUDIO", "-o", "x.mp4"), "is a still image, not a video"),
    (("reenact", "portraits/hallo__6.jpg", "portraits/hallo__7.jpg", "-o", "x.mp4"), "is a still image, not a video"),
    (("render", "talking_videos/Talking-Face_PC-AVS__00015.mp4", "AUDIO", "-o", "x.mp4"),
     "is a video, not a portrait image: lip-sync it with `dub VIDEO AUDIO`"),
    (("dub", "talking_videos/Talking-Face_PC-AVS__00015.mp4", "AUDIO", "--fps", "30", "-o", "x.mp4"),
     "unrecognized arguments: --fps"),
    (("render", "portraits/hallo__6.jpg", "NANAUDIO", "-o", "x.mp4"), "invalid samples (NaN or infinity)"),
    (("render", "portraits/hallo__6.jpg", "AUDIO", "--transcript", "TYPO", "-o", "x.mp4"),
     "transcript file not found"),
    (("render", "portraits/hallo__6.jpg", "AUDIO", "--transcript", "TYPO_SPACED", "-o", "x.mp4"),
     "transcript file not found"),
    (("render", "portraits/hallo__6.jpg", "AUDIO", "--lip-intensity", "5", "-o", "x.mp4"), "between 0 and 3"),
    (("render", "portraits/hallo__6.jpg", "AUDIO", "--language", "french", "-o", "x.mp4"),
     "argument --language: espeak-ng knows no language 'french'"),  # (not "the backend cannot run here")
    (("dub", "CUTVIDEO", "AUDIO", "-o", "x.mp4"),  # said "[Errno 1094995529] ... 'avcodec_receive_frame()'"
     "cut.mp4: Invalid data found when processing input (the file is damaged or cut short)"),
    (("render", "FIFO", "AUDIO", "-o", "x.mp4"), "is not a file but a pipe or a device"),  # hung
    (("dub", "FIFO", "AUDIO", "-o", "x.mp4"), "is not a file but a pipe or a device: save the video"),  # hung
    (("reenact", "portraits/hallo__6.jpg", "FIFO", "-o", "x.mp4"), "is not a file but a pipe or a device"),  # hung
    (("dub", "/dev/null", "AUDIO", "-o", "x.mp4"), "/dev/null is not a file but a pipe or a device"),
    (("render", "portraits/hallo__6.jpg", "AUDIO", "--transcript", "NULTEXT", "-o", "x.mp4"),
     "NULTEXT.txt is not a text file"),  # named the file's text, NUL and all
    (("render", "portraits/hallo__6.jpg", "/dev/zero", "-o", "x.mp4"),
     "/dev/zero is not a file but a pipe or a device: save the audio"),  # said "empty (0 bytes)"
    (("render", "SVG", "AUDIO", "-o", "x.mp4"), "cannot read image"),  # AttributeError in the video probe
    (("dub", "SVG", "AUDIO", "-o", "x.mp4"), "FFmpeg has no decoder here for its pictures"),
    (("render", "STRIP", "AUDIO", "-o", "x.mp4"), "no face found"),  # 100000 x 4 px: a cv2.resize error
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, speech, args, message):
    bad_audio = tmp_path / "bad.wav"
    bad_audio.write_bytes(b"RIFF....not audio at all")
    nan_audio = tmp_path / "nan.wav"
    soundfile.write(nan_audio, np.where(np.arange(16000) % 100 == 0, np.nan, 0.1).astype(np.float32), 16000,
                    subtype="FLOAT")
    resolved = []
    for a in args:
        if a == "AUDIO":
            a = speech
        elif a == "BADAUDIO":
            a = bad_audio
        elif a == "NANAUDIO":
            a = nan_audio
        elif a == "CUTVIDEO":  # its first 20 kB: the header and a few broken frames
            a = tmp_path / "cut.mp4"
            a.write_bytes(Path(media("talking_videos/Thin-Plate-Spline-Motion-Model__driving.mp4")).read_bytes()[:20000])
        elif a == "NULTEXT":
            a = tmp_path / "NULTEXT.txt"
            a.write_bytes(b"hello\x00world")
        elif a == "FIFO":
            a = tmp_path / "face.png"
            os.mkfifo(a)
        elif a == "SVG":
            a = tmp_path / "face.svg"
            a.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="99" height="99"><circle r="40"/></svg>')
        elif a == "STRIP":
            a = tmp_path / "strip.png"
            Image.fromarray(np.full((4, 100000, 3), 128, np.uint8)).save(a)
        elif a == "TYPO":
            a = tmp_path / "transcrpit.txt"
        elif a == "TYPO_SPACED":
            a = tmp_path / "my takes" / "transcrpit.txt"
        elif "/" in a and not a.startswith(("-", "/dev/")):
            a = media(a)
        resolved.append(a)
    result = run_cli(*resolved[:-1], tmp_path / "x.mp4")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("talkline: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, speech):
    """`dub take.mp4 new.wav -o take.mp4` replaced the user's source video with the dub."""
    take = tmp_path / "take.mp4"
    take.write_bytes(Path(media("talking_videos/Talking-Face_PC-AVS__00015.mp4")).read_bytes())
    before = take.read_bytes()
    for args in (("dub", take, speech, "-o", tmp_path / "." / "take.mp4"),
                 ("render", media("portraits/hallo__6.jpg"), take, "-o", take)):
        result = run_cli(*args)
        assert result.returncode == 2 and "is also an input" in result.stderr and "Traceback" not in result.stderr
    assert take.read_bytes() == before
    # nor over a saved project's own source (the project is the only input named)
    project = tmp_path / "p.talkline"
    result = run_cli("render", media("portraits/hallo__6.jpg"), take, "-o", tmp_path / "a.mp4", "--size", 128,
                     "--save-project", project)
    assert result.returncode == 0, result.stderr
    result = run_cli("render", project, "-o", take)
    assert result.returncode == 2 and "one of the project's own sources" in result.stderr
    assert take.read_bytes() == before


def test_the_kept_source_sound_keeps_its_sample_rate(tmp_path):
    """dub --keep-source-audio mixed at the new speech's rate: a 16 kHz voice-over took the 48 kHz source sound
    down to 16 kHz (its top octave gone)."""
    sys.path.insert(0, str(ROOT))
    from main import _mixed

    from engine.audio.decode import AudioClip, load_audio

    t = np.arange(48000) / 48000
    soundfile.write(tmp_path / "bed.wav", (0.3 * np.sin(2 * np.pi * 12000 * t)).astype(np.float32), 48000)
    voice = AudioClip(samples=(0.3 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000))[:, None].astype(np.float32),
                      rate=16000)
    mix = _mixed(voice, load_audio(tmp_path / "bed.wav", analysed=False), 0.5)
    assert mix.rate == 48000 and mix.duration == pytest.approx(1.0)
    spectrum = np.abs(np.fft.rfft(mix.samples[:, 0]))
    assert spectrum[12000] > 0.4 * spectrum[200]  # (0.5 x its level) the bed's 12 kHz tone is there beside the voice


def test_a_long_typed_transcript_is_text_not_a_file_name(tmp_path, speech):
    text = "Bob made a map of the moon. " * 12  # 336 characters: longer than a file name may be
    result = run_cli("predict", speech, "--portrait", media("portraits/hallo__6.jpg"), "-o", tmp_path / "m.npz",
                     "--transcript", text)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert (tmp_path / "m.npz").is_file()


def test_backends_lists_every_backend_and_why_one_cannot_run(capsys, fake_backends):
    import main

    assert main.main(["backends"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "available" in lines["embedded"] and "not available" not in lines["embedded"]
    assert "available" in lines["warp"] and "not available" not in lines["warp"]
    assert "not available: needs a weights folder (--weights DIR)" in lines["needs_weights"]
    assert main.main(["backends", "--weights", "/some/folder"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert "not available" not in lines["needs_weights"]  # the folder is what it lacked
    # ... its files are there; whether they hold the right weights is what `models check` says (it said available
    # of a folder whose files held the wrong keys, and the render failed later)
    assert "`models check DIR` reads their contents" in lines["needs_weights"]


@pytest.mark.parametrize("extra, message", [
    (("--a2l", "nope"), "unknown Audio2Lmk backend 'nope'; known: embedded"),
    (("--a2l", "needs_weights"), "the Audio2Lmk backend 'needs_weights' cannot run here: needs a weights folder"),
    (("--renderer", "nope"), "unknown renderer 'nope'"),
    (("--a2l-set", "lead=4"), "unknown setting 'lead'"),
    (("--renderer-set", "grid_step=x"), "setting 'grid_step' must be int, got 'x'"),
    # a NaN gain ran the prediction and crashed the render with a traceback; an infinite one saved a project
    # that could not be opened again
    (("--a2l-set", "brow_intensity=nan"), "setting 'brow_intensity' must be a finite number, got 'nan'"),
    (("--a2l-set", "blink_rate=inf"), "setting 'blink_rate' must be a finite number, got 'inf'"),
    (("--a2l-set", "seed=-1"), "seed must be 0 .. 2^32-1, got -1"),
    (("--weights", "/w"), "--weights: none of the chosen backends (embedded, warp) takes a weights folder"),
])
def test_unknown_or_unavailable_backends_exit_2_with_one_line(tmp_path, capsys, fake_backends, extra, message):
    import main

    out = tmp_path / "x.mp4"
    code = main.main(["render", media("portraits/hallo__6.jpg"), media("speech/Real3DPortrait__Obama_5s.wav"),
                      "-o", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("talkline: error:") == 1 and message in err, err
    assert not out.exists()


def test_predict_with_a_registered_backend_and_its_settings(tmp_path, fake_backends):
    import main

    out = tmp_path / "m.npz"
    assert main.main(["predict", media("speech/Real3DPortrait__Obama_5s.wav"), "--portrait",
                      media("portraits/hallo__6.jpg"), "-o", str(out), "--a2l", "fake", "--a2l-set", "amplitude=0.9",
                      "--a2l-set", "period_s=0.5", "--fps", "25", "--head-intensity", "2"]) == 0
    pose = np.load(out)["pose"]
    t = np.arange(len(pose)) / 25
    expected = 2 * 3.0 * 0.9 * (0.5 - 0.5 * np.cos(2 * np.pi * t / 0.5))  # the fake's nod, times the head gain
    np.testing.assert_allclose(pose[:, 0], expected, atol=1e-5)


def test_a_schema_1_project_renders_headless_with_its_edits(tmp_path):
    """The building block of batch rendering: a project saved by the schema-1 release renders to the
    landmarks it evaluated to then (to 0.05 px), with its keys and gains."""
    import shutil

    fixtures = ROOT / "tests" / "fixtures"
    project = tmp_path / "old.talkline"
    shutil.copy(fixtures / "schema1.talkline", project)
    shutil.copy(fixtures / "schema1_speech.wav", tmp_path)
    result = run_cli("render", project, "-o", tmp_path / "out.mp4", "--landmarks", tmp_path / "l.npz")
    assert result.returncode == 0, result.stderr
    expected = np.load(fixtures / "schema1_landmarks.npz")["landmarks"]
    got = np.load(tmp_path / "l.npz")["landmarks_2d"]
    assert got.shape == expected.shape and np.abs(got - expected).max() < 0.05
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == len(expected)
        assert container.streams.audio[0].codec_context.name == "aac"

    result = run_cli("render", project, "--landmarks", tmp_path / "part.npz", "--range", 10, 20)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "part.npz")["landmarks_2d"], expected[10:20], atol=0.05)

    import json
    import zipfile

    with zipfile.ZipFile(project) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(members["project.json"])
    doc["schema_version"] = 99
    members["project.json"] = json.dumps(doc).encode()
    future = tmp_path / "future.talkline"
    with zipfile.ZipFile(future, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    result = run_cli("render", future, "-o", tmp_path / "f.mp4")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "project schema 99; this Talkline reads schemas 1 to 2" in result.stderr
    result = run_cli("render", project, "-o", tmp_path / "r.mp4", "--range", 30, 99)
    assert result.returncode == 2 and "--range 30 99 must satisfy 0 <= START < END <= 39" in result.stderr


def test_a_render_saves_its_project_to_render_again_headless(tmp_path, speech):
    """--save-project: the project a render is made from, reopened headless, renders the same landmarks."""
    result = run_cli("render", media("portraits/hallo__6.jpg"), speech, "-o", tmp_path / "a.mp4", "--fps", 25,
                     "--size", 256, "--landmarks", tmp_path / "a.npz", "--save-project", tmp_path / "p.talkline")
    assert result.returncode == 0, result.stderr
    result = run_cli("render", tmp_path / "p.talkline", "--landmarks", tmp_path / "b.npz", "--range", 0, 5,
                     "--frames", tmp_path / "png")
    assert result.returncode == 0, result.stderr
    # what was written, a PNG sequence as one line (it printed a line per frame)
    assert sorted(result.stdout.splitlines()) == sorted([str(tmp_path / "b.npz"),
                                                         str(tmp_path / "png" / "audio_from_frame_000001.wav"),
                                                         f"{tmp_path / 'png'}: 5 PNG frames"])
    a, b = np.load(tmp_path / "a.npz")["landmarks_2d"], np.load(tmp_path / "b.npz")["landmarks_2d"]
    assert np.abs(a[:5] - b).max() < 1e-3
    result = run_cli("render", media("portraits/hallo__6.jpg"), speech, "-o", tmp_path / "c.mp4",
                     "--save-project", tmp_path / "p.txt")
    assert result.returncode == 2 and ".talkline" in result.stderr


def test_livelink_import_and_export_from_the_command_line(tmp_path):
    """A phone take (60 fps) becomes keys of a saved project from --at on: the result follows the take there and
    stays as it was before; the export writes the result back out; a bad take is one line, exit 2."""
    import shutil

    from engine.document.interchange import HEAD_TOLERANCE_DEG, TAKE_TOLERANCE, result_tracks
    from engine.document.project_io import load_project
    from engine.export.livelink import read_livelink_csv, write_livelink_csv

    fixtures = ROOT / "tests" / "fixtures"
    project = tmp_path / "p.talkline"
    shutil.copy(fixtures / "schema1.talkline", project)
    shutil.copy(fixtures / "schema1_speech.wav", tmp_path)
    original = project.read_bytes()
    t = np.arange(90) / 60.0  # 1.5 s at 60 fps (its rate is read from the timecodes' frame fields)
    jaw = 0.5 + 0.4 * np.sin(2 * np.pi * 1.5 * t)
    yaw = np.radians(10.0) * t
    take = tmp_path / "take.csv"
    write_livelink_csv(take, 60.0, {"jawOpen": jaw}, np.stack([yaw, 0 * t, 0 * t], axis=1))
    result = run_cli("livelink", "import", project, take, "--at", 0.4, "--blend", 0, "-o", tmp_path / "keyed.talkline")
    assert result.returncode == 0, result.stderr
    assert project.read_bytes() == original  # -o: the project itself is untouched
    before, after = load_project(project), load_project(tmp_path / "keyed.talkline")
    fps = after.fps
    frames = np.arange(int(np.ceil(0.4 * fps)), after.frame_count)  # the take runs past the project's end
    got = result_tracks(after)
    expected_jaw = np.interp(frames / fps - 0.4, t, jaw)
    assert np.abs(got["jawOpen"][frames] - expected_jaw).max() < TAKE_TOLERANCE + 0.01
    assert np.abs(got["ry"][frames] - np.degrees(np.interp(frames / fps - 0.4, t, yaw))).max() < 0.3
    # before the take the result is as it was: exactly up to the last key there, then (baked as it was and reduced
    # like the take's keys) to within the import's tolerance up to a frame before the take
    lead_in = np.arange(0, int(np.ceil(0.4 * fps)) - 1)
    for name in ("jawOpen", "ry", "mouthSmileLeft"):
        earlier = [k.time for k in before.channels[name].keys if k.time < 0.4]
        exact = np.arange(0, int(np.floor(max(earlier) * fps)) + 1) if earlier else lead_in
        np.testing.assert_allclose(got[name][exact], result_tracks(before)[name][exact], atol=1e-6)
        within = HEAD_TOLERANCE_DEG if name == "ry" else TAKE_TOLERANCE  # the import's key reduction
        np.testing.assert_allclose(got[name][lead_in], result_tracks(before)[name][lead_in], atol=within + 1e-6)

    short = tmp_path / "short.csv"  # 0.5 s from 0.4 s: after 0.9 s the result is as it was
    write_livelink_csv(short, 60.0, {"jawOpen": jaw[:30]}, np.stack([yaw, 0 * t, 0 * t], axis=1)[:30])
    result = run_cli("livelink", "import", project, short, "--at", 0.4, "--take-fps", 60, "--blend", 0, "-o",
                     tmp_path / "s.talkline")
    assert result.returncode == 0, result.stderr
    after_short = result_tracks(load_project(tmp_path / "s.talkline"))
    end = 0.4 + 29 / 60
    tail = np.arange(int(np.ceil(end * fps)) + 1, after.frame_count)
    for name in ("jawOpen", "ry"):
        later = [k.time for k in before.channels[name].keys if k.time > end]
        exact = np.arange(int(np.ceil(min(later) * fps)), after.frame_count) if later else tail
        within = HEAD_TOLERANCE_DEG if name == "ry" else TAKE_TOLERANCE
        np.testing.assert_allclose(after_short[name][exact], result_tracks(before)[name][exact], atol=1e-6)
        np.testing.assert_allclose(after_short[name][tail], result_tracks(before)[name][tail], atol=within + 1e-6)

    result = run_cli("livelink", "export", tmp_path / "keyed.talkline", "-o", tmp_path / "out.csv")
    assert result.returncode == 0, result.stderr
    exported = read_livelink_csv(tmp_path / "out.csv")
    assert len(exported.times) == after.frame_count
    np.testing.assert_allclose(exported.shapes["jawOpen"][frames], np.clip(got["jawOpen"][frames], 0, 1), atol=1e-5)

    for text, message in (("Timecode,JawOpen\n00:00:00:00.000,wide\n", "JawOpen has values that are not numbers"),
                          ("Timecode,JawOpen\n00:00:00:xx,0.5\n", "row 2: '00:00:00:xx' is not a timecode"),
                          ("\udcff\udcfe", "not UTF-8 text")):
        (tmp_path / "bad.csv").write_bytes(text.encode("utf-8", "surrogateescape"))
        result = run_cli("livelink", "import", project, tmp_path / "bad.csv")
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert project.read_bytes() == original
    # out of the blendshape range: clipped with a warning; past the project's end: the frames that fit, said
    write_livelink_csv(tmp_path / "wild.csv", 60.0, {"jawOpen": np.full(120, 3.0)})
    result = run_cli("livelink", "import", project, tmp_path / "wild.csv", "--at", 1.0, "--blend", 0, "-o",
                     tmp_path / "w.talkline")
    assert result.returncode == 0 and "JawOpen outside 0..1" in result.stderr and "34 of its 120 frames" in result.stderr
    wild = load_project(tmp_path / "w.talkline")
    in_take = np.arange(int(np.ceil(1.0 * wild.fps)), wild.frame_count)
    np.testing.assert_allclose(result_tracks(wild)["jawOpen"][in_take], 1.0, atol=TAKE_TOLERANCE + 1e-6)


def test_cli_and_editor_demos_use_the_sentence_as_transcript(tmp_path):
    from engine.demo import demo_request

    request = demo_request(tmp_path, "Bob made a map.")
    assert request.a2l.name == "embedded" and request.a2l.config.transcript == "Bob made a map."
    assert demo_request(tmp_path / "b", audio=str(tmp_path / "speech.wav")).a2l.config.transcript is None


def test_a_project_render_takes_output_options_but_refuses_prediction_options(tmp_path):
    import shutil

    fixtures = ROOT / "tests" / "fixtures"
    project = tmp_path / "p.talkline"
    shutil.copy(fixtures / "schema1.talkline", project)
    result = run_cli("render", project, "-o", tmp_path / "small.mp4", "--size", 128, "--fps", 50)
    assert result.returncode == 0, result.stderr
    with av.open(str(tmp_path / "small.mp4")) as container:
        v = container.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (128, 128)
        assert sum(1 for _ in container.decode(v)) == math.ceil(39 / 25 * 50 - 1e-9)  # 39 frames at 25 fps
    result = run_cli("render", project, "-o", tmp_path / "x.mp4", "--seed", 4)
    assert result.returncode == 2 and "--seed applies to PORTRAIT AUDIO renders" in result.stderr


def test_a_failed_render_leaves_the_saved_project_as_it_was(tmp_path, speech, monkeypatch, capsys):
    """--save-project was written before the render: a render that then failed (disk full, Ctrl+C) had already
    replaced the project the user had refined in the editor."""
    import main
    from engine.errors import ExportError

    project = tmp_path / "p.talkline"
    project.write_bytes(b"the user's refined project")

    def disk_full(job):
        raise ExportError(f"cannot write {tmp_path / 'a.mp4'}: No space left on device")

    monkeypatch.setattr(main, "_run_job", disk_full)
    assert main.main(["render", str(media("portraits/hallo__6.jpg")), str(speech), "-o", str(tmp_path / "a.mp4"),
                      "--size", "128", "--save-project", str(project)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert project.read_bytes() == b"the user's refined project"


def test_two_outputs_on_one_path_and_frames_into_a_file_are_refused_before_any_work(tmp_path, speech):
    """-o and --pose-video on one path: the pose video silently replaced the render (exit 0)."""
    portrait = media("portraits/hallo__6.jpg")
    result = run_cli("render", portrait, speech, "-o", tmp_path / "a.mp4", "--pose-video", tmp_path / "a.mp4")
    assert result.returncode == 2 and "-o and --pose-video are the same file" in result.stderr
    (tmp_path / "f").write_bytes(b"")
    result = run_cli("render", portrait, speech, "-o", tmp_path / "b.mp4", "--frames", tmp_path / "f")
    assert result.returncode == 2 and "is a file: the frames need a folder" in result.stderr
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "b.mp4").exists()


def test_an_output_with_a_trailing_slash_and_a_folder_as_transcript_are_named_for_what_they_are(tmp_path, speech):
    """`-o out/clip.mp4/` wrote a file clip.mp4 (the slash dropped); `--transcript FOLDER` said "file not found"."""
    portrait = media("portraits/hallo__6.jpg")
    result = run_cli("render", portrait, speech, "-o", f"{tmp_path}/clip.mp4/")
    assert result.returncode == 2 and "clip.mp4/ names a folder" in result.stderr
    assert not (tmp_path / "clip.mp4").exists()
    result = run_cli("render", portrait, speech, "-o", tmp_path / "a.mp4", "--transcript", tmp_path)
    assert result.returncode == 2 and f"the transcript {tmp_path} is a folder" in result.stderr


def test_a_run_that_fails_before_writing_leaves_no_new_empty_folders(tmp_path, speech):
    """Checking `-o new/sub/x.mp4` up front made new/sub; a portrait without a face then failed and left them."""
    blank = tmp_path / "blank.png"
    Image.new("RGB", (256, 256), (120, 130, 140)).save(blank)
    result = run_cli("render", blank, speech, "-o", tmp_path / "new" / "sub" / "x.mp4")
    assert result.returncode == 2 and "no face found" in result.stderr
    assert not (tmp_path / "new").exists()


def test_swapped_inputs_and_a_project_with_audio_say_what_render_takes(tmp_path, speech):
    """`render speech.wav portrait.png` said the portrait "has no audio stream"; `render p.talkline speech.wav`
    said the project was no image."""
    portrait = media("portraits/hallo__6.jpg")
    result = run_cli("render", speech, portrait, "-o", tmp_path / "a.mp4")
    assert result.returncode == 2 and "is an image: render takes the portrait first, then the audio" in result.stderr
    result = run_cli("render", tmp_path / "p.talkline", speech, "-o", tmp_path / "a.mp4")
    assert result.returncode == 2 and "is a project: it renders alone" in result.stderr


def test_an_output_that_is_a_pipe_is_refused_and_left_a_pipe(tmp_path, speech):
    """-o naming a FIFO: the finished file was renamed over it (the pipe became a plain file), exit 0."""
    import stat

    fifo = tmp_path / "out.mp4"
    os.mkfifo(fifo)
    result = run_cli("render", media("portraits/hallo__6.jpg"), speech, "-o", fifo, timeout=120)
    assert result.returncode == 2 and "is a pipe or a device: write it to a file" in result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_an_odd_size_is_said_as_rendered(tmp_path, speech):
    """`--size 333` wrote 332 x 332 frames without a word (H.264 needs even sides)."""
    import av

    out = tmp_path / "odd.mp4"
    result = run_cli("render", media("portraits/hallo__6.jpg"), speech, "--size", "129", "-o", out)
    assert result.returncode == 0, result.stderr
    assert "--size 129: rendered 128 px (H.264 needs even sides)" in result.stderr
    with av.open(str(out)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (128, 128)
