"""Work-losing and wrong-output bugs of the editor (issue 14, part 1), recovery from damaged autosaves, and the
render dock's renderer choice: each driven through the real main window (pytest-qt on Xvfb)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from tests.test_editor import _set_key

pytestmark = pytest.mark.gui


def _questions(dialogs) -> list[str]:
    return [text for kind, text in dialogs.messages if kind == "question"]


# --- unsaved edits are never dropped silently ------------------------------------------------------
def test_open_open_recent_demo_and_new_ask_before_dropping_unsaved_edits(make_main_window, demo_project_file,
                                                                          dialogs, monkeypatch, qtbot, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from editor.dialogs import NewProjectDialog
    from engine.document.project_io import autosave_path, find_recoverable

    window = make_main_window(demo_project_file)
    project = window.project
    other = tmp_path / "other.talkline"
    shutil.copy(demo_project_file, other)
    window._add_recent(str(other))
    _set_key(window, "jawOpen", 0.5, 0.3)
    window.autosave()
    autosave = autosave_path(project.path)
    assert autosave.exists()
    opened_dialogs = []
    monkeypatch.setattr(NewProjectDialog, "exec", lambda self: opened_dialogs.append(self) or 0)

    # Cancel keeps the project, its edits and its autosave, whichever way the replacement was asked for.
    dialogs.question_answer = QMessageBox.Cancel
    dialogs.open_path = str(other)
    window.actions_by_id["open"].trigger()
    window.recent_menu.actions()[0].trigger()  # Open Recent: other.talkline
    window.actions_by_id["open_demo"].trigger()
    window.actions_by_id["new"].trigger()
    assert len(_questions(dialogs)) == 4 and all("unsaved" in q.lower() for q in _questions(dialogs))
    assert window.project is project and len(project.channels["jawOpen"]) == 1
    assert not window.busy and not opened_dialogs  # no demo being built, no New Project dialog
    assert autosave.exists() and "*" in window.windowTitle()

    # Discard: replaced, and the dropped project's autosave goes with it (nothing bogus to recover later).
    dialogs.question_answer = QMessageBox.Discard
    window.actions_by_id["open"].trigger()
    assert window.project.path == str(other) and not autosave.exists()
    assert find_recoverable() == []

    # Save: the edits are written first, then the project is replaced.
    _set_key(window, "mouthPucker", 0.4, 0.5)
    dialogs.question_answer = QMessageBox.Save
    window.recent_menu.actions()[1].trigger()  # the first project again
    assert window.project.path == project.path
    from engine.document.project_io import load_project

    assert len(load_project(other).channels["mouthPucker"]) == 1

    # A clean project is replaced without a question.
    asked = len(_questions(dialogs))
    window.actions_by_id["open"].trigger()
    assert len(_questions(dialogs)) == asked and window.project.path == str(other)

    fresh = make_main_window()
    assert not fresh.offer_recovery() and len(_questions(dialogs)) == asked


# --- every render writes its own file ----------------------------------------------------------------
def _landmarks_only(dock) -> None:
    for kind, box in dock.kind_boxes.items():
        box.setChecked(kind == "landmarks")


def _render(qtbot, dock) -> tuple[int, list[str]]:
    with qtbot.waitSignal(dock.thread.job_finished, timeout=120_000) as done:
        job_id = dock.queue_render()
    assert done.args[0] == job_id
    return job_id, done.args[1]


def test_each_render_writes_its_own_file_and_open_result_opens_it(make_main_window, demo_project_file, monkeypatch,
                                                                  qtbot, tmp_path):
    from engine.document.project_io import load_project

    window = make_main_window(demo_project_file)
    dock = window.render_dock
    assert dock.stem_edit.text() == str(tmp_path / "project1_render")  # beside the project
    _landmarks_only(dock)
    whole_id, whole = _render(qtbot, dock)
    window.session.set_frame(10)
    window.set_in_point()
    window.session.set_frame(20)
    window.set_out_point()
    dock.range_box.setCurrentIndex(1)
    part_id, part = _render(qtbot, dock)
    again_id, again = _render(qtbot, dock)
    assert len({whole[0], part[0], again[0]}) == 3  # no render replaces another
    with np.load(whole[0]) as a, np.load(part[0]) as b, np.load(again[0]) as c:
        assert a["landmarks_2d"].shape[0] == window.project.frame_count
        assert b["landmarks_2d"].shape[0] == c["landmarks_2d"].shape[0] == 11
    for job_id, outputs in ((whole_id, whole), (part_id, part), (again_id, again)):
        assert Path(outputs[0]).name in dock.items[job_id].text() and "done" in dock.items[job_id].text()

    # a range left past the end (a shorter take animated since: here the base cut to 8 frames) is no range: the
    # dock offered it and rendered the last frame alone
    project = window.project
    project.set_base(project.base.resampled(project.fps, 8), project.a2l)
    assert project.in_out_range() is None and dock.range_box.currentIndex() == 0
    assert not dock.range_box.model().item(1).isEnabled() and dock.frame_range() == (0, project.frame_count)
    project.set_base(project.base.resampled(project.fps, 15), project.a2l)  # partly within: cut at the end
    assert dock.range_box.model().item(1).isEnabled()
    dock.range_box.setCurrentIndex(1)
    assert dock.frame_range() == (10, 15)

    opened = []
    monkeypatch.setattr("editor.render_dock.QDesktopServices.openUrl", lambda url: opened.append(url.toLocalFile())
                        or True)
    dock.queue_list.setCurrentItem(dock.items[whole_id])
    dock.open_button.click()
    assert opened == [whole[0]]

    # A new, untitled project: the output no longer points at the previous project's file.
    untitled = load_project(demo_project_file)
    untitled.path = None
    window.set_project(untitled)
    assert "project1" not in dock.stem_edit.text()
    assert Path(dock.stem_edit.text()).name == "astronaut_render"
    # Saved somewhere, the output follows it (it stayed in the home folder); an output the user typed stays.
    (tmp_path / "saved").mkdir()
    assert window._save_to(str(tmp_path / "saved" / "take.talkline"))
    assert dock.stem_edit.text() == str(tmp_path / "saved" / "take_render")
    dock.stem_edit.setText(str(tmp_path / "mine"))
    assert window._save_to(str(tmp_path / "saved" / "other.talkline"))
    assert dock.stem_edit.text() == str(tmp_path / "mine")


def test_an_image_sequence_is_shown_as_its_folder():
    """A PNG render's queue entry named every file (a minute: 1,800 names in one line) and "Open result" opened
    its first frame: the folder and its frame count now, and the folder opens."""
    from editor.render_dock import describe_outputs, shown_output

    frames = [f"/r/take_frames/frame_{i:06d}.png" for i in range(1, 1801)] + ["/r/take_frames/audio.wav"]
    assert describe_outputs(frames + ["/r/take_landmarks.npz"]) == "take_frames/ (1800 frames), take_landmarks.npz"
    assert shown_output(frames) == "/r/take_frames"
    assert describe_outputs(["/r/take.mp4"]) == "take.mp4" and shown_output(["/r/take.mp4"]) == "/r/take.mp4"


def test_in_point_after_the_out_point_lets_the_out_point_go(make_main_window, demo_project_file, qtbot):
    """I pressed after the out point (or O before the in point) did nothing, silently: the other end lets go."""
    window = make_main_window(demo_project_file)
    project, session = window.project, window.session
    with qtbot.waitActive(window):
        window.activateWindow()
    for frame, key in ((20, Qt.Key_I), (30, Qt.Key_O), (45, Qt.Key_I)):
        session.set_frame(frame)
        qtbot.keyClick(window, key)
    assert project.in_out == pytest.approx((project.time_of(45), project.duration))
    session.set_frame(10)
    qtbot.keyClick(window, Qt.Key_O)
    assert project.in_out == pytest.approx((0.0, project.time_of(11)))
    window.actions_by_id["undo"].trigger()
    assert project.in_out == pytest.approx((project.time_of(45), project.duration))


def test_out_point_is_the_last_frame_rendered(make_main_window, demo_project_file, qtbot):
    window = make_main_window(demo_project_file)
    dock = window.render_dock
    with qtbot.waitActive(window):
        window.activateWindow()
    window.session.set_frame(10)
    qtbot.keyClick(window, Qt.Key_I)
    window.session.set_frame(31)
    qtbot.keyClick(window, Qt.Key_O)
    _landmarks_only(dock)
    dock.range_box.setCurrentIndex(1)
    _, outputs = _render(qtbot, dock)
    with np.load(outputs[0]) as npz:
        assert npz["landmarks_2d"].shape[0] == 22  # frames 10..31, both ends included
    first = window.project.evaluate(10).landmarks_px
    with np.load(outputs[0]) as npz:
        np.testing.assert_allclose(npz["landmarks_2d"][0], first, atol=1e-3)
    # Playback loops over the same frames: it never shows frame 32.
    window.playback.loop = True
    seen = set()
    window.session.frame_changed.connect(seen.add)
    window.session.set_frame(28)
    window.playback.play()
    qtbot.waitUntil(lambda: 10 in seen, timeout=5_000)
    window.playback.stop()
    assert 32 not in seen


# --- transport keys reach the transport from anywhere but text fields -------------------------------
def test_transport_keys_are_not_trapped_by_checkboxes_and_sliders(make_main_window, demo_project_file, qtbot):
    window = make_main_window(demo_project_file)
    with qtbot.waitActive(window):
        window.activateWindow()
    row = window.inspector.rows["rx"]
    qtbot.mouseClick(row.check, Qt.LeftButton, pos=QPoint(8, row.check.height() // 2))
    assert row.check.isChecked() and window.focusWidget() is row.check
    qtbot.keyClick(row.check, Qt.Key_Space)
    assert window.playback.playing and row.check.isChecked()
    qtbot.keyClick(row.check, Qt.Key_Space)
    assert not window.playback.playing and row.check.isChecked()

    window.session.set_frame(5)
    slider = row.slider
    handle = QPoint(round(slider.width() * row.to_slider(0.0) / 1000), slider.height() // 2)
    qtbot.mouseClick(slider, Qt.LeftButton, pos=handle)
    count = window.session.undo_stack.count()
    qtbot.keyClick(slider, Qt.Key_Right)
    qtbot.keyClick(slider, Qt.Key_Right)
    qtbot.keyClick(slider, Qt.Key_Left)
    assert window.session.frame == 6
    assert window.session.undo_stack.count() == count and len(window.project.channels["rx"]) == 0

    # Text fields keep their keys: typing a transcript does not start playback.
    edit = window.inspector.a2l_form.widgets["transcript"]
    qtbot.mouseClick(edit, Qt.LeftButton)
    edit.clear()
    qtbot.keyClicks(edit, "a b")
    qtbot.keyClick(edit, Qt.Key_Left)
    assert edit.text() == "a b" and not window.playback.playing and window.session.frame == 6


# --- the render dock says what happened --------------------------------------------------------------
def test_render_dock_states_and_open_result_without_a_player(make_main_window, demo_project_file, dialogs,
                                                             monkeypatch, qtbot, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    window = make_main_window(demo_project_file)
    dock = window.render_dock
    dock.stem_edit.setText(str(tmp_path / "take"))
    assert not dock.cancel_button.isEnabled() and not dock.open_button.isEnabled()  # nothing queued
    _landmarks_only(dock)
    done_id, outputs = _render(qtbot, dock)
    assert not dock.cancel_button.isEnabled() and dock.open_button.isEnabled()

    dock.kind_boxes["mp4"].setChecked(True)
    first = []
    dock.thread.job_progress.connect(lambda i, p: (first.append(p), dock.cancel_selected()) if not first else None)
    with qtbot.waitSignal(dock.thread.job_cancelled, timeout=60_000) as cancelled:
        dock.queue_render()
    assert dock.progress.value() == dock.progress.minimum()  # not left at the cancelled job's last value
    assert "cancelled" in dock.items[cancelled.args[0]].text()
    assert not dock.cancel_button.isEnabled() and not dock.open_button.isEnabled()

    # Open result with no application for the file type: say so, and offer its folder.
    calls = []
    monkeypatch.setattr("editor.render_dock.QDesktopServices.openUrl",
                        lambda url: calls.append(url.toLocalFile()) or len(calls) > 1)
    dialogs.question_answer = QMessageBox.Yes
    dock.queue_list.setCurrentItem(dock.items[done_id])
    dock.open_button.click()
    assert calls == [outputs[0], str(Path(outputs[0]).parent)]
    assert "show" in _questions(dialogs)[-1].lower() and "folder" in _questions(dialogs)[-1].lower()


def test_quit_after_renders_stops_the_render_thread_cleanly(make_main_window, demo_project_file, qtbot, qtlog,
                                                            tmp_path):
    window = make_main_window(demo_project_file)
    dock = window.render_dock
    dock.stem_edit.setText(str(tmp_path / "take"))
    _landmarks_only(dock)
    _render(qtbot, dock)
    _render(qtbot, dock)
    thread = dock.thread
    window.actions_by_id["quit"].trigger()
    assert thread.isFinished()
    qtbot.wait(20)
    assert not [r for r in qtlog.records if "QObject" in r.message or "QThread" in r.message]


# --- saving ------------------------------------------------------------------------------------------
def test_save_dialog_starts_in_the_project_folder_not_the_working_directory(make_main_window, demo_project_file,
                                                                             dialogs, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    from engine.document.project_io import load_project

    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda parent, caption, where, *a, **k:
                                                                     asked.append(where) or ("", "")))
    window = make_main_window(demo_project_file)  # opened from tmp_path
    untitled = load_project(demo_project_file)
    untitled.path = None
    window.set_project(untitled, modified=True)
    window.actions_by_id["save"].trigger()
    assert asked and Path(asked[-1]) == tmp_path / "astronaut.talkline"


def test_a_saved_demo_keeps_its_audio_beside_the_project(make_main_window, dialogs, qtbot, tmp_path):
    import tempfile

    from engine.document.project_io import load_project, missing_sources

    window = make_main_window()
    with qtbot.waitSignal(window.session.project_replaced, timeout=120_000):
        window.actions_by_id["open_demo"].trigger()
    assert Path(window.project.audio_source.path).is_relative_to(tempfile.gettempdir())
    dialogs.save_path = str(tmp_path / "my demo")
    window.actions_by_id["save"].trigger()
    audio = Path(window.project.audio_source.path)
    assert audio.parent == tmp_path and audio.exists()
    reloaded = load_project(tmp_path / "my demo.talkline")
    assert Path(reloaded.audio_source.path) == audio and missing_sources(reloaded) == []
    assert np.array_equal(reloaded.audio.samples, window.project.audio.samples)


# --- recovery from damaged autosaves -----------------------------------------------------------------
def test_start_with_a_damaged_autosave(make_main_window, demo_project_file, dialogs):
    from PySide6.QtWidgets import QMessageBox

    crashed = make_main_window(demo_project_file)
    _set_key(crashed, "mouthPucker", 0.6, 0.9)
    crashed.autosave()
    from engine.document.project_io import autosave_path

    auto = autosave_path(crashed.project.path)
    data = bytearray(auto.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0xFF
    auto.write_bytes(bytes(data))
    dialogs.question_answer = QMessageBox.Yes
    fresh = make_main_window()
    assert not fresh.offer_recovery()
    assert fresh.project is None and not dialogs.messages  # no box: a note in the status bar
    assert "damaged" in fresh.statusBar().currentMessage() and auto.name in fresh.statusBar().currentMessage()
    assert not auto.exists() and auto.with_name(auto.name + ".damaged").exists()


def test_start_with_a_garbage_autosave_registry(make_main_window, dialogs, tmp_path):
    registry = tmp_path / "state" / "talkline" / "autosave" / "index.json"
    registry.parent.mkdir(parents=True)
    registry.write_bytes(b"\x00\xff{not json")
    window = make_main_window()
    assert not window.offer_recovery()
    assert not dialogs.messages and "damaged" in window.statusBar().currentMessage()
    assert registry.with_name("index.json.damaged").exists()


def test_recovered_untitled_work_asks_where_to_save(make_main_window, demo_project_file, dialogs, qtbot, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from engine.document.project_io import load_project

    crashed = make_main_window()
    untitled = load_project(demo_project_file)
    untitled.path = None
    crashed.set_project(untitled, modified=True)
    _set_key(crashed, "cheekPuff", 0.3, 0.7)
    crashed.autosave()
    dialogs.question_answer = QMessageBox.Yes
    fresh = make_main_window()
    assert fresh.offer_recovery() and fresh.project.path is None
    # named for people, not by its file ("untitled-3500.talkline.autosave")
    assert any("an untitled project (autosaved " in q for q in _questions(dialogs))
    dialogs.save_path = str(tmp_path / "rescued")
    with qtbot.waitActive(fresh):
        fresh.activateWindow()
    qtbot.keyClick(fresh, Qt.Key_S, Qt.ControlModifier)
    assert fresh.project.path == str(tmp_path / "rescued.talkline")
    assert load_project(tmp_path / "rescued.talkline").channels["cheekPuff"] == crashed.project.channels["cheekPuff"]


def test_opening_a_crashed_project_directly_offers_its_autosave(make_main_window, demo_project_file, dialogs):
    """`main.py a.talkline` (or Open Recent) after a crash opened the older saved file silently; the next autosave
    or closing the window then deleted the crash's work."""
    from PySide6.QtWidgets import QMessageBox

    from engine.document.project_io import autosave_path, load_project

    crashed = make_main_window(demo_project_file)
    path = crashed.project.path
    _set_key(crashed, "mouthPucker", 0.6, 0.9)
    crashed.autosave()  # then the crash: the window is never closed
    auto = autosave_path(path)

    dialogs.question_answer = QMessageBox.No  # not now: the work is kept aside, out of the next autosave's way
    declined = make_main_window()
    assert declined.open_project(path) and len(declined.project.channels["mouthPucker"]) == 0
    assert any("unsaved work" in q for q in _questions(dialogs))
    _set_key(declined, "cheekPuff", 0.2, 0.5)
    declined.autosave()
    declined.close()
    kept = auto.with_name(auto.name + ".declined")
    assert load_project(kept).channels["mouthPucker"] == crashed.project.channels["mouthPucker"]

    crashed.autosave()  # the crash again
    dialogs.question_answer = QMessageBox.Yes
    fresh = make_main_window()
    assert fresh.open_project(path)
    assert fresh.project.channels["mouthPucker"] == crashed.project.channels["mouthPucker"]
    assert fresh.project.path == path and "*" in fresh.windowTitle()
    # the recovered work is on disk at once: a second crash now does not lose it
    assert load_project(auto).channels["mouthPucker"] == crashed.project.channels["mouthPucker"]
    dialogs.question_answer = QMessageBox.Discard


def test_reopening_the_open_project_does_not_offer_the_edits_just_discarded(make_main_window, demo_project_file,
                                                                           dialogs):
    from PySide6.QtWidgets import QMessageBox

    window = make_main_window(demo_project_file)
    path = window.project.path
    _set_key(window, "mouthPucker", 0.6, 0.9)
    window.autosave()
    dialogs.question_answer = QMessageBox.Discard  # "unsaved changes": discard them and open the file again
    assert window.open_project(path)
    assert not any("previous session" in q for q in _questions(dialogs))
    assert len(window.project.channels["mouthPucker"]) == 0


def test_recovered_work_is_backed_up_at_once(make_main_window, demo_project_file, dialogs):
    """Accepting recovery deleted the autosave: the work lived only in memory until the next 60 s autosave."""
    from PySide6.QtWidgets import QMessageBox

    from engine.document.project_io import find_recoverable, load_project

    crashed = make_main_window(demo_project_file)
    _set_key(crashed, "cheekPuff", 0.3, 0.7)
    crashed.autosave()
    dialogs.question_answer = QMessageBox.Yes
    fresh = make_main_window()
    assert fresh.offer_recovery()
    found = find_recoverable()  # what the next start would offer, were this window to crash now
    assert len(found) == 1 and load_project(found[0]).channels["cheekPuff"] == fresh.project.channels["cheekPuff"]
    dialogs.question_answer = QMessageBox.Discard


def test_edits_made_while_a_new_project_is_built_are_asked_about_before_it_opens(make_main_window,
                                                                                 demo_project_file, dialogs, qtbot):
    """The window stays responsive while the demo or a new project is made on a worker; edits made meanwhile were
    replaced by it without a question (and their autosave deleted)."""
    from PySide6.QtWidgets import QMessageBox

    window = make_main_window(demo_project_file)
    project = window.project
    dialogs.question_answer = QMessageBox.Cancel
    window.actions_by_id["open_demo"].trigger()  # clean: no question now
    assert not _questions(dialogs) and window.busy
    _set_key(window, "jawOpen", 0.5, 0.3)  # edited while the demo is built
    qtbot.waitUntil(lambda: not window.busy, timeout=120_000)
    assert len(_questions(dialogs)) == 1 and "unsaved changes" in _questions(dialogs)[0]
    assert window.project is project and len(project.channels["jawOpen"]) == 1  # kept, with its edit

    dialogs.question_answer = QMessageBox.Discard  # asked again at the start; no edits since: opened unasked
    window.actions_by_id["open_demo"].trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=120_000)
    assert len(_questions(dialogs)) == 2 and window.project is not project
    dialogs.question_answer = QMessageBox.Discard


def test_replacing_the_audio_is_an_undo_step_and_offers_to_animate_a_new_length(make_main_window, demo_project_file,
                                                                                 dialogs, qtbot):
    """Relink Audio said "not found" of a file that was there, kept the old animation's length for a take of
    another length without a word, and was no undo step (closing did not ask, and the relink was lost)."""
    from PySide6.QtWidgets import QMessageBox

    from tests.media import media

    window = make_main_window(demo_project_file)
    project = window.project
    old_path, old_frames = project.audio_source.path, project.frame_count
    new_audio = media("speech/Real3DPortrait__Obama_5s.wav")
    dialogs.open_path = new_audio
    dialogs.question_answer = QMessageBox.No
    window.actions_by_id["relink_audio"].trigger()
    assert not [t for kind, t in dialogs.messages if kind == "warning"]  # no "was not found"
    assert any("another length" in q or "Regenerate the animation" in q for q in _questions(dialogs))
    assert project.audio_source.path == new_audio and project.frame_count == old_frames
    assert "*" in window.windowTitle() and window.session.undo_stack.count() == 1
    window.session.undo_stack.undo()
    assert project.audio_source.path == old_path

    dialogs.question_answer = QMessageBox.Yes  # now animate the new take
    window.actions_by_id["relink_audio"].trigger()
    qtbot.waitUntil(lambda: project.frame_count == project.audio.frame_count(project.fps), timeout=120_000)
    assert project.frame_count != old_frames
    dialogs.question_answer = QMessageBox.Discard


def test_a_project_whose_audio_file_was_replaced_offers_to_animate_the_new_one(make_main_window, demo_project_file,
                                                                              dialogs, tmp_path):
    """Another recording put at a saved project's audio path played and rendered under the old lip sync, silently.
    Opening it now says so and offers to regenerate; kept as it is, the file becomes the project's audio (an undo
    step) and renders."""
    import soundfile as sf
    from PySide6.QtWidgets import QMessageBox

    from engine.document.project_io import load_project, relink_source, save_project
    from engine.errors import AudioReadError
    from engine.jobs import RenderJob, RenderSettings

    project = load_project(demo_project_file)
    audio = tmp_path / "line.wav"
    samples, rate = sf.read(project.audio_source.path, dtype="float32")
    sf.write(audio, samples, rate)
    relink_source(project, "audio", audio)
    save_project(project, tmp_path / "take.talkline")
    sf.write(audio, samples[::-1], rate)  # another take of the same length: its pauses elsewhere

    dialogs.question_answer = QMessageBox.No
    window = make_main_window(tmp_path / "take.talkline")
    asked = _questions(dialogs)
    assert len(asked) == 1 and "has changed since the project was saved: it is another recording of the same " \
        "length" in asked[0]
    settings = RenderSettings(output=str(tmp_path / "x.mp4"))
    RenderJob.for_project(window.project, settings)  # this file is the project's audio now
    assert window.session.undo_stack.count() == 1 and "*" in window.windowTitle()
    window.session.undo_stack.undo()
    with pytest.raises(AudioReadError, match="not the recording this project was animated to"):
        RenderJob.for_project(window.project, settings)
    dialogs.question_answer = QMessageBox.Discard


def test_keys_dragged_past_the_clip_end_stop_at_its_last_frame(make_main_window, demo_project_file):
    """A dope-sheet drag clamped keys at 0 s but let them past the end, where they were invisible and did nothing."""
    from editor import key_edits

    window = make_main_window(demo_project_file)
    project, session = window.project, window.session
    for i, t in enumerate((1.0, 1.2, 1.6)):
        _set_key(window, "jawOpen", t, 0.1 * (i + 1))
    session.set_key_selection(frozenset({("jawOpen", 0), ("jawOpen", 1), ("jawOpen", 2)}))
    key_edits.move(session, project.duration + 5.0)
    last = project.time_of(project.frame_count - 1)
    # the group stops at the end and keeps its spacing (clamped one by one they merged into one key)
    times = [k.time for k in project.channels["jawOpen"].keys]
    assert len(times) == 3 and times[-1] == pytest.approx(last, abs=1.0 / project.fps)
    assert np.diff(times) == pytest.approx([0.2, 0.4], abs=1.0 / project.fps)
    session.set_frame(0)
    key_edits.scale(session, 50.0)
    times = [k.time for k in project.channels["jawOpen"].keys]
    assert len(times) == 3 and times[-1] <= last + 1e-9


def test_the_window_fits_a_laptop_screen_whatever_the_recent_list(make_main_window, demo_project_file, tmp_path,
                                                                     qtbot):
    """The welcome page's recent list set the centre's minimum even under an open project: with 8 recent files
    the window could not be smaller than 1078x930 and squeezed the graph editor to a strip."""
    window = make_main_window()
    window.settings.setValue("recent", [str(tmp_path / f"a project with a long name {i}.talkline") for i in range(8)])
    window._refresh_recent()
    path = tmp_path / "p.talkline"
    shutil.copy(demo_project_file, path)
    assert window.open_project(str(path))
    hint = window.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 720  # a 1366x768 screen, less a title bar and a panel
    # made small, then large again: the timeline and the graph editor grow back (the preview took it all)
    window.resize(hint)
    qtbot.wait(50)
    assert window.inspector.rows["jawOpen"].slider.width() >= 60  # (they shrank to their bare handles)
    window.resize(1900, 1050)
    qtbot.wait(50)
    height = window.height()
    assert window.docks["graph"].height() >= 0.12 * height and window.docks["timeline"].height() >= 0.2 * height
    assert window.docks["inspector"].width() >= 400  # the readouts fit again (it stayed at 339 px, cut off)
    # ... and the top row gets its share back too: after a very large window and back, the 3D viewport stayed
    # 297 px wide and the top row 226 px high at 1600x1000, the height all in the bottom docks
    window.resize(3000, 2000)
    qtbot.wait(50)
    window.resize(1600, 1000)
    qtbot.wait(50)
    assert window.docks["viewport"].width() >= 500
    assert window.docks["viewport"].height() >= 0.28 * window.height()
    assert window.docks["graph"].height() >= 0.12 * window.height() and window.docks["timeline"].height() >= 0.2 * window.height()


def test_the_layout_is_kept_between_sessions(make_main_window, qtbot):
    """Dock places and sizes, hidden docks, the window's size and the time unit came back as the defaults on every
    launch: the next window opens as the last one closed."""
    from PySide6.QtCore import Qt

    first = make_main_window(size=(1500, 900))
    first.docks["viewport"].hide()
    first.removeDockWidget(first.docks["graph"])
    first.addDockWidget(Qt.RightDockWidgetArea, first.docks["graph"])
    first.docks["graph"].show()
    first.set_time_unit("frames")
    first.resizeDocks([first.docks["inspector"]], [360], Qt.Horizontal)
    qtbot.wait(20)
    inspector_width = first.docks["inspector"].width()
    assert first.close()
    second = make_main_window(size=(1500, 900))
    qtbot.wait(20)
    assert not second.docks["viewport"].isVisible() and second.docks["graph"].isVisible()
    assert second.dockWidgetArea(second.docks["graph"]) == Qt.RightDockWidgetArea
    assert second.timeline.mode_box.currentText() == "frames"
    assert abs(second.docks["inspector"].width() - inspector_width) <= 2


def test_a_recent_project_that_is_gone_leaves_the_list(make_main_window, dialogs, tmp_path):
    """A recent entry whose file was deleted stayed in the list after its error, failing on every click."""
    window = make_main_window()
    gone, broken = str(tmp_path / "gone.talkline"), tmp_path / "broken.talkline"
    broken.write_bytes(b"not a project")
    window.settings.setValue("recent", [gone, str(broken)])
    window._refresh_recent()
    assert not window.open_project(gone) and not window.open_project(str(broken))
    assert window.recent_files() == [str(broken)]  # a damaged file stays: it may be mended or restored
    assert [a.text() for a in window.recent_menu.actions()] == [str(broken)]


# --- renderer and backend choice ---------------------------------------------------------------------
def test_render_dock_renderer_becomes_the_project_default_undoably(make_main_window, demo_project_file,
                                                                  fake_backends, qtbot):
    from engine.plugins import Choice
    from tests.seams import FlatConfig

    window = make_main_window(demo_project_file)
    project, form = window.project, window.render_dock.renderer_form
    before = project.renderer
    form.combo.setCurrentIndex(form.combo.findData("flat"))
    form.widgets["window"].setValue(3)
    window.render_dock.default_button.click()
    assert project.renderer == Choice("flat", FlatConfig(window=3))
    assert window.session.undo_stack.undoText() == "Set default renderer: Flat (tests)"
    window.actions_by_id["undo"].trigger()
    assert project.renderer == before and form.name == before.name
    window.actions_by_id["redo"].trigger()
    assert project.renderer == Choice("flat", FlatConfig(window=3)) and form.name == "flat"


def test_backend_becomes_pickable_once_its_form_makes_it_available(make_main_window, demo_project_file,
                                                                   fake_backends, qtbot, tmp_path):
    window = make_main_window(demo_project_file)
    inspector, form = window.inspector, window.inspector.a2l_form
    form.combo.setCurrentIndex(form.combo.findData("needs_weights"))
    assert form.name == "needs_weights"
    assert not inspector.regenerate_button.isEnabled() and "weights folder" in form.status.text()
    qtbot.keyClicks(form.widgets["weights"], str(tmp_path))
    assert inspector.regenerate_button.isEnabled() and form.status.text() == ""
    form.widgets["weights"].clear()
    assert not inspector.regenerate_button.isEnabled()


# --- key lanes: every name readable, the waveform keeps its height, rows scroll ---------------------
def test_dope_sheet_rows_keep_names_and_height_and_scroll(make_main_window, demo_project_file, qtbot):
    window = make_main_window(demo_project_file)
    timeline, dope = window.timeline, window.timeline.dope_sheet
    wave_height = timeline.wave_plot.height()
    names = ["rx", "ry", "jawOpen", "mouthFunnel", "mouthSmileLeft", "mouthSmileRight", "cheekPuff", "browInnerUp"]
    for i, name in enumerate(names):
        _set_key(window, name, 0.2 + 0.1 * i, 0.3)
    window.session.set_selection([])
    qtbot.wait(20)
    assert timeline.wave_plot.height() == wave_height  # lanes never shrink the waveform
    assert dope.rows == [n for n in window.project.channel_names if n in names]
    assert dope.scroll.isVisible() and dope.scroll.maximum() > 0  # eight rows do not fit: they scroll
    line = dope.fontMetrics().height()
    seen = {}
    for value in range(dope.scroll.maximum() + 1):
        dope.scroll.setValue(value)
        qtbot.wait(1)
        rects = sorted(dope.label_rects().items(), key=lambda kv: kv[1].top())
        for (_, a), (_, b) in zip(rects, rects[1:]):
            assert b.top() >= a.bottom() - 1  # no two names overlap
        for name, rect in rects:
            if rect.height() >= line and dope.plot.viewport().rect().contains(rect.center()):
                seen[name] = rect
    assert set(seen) == set(names)  # every keyed channel is shown, labelled, at full row height
    assert all(abs(r.height() - seen[names[0]].height()) <= 1 for r in seen.values())

    # a channel selected elsewhere (its check box in the inspector) is scrolled into view
    for name in (dope.rows[-1], dope.rows[0]):
        window.session.set_selection([])
        window.inspector.rows[name].check.click()
        qtbot.wait(5)
        assert list(window.session.selection) == [name]
        rect = dope.label_rects().get(name)
        assert rect is not None and dope.plot.viewport().rect().contains(rect.center()), name


def test_replace_portrait_keeps_the_motion_and_is_undoable(make_main_window, demo_project_file, dialogs, qtbot,
                                                           tmp_path, monkeypatch):
    """File > Replace Portrait: another face takes the project's motion and keys (framed as the first was); the
    preview and the 3D viewport's ghost show it; undo gives the old face back; the project saves it. A picture
    without a face is refused by name and changes nothing."""
    from engine.document.changes import ChangeKind
    from engine.document.project_io import load_project
    from tests.media import media
    from tests.test_editor import _wait_preview

    window = make_main_window(demo_project_file)
    project = window.project
    _set_key(window, "jawOpen", 0.5, 0.7)
    keys = list(project.channels["jawOpen"].keys)
    old_source, old_image = project.source, project.reference.image.copy()
    window.session.set_frame(project.frame_of(0.5))
    _wait_preview(qtbot, window)
    before = window.preview.current_image().copy()
    new = media("portraits/hallo__6.jpg")
    with qtbot.waitSignal(window.session.project_changed, timeout=60_000,
                          check_params_cb=lambda c: c.kind is ChangeKind.FACE):
        window.replace_portrait(new)
    assert project.source.path == new and project.reference.image.shape == old_image.shape  # same framing
    assert not np.array_equal(project.reference.image, old_image)
    assert project.channels["jawOpen"].keys == keys and project.rig is project.source.fitted.rig
    _wait_preview(qtbot, window)
    after = window.preview.current_image()
    assert after.shape == before.shape and np.abs(after.astype(int) - before).mean() > 20  # another face
    ghost = window.viewport.ghost.mesh_data.get_vertices()
    assert np.allclose(ghost, project.reference.mesh, atol=1e-4)
    assert window.session.undo_stack.undoText() == "Replace portrait: hallo__6.jpg"
    assert not window.session.undo_stack.isClean() and "*" in window.windowTitle()

    window.actions_by_id["undo"].trigger()
    assert project.source is old_source and np.array_equal(project.reference.image, old_image)
    window.actions_by_id["redo"].trigger()
    path = tmp_path / "replaced.talkline"
    assert window._save_to(str(path))
    again = load_project(path)
    assert again.source.path == new and np.array_equal(again.reference.image, project.reference.image)

    import cv2

    window.replace_portrait(media("not_a_person/LivePortrait__s22.jpg"))
    qtbot.waitUntil(lambda: bool(dialogs.messages), timeout=60_000)
    assert "face" in dialogs.messages[-1][1].lower() and project.source.path == new
    assert window.session.undo_stack.undoText() == "Replace portrait: hallo__6.jpg"

    # The engine's warnings on the worker reach the window (they went to a terminal nobody sees): a face cut off by
    # the picture's edge is said in the status bar.
    import warnings

    from editor.workers import relay_warnings

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # (restored after the test)
    relay_warnings()
    image = cv2.imread(media("portraits/hallo__6.jpg"))
    cv2.imwrite(str(tmp_path / "cut.png"), image[: int(0.66 * image.shape[0])])
    with qtbot.waitSignal(window.session.project_changed, timeout=60_000,
                          check_params_cb=lambda c: c.kind is ChangeKind.FACE):
        window.replace_portrait(str(tmp_path / "cut.png"))
    qtbot.waitUntil(lambda: "runs off the picture's edge" in window.statusBar().currentMessage(), timeout=5_000)

    # A picture of two people asks which face (it failed on --face-index advice the editor has no field for).
    from PySide6.QtWidgets import QInputDialog

    pair = np.hstack([cv2.resize(cv2.imread(media(f"portraits/{n}")), (512, 512))
                      for n in ("hallo__6.jpg", "hallo__7.jpg")])
    cv2.imwrite(str(tmp_path / "pair.png"), pair)
    asked = []
    monkeypatch.setattr(QInputDialog, "getInt", staticmethod(lambda *a, **k: asked.append(a[2]) or (1, True)))
    with qtbot.waitSignal(window.session.project_changed, timeout=60_000,
                          check_params_cb=lambda c: c.kind is ChangeKind.FACE):
        window.replace_portrait(str(tmp_path / "pair.png"))
    assert "shows 2 faces" in asked[0] and project.source.framing.face_index == 1


def test_a_dub_whose_video_moved_asks_for_it_and_relinks_as_an_undo_step(make_main_window, dialogs, tmp_path):
    """A dub project whose video had moved opened on a black preview with no way to point it at the video (only
    audio was offered, and File had no Relink Video). Now it asks, checks the file is the tracked video, and the
    relink is one undo step; another video is refused with the reason."""
    import shutil

    from engine.document.project_io import save_project
    from engine.pipeline import ProjectRequest, create_project
    from tests.media import media

    video = tmp_path / "take.mp4"
    shutil.copy(media("talking_videos/Talking-Face_PC-AVS__00015.mp4"), video)
    project = create_project(ProjectRequest(portrait=None, audio=media("speech/Real3DPortrait__Obama_5s.wav"),
                                            video=str(video)))
    save_project(project, tmp_path / "dub.talkline")
    moved = tmp_path / "moved" / "take.mp4"
    moved.parent.mkdir()
    shutil.move(video, moved)
    dialogs.open_path = str(moved)
    window = make_main_window(tmp_path / "dub.talkline")
    assert any("video file of this project was not found" in t for kind, t in dialogs.messages if kind == "warning")
    assert window.project.source.path == str(moved) and window.session.undo_stack.count() == 1
    assert "*" in window.windowTitle()
    assert window.project.source.full_frame(0).shape == (224, 224, 3)
    window.session.undo_stack.undo()
    assert window.project.source.path == str(video)

    dialogs.open_path = media("talking_videos/Talking-Face_PC-AVS__00473.mp4")  # another video
    window.actions_by_id["relink_video"].trigger()
    assert any("not the video this project tracked" in t for kind, t in dialogs.messages if kind == "critical")
    assert window.project.source.path == str(video)
