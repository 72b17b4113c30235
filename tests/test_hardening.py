"""Bad input everywhere it enters: fuzzed project files, damaged autosaves, concurrent autosave registries,
kill -9 during saves, out-of-range CLI values, unwritable outputs, decompression bombs, signals."""
from __future__ import annotations

import copy
import io
import json
import os
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.document.curves import Interpolation
from engine.document.project import Gains, Project
from engine.document.project_io import (DamagedAutosaveWarning, autosave_path, find_recoverable, load_project,
                                        recover_autosave, save_project, write_autosave)
from engine.errors import ProjectFileError
from tests.seams import AudioSource, synthetic_source
from tests.test_project import make_base

ROOT = Path(__file__).resolve().parents[1]
FUZZ_CASES = 1000  # the issue asks for >= 500 seeded cases under a minute; these take ~10 s


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def small_project(path: Path) -> Project:
    base = make_base(30, blinks=False)
    p = Project(synthetic_source(64), AudioSource(str(path.parent / "missing.wav"), None), 30.0, base,
                gains=Gains(lip=1.1), in_out=(0.1, 0.5))
    p.channels["rx"].set_key(0.2, 3.0, Interpolation.LINEAR)
    p.channels["jawOpen"].set_key(0.5, 0.4)
    p.channels["jawOpen"].set_handles(0, (-0.1, 0.0), (0.1, 0.05))
    save_project(p, path)
    return p


# --- the fuzzer --------------------------------------------------------------------------------
JSON_VALUES = [None, True, -1, 0, 7, 1e308, -1e308, 1e-320, "x", "", [], [1.0], [1.0, 2.0, 3.0], {}, {"keys": []},
               [[[[[]]]]], "🙂" * 50, 10**30]


def _mutate_json(doc, rng):
    """A random leaf or container of the document replaced by a random value (or deleted)."""
    node, parents = doc, []
    while isinstance(node, (dict, list)) and node and rng.random() < 0.7:
        key = rng.choice(list(node)) if isinstance(node, dict) else int(rng.integers(len(node)))
        parents.append((node, key))
        node = node[key]
    value = copy.deepcopy(JSON_VALUES[int(rng.integers(len(JSON_VALUES)))])
    if not parents:
        return value
    container, key = parents[-1]
    if isinstance(container, dict) and rng.random() < 0.2:
        del container[key]
    else:
        container[key] = value
    return doc


def _mutate_arrays(raw: bytes, rng) -> bytes:
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    name = rng.choice(sorted(arrays))
    choice = int(rng.integers(5))
    a = arrays[name]
    if choice == 0:
        arrays[name] = np.full(a.shape, np.nan) if a.dtype.kind == "f" else np.zeros(3)
    elif choice == 1:
        arrays[name] = np.zeros(tuple(int(x) for x in rng.integers(0, 5, size=int(rng.integers(0, 4)))))
    elif choice == 2:
        arrays[name] = a.astype(np.int64) if a.dtype.kind == "f" else np.asarray([1e300])
    elif choice == 3:
        del arrays[name]
    else:
        arrays[name] = np.asarray(["x" * 5000])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _fuzz_case(good: bytes, members: dict[str, bytes], rng) -> bytes:
    kind = int(rng.integers(6))
    if kind == 0:  # flipped bytes anywhere
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 9))):
            data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        return bytes(data)
    if kind == 1:  # truncated
        return good[: int(rng.integers(len(good)))]
    out = dict(members)
    if kind == 2:  # a member removed or replaced by junk
        name = rng.choice(sorted(out))
        if rng.random() < 0.5:
            del out[name]
        else:
            out[name] = rng.bytes(int(rng.integers(0, 200)))
    elif kind == 3:
        out["project.json"] = json.dumps(_mutate_json(json.loads(out["project.json"]), rng)).encode()
    elif kind == 4:
        out["arrays.npz"] = _mutate_arrays(out["arrays.npz"], rng)
    else:  # several JSON mutations at once
        doc = json.loads(out["project.json"])
        for _ in range(int(rng.integers(2, 6))):
            doc = _mutate_json(doc, rng)
        out["project.json"] = json.dumps(doc).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in out.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_fuzzed_project_files_load_or_fail_cleanly(tmp_path):
    """Byte flips, truncations, removed or junk members, mutated JSON and arrays: every file either loads into
    a project that evaluates, or fails with a ProjectFileError; never another exception."""
    good_path = tmp_path / "good.talkline"
    small_project(good_path)
    good = good_path.read_bytes()
    with zipfile.ZipFile(good_path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    rng = np.random.default_rng(20261201)
    counts = {"clean error": 0, "accepted": 0}
    escaped = []
    path = tmp_path / "fuzz.talkline"
    for case in range(FUZZ_CASES):
        path.write_bytes(_fuzz_case(good, members, rng))
        try:
            project = load_project(path)
            project.evaluate(0)
            project.evaluate_motion()
            counts["accepted"] += 1
        except ProjectFileError:
            counts["clean error"] += 1
        except Exception as exc:  # noqa: BLE001  (what the test is looking for)
            escaped.append((case, repr(exc)[:200]))
    print(f"fuzz: {FUZZ_CASES} cases, {counts}")
    assert escaped == []
    assert counts["clean error"] > FUZZ_CASES // 2 and counts["accepted"] > 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["fps", "frame_count", "in_out", "gains", "channels", "reference", "sources",
                              "a2l", "renderer", "autosave_of"]),
       value=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                      max_size=3), max_leaves=8))
@example(field="gains", value={"\n": None})  # an unknown setting named by a line break broke the one-line error
def test_any_json_value_in_any_field_is_a_clean_error_or_a_valid_project(tmp_path_factory, field, value):
    folder = tmp_path_factory.mktemp("hyp")
    good = folder / "good.talkline"
    small_project(good)
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(members["project.json"])
    doc[field] = value
    members["project.json"] = json.dumps(doc).encode()
    bad = folder / "bad.talkline"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    try:
        load_project(bad).evaluate(0)
    except ProjectFileError as exc:
        assert "\n" not in str(exc)


def test_a_zip_bomb_member_is_refused_before_it_is_inflated(tmp_path):
    good = tmp_path / "good.talkline"
    small_project(good)
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["project.json"] = members["project.json"][:-1] + b" " * (20 * 2**20) + b"}"  # 20 MB of spaces
    bad = tmp_path / "bomb.talkline"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert bad.stat().st_size < 200_000
    with pytest.raises(ProjectFileError, match="project.json: the member is .* bytes, more than"):
        load_project(bad)


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_a_video_source_path_longer_than_a_label_is_read_and_an_absurd_one_refused():
    from engine.document.project_reader import MAX_PATH_CHARS, read_arrays

    # CI's checkout lives under a deeper directory than a developer's: a real path of 70+ characters was refused
    path = "/tmp/pytest-of-root/pytest-0/test_a_dub_project/" + "d" * 150 + "/clip.mp4"
    assert read_arrays(_npz(**{"track/source": np.array(path)}), 1)["track/source"] == path
    with pytest.raises(ProjectFileError, match="'track/source' holds strings of 4097 characters, more than"):
        read_arrays(_npz(**{"track/source": np.array("x" * (MAX_PATH_CHARS + 1))}), 1)
    with pytest.raises(ProjectFileError, match="'base/phonemes/labels' holds strings of 65 characters"):
        read_arrays(_npz(**{"base/phonemes/labels": np.array(["x" * 65])}), 1)


# --- autosaves ---------------------------------------------------------------------------------
def test_a_damaged_autosave_is_set_aside_not_fatal(tmp_path):
    path = tmp_path / "p.talkline"
    project = small_project(path)
    auto = write_autosave(project)
    os.utime(path, (1, 1))
    data = bytearray(auto.read_bytes())
    with zipfile.ZipFile(auto) as zf:
        offset = zf.getinfo("arrays.npz").header_offset + 200  # inside the deflated arrays
    data[offset] ^= 0xFF
    auto.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert find_recoverable() == []
    assert any(issubclass(w.category, DamagedAutosaveWarning) for w in caught)
    assert not auto.exists() and auto.with_name(auto.name + ".damaged").exists()
    assert find_recoverable() == []  # said once: the file is out of the way now


def test_a_damaged_registry_is_set_aside(tmp_path):
    registry = tmp_path / "state" / "talkline" / "autosave" / "index.json"
    registry.parent.mkdir(parents=True)
    registry.write_bytes(b"\xff\xfe[garbage")
    with pytest.warns(DamagedAutosaveWarning):
        assert find_recoverable() == []
    path = tmp_path / "p.talkline"
    auto = write_autosave(small_project(path))  # the registry works again
    os.utime(path, (1, 1))
    assert find_recoverable() == [auto]


def test_concurrent_autosave_registrations_are_all_kept(tmp_path):
    code = ("import sys; from pathlib import Path; from engine.document.project_io import _register\n"
            "for i in range(40): _register(Path(f'/x/{sys.argv[1]}-{i}.talkline.autosave'), add=True)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path / "state")}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(k)], env=env, cwd=ROOT) for k in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    entries = json.loads((tmp_path / "state" / "talkline" / "autosave" / "index.json").read_text())
    assert len(entries) == len(set(entries)) == 160


def test_a_crafted_autosave_cannot_aim_saves_at_another_file(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "p.talkline"
    project = small_project(path)
    project.path = str(victim)  # the autosave claims to recover victim.txt ...
    crafted = tmp_path / "elsewhere.talkline.autosave"
    from engine.document import project_io

    project_io._write(project, crafted, autosave_of=str(victim))
    assert recover_autosave(crafted).path is None  # ... but it does not lie beside it: untitled
    genuine = write_autosave(load_project(path))
    assert genuine == autosave_path(path) and recover_autosave(genuine).path == str(path)


def test_kill_9_during_saves_never_leaves_a_broken_project(tmp_path):
    path = tmp_path / "p.talkline"
    small_project(path)
    code = ("import sys; from engine.document.project_io import load_project, save_project\n"
            "p = load_project(sys.argv[1])\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    p.channels['ry'].set_key(len(p.channels['ry']) * 0.01, 1.0); save_project(p, sys.argv[1])\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path / "state")}
    for delay in (0.05, 0.13, 0.21, 0.34, 0.55, 0.89):
        proc = subprocess.Popen([sys.executable, "-c", code, str(path)], env=env, cwd=ROOT, stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        load_project(path)  # the old or a new version, never a torn one


# --- CLI values and outputs ---------------------------------------------------------------------
def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@settings(max_examples=40, deadline=None)
@given(option=st.sampled_from(["--fps", "--size", "--lip-intensity", "--head-intensity", "--seed", "--face-index"]),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                       st.text(max_size=6)))
def test_cli_values_out_of_range_are_one_line(option, value):
    import main

    lo_hi = {"--fps": (1, 120), "--size": (64, 4096), "--lip-intensity": (0, 10), "--head-intensity": (0, 10),
             "--seed": (0, 2**32 - 1), "--face-index": (0, 63)}[option]
    parser = main.build_parser()
    try:
        args = parser.parse_args(["render", "p.png", "a.wav", "-o", "x.mp4", option, value])
    except SystemExit as exc:
        assert exc.code == 2
        return
    parsed = getattr(args, option[2:].replace("-", "_"))
    assert lo_hi[0] <= parsed <= lo_hi[1] and np.isfinite(parsed)


@pytest.mark.parametrize("output, message", [
    ("/proc/x.mp4", "cannot write the video /proc/x.mp4"),
    ("OUT/x.gif", "must end in .mp4 or .m4v or .mov"),
    ("OUT/x", "must end in .mp4"),
    ("OUT/" + "a" * 250 + ".mp4", "the file name is 254 bytes, at most"),
    ("READONLY/x.mp4", "cannot write the video"),
])
def test_unwritable_outputs_fail_before_any_work(tmp_path, output, message):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    out = output.replace("OUT", str(tmp_path)).replace("READONLY", str(readonly))
    if output.startswith("READONLY") and os.access(readonly, os.W_OK) and os.geteuid() == 0:
        out = "/proc/sys/x.mp4"  # root writes into read-only folders: use a folder nobody can write
    start = time.perf_counter()
    result = run_cli("render", "missing.png", "missing.wav", "-o", out)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert message in result.stderr or "cannot write the video" in result.stderr, result.stderr
    assert time.perf_counter() - start < 60
    assert not [p for p in tmp_path.rglob("*") if ".part" in p.name]


def test_mouth_cues_to_an_unwritable_path_write_nothing(tmp_path):
    result = run_cli("predict", "missing.wav", "--portrait", "missing.png", "-o", tmp_path / "m.npz",
                     "--mouth-cues", "/proc/cues.json")
    assert result.returncode == 2 and "cannot write the mouth-cue file /proc/cues.json" in result.stderr
    assert not (tmp_path / "m.npz").exists()


def test_a_binary_transcript_and_a_bomb_image_are_one_line(tmp_path):
    binary = tmp_path / "t.txt"
    binary.write_bytes(b"\x00\xff\xfe\x01" * 10)
    result = run_cli("render", "missing.png", "missing.wav", "-o", tmp_path / "x.mp4", "--transcript", binary)
    assert result.returncode == 2 and "is not UTF-8 text" in result.stderr
    bomb = tmp_path / "bomb.png"
    import zlib

    def chunk(kind, data):
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = (30000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    from engine.errors import ImageReadError
    from engine.face.images import load_image

    with pytest.raises(ImageReadError, match="is 30000x30000 px, more than the 108 megapixels"):
        load_image(bomb)


def test_stale_temporary_files_are_swept_and_fresh_ones_kept(tmp_path):
    from engine.export.atomic import prepare_target

    old = tmp_path / ".take.mp4.0123abcd.part.mp4"
    fresh = tmp_path / ".take.mp4.4567cdef.part.mp4"
    staging = tmp_path / ".talkline-frames-89abcdef"
    mine = tmp_path / ".notes.part"
    for p in (old, fresh, mine):
        p.write_bytes(b"x")
    staging.mkdir()
    day_ago = time.time() - 25 * 3600
    for p in (old, staging, mine):
        os.utime(p, (day_ago, day_ago))
    prepare_target(tmp_path / "take.mp4")
    assert not old.exists() and not staging.exists()
    assert fresh.exists() and mine.exists()  # too new / not ours


def test_sigterm_during_a_render_leaves_nothing_behind(tmp_path):
    import shutil

    project = tmp_path / "p.talkline"
    shutil.copy(ROOT / "tests" / "fixtures" / "schema1.talkline", project)
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "render", str(project), "-o", str(out),
                             "--fps", "120", "--size", "1024"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not [p for p in tmp_path.iterdir() if ".part" in p.name]:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "stopped by SIGTERM" in err and "Traceback" not in err  # 128 + 15, as a shell
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.talkline"]


@pytest.mark.parametrize("seconds, fps", [(0.001, 30.0), (0.01, 30.0), (0.2, 30.0), (0.45, 25.0), (2.0, 1.0),
                                          (2.0, 120.0)])
def test_very_short_audio_and_extreme_frame_rates_give_valid_motion(seconds, fps):
    """Audio shorter than a smoothing kernel broke the tracks' lengths (np.convolve 'same' returns the kernel's
    length); 1 fps broke the nod track. Any length and any allowed rate now gives one frame or more."""
    from engine.a2l.embedded import predict_embedded
    from engine.audio.decode import AudioClip

    t = np.arange(max(1, int(seconds * 16000))) / 16000
    clip = AudioClip(samples=(0.3 * np.sin(2 * np.pi * 180 * t))[:, None].astype(np.float32), rate=16000)
    base = predict_embedded(clip, fps)
    assert base.frame_count == clip.frame_count(fps) >= 1
    assert np.isfinite(base.offsets).all() and np.isfinite(base.pose).all()
