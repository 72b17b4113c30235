import dataclasses
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.a2l.base_layer import Segment
from engine.a2l.embedded import EmbeddedConfig
from engine.document import project_io
from engine.document.changes import Change, ChangeKind
from engine.document.curves import Interpolation
from engine.document.project import Gains, Project
from engine.document.project_io import (
    autosave_path,
    discard_autosave,
    find_recoverable,
    load_project,
    missing_sources,
    recover_autosave,
    relink_source,
    save_project,
    write_autosave,
)
from engine.audio.decode import load_audio
from engine.errors import AudioReadError, ProjectFileError
from engine.face.reference import analyze_portrait
from engine.pipeline import regenerate_base
from engine.plugins import Choice
from engine.render.warp import WarpConfig
from engine.sources.audio import AudioSource
from engine.sources.portrait import Framing, PortraitSource
from tests.media import media
from tests.test_project import FPS, make_base

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")

PORTRAIT = "portraits/hallo__6.jpg"
AUDIO = "speech/Real3DPortrait__Obama_5s.wav"


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    """Untitled autosaves and the autosave registry go under tmp, never the user's home."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture(scope="module")
def parts():
    return analyze_portrait(media(PORTRAIT)), load_audio(media(AUDIO))


def make_project(parts, portrait=None, audio=None) -> Project:
    reference, clip = parts
    base = make_base(clip.frame_count(FPS), blinks=True)
    base.phonemes = [Segment(0.1, 0.2, "HH"), Segment(0.2, 0.35, "AH")]
    base = dataclasses.replace(base, words=[Segment(0.1, 0.35, "hello"), Segment(0.4, 0.6, "möchte"),
                                            Segment(0.7, 0.9, "7" * 70)])
    base.visemes = [Segment(0.1, 0.35, "C")]
    p = Project(
        PortraitSource(portrait or media(PORTRAIT), reference, Framing(512, False, 0)),
        AudioSource(audio or media(AUDIO), clip), FPS, base,
        gains=Gains(lip=0.8, head=1.2, smoothing=0.04, blink=0.5),
        in_out=(0.5, 3.25),
        a2l=Choice("embedded", EmbeddedConfig(seed=7, transcript="hello there", lead_ms=30.0)),
        renderer=Choice("warp", WarpConfig(grid_step=6)),
        pose_template=np.linspace(0, 1, 24).reshape(4, 6),
    )
    p.channels["rx"].set_key(0.5, 10.0, Interpolation.LINEAR)
    p.channels["rx"].set_key(1.0, -4.0, Interpolation.CONSTANT)
    p.channels["rx"].set_key(2.0, 3.0)
    p.channels["jawOpen"].set_key(0.3, 0.4, Interpolation.EASE_IN_OUT)
    p.channels["jawOpen"].set_key(1.2, 0.9)
    p.channels["jawOpen"].set_handles(1, (-0.2, 0.1), (0.3, -0.05))
    p.channels["mouthSmileLeft"].set_key(2.5, 0.7, Interpolation.EASE_OUT)
    return p


def test_save_load_round_trip(parts, tmp_path):
    p = make_project(parts)
    path = tmp_path / "a.talkline"
    save_project(p, path)
    assert p.path == str(path)
    q = load_project(path)
    assert q.path == str(path)
    assert q.source.path == p.source.path and q.source.framing == p.source.framing
    assert q.audio_source.path == p.audio_source.path
    assert q.fps == p.fps and q.in_out == p.in_out and q.gains == p.gains
    assert q.a2l == p.a2l and q.renderer == p.renderer
    np.testing.assert_array_equal(q.pose_template, p.pose_template)
    assert all(q.channels[n] == p.channels[n] for n in p.channel_names)
    assert q.channels["jawOpen"].keys[1].handle_left == (-0.2, 0.1)
    assert q.channels["jawOpen"].keys[0].interpolation is Interpolation.EASE_IN_OUT
    for name in ("image", "landmarks", "mesh", "transform"):
        assert np.array_equal(getattr(q.reference, name), getattr(p.reference, name))
    assert q.reference.blendshapes == pytest.approx(p.reference.blendshapes)
    assert np.array_equal(q.base.offsets, p.base.offsets) and np.array_equal(q.base.pose, p.base.pose)
    assert q.base.weights.keys() == p.base.weights.keys()
    assert all(np.array_equal(q.base.weights[k], p.base.weights[k]) for k in p.base.weights)
    assert q.base.phonemes == p.base.phonemes and q.base.visemes == p.base.visemes and q.base.blinks == p.base.blinks
    assert q.base.words == p.base.words  # the word lane is kept (it was derived again from the transcript)
    assert q.base.words[2].label == "7" * 32  # a 70-character token is cut: the file could not be opened again
    assert q.audio is not None and q.audio.samples.shape == p.audio.samples.shape
    a, b = p.evaluate_motion(), q.evaluate_motion()
    assert np.array_equal(a.mesh, b.mesh) and np.array_equal(a.pose, b.pose)
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == {"project.json", "arrays.npz", "reference.png"}
        assert json.loads(zf.read("project.json"))["schema_version"] == project_io.SCHEMA_VERSION


def test_failed_save_leaves_previous_file_intact(parts, tmp_path, monkeypatch):
    p = make_project(parts)
    path = tmp_path / "a.talkline"
    save_project(p, path)
    before = path.read_bytes()

    def broken_png(rgb):
        raise RuntimeError("disk full while writing")

    monkeypatch.setattr(project_io, "_png", broken_png)  # fails after project.json and arrays.npz went in
    p.channels["rx"].set_key(4.0, 1.0)
    with pytest.raises(RuntimeError):
        save_project(p, path)
    assert path.read_bytes() == before
    assert [n for n in os.listdir(tmp_path) if n.endswith(".talkline")] == ["a.talkline"]
    assert not [n for n in os.listdir(tmp_path) if ".part" in n]  # the temporary file is gone
    assert len(load_project(path).channels["rx"]) == 3


def write_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def members_of(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@pytest.fixture(scope="module")
def saved(parts, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "good.talkline"
    save_project(make_project(parts), path)
    return path


def with_json(members, **changes):
    doc = json.loads(members["project.json"])
    doc.update(changes)
    return {**members, "project.json": json.dumps(doc).encode()}


def with_array(members, name, value):
    with np.load(io.BytesIO(members["arrays.npz"]), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays[name] = value
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return {**members, "arrays.npz": buf.getvalue()}


CORRUPT = {
    "empty": (lambda m: None, "is empty"),
    "random bytes": (lambda m: None, "not a zip archive"),
    "cut short": (lambda m: None, "is damaged: the file was cut short"),
    "no project.json": (lambda m: {k: v for k, v in m.items() if k != "project.json"}, "missing its project.json"),
    "no arrays": (lambda m: {k: v for k, v in m.items() if k != "arrays.npz"}, "missing its arrays.npz"),
    "bad json": (lambda m: {**m, "project.json": b"{not json"}, "not valid JSON"),
    "not a project": (lambda m: {**m, "project.json": b"[1, 2]"}, "not a Talkline project"),
    "newer schema": (lambda m: with_json(m, schema_version=99),
                     "newer Talkline (project schema 99; this Talkline reads schemas 1 to 2)"),
    "unknown backend": (lambda m: with_json(m, a2l={"name": "wav2lip", "config": {}}),
                        "unknown Audio2Lmk backend 'wav2lip'; known: embedded"),
    "unknown setting": (lambda m: with_json(m, renderer={"name": "warp", "config": {"grid": 3}}),
                        "renderer 'warp' has unknown setting(s) 'grid'"),
    "ill-typed setting": (lambda m: with_json(m, a2l={"name": "embedded", "config": {"seed": 1.5}}),
                          "setting 'seed' must be int, got 1.5"),
    "bad gains": (lambda m: with_json(m, gains={"lip": "loud"}), "gains setting 'lip' must be float"),
    "sources": (lambda m: with_json(m, sources=[{"kind": "video", "path": "x", "relative": None}]),
                "sources must be one portrait or video and one audio entry"),
    "source path": (lambda m: with_json(m, sources=[{"kind": "portrait", "path": 7, "relative": None}]),
                    "field 'sources[0].path' must be text, got 7"),
    "in_out reversed": (lambda m: with_json(m, in_out=[2.0, 1.0]), "field 'in_out' must have in < out"),
    "in_out nan": (lambda m: {**m, "project.json": members_json(m).replace(b'"in_out": [0.5, 3.25]',
                                                                          b'"in_out": [NaN, 3.25]')},
                   "NaN is not a number a project may hold"),
    "in_out length": (lambda m: with_json(m, in_out=[1.0]), "field 'in_out' must be [in, out]"),
    "zero frames": (lambda m: with_json(m, frame_count=0), "field 'frame_count' must be between 1 and 216000"),
    "huge frames": (lambda m: with_json(m, frame_count=400_000), "field 'frame_count' must be between 1 and 216000"),
    "fps": (lambda m: with_json(m, fps=500), "field 'fps' must be between 1 and 120"),
    "infinite fps": (lambda m: with_json(m, fps=1e400), "Infinity is not a number a project may hold"),
    "huge key": (lambda m: with_json(m, channels={"rx": {"keys": [{"time": 0, "value": 1e308}]}}),
                 "field 'channels.rx.keys[0].value' must be between -1e+06 and 1e+06"),
    "smoothing": (lambda m: with_json(m, gains={"smoothing": 1e6}), "smoothing must be between 0 and 5 s"),
    "nan pose": (lambda m: with_array(m, "base/pose", np.full((151, 6), np.nan)),
                 "array 'base/pose' holds NaN or infinite numbers"),
    "0-d offsets": (lambda m: with_array(m, "base/offsets", np.float32(1.0)),
                    "array 'base/offsets' has shape (), expected (151, 468, 3)"),
    "deep json": (lambda m: {**m, "project.json": b"[" * 100_000 + b"]" * 100_000}, "nested too deeply"),
    "huge png": (lambda m: {**m, "reference.png": m["reference.png"][:16] + (60000).to_bytes(4, "big") * 2
                            + m["reference.png"][24:]}, "the image is 60000x60000, expected 512x512"),
    "no schema": (lambda m: with_json(m, schema_version=None), "invalid schema_version"),
    "mesh shape": (lambda m: with_array(m, "reference/mesh", np.zeros((400, 3))), "arrays.npz: array 'reference/mesh' has shape (400, 3), expected (468, 3)"),
    "offsets shape": (lambda m: with_array(m, "base/offsets", np.zeros((151, 400, 3), np.float32)),
                      "array 'base/offsets' has shape (151, 400, 3), expected (151, 468, 3)"),
    "frame count": (lambda m: with_array(m, "base/offsets", np.zeros((3, 468, 3), np.float32)),
                    "array 'base/offsets' has shape (3, 468, 3), expected (151, 468, 3)"),
    "garbage arrays": (lambda m: {**m, "arrays.npz": b"garbage"}, "arrays.npz is corrupt"),
    "object array": (lambda m: with_array(m, "base/backend", np.array([{"x": 1}], dtype=object)), "holds Python objects"),
    "bad channel": (lambda m: with_json(m, channels={"rx": {"keys": [{"time": 0}]}}), "project.json: field 'channels.rx.keys[0].value' is missing"),
    "unknown channel": (lambda m: with_json(m, channels={"wiggle": {"keys": []}}), "unknown channel"),
    "missing field": (lambda m: _drop(m, "gains"), "project.json: field 'gains' is missing"),
    "bad image": (lambda m: {**m, "reference.png": b"nope"}, "reference.png: the image is not a readable PNG image"),
    "huge integer": (lambda m: {**m, "project.json": members_json(m).replace(b'"frame_count": 151',
                                                                              b'"frame_count": ' + b"9" * 5000)},
                     "project.json holds a number of thousands of digits"),
    "unknown channel name": (lambda m: with_json(m, channels={"wiggle": {"keys": []}}),
                             "is invalid: unknown channel(s) ['wiggle']"),  # was ValueError("unknown ...")
    "migration": (lambda m: with_json(m, schema_version=1),
                  "(schema 1) cannot be migrated: the field 'a2l_settings' is missing"),  # was "KeyError('...')"
    "huge offsets": (lambda m: with_array(m, "base/offsets", np.full((151, 468, 3), 1e30, np.float32)),
                     "mesh offsets or pose are far outside a face's"),
    "backwards span": (lambda m: with_array(m, "base/phonemes/times", np.tile([[3.0, 1.0]], (len(np.load(
        io.BytesIO(m["arrays.npz"]))["base/phonemes/labels"]), 1))), "phonemes hold a span that is not within"),
    "zero transform": (lambda m: with_array(m, "reference/transform", np.zeros((4, 4))),
                       "array 'reference/transform' is not a face pose"),
    "float128": (lambda m: with_array(m, "base/offsets", np.zeros((151, 468, 3), np.longdouble)),
                 "array 'base/offsets' has dtype float128, wider than 64 bits"),
    "labels for times": (lambda m: with_array(m, "base/phonemes/labels", np.array(["AA"] * 5000)),
                         "array 'base/phonemes/labels' has 5000 labels for"),
}


def test_a_portrait_projects_arrays_leave_a_video_track_unread(saved, tmp_path, monkeypatch):
    """A still portrait's project carrying a video's face track (a crafted file: 216000 frames of zeros
    compressed to a few hundred KB took 2.7 GB to open) opens without reading it."""
    from engine.document import project_reader

    path = tmp_path / "extra.talkline"
    write_zip(path, with_array(members_of(saved), "track/landmarks", np.zeros((50, 478, 3))))
    read = []
    real = project_reader.np.lib.format.read_array
    monkeypatch.setattr(project_reader.np.lib.format, "read_array", lambda fh, **kw: read.append(fh.name) or real(fh, **kw))
    assert load_project(path).frame_count == 151
    assert read and not [name for name in read if name.startswith("track/")]


def members_json(members) -> bytes:
    return json.dumps(json.loads(members["project.json"])).encode()


def _drop(members, key):
    doc = json.loads(members["project.json"])
    del doc[key]
    return {**members, "project.json": json.dumps(doc).encode()}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_files_give_specific_errors(saved, tmp_path, case):
    make, message = CORRUPT[case]
    path = tmp_path / "bad.talkline"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif case == "cut short":  # said "not a zip archive"
        write_zip(path, members_of(saved))
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        write_zip(path, make(members_of(saved)))
    with pytest.raises(ProjectFileError) as err:
        load_project(path)
    assert message in str(err.value), str(err.value)


def test_missing_file():
    with pytest.raises(ProjectFileError, match="not found"):
        load_project("/nonexistent/x.talkline")


def test_a_folder_named_like_a_project_is_one_line(tmp_path):
    (tmp_path / "take.talkline").mkdir()  # was an IsADirectoryError traceback
    with pytest.raises(ProjectFileError, match=r"take\.talkline is a folder, not a Talkline project file"):
        load_project(tmp_path / "take.talkline")


def test_moved_sources_still_open_and_relink(parts, tmp_path):
    media_dir = tmp_path / "media"
    media_dir.mkdir()
    portrait = shutil.copy(media(PORTRAIT), media_dir / "face.jpg")
    audio = shutil.copy(media(AUDIO), media_dir / "voice.wav")
    p = make_project(parts, portrait=str(portrait), audio=str(audio))
    path = tmp_path / "proj" / "p.talkline"
    save_project(p, path)
    assert missing_sources(load_project(path)) == []
    os.remove(portrait)
    os.remove(audio)
    q = load_project(path)
    assert q.audio is None and missing_sources(q) == ["portrait", "audio"]
    assert np.array_equal(q.reference.image, p.reference.image)
    assert np.array_equal(q.evaluate(40).landmarks_px, p.evaluate(40).landmarks_px)  # still editable
    with pytest.raises(AudioReadError):
        regenerate_base(q)
    # a render of it wrote a silent video and said "done"; landmarks need no sound
    from engine.jobs import RenderJob, RenderSettings

    with pytest.raises(AudioReadError, match="voice.wav is missing: relink it first"):
        RenderJob.for_project(q, RenderSettings(output=str(tmp_path / "x.mp4")))
    Path(audio).write_text("not audio")  # another file at its path was called "missing" too
    with pytest.raises(AudioReadError, match=r"voice.wav cannot be read \(.*\): relink it first"):
        RenderJob.for_project(load_project(path), RenderSettings(output=str(tmp_path / "x.mp4")))
    os.remove(audio)
    RenderJob.for_project(q, RenderSettings(landmarks=str(tmp_path / "x.npz")))
    RenderJob.for_project(q, RenderSettings(frames_dir=str(tmp_path / "frames")))  # frames need no sound
    seen = []
    q.changed.connect(seen.append)
    relink_source(q, "audio", media(AUDIO))
    relink_source(q, "portrait", media(PORTRAIT))
    assert q.audio is not None and missing_sources(q) == [] and seen == [Change(ChangeKind.SOURCES)] * 2
    with pytest.raises(ValueError):
        relink_source(q, "video", media(AUDIO))
    with pytest.raises(AudioReadError):
        relink_source(q, "audio", str(path))


def test_project_moved_with_its_media_finds_them_by_relative_path(parts, tmp_path):
    folder = tmp_path / "job"
    folder.mkdir()
    portrait = shutil.copy(media(PORTRAIT), folder / "face.jpg")
    audio = shutil.copy(media(AUDIO), folder / "voice.wav")
    save_project(make_project(parts, portrait=str(portrait), audio=str(audio)), folder / "p.talkline")
    moved = shutil.move(str(folder), str(tmp_path / "elsewhere"))
    q = load_project(os.path.join(moved, "p.talkline"))
    assert q.audio_source.path == os.path.join(moved, "voice.wav") and q.audio is not None
    assert missing_sources(q) == []


def test_autosave_and_recovery(parts, tmp_path):
    p = make_project(parts)
    path = tmp_path / "p.talkline"
    save_project(p, path)
    assert find_recoverable() == []
    p.channels["ry"].set_key(1.0, 7.0)
    auto = write_autosave(p)
    assert auto == autosave_path(path) and auto.parent == tmp_path and p.path == str(path)
    os.utime(path, (1, 1))  # the project is older than its autosave: recoverable
    assert find_recoverable() == [auto]
    r = recover_autosave(auto)
    assert r.path == str(path) and len(r.channels["ry"]) == 1
    save_project(r, path)  # saving supersedes the autosave
    assert not auto.exists() and find_recoverable() == []


def test_untitled_autosave_and_discard(parts, tmp_path):
    p = make_project(parts)
    auto = write_autosave(p)
    assert auto == autosave_path(None) and str(auto).startswith(str(tmp_path / "state"))
    assert find_recoverable() == [auto]
    assert recover_autosave(auto).path is None
    discard_autosave(auto)
    assert not auto.exists() and find_recoverable() == []


def test_stale_autosave_is_not_offered(parts, tmp_path):
    p = make_project(parts)
    path = tmp_path / "p.talkline"
    save_project(p, path)
    auto = write_autosave(p)
    os.utime(auto, (1, 1))  # older than the project: nothing to recover
    assert find_recoverable() == []


def test_schema_1_file_migrates_with_identical_motion(tmp_path):
    """tests/fixtures/schema1.talkline was saved by the schema-1 release (commit cca6bcd) with edits, gains, an
    in/out range and lip/head intensities baked into its base; schema1_landmarks.npz is what it evaluated to."""
    path = tmp_path / "old.talkline"
    shutil.copy(os.path.join(FIXTURES, "schema1.talkline"), path)
    shutil.copy(os.path.join(FIXTURES, "schema1_speech.wav"), tmp_path / "schema1_speech.wav")
    q = load_project(path)
    expected = np.load(os.path.join(FIXTURES, "schema1_landmarks.npz"))
    motion = q.evaluate_motion()
    lm = motion.landmarks_px(q.reference.transform, q.reference.width, q.reference.height)
    assert np.abs(lm - expected["landmarks"]).max() < 0.05
    np.testing.assert_allclose(motion.pose, expected["pose"], atol=1e-9)
    assert q.a2l == Choice("embedded", EmbeddedConfig(seed=3, blink_rate=1.5))  # intensities were baked in
    assert q.renderer.name == "warp" and q.gains == Gains(lip=1.2, head=0.8, smoothing=0.02, blink=1.1)
    assert q.in_out == (0.2, 1.0) and len(q.channels["ry"]) == 3 and q.audio is not None
    assert q.base.words == [] and q.base.phonemes  # saved before base layers kept their words
    save_project(q, path)  # saved again as schema 2, it evaluates the same
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read("project.json"))["schema_version"] == 2
    np.testing.assert_array_equal(load_project(path).evaluate_motion().mesh, motion.mesh)


def test_another_recording_at_the_audios_path_is_told_from_a_copy_of_the_same(parts, tmp_path):
    """A render of a saved project laid whatever audio was now at its path under the old lip sync, silently: a
    file of another length or another recording of the same length is refused (exit 2 on the command line); the
    same take re-encoded or at another level renders; projects saved before prints render as before."""
    import soundfile as sf

    from engine.errors import AudioReadError
    from engine.jobs import RenderJob, RenderSettings

    audio = tmp_path / "voice.wav"
    shutil.copy(media(AUDIO), audio)
    path = tmp_path / "p.talkline"
    save_project(make_project(parts, audio=str(audio)), path)
    samples, rate = sf.read(media(AUDIO), dtype="float32")
    settings = RenderSettings(output=str(tmp_path / "x.mp4"))

    def render_with(data, rate_=rate, fmt="WAV"):
        sf.write(audio, data, rate_, format=fmt)
        return RenderJob.for_project(load_project(path), settings)

    render_with(samples * 0.5)  # the same take, 6 dB down
    from scipy.signal import resample_poly

    render_with(resample_poly(samples, 3, 2, axis=0).astype(np.float32), rate * 3 // 2)  # resampled, same sound
    with pytest.raises(AudioReadError, match=r"voice\.wav is not the recording this project was animated to "
                                             r"\(5\.51 s long where the animated recording was 5\.01 s\)"):
        render_with(samples, rate * 10 // 11)  # 10 % longer (a slower take)
    with pytest.raises(AudioReadError, match="another recording of the same length"):
        render_with(samples[::-1].copy())  # its loud and quiet parts elsewhere
    RenderJob.for_project(load_project(path), RenderSettings(landmarks=str(tmp_path / "x.npz")))  # needs no sound

    legacy = members_of(path)  # a project saved before prints: nothing to tell, rendered as before
    doc = json.loads(legacy["project.json"])
    for entry in doc["sources"]:
        entry.pop("print", None)
    write_zip(tmp_path / "old.talkline", {**legacy, "project.json": json.dumps(doc).encode()})
    RenderJob.for_project(load_project(tmp_path / "old.talkline"), settings)
    bad = {**legacy, "project.json": legacy["project.json"].replace(b'"levels": [', b'"levels": [1e999, ')}
    write_zip(tmp_path / "bad.talkline", bad)
    with pytest.raises(ProjectFileError):
        load_project(tmp_path / "bad.talkline")
