"""The Qt-free logic behind the editor's tools (engine.document.edits / lipsync / readout / interchange and
engine.export.livelink): retiming and scaling key selections, intensity over a range, lane edits that stay
local, and the Live Link Face CSV round trip."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

from engine.document.curves import Curve, Interpolation, Key


def test_retime_merges_onto_unselected_keys_and_reports_the_moved_ones():
    from engine.document.edits import move_keys, scale_keys

    c = Curve([Key(0.5, 1.0), Key(1.0, 2.0), Key(1.5, 3.0)])
    out, sel = move_keys({"a": c}, {("a", 0)}, 0.5, fps=30)  # lands on the key at 1.0: replaces it
    assert [(k.time, k.value) for k in out["a"].keys] == [(1.0, 1.0), (1.5, 3.0)] and sel == {("a", 0)}
    assert [k.time for k in c.keys] == [0.5, 1.0, 1.5]  # the input is untouched
    out, sel = move_keys({"a": c}, {("a", 0)}, 0.013, fps=30)  # snapped to whole frames
    assert out["a"].keys[0].time == pytest.approx(0.5)
    out, sel = scale_keys({"a": c}, {("a", 1), ("a", 2)}, pivot=0.5, factor=0.5)
    assert [k.time for k in out["a"].keys] == pytest.approx([0.5, 0.75, 1.0]) and sel == {("a", 1), ("a", 2)}
    with pytest.raises(ValueError):
        scale_keys({"a": c}, {("a", 1)}, 0.5, float("inf"))


def test_scale_over_range_scales_inside_eases_at_the_edges_and_keeps_the_rest():
    from engine.document.edits import scale_over_range

    fps, n = 30.0, 120
    t = np.arange(n) / fps
    base = 0.5 + 0.4 * np.sin(t * 3.0)
    edit = Curve([Key(0.2, 0.1, Interpolation.LINEAR), Key(3.5, -0.1, Interpolation.LINEAR)])
    new = scale_over_range(edit, base, fps, 1.0, 2.5, 0.6, ramp=0.2)
    before, after = base + edit.evaluate(t), base + new.evaluate(t)
    inside = (t >= 1.2) & (t <= 2.3)
    assert np.allclose(after[inside], 0.6 * before[inside], atol=0.006)
    outside = (t < 1.0) | (t > 2.5)
    assert np.allclose(after[outside], before[outside], atol=1e-9)
    assert np.all(np.abs(np.diff(after)) < 0.1)  # eased: no jump at the edges
    assert len(new) < 40  # simplified, not a key per frame


def test_boundary_drag_and_relabel_change_the_base_layer_only_locally(demo_project_file):
    from engine.document import lipsync
    from engine.document.project_io import load_project

    project = load_project(demo_project_file)
    base = project.base
    phones = base.phonemes
    i = next(k for k in range(1, len(phones)) if phones[k - 1].end == phones[k].start
             and phones[k].end - phones[k].start > 0.08)
    moved = lipsync.move_boundary(base, "phonemes", i, phones[i].start + 0.04)
    assert moved.phonemes[i].start == pytest.approx(phones[i].start + 0.04)
    assert moved.phonemes[:i - 1] == phones[:i - 1] and moved.phonemes[i + 1:] == phones[i + 1:]
    frames = np.flatnonzero(np.any(moved.offsets != base.offsets, axis=(1, 2)))
    assert frames.size and frames.min() >= np.floor(phones[i - 1].start * base.fps) \
        and frames.max() <= np.ceil(phones[i].end * base.fps)
    assert np.array_equal(moved.pose, base.pose)
    with pytest.raises(IndexError):
        lipsync.move_boundary(base, "phonemes", 0, 0.1)

    relabelled = lipsync.relabel(base, "phonemes", i, "AA", project.rig)
    assert relabelled.phonemes[i].label == "AA"
    changed = np.flatnonzero(np.abs(relabelled.weights["jawOpen"] - base.weights["jawOpen"]) > 1e-6)
    assert changed.size and changed.min() >= (phones[i].start - 0.05) * base.fps - 1
    assert changed.max() <= (phones[i].end + 0.05) * base.fps + 1


def test_relabelling_a_diphthong_reshapes_its_two_halves_from_their_own_shapes():
    from engine.a2l.base_layer import BaseLayer, Segment
    from engine.a2l.visemes import mouth_controls
    from engine.document import lipsync
    from engine.rig import load_rig

    rig = load_rig()
    fps, n = 100.0, 100
    weights = {c: np.zeros(n, np.float32) for c in mouth_controls() if c in rig.controls}
    base = BaseLayer(fps=fps, offsets=rig.offsets(weights), pose=np.zeros((n, 6), np.float32), weights=weights,
                     phonemes=[Segment(0.0, 0.3, "SIL"), Segment(0.3, 0.7, "AY"), Segment(0.7, 1.0, "SIL")],
                     visemes=[], blinks=[])
    relabelled = lipsync.relabel(base, "phonemes", 1, "AA", rig, ramp=0.02)
    delta = relabelled.weights["jawOpen"] - base.weights["jawOpen"]
    # AY's onset is already AA's shape: only its offglide (IH, a closer jaw) opens to AA's
    assert np.abs(delta[32:47]).max() < 1e-6
    assert delta[55:68].min() > 0.3
    assert np.abs(delta[:25]).max() < 1e-6 and np.abs(delta[75:]).max() < 1e-6
    step = np.abs(np.diff(relabelled.weights["jawOpen"]))
    assert step[45:55].max() <= step[65:75].max() + 1e-6  # eased at the middle as at the span's edge: no jump


def test_a_stretch_keeps_the_words_its_prediction_timed():
    """A re-predicted stretch: the aligned words when they are the typed ones, the typed words spread over the
    phones when the alignment fell back to recognition, the recognised words when nothing was typed (they were
    erased)."""
    from engine.a2l.base_layer import Segment
    from engine.document.lipsync import typed_words
    from tests.test_project import make_base

    part = make_base(30)
    part.phonemes = [Segment(0.1, 0.3, "M"), Segment(0.3, 0.6, "AA"), Segment(0.6, 0.8, "P")]
    aligned = dataclasses.replace(part, words=[Segment(0.1, 0.8, "mop")])
    assert typed_words(aligned, "Mop!") == aligned.words
    heard = dataclasses.replace(part, words=[Segment(0.1, 0.8, "at")])
    assert [w.label for w in typed_words(heard, "mop")] == ["mop"]
    assert typed_words(heard, None) == heard.words


def test_words_follow_the_transcript():
    from engine.a2l.base_layer import Segment
    from engine.document.lipsync import words_from_phones

    phones = [Segment(0.0, 0.1, "SIL"), Segment(0.1, 0.2, "HH"), Segment(0.2, 0.3, "AY"), Segment(0.3, 0.4, "SIL"),
              Segment(0.4, 0.5, "B"), Segment(0.5, 0.6, "AA"), Segment(0.6, 0.7, "B")]
    words = words_from_phones(phones, "Hi, Bob!")
    assert [(w.label, w.start, w.end) for w in words] == [("hi", 0.1, 0.3), ("bob", 0.4, 0.7)]


def test_live_link_face_csv_round_trip(demo_project_file, tmp_path):
    from engine.document.interchange import export_livelink, import_livelink, result_tracks
    from engine.document.project_io import load_project
    from engine.export.livelink import HEADER, parse_timecode, read_livelink_csv, timecode

    assert timecode(61, 30) == "00:00:02:01.000" and parse_timecode("00:00:02:01.500", 30) == pytest.approx(
        2 + 1.5 / 30)
    assert len(HEADER) == 2 + 61
    project = load_project(demo_project_file)
    project.channels["ry"].set_key(0.5, 9.0)
    project.set_channels({"ry": project.channels["ry"]})
    export_livelink(project, tmp_path / "take.csv")
    take = read_livelink_csv(tmp_path / "take.csv")
    assert take.fps == 30.0 and len(take.times) == project.frame_count
    want = result_tracks(project)
    assert np.allclose(np.degrees(take.head[:, 0]), want["ry"], atol=1e-3)

    fresh = load_project(demo_project_file)  # same base, no keys: importing the take reproduces the results
    curves = import_livelink(fresh, take)
    fresh.set_channels(curves)
    got = result_tracks(fresh)
    for name in ("jawOpen", "mouthSmileLeft", "ry", "rx"):
        assert np.abs(got[name] - want[name]).max() < 0.02


def test_a_take_says_what_it_lacks_ignores_and_assumes(tmp_path):
    """A 10-frame take (a sixth of a second at 60 fps) cannot show its rate; a take without JawOpen and with a
    column of another tool's: each is said, not passed over in silence."""
    from engine.export.livelink import HEADER, read_livelink_csv, timecode

    def write(name, header, frames, fps=60):
        rows = [",".join(header)] + [",".join([timecode(i, fps)] + ["0.1"] * (len(header) - 1)) for i in range(frames)]
        (tmp_path / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
        return tmp_path / name

    with pytest.warns(UserWarning, match=r"under a second does not show its frame rate: 24 fps assumed"):
        read_livelink_csv(write("short.csv", HEADER, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_livelink_csv(write("short.csv", HEADER, 10), 60.0).fps == 60.0  # given: nothing to say
        assert read_livelink_csv(write("long.csv", HEADER, 90)).fps == 60.0
        # any rate, not the next common one (a 15 fps take read as 24 was squeezed in time)
        assert read_livelink_csv(write("15.csv", HEADER, 40, fps=15)).fps == 15.0
    damaged = write("damaged.csv", HEADER, 150)
    lines = damaged.read_text().splitlines()
    lines[70] = lines[70].replace("00:00:01:09.000", "00:00:01:99.000")  # one damaged frame field
    damaged.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"1 row\(s\) have a frame field past the take's 60 fps"):
        take = read_livelink_csv(damaged)
    assert take.fps == 60.0 and take.times[-1] == pytest.approx(149 / 60)  # was read as 100 fps, 1.5 s long

    degrees = write("degrees.csv", HEADER, 90)  # a head turned 100 "radians" (degrees written as radians)
    lines = degrees.read_text().splitlines()
    lines[5] = ",".join(lines[5].split(",")[:-9] + ["100"] + lines[5].split(",")[-8:])
    degrees.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"head rotations past 90 degrees .* were clipped"):
        take = read_livelink_csv(degrees)
    assert np.abs(take.head).max() == pytest.approx(np.pi / 2)
    with pytest.raises(ValueError, match="no blendshape or head rotation columns: nothing to import"):
        read_livelink_csv(write("timecodes.csv", ["Timecode"], 90))
    header = [h for h in HEADER if h != "JawOpen"] + ["Confidence"]
    with pytest.warns(UserWarning) as said:
        take = read_livelink_csv(write("odd.csv", header, 90))
    text = " | ".join(str(w.message) for w in said)
    assert "has no JawOpen" in text and "ignored the unknown column(s) Confidence" in text
    assert "jawOpen" not in take.shapes and len(take.shapes) == 51


def test_a_take_too_large_or_with_no_rate_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """A million-row take took 98 s and 5 GB to import into a 2 s project; timecodes counting frames to 5.9
    million were read as a 5.9e6 fps take. Both are refused with what to do."""
    from engine.export import livelink
    from engine.export.livelink import HEADER, read_livelink_csv, timecode

    rows = [",".join(HEADER)] + [",".join([timecode(i, 60)] + ["0.1"] * (len(HEADER) - 1)) for i in range(90)]
    take = tmp_path / "take.csv"
    take.write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setattr(livelink, "MAX_TAKE_BYTES", take.stat().st_size - 1)
    with pytest.raises(ValueError, match=r"more than a Live Link take of two hours at 60 fps .* cut the take"):
        read_livelink_csv(take)
    monkeypatch.undo()
    lines = [rows[0]] + [f"00:00:{s:02d}:{f:07d}.000," + r.split(",", 1)[1] for s in range(3) for f, r in
                         zip(range(0, 5_900_000, 100_000), rows[1:60])]
    take.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"frame fields count to 5\.8e\+06, past any take's rate \(at most 120 fps\)"):
        read_livelink_csv(take)


def test_a_head_turned_1e308_radians_is_said_without_overflow(tmp_path):
    from engine.export.livelink import HEADER, read_livelink_csv, timecode

    rows = [",".join(HEADER)] + [",".join([timecode(i, 60)] + ["0.1"] * (len(HEADER) - 1)) for i in range(90)]
    fields = rows[5].split(",")
    fields[HEADER.index("HeadYaw")] = "1e308"
    rows[5] = ",".join(fields)
    (tmp_path / "h.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        read_livelink_csv(tmp_path / "h.csv")  # said "up to inf", after numpy's overflow warning
    assert [str(w.message) for w in said if "up to 1e+308 radians in the file) were clipped" in str(w.message)]
    assert not [w for w in said if issubclass(w.category, RuntimeWarning)]


def test_a_take_next_to_a_kept_key_adds_no_second_key_there(tmp_path):
    """Live Link import one frame after an edit key: the key stays alone at its time (one key per time) and the
    result before it is unchanged."""
    import shutil

    from engine.document.curves import KEY_TIME_TOLERANCE, Curve, Interpolation, Key
    from engine.document.interchange import import_livelink
    from engine.document.project_io import load_project
    from engine.export.livelink import LiveLinkTake

    fixtures = Path(__file__).parent / "fixtures"
    shutil.copy(fixtures / "schema1.talkline", tmp_path)
    shutil.copy(fixtures / "schema1_speech.wav", tmp_path)
    project = load_project(tmp_path / "schema1.talkline")
    fps = project.fps
    old = Curve([Key(0.3, 0.1, Interpolation.LINEAR), Key(10 / fps, 0.2, Interpolation.LINEAR),
                 Key(30 / fps, 0.1, Interpolation.LINEAR)])
    project.set_channels({"jawOpen": old})
    take = LiveLinkTake(60.0, np.arange(30) / 60.0, {"jawOpen": np.full(30, 0.5)}, None)
    times = sorted(k.time for k in import_livelink(project, take, start=11 / fps)["jawOpen"].keys)
    assert np.diff(times).min() > KEY_TIME_TOLERANCE
    new = import_livelink(project, take, start=11 / fps)["jawOpen"]
    t = np.arange(0, 11) / fps
    np.testing.assert_allclose(new.evaluate(t), old.evaluate(t), atol=1e-12)


def test_a_take_dropped_in_mid_clip_eases_in_and_out(demo_project_file):
    """A take imported at 0.5 s into a clip that holds the head still: the yaw eased in over TAKE_BLEND_S instead of
    turning 12 degrees in one frame, and eases back out before the clip goes on; inside, the take as captured."""
    from engine.document.interchange import TAKE_BLEND_S, import_livelink, result_tracks
    from engine.document.project_io import load_project
    from engine.export.livelink import LiveLinkTake

    project = load_project(demo_project_file)
    fps, before = project.fps, result_tracks(project)["ry"]
    frames = int(1.2 * fps)
    take = LiveLinkTake(fps, np.arange(frames) / fps, {}, np.tile(np.radians([[12.0, 0.0, 0.0]]), (frames, 1)))
    project.set_channels(import_livelink(project, take, start=0.5))
    ry = result_tracks(project)["ry"]
    a, b = round(0.5 * fps), round(0.5 * fps) + frames
    assert np.abs(np.diff(ry)).max() < 12.0 / (TAKE_BLEND_S * fps) * 1.8  # a smoothstep's steepest slope is 1.5x
    middle = slice(a + round(TAKE_BLEND_S * fps) + 1, b - round(TAKE_BLEND_S * fps) - 1)
    np.testing.assert_allclose(ry[middle], 12.0, atol=0.3)
    np.testing.assert_allclose(ry[:a], before[:a], atol=1e-6)  # before the take: as it was
    np.testing.assert_allclose(ry[b + 1:], before[b + 1:], atol=0.3)  # after: as it was (within key tolerance)
    project = load_project(demo_project_file)  # without the blend: the one-frame turn it was
    project.set_channels(import_livelink(project, take, start=0.5, blend=0.0))
    assert np.abs(np.diff(result_tracks(project)["ry"])).max() > 10.0


def test_a_bad_timecode_is_named_by_its_line_in_the_file(tmp_path):
    from engine.export.livelink import read_livelink_csv

    path = tmp_path / "take.csv"
    path.write_text("Timecode,JawOpen\n00:00:00:00.000\n00:00:00:01.000,0.2\n00:00:00:xx,0.3\n")  # line 2 is short
    with pytest.warns(UserWarning, match="1 row"), pytest.raises(ValueError, match=r"row 4: '00:00:00:xx'"):
        read_livelink_csv(path)
