"""The editing tools animators expect (issue 14, part 2), each driven through the real widgets of the main window:
readable and settable values, the dope sheet, intensity over a range, editable lip-sync lanes, the graph editor's
framing and views, the transport, with their visible effect, undo and redo."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from tests.test_editor import _drag, _set_key, _wait_preview, _widget_pos

pytestmark = pytest.mark.gui


def _slider_x(slider, value_pos: int) -> int:
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    style = slider.style()
    handle = style.subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderHandle, slider)
    groove = style.subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderGroove, slider)
    span = groove.width() - handle.width()
    return groove.x() + handle.width() // 2 + QStyle.sliderPositionFromValue(slider.minimum(), slider.maximum(),
                                                                            value_pos, span)


def _drag_slider(qtbot, row, to_value: float, modifier=Qt.NoModifier) -> None:
    """Press the slider's handle, drag it to `to_value`, release."""
    from PySide6.QtWidgets import QApplication

    s = row.slider
    y = s.height() // 2
    a = QPoint(_slider_x(s, s.value()), y)
    b = QPoint(_slider_x(s, row.to_slider(to_value)), y)
    qtbot.wait(QApplication.doubleClickInterval() + 20)
    qtbot.mousePress(s, Qt.LeftButton, modifier, a)
    for i in range(1, 6):
        qtbot.mouseMove(s, a + (b - a) * i / 5)
    qtbot.mouseRelease(s, Qt.LeftButton, modifier, b)


def _lip_gap(state) -> float:
    return float(np.linalg.norm(state.mesh[13] - state.mesh[14]))  # inner upper / lower lip midpoints


# --- values you can read and set -------------------------------------------------------------------
def test_inspector_reads_and_sets_results_with_linked_sides(make_main_window, demo_project_file, qtbot):
    from engine.document.readout import channel_readout

    window = make_main_window(demo_project_file)
    project, rows = window.project, window.inspector.rows
    frame = int(np.argmax(project.base.weights["jawOpen"]))  # the widest base opening: "over-open"
    window.session.set_frame(frame)
    values = channel_readout(project, frame)
    base_jaw = values["jawOpen"][0]
    assert base_jaw > 0.3 and rows["jawOpen"].readout.text() == f"{base_jaw:.3f}"  # the result, not the edit (0)
    assert rows["jawOpen"].base_readout.text() == f"b {base_jaw:.2f}"
    gap = _lip_gap(window.session.frame_state())

    # Reduce the over-open mouth from the inspector: drag its slider down to 0.15.
    _drag_slider(qtbot, rows["jawOpen"], 0.15)
    key = project.channels["jawOpen"].keys[0]
    assert key.value == pytest.approx(0.15 - base_jaw, abs=0.01) and key.value < 0
    assert channel_readout(project, frame)["jawOpen"][2] == pytest.approx(0.15, abs=0.01)
    assert rows["jawOpen"].readout.text() == f"{channel_readout(project, frame)['jawOpen'][2]:.3f}"
    assert _lip_gap(window.session.frame_state()) < 0.7 * gap
    assert window.session.undo_stack.count() == 1

    # Left/right move together, each keeping its own offset; Alt breaks the link.
    before = channel_readout(project, frame)
    _drag_slider(qtbot, rows["mouthSmileLeft"], before["mouthSmileLeft"][2] + 0.4)
    after = channel_readout(project, frame)
    moved = after["mouthSmileLeft"][2] - before["mouthSmileLeft"][2]
    assert moved == pytest.approx(0.4, abs=0.02)
    assert after["mouthSmileRight"][2] - before["mouthSmileRight"][2] == pytest.approx(moved, abs=1e-6)
    assert window.session.undo_stack.count() == 2 and "mouthSmileLeft + mouthSmileRight" in \
        window.session.undo_stack.undoText()
    _drag_slider(qtbot, rows["mouthSmileLeft"], after["mouthSmileLeft"][2] - 0.2, Qt.AltModifier)
    alone = channel_readout(project, frame)
    assert alone["mouthSmileLeft"][2] == pytest.approx(after["mouthSmileLeft"][2] - 0.2, abs=0.02)
    assert alone["mouthSmileRight"][2] == pytest.approx(after["mouthSmileRight"][2], abs=1e-9)

    window.actions_by_id["undo"].trigger()
    window.actions_by_id["undo"].trigger()
    assert len(project.channels["mouthSmileLeft"]) == len(project.channels["mouthSmileRight"]) == 0
    assert rows["mouthSmileRight"].readout.text() == f"{before['mouthSmileRight'][2]:.3f}"
    window.actions_by_id["redo"].trigger()
    assert channel_readout(project, frame)["mouthSmileRight"][2] == pytest.approx(after["mouthSmileRight"][2])


def test_inspector_takes_a_typed_exact_value(make_main_window, demo_project_file, qtbot):
    """Type a result into a channel's box: Enter keys it exactly (one undo step, the other side follows by the
    same amount); keystrokes alone key nothing; a pose past the slider's +-30 degrees can be typed."""
    from engine.document.readout import channel_readout, edit_for_result

    window = make_main_window(demo_project_file)
    project, rows, session = window.project, window.inspector.rows, window.session
    frame = int(np.argmax(project.base.weights["jawOpen"]))
    session.set_frame(frame)
    before = channel_readout(project, frame)

    box = rows["mouthSmileLeft"].readout
    # the text field fills the box: under the editor's style sheet it was 1 px wide and the boxes showed blank
    assert box.lineEdit().width() > 0.7 * box.width() > 20
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "0.625")
    assert session.undo_stack.count() == 0  # typing alone keys nothing
    session.set_frame(frame + 1)
    session.set_frame(frame)  # the playhead moving (playback) leaves the text being typed alone
    assert box.text() == "0.625"
    qtbot.keyClick(box, Qt.Key_Return)
    after = channel_readout(project, frame)
    assert after["mouthSmileLeft"][2] == pytest.approx(0.625, abs=1e-9)
    moved = 0.625 - before["mouthSmileLeft"][2]
    assert after["mouthSmileRight"][2] == pytest.approx(before["mouthSmileRight"][2] + moved, abs=1e-9)
    assert session.undo_stack.count() == 1 and rows["mouthSmileLeft"].key_mark.text() == "◆"

    yaw = rows["ry"].readout
    yaw.setFocus()
    yaw.selectAll()
    qtbot.keyClicks(yaw, "42.5")
    qtbot.keyClick(yaw, Qt.Key_Return)
    assert channel_readout(project, frame)["ry"][2] == pytest.approx(42.5, abs=1e-9)
    assert yaw.text() == "42.500"
    qtbot.keyClick(yaw, Qt.Key_Up)  # a step is a hundredth of the slider's range (0.6 degrees), one more key
    assert channel_readout(project, frame)["ry"][2] == pytest.approx(43.1, abs=1e-9)
    window.actions_by_id["undo"].trigger()

    window.actions_by_id["undo"].trigger()
    window.actions_by_id["undo"].trigger()
    assert rows["mouthSmileLeft"].readout.text() == f"{before['mouthSmileLeft'][2]:.3f}"
    assert len(project.channels["ry"]) == len(project.channels["mouthSmileLeft"]) == 0

    def enter(name: str, text: str) -> None:
        box = rows[name].readout
        box.setFocus()
        box.selectAll()
        qtbot.keyClicks(box, text)
        qtbot.keyClick(box, Qt.Key_Return)

    shown = rows["jawOpen"].readout.text()  # Enter on the value shown holds it: a key (the box saw no change)
    enter("jawOpen", shown)
    assert len(project.channels["jawOpen"]) == 1 and rows["jawOpen"].key_mark.text() == "◆"
    assert not rows["jawOpen"].readout.hasFocus()  # the keys are the editor's shortcuts again
    enter("jawOpen", "0,5")  # a decimal comma
    assert channel_readout(project, frame)["jawOpen"][2] == pytest.approx(0.5, abs=1e-9)
    enter("jawOpen", "7")  # past the range: clamped to it, not dropped
    assert channel_readout(project, frame)["jawOpen"][2] == pytest.approx(rows["jawOpen"].readout.maximum())

    # keys that reach the box's text field itself: one step, the typed value (the old one was keyed first)
    steps = session.undo_stack.count()
    field = rows["mouthFunnel"].readout.lineEdit()
    rows["mouthFunnel"].readout.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "0.3")
    qtbot.keyClick(field, Qt.Key_Return)
    assert session.undo_stack.count() == steps + 1
    assert [k.value for k in project.channels["mouthFunnel"].keys] == [
        pytest.approx(edit_for_result(project, "mouthFunnel", frame, 0.3))]


def test_the_wheel_and_keys_do_not_edit_what_the_pointer_merely_passes(make_main_window, demo_project_file, qtbot):
    """Scrolling the inspector over the lip gain changed it (a whole-clip rescale); a slider kept the keyboard after
    it was used, and End then set the channel to its maximum and keyed it."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window = make_main_window(demo_project_file)
    project, inspector = window.project, window.inspector
    lip = inspector.gain_boxes["lip"]
    before = project.gains.lip
    centre = QPointF(lip.width() / 2, lip.height() / 2)
    wheel = QWheelEvent(centre, lip.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120), Qt.NoButton, Qt.NoModifier,
                        Qt.NoScrollPhase, False)
    QApplication.sendEvent(lip, wheel)
    assert project.gains.lip == before and window.session.undo_stack.count() == 0

    window.activateWindow()  # (under Xvfb a window is not active until asked: no widget would take the focus)
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    slider = inspector.rows["mouthFunnel"].slider
    qtbot.mouseClick(slider, Qt.LeftButton, pos=QPoint(slider.width() // 4, slider.height() // 2))
    keyed = [(k.time, k.value) for k in project.channels["mouthFunnel"].keys]
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key_End)
    assert [(k.time, k.value) for k in project.channels["mouthFunnel"].keys] == keyed


# --- dope sheet --------------------------------------------------------------------------------------
def _dope_pos(dope, channel, index) -> QPoint:
    return dope.plot.mapFromScene(dope.key_scene_pos(channel, index))


def test_dope_sheet_select_retime_scale_copy_paste_delete(make_main_window, demo_project_file, qtbot):
    window = make_main_window(demo_project_file)
    project, session, dope = window.project, window.session, window.timeline.dope_sheet
    fps = project.fps
    for name, times in {"ry": (0.5, 1.0), "jawOpen": (0.5, 1.5), "browInnerUp": (1.0, 1.5)}.items():
        for t in times:
            _set_key(window, name, t, 0.3)
    session.set_selection([])
    qtbot.wait(20)
    assert dope.rows == ["ry", "jawOpen", "browInnerUp"]
    view = dope.plot.viewport()

    # Click selects one key; Shift+click adds one on another channel; the graph editor follows.
    qtbot.mouseClick(view, Qt.LeftButton, pos=_dope_pos(dope, "ry", 0))
    assert session.key_selection == {("ry", 0)} and session.selection == ("ry",)
    qtbot.mouseClick(view, Qt.LeftButton, Qt.ShiftModifier, _dope_pos(dope, "jawOpen", 1))
    assert session.key_selection == {("ry", 0), ("jawOpen", 1)}
    assert set(session.selection) == {"ry", "jawOpen"} and window.graph.selected_keys == session.key_selection

    # Box-select the keys at 1.0 s across all three channels.
    a = dope.plot.mapFromScene(dope.view.mapViewToScene(QPointF(0.9, 0.05)))
    b = dope.plot.mapFromScene(dope.view.mapViewToScene(QPointF(1.1, 2.95)))
    _drag(qtbot, view, a, b)
    assert session.key_selection == {("ry", 1), ("browInnerUp", 0)}  # jawOpen has no key at 1.0 s

    # Drag them later by ~6 frames: snapped to frames, one undo step, named.
    start = _dope_pos(dope, "ry", 1)
    target = dope.plot.mapFromScene(dope.view.mapViewToScene(QPointF(1.0 + 6 / fps, 0.5)))
    _drag(qtbot, view, start, target)
    assert [k.time for k in project.channels["ry"].keys] == pytest.approx([0.5, 1.0 + 6 / fps], abs=1e-9)
    assert project.channels["browInnerUp"].keys[0].time == pytest.approx(1.0 + 6 / fps, abs=1e-9)
    assert session.undo_stack.undoText() == "Move 2 keys"
    undo, redo = window.actions_by_id["undo"], window.actions_by_id["redo"]
    assert undo.text() == "&Undo Move 2 keys" and undo.toolTip() == "Undo Move 2 keys (Ctrl+Z)"  # the Edit menu says it
    undo.trigger()
    assert project.channels["ry"].keys[1].time == pytest.approx(1.0)
    assert redo.text() == "&Redo Move 2 keys" and not undo.text().endswith("Move 2 keys")
    redo.trigger()
    assert session.key_selection == {("ry", 1), ("browInnerUp", 0)}

    # Ctrl+drag scales the selection around the playhead.
    session.set_time(0.5)
    t1 = 1.0 + 6 / fps
    start = _dope_pos(dope, "ry", 1)
    target = dope.plot.mapFromScene(dope.view.mapViewToScene(QPointF(0.5 + 2 * (t1 - 0.5), 0.5)))
    from PySide6.QtWidgets import QApplication

    qtbot.wait(QApplication.doubleClickInterval() + 20)
    qtbot.mousePress(view, Qt.LeftButton, Qt.ControlModifier, start)
    for i in range(1, 6):
        qtbot.wait(12)
        qtbot.mouseMove(view, start + (target - start) * i / 5)
    qtbot.mouseRelease(view, Qt.LeftButton, Qt.ControlModifier, target)
    assert project.channels["ry"].keys[1].time == pytest.approx(round((0.5 + 2 * (t1 - 0.5)) * fps) / fps, abs=1.5 / fps)
    assert session.undo_stack.undoText() == "Scale 2 keys"
    window.actions_by_id["undo"].trigger()

    # Copy, paste at the playhead, delete: keyboard shortcuts with the dope sheet focused.
    with qtbot.waitActive(window):
        window.activateWindow()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_C, Qt.ControlModifier)
    session.set_time(2.0)
    qtbot.keyClick(view, Qt.Key_V, Qt.ControlModifier)
    assert [k.time for k in project.channels["ry"].keys][-1] == pytest.approx(2.0)
    assert project.channels["browInnerUp"].keys[-1].time == pytest.approx(2.0)
    assert session.undo_stack.undoText() == "Paste 2 keys" and len(session.key_selection) == 2
    qtbot.keyClick(view, Qt.Key_Delete)
    assert len(project.channels["ry"]) == 2 and len(project.channels["browInnerUp"]) == 2
    window.actions_by_id["undo"].trigger()
    assert len(project.channels["ry"]) == 3

    # Pasted near the clip's end, a spread group stops there as a drag does (its keys went past the end, where
    # they were invisible and did nothing) and keeps its spacing.
    window.actions_by_id["undo"].trigger()  # (the paste)
    times = [k.time for k in project.channels["ry"].keys]
    session.set_key_selection({("ry", 0), ("ry", len(times) - 1)})
    qtbot.keyClick(view, Qt.Key_C, Qt.ControlModifier)
    last = project.time_of(project.frame_count - 1)
    session.set_frame(project.frame_count - 2)
    qtbot.keyClick(view, Qt.Key_V, Qt.ControlModifier)
    pasted = sorted(project.channels["ry"].keys[i].time for _, i in session.key_selection)
    assert pasted[-1] == pytest.approx(last) and pasted[-1] - pasted[0] == pytest.approx(times[-1] - times[0])
    assert max(k.time for k in project.channels["ry"].keys) <= last + 1e-9


# --- intensity over a range --------------------------------------------------------------------------
def test_scale_the_mouth_over_the_in_out_range_and_a_word(make_main_window, demo_project_file, qtbot):
    from engine.document.readout import channel_readout

    window = make_main_window(demo_project_file)
    project, inspector = window.project, window.inspector
    jaw = project.base.weights["jawOpen"]
    peak = int(np.argmax(jaw))
    a, b = max(peak - 8, 0), min(peak + 8, project.frame_count - 1)
    with qtbot.waitActive(window):
        window.activateWindow()
    window.session.set_frame(a)
    qtbot.keyClick(window, Qt.Key_I)
    window.session.set_frame(b)
    qtbot.keyClick(window, Qt.Key_O)
    before = {f: channel_readout(project, f) for f in (peak, a - 3, b + 4)}
    inspector.group_combo.setCurrentText("mouth")
    inspector.percent_box.setValue(50)
    inspector.range_combo.setCurrentIndex(0)
    qtbot.mouseClick(inspector.scale_button, Qt.LeftButton)
    after = channel_readout(project, peak)
    assert after["jawOpen"][2] == pytest.approx(0.5 * before[peak]["jawOpen"][2], abs=0.01)
    assert after["mouthLowerDownLeft"][2] == pytest.approx(0.5 * before[peak]["mouthLowerDownLeft"][2], abs=0.01)
    for f in (a - 3, b + 4):  # outside the range (past the eased edges): untouched
        assert channel_readout(project, f)["jawOpen"][2] == pytest.approx(before[f]["jawOpen"][2], abs=1e-6)
    assert channel_readout(project, peak)["browInnerUp"] == before[peak]["browInnerUp"]  # not a mouth channel
    assert window.session.undo_stack.undoText().startswith("Scale ") and "50 %" in window.session.undo_stack.undoText()
    _wait_preview(qtbot, window)
    window.actions_by_id["undo"].trigger()
    assert channel_readout(project, peak)["jawOpen"][2] == pytest.approx(before[peak]["jawOpen"][2])
    window.actions_by_id["redo"].trigger()
    assert channel_readout(project, peak)["jawOpen"][2] == pytest.approx(0.5 * before[peak]["jawOpen"][2], abs=0.01)

    # Over the word selected in the word lane: click the word, scale the brows up.
    timeline = window.timeline
    words = timeline.lane_segments("words")
    assert [w.label for w in words][:3] == ["hello", "bob", "bought"]
    qtbot.mouseClick(timeline.graphics.viewport(), Qt.LeftButton,
                     pos=timeline.graphics.mapFromScene(timeline.segment_scene_pos("words", 2)))
    assert window.session.segment_selection == ("words", 2)
    mid = project.frame_of(0.5 * (words[2].start + words[2].end))
    brows = channel_readout(project, mid)["browInnerUp"][2]
    inspector.group_combo.setCurrentText("brows")
    inspector.percent_box.setValue(200)
    inspector.range_combo.setCurrentIndex(1)
    qtbot.mouseClick(inspector.scale_button, Qt.LeftButton)
    assert channel_readout(project, mid)["browInnerUp"][2] == pytest.approx(2 * brows, abs=0.01)


# --- lip-sync lanes ----------------------------------------------------------------------------------
def test_lip_sync_lanes_drag_relabel_and_realign(make_main_window, demo_project_file, dialogs, monkeypatch, qtbot):
    from PySide6.QtWidgets import QApplication, QInputDialog, QMenu, QMessageBox

    from engine.document.changes import ChangeKind

    window = make_main_window(demo_project_file)
    project, timeline = window.project, window.timeline
    _set_key(window, "rz", 0.4, 3.0)
    base0 = project.base
    phones = timeline.lane_segments("phonemes")
    i = next(k for k in range(1, len(phones)) if phones[k - 1].label != "SIL" and phones[k].label != "SIL"
             and phones[k - 1].end == phones[k].start and phones[k].end - phones[k].start > 0.06)
    left, right = phones[i - 1], phones[i]
    # zoomed in around the boundary (the edit and its undo kept resetting the view to the whole clip)
    timeline.wave_plot.setXRange(max(left.start - 0.3, 0.0), right.end + 0.3, padding=0)
    zoom = timeline.wave_plot.getViewBox().viewRange()[0]
    view = timeline.graphics.viewport()
    start = timeline.graphics.mapFromScene(timeline.boundary_scene_pos("phonemes", i))
    shift = min(0.6 * (right.end - right.start), 0.05)
    target = timeline.graphics.mapFromScene(timeline.lane_plot.getViewBox().mapViewToScene(
        QPointF(right.start + shift, 1.5)))
    _drag(qtbot, view, start, target)
    new = timeline.lane_segments("phonemes")
    assert new[i].start == pytest.approx(right.start + shift, abs=0.02) and new[i - 1].start == left.start
    changed = np.flatnonzero(np.any(project.base.offsets != base0.offsets, axis=(1, 2)))
    assert changed.size and changed.min() >= int(left.start * project.fps) - 1 \
        and changed.max() <= int(np.ceil(right.end * project.fps)) + 1  # the mouth moved only there
    assert len(project.channels["rz"]) == 1 and window.session.undo_stack.undoText() == "Move phoneme boundary"
    assert timeline.wave_plot.getViewBox().viewRange()[0] == pytest.approx(zoom)
    window.actions_by_id["undo"].trigger()
    window.actions_by_id["redo"].trigger()
    assert timeline.wave_plot.getViewBox().viewRange()[0] == pytest.approx(zoom)
    timeline.fit()

    # Right-click a phoneme: change it to "AA" (an open vowel): the mouth opens wider over its span.
    seg = new[i]
    mid = project.frame_of(0.5 * (seg.start + seg.end))
    jaw_before = project.base.weights["jawOpen"][mid]
    pos = timeline.graphics.mapFromScene(timeline.segment_scene_pos("phonemes", i))
    qtbot.mouseClick(view, Qt.RightButton, pos=pos)
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    change = menu.findChild(QMenu, "change_label")
    label = "AA" if seg.label != "AA" else "M"
    next(a for a in change.actions() if a.text() == label).trigger()
    menu.close()
    assert timeline.lane_segments("phonemes")[i].label == label
    assert project.base.weights["jawOpen"][mid] != pytest.approx(jaw_before, abs=1e-3)
    assert window.session.undo_stack.undoText() == f"Change phoneme to {label}"

    # Select a word and type its transcript: that stretch is re-aligned, the rest of the base layer stays.
    words = timeline.lane_segments("words")
    w = len(words) - 1
    qtbot.mouseClick(view, Qt.LeftButton, pos=timeline.graphics.mapFromScene(timeline.segment_scene_pos("words", w)))
    assert window.session.segment_selection == ("words", w)
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("mop", True)))
    project.set_in_out((0.2, 1.0))
    before = project.base
    qtbot.mouseClick(view, Qt.RightButton, pos=timeline.graphics.mapFromScene(timeline.segment_scene_pos("words", w)))
    menu = QApplication.activePopupWidget()
    # both stretches a transcript could be for, each named with its span (one entry took the clicked segment
    # over the in/out range the user had set)
    texts = [a.text() for a in menu.actions()]
    assert any(t.startswith("Type the transcript of the selected word") for t in texts)
    assert any(t.startswith("Type the transcript of the in/out range (0.20-1.00 s)") for t in texts)
    realign = next(a for a in menu.actions() if a.text().startswith("Type the transcript of the selected word"))
    with qtbot.waitSignal(window.session.project_changed, timeout=60_000,
                          check_params_cb=lambda c: c.kind is ChangeKind.BASE):
        realign.trigger()
    menu.close()
    assert [x.label for x in timeline.lane_segments("words")][-1] == "mop"
    span = words[w]
    changed = np.flatnonzero(np.any(np.abs(project.base.offsets - before.offsets) > 1e-6, axis=(1, 2)))
    assert changed.size and changed.min() >= int((span.start - 0.05) * project.fps) - 1
    assert np.array_equal(project.base.pose, before.pose) and len(project.channels["rz"]) == 1
    assert window.session.undo_stack.undoText() == 'Re-align "mop"'
    window.actions_by_id["undo"].trigger()
    assert project.base is before
    window.actions_by_id["undo"].trigger()
    window.actions_by_id["undo"].trigger()
    assert project.base is base0
    window.actions_by_id["redo"].trigger()
    assert timeline.lane_segments("phonemes")[i].start == pytest.approx(right.start + shift, abs=0.02)

    # Regenerating would replace that lane edit: asked first (it was replaced silently); No keeps it.
    edited = project.base
    window.regenerate(project.a2l)
    assert "1 lip-sync lane edit " in dialogs.messages[-1][1] and project.base is edited
    dialogs.question_answer = QMessageBox.Yes
    with qtbot.waitSignal(window.session.project_changed, timeout=60_000,
                          check_params_cb=lambda c: c.kind is ChangeKind.BASE):
        window.regenerate(project.a2l)
    assert project.base is not edited and window.session.undo_stack.undoText() == "Regenerate base layer"
    asked = len(dialogs.messages)
    with qtbot.waitSignal(window.session.project_changed, timeout=60_000,
                          check_params_cb=lambda c: c.kind is ChangeKind.BASE):
        window.regenerate(project.a2l)  # nothing edited since: not asked
    assert len(dialogs.messages) == asked


# --- graph editor ------------------------------------------------------------------------------------
def test_graph_editor_drag_past_the_end_keeps_the_keys_apart(make_main_window, demo_project_file):
    """The graph editor retimed each key on its own: dragged past the clip's end, a group landed on the last frame
    and merged into one key (the dope sheet's move already stopped the group as one)."""
    window = make_main_window(demo_project_file)
    project = window.project
    _set_key(window, "ry", 1.0, 2.0)
    _set_key(window, "ry", 1.4, 6.0)
    origin = {"ry": project.channels["ry"].copy()}
    window.graph.move_keys({("ry", 0), ("ry", 1)}, project.duration + 3.0, 1.0, origin)
    keys = project.channels["ry"].keys
    assert [k.value for k in keys] == pytest.approx([3.0, 7.0])
    assert keys[1].time == pytest.approx(project.time_of(project.frame_count - 1))
    assert keys[1].time - keys[0].time == pytest.approx(0.4)


def test_graph_editor_framing_normalised_axis_and_interpolation_menu(make_main_window, demo_project_file, qtbot):
    from engine.document.curves import Interpolation

    window = make_main_window(demo_project_file)
    graph, session = window.graph, window.session
    _set_key(window, "ry", 0.4, 0.0)
    _set_key(window, "ry", 1.2, 12.0)
    _set_key(window, "jawOpen", 0.8, 0.3)
    session.set_selection(["ry", "jawOpen"])
    with qtbot.waitActive(window):
        window.activateWindow()

    # Its time axis lines up with the timeline's: the same time is at the same screen x.
    def screen_x(view, widget, t):
        return widget.mapToGlobal(widget.mapFromScene(view.mapViewToScene(QPointF(t, 0)))).x()

    def lined_up() -> bool:
        return all(abs(screen_x(graph.view, graph.plot, t)
                       - screen_x(window.timeline.wave_plot.getViewBox(), window.timeline.graphics, t)) <= 1
                   for t in (0.3, 1.7))

    assert lined_up()
    # ... also when zoomed out in the graph editor far past the clip (the timeline stopped at its limits while
    # the graph went on: t = 0 sat 336 px apart)
    for _ in range(6):
        graph.view.scaleBy(x=2.0, y=1.0)
    qtbot.wait(10)
    assert graph.view.viewRange()[0] == pytest.approx(window.timeline.wave_plot.getViewBox().viewRange()[0])
    assert lined_up()
    window.timeline.fit()

    # Home frames everything; F frames the selected key; an edit does not re-frame.
    qtbot.keyClick(window, Qt.Key_Home)
    (x0, x1), (y0, y1) = graph.view.viewRange()
    assert y0 < 0.0 and y1 > 12.0
    graph.selected_keys = {("jawOpen", 0)}
    qtbot.keyClick(window, Qt.Key_F)
    (x0, x1), (y0, y1) = graph.view.viewRange()
    assert x0 < 0.8 < x1 and x1 - x0 < 1.0 and y0 < 0.3 < y1 and y1 < 5.0
    framed = graph.view.viewRange()
    _drag(qtbot, graph.plot.viewport(), _widget_pos(graph.plot, graph.key_scene_pos("jawOpen", 0)),
          _widget_pos(graph.plot, graph.scene_pos_of(0.85, 0.5)))
    assert session.project.channels["jawOpen"].keys[0].value == pytest.approx(0.5, abs=0.05)
    assert session.undo_stack.undoText() == "Move 1 key"
    assert np.allclose(graph.view.viewRange(), framed)

    # A key set elsewhere (the inspector) outside the view: the value range grows to show it (it sat off-screen
    # until Home); the keys already shown stay where they are on the time axis.
    _set_key(window, "ry", 2.0, 20.0)
    (_, _), (y0, y1) = graph.view.viewRange()
    assert y1 > 20.0 and y0 <= framed[1][0]
    # a channel's only key is revealed with a margin (it sat on the view's very edge, its diamond cut in half)
    session.set_selection(["ry", "jawOpen", "rx"])
    graph.plot.setYRange(-1.0, 1.0, padding=0)
    _set_key(window, "rx", 1.0, 8.0)
    (_, _), (y0, y1) = graph.view.viewRange()
    assert y1 - 8.0 > 0.05 * (y1 - y0)
    window.actions_by_id["undo"].trigger()
    session.set_selection(["ry", "jawOpen"])

    # The interpolation menus show the selected keys' mode.
    menu = graph.context_menu()
    checked = [a.text() for a in menu.actions() if a.isChecked()]
    assert checked == ["Bezier"]
    window.actions_by_id["interp_ease_in_out"].trigger()
    assert window.actions_by_id["interp_ease_in_out"].isChecked()
    assert not window.actions_by_id["interp_bezier"].isChecked()
    assert [a.text() for a in graph.context_menu().actions() if a.isChecked()] == ["Ease In-Out"]
    assert session.project.channels["jawOpen"].keys[0].interpolation == Interpolation.EASE_IN_OUT
    session.undo_stack.undo()
    assert window.actions_by_id["interp_bezier"].isChecked()

    # Normalised: degrees and weights share one 0..1 axis.
    qtbot.mouseClick(graph.normalise_box, Qt.LeftButton, pos=QPoint(8, graph.normalise_box.height() // 2))
    assert graph.normalised
    ys = np.concatenate([item.getData()[1] for item in graph._items])
    assert ys.min() >= -1e-6 and ys.max() <= 1 + 1e-6
    (_, _), (y0, y1) = graph.view.viewRange()
    assert y0 > -0.5 and y1 < 1.5


# --- transport -----------------------------------------------------------------------------------------
def test_transport_buttons_and_loop_over_in_out(make_main_window, demo_project_file, qtbot):
    from PySide6.QtWidgets import QToolButton

    window = make_main_window(demo_project_file)
    session, project = window.session, window.project
    buttons = {b.defaultAction().objectName() or b.defaultAction().text(): b
               for b in window.timeline.findChildren(QToolButton) if b.defaultAction() is not None}
    by_action = {b.defaultAction(): b for b in buttons.values()}
    play, stop = by_action[window.actions_by_id["play"]], by_action[window.actions_by_id["stop"]]
    go_in, go_out = by_action[window.actions_by_id["go_in"]], by_action[window.actions_by_id["go_out"]]
    loop = by_action[window.actions_by_id["loop"]]
    assert all(b.toolTip() for b in (play, stop, go_in, go_out, loop))

    project.set_in_out((10 / project.fps, 21 / project.fps))  # frames 10..20
    qtbot.mouseClick(go_out, Qt.LeftButton)
    assert session.frame == 20
    qtbot.mouseClick(go_in, Qt.LeftButton)
    assert session.frame == 10
    if not loop.isChecked():
        qtbot.mouseClick(loop, Qt.LeftButton)
    assert window.playback.loop
    seen = []
    session.frame_changed.connect(seen.append)
    qtbot.mouseClick(play, Qt.LeftButton)
    assert window.playback.playing and play.isChecked()
    qtbot.waitUntil(lambda: len(seen) > 3 and seen[-1] < max(seen), timeout=5_000)  # wrapped around
    qtbot.mouseClick(stop, Qt.LeftButton)
    assert not window.playback.playing and not play.isChecked()
    assert min(seen) >= 10 and max(seen) <= 20

    qtbot.mouseClick(loop, Qt.LeftButton)  # loop off: playback stops at the out point
    assert not window.playback.loop
    session.set_frame(17)
    qtbot.mouseClick(play, Qt.LeftButton)
    qtbot.waitUntil(lambda: not window.playback.playing, timeout=5_000)
    assert session.frame == 20 and not play.isChecked()


# --- New Project dialog and the welcome ---------------------------------------------------------------
def test_a_video_dropped_with_new_speech_is_the_face_source_to_dub(make_main_window, monkeypatch):
    """Dropping a video and an audio file (in any order) prefills New Project with the video as the face source
    and the audio as the new speech; a portrait dropped with a video takes the video as its audio."""
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtWidgets import QDialog

    from editor.dialogs import NewProjectDialog
    from tests.media import media

    window = make_main_window()
    assert "a video to dub" in window.welcome.drop.text()
    video, speech = media("talking_videos/Talking-Face_PC-AVS__00015.mp4"), media("speech/Real3DPortrait__Obama_5s.wav")
    portrait = media("portraits/AniPortrait__Aragaki.png")
    seen = []
    monkeypatch.setattr(NewProjectDialog, "exec",
                        lambda d: seen.append((d.portrait_edit.text(), d.audio_edit.text())) or QDialog.Rejected)
    for paths in ([speech, video], [video, speech], [video, portrait]):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
        window.dropEvent(QDropEvent(QPointF(300, 300), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert seen == [(video, speech), (video, speech), (portrait, video)]
    assert window.project is None  # the dialog was cancelled: nothing made


def test_a_new_project_that_fails_brings_its_dialog_back_filled_in(make_main_window, dialogs, monkeypatch, qtbot):
    """"No face found" ended the New Project flow: every field had to be entered again."""
    from PySide6.QtWidgets import QDialog

    from editor.dialogs import NewProjectDialog
    from tests.media import media

    window = make_main_window()
    shown = []

    def fill(dialog):
        shown.append((dialog, dialog.portrait_edit.text(), dialog.transcript_edit.toPlainText()))
        if len(shown) == 1:
            dialog.portrait_edit.setText(media("not_a_person/LivePortrait__s22.jpg"))
            dialog.audio_edit.setText(media("speech/Real3DPortrait__Obama_5s.wav"))
            dialog.transcript_edit.setPlainText("we choose to go to the moon")
            dialog.size_box.setValue(256)
            return QDialog.Accepted
        return QDialog.Rejected

    monkeypatch.setattr(NewProjectDialog, "exec", fill)
    window.new_project()
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=60_000)
    assert any("face" in text.lower() for kind, text in dialogs.messages if kind == "critical")  # said first
    again, portrait, transcript = shown[1]
    assert again is shown[0][0] and portrait.endswith("LivePortrait__s22.jpg")
    assert transcript == "we choose to go to the moon" and again.size_box.value() == 256
    assert window.project is None


def test_welcome_drop_and_new_project_dialog_options(make_main_window, dialogs, monkeypatch, qtbot):
    from pathlib import Path

    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtWidgets import QDialog

    from editor.dialogs import NewProjectDialog
    from tests.media import media

    window = make_main_window()
    assert window.centre.currentWidget() is window.welcome_page and window.welcome.isVisible()
    assert "Drop a portrait and an audio file" in window.welcome.drop.text()
    assert window.welcome.demo_button.isVisible() and not window.inspector.content.isEnabled()
    assert all(box.value() != 0.0 for name, box in window.inspector.gain_boxes.items() if name != "smoothing")

    portrait = media("portraits/AniPortrait__Aragaki.png")
    audio = str(Path(__file__).parent / "fixtures" / "schema1_speech.wav")
    seen = []

    def fill(dialog):
        seen.append(dialog)
        assert dialog.portrait_edit.text() == portrait and dialog.audio_edit.text() == audio  # from the drop
        assert dialog.ok_button.isEnabled()
        dialog.transcript_edit.setPlainText("The birch canoe slid on the smooth planks.")
        dialog.face_index_box.setValue(0)
        dialog.size_box.setValue(256)
        dialog.fps_box.setCurrentText("25")
        qtbot.mouseClick(dialog.full_frame_check, Qt.LeftButton, pos=QPoint(8, dialog.full_frame_check.height() // 2))
        # the backend's own options appear in its generated form (en-gb: English, but not the default)
        dialog.a2l_form.widgets["language"].setText("en-gb")
        assert "transcript" not in dialog.a2l_form.widgets  # it has its own row
        return QDialog.Accepted

    monkeypatch.setattr(NewProjectDialog, "exec", fill)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(portrait), QUrl.fromLocalFile(audio)])
    drop = QDropEvent(QPointF(300, 300), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dragEnterEvent(drop)
    assert drop.isAccepted()
    window.dropEvent(drop)  # (QApplication.sendEvent refuses a drop outside a drag session)
    qtbot.waitUntil(lambda: window.project is not None or bool(dialogs.messages), timeout=120_000)
    assert not dialogs.messages
    project = window.project
    assert seen and project.fps == 25.0
    framing = project.source.framing
    assert framing.full_frame and framing.face_index == 0 and framing.size == 256
    assert project.a2l.config.transcript == "The birch canoe slid on the smooth planks."
    assert project.a2l.config.language == "en-gb"
    assert window.centre.currentWidget() is window.preview and window.inspector.content.isEnabled()
    # this clip does not say the typed sentence: it is not aligned, and the word lane shows what was heard
    # instead of the typed words spread over the recognised phones
    words = [w.label for w in window.timeline.lane_segments("words")]
    assert words and words[:3] != ["the", "birch", "canoe"]

    # An empty path or a missing file: Create stays off, and the dialog says why (it said nothing).
    dialog = NewProjectDialog(window, "", audio)
    assert not dialog.ok_button.isEnabled() and dialog.why_label.text() == "Choose the portrait or video file."
    dialog.audio_edit.setText(audio + ".moved")
    dialog.portrait_edit.setText(portrait)
    assert not dialog.ok_button.isEnabled()
    assert dialog.why_label.text() == f"The audio file {audio}.moved does not exist."
    dialog.audio_edit.setText(audio)
    assert dialog.ok_button.isEnabled() and dialog.why_label.text() == ""
    dialog.deleteLater()


# --- Live Link Face CSV ------------------------------------------------------------------------------
def test_live_link_face_csv_export_and_import_as_keys(make_main_window, demo_project_file, dialogs, qtbot, tmp_path):
    import csv
    import math

    from engine.document.interchange import HEAD_TOLERANCE_DEG
    from engine.document.readout import channel_readout
    from engine.export.livelink import HEADER

    window = make_main_window(demo_project_file)
    project = window.project
    _set_key(window, "ry", 0.5, 10.0)
    dialogs.save_path = str(tmp_path / "take.csv")
    window.actions_by_id["export_livelink"].trigger()
    with open(tmp_path / "take.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == HEADER and len(rows) == project.frame_count + 1
    assert rows[1][0] == "00:00:00:00.000" and rows[31][0] == "00:00:01:00.000" and rows[1][1] == "61"
    col = {name: i for i, name in enumerate(rows[0])}
    f = project.frame_of(0.5)
    values = channel_readout(project, f)
    assert float(rows[f + 1][col["JawOpen"]]) == pytest.approx(values["jawOpen"][2], abs=1e-5)
    assert float(rows[f + 1][col["HeadYaw"]]) == pytest.approx(math.radians(values["ry"][2]), abs=1e-5)

    # A phone capture (60 fps): the jaw held at 0.9 for half a second, the head turned 0.2 rad.
    capture = tmp_path / "phone.csv"
    with open(capture, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(31):
            row = [f"10:00:00:{i:02d}.000", 61] + ["0.0"] * 52 + ["0.2", "0.0", "0.0"] + ["0.0"] * 6
            row[col["JawOpen"]] = "0.9"
            writer.writerow(row)
    window.session.set_time(1.0)
    dialogs.open_path = str(capture)
    window.actions_by_id["import_livelink"].trigger()
    for t in (1.2, 1.3):  # (it eases in from the motion before it and out to the motion after it)
        got = channel_readout(project, project.frame_of(t))
        assert got["jawOpen"][2] == pytest.approx(0.9, abs=0.02)
        assert got["ry"][2] == pytest.approx(math.degrees(0.2), abs=HEAD_TOLERANCE_DEG)  # the keys' reduction
    jaw = project.channels["jawOpen"]
    assert 2 <= len(jaw) <= 40 and jaw.keys[1].time == pytest.approx(1.0)  # ordinary keys, editable
    # a frame before and after the take the edit is what it was (none): the rest of the clip keeps its motion
    assert jaw.keys[0].time == pytest.approx(1.0 - 1 / project.fps) and jaw.keys[0].value == 0.0
    assert jaw.keys[-1].value == 0.0
    assert channel_readout(project, project.frame_of(0.5))["jawOpen"][1] == 0.0
    assert window.session.undo_stack.undoText().startswith("Import phone.csv")
    assert window.timeline.dope_sheet.rows.count("jawOpen") == 1
    window.actions_by_id["undo"].trigger()
    assert len(project.channels["jawOpen"]) == 0
    # a take past the blendshape range is clipped, and the window says so
    capture.write_text(capture.read_text().replace(",0.9,", ",1.5,"))
    window.actions_by_id["import_livelink"].trigger()
    assert "JawOpen outside 0..1" in window.statusBar().currentMessage()
    assert channel_readout(project, project.frame_of(1.2))["jawOpen"][2] == pytest.approx(1.0, abs=0.02)


def test_a_performance_filmed_on_video_imports_as_keys_on_a_worker(make_main_window, demo_project_file, dialogs,
                                                                   qtbot, monkeypatch, tmp_path):
    from engine.document.readout import channel_readout
    from tests.media import media

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the track cache
    window = make_main_window(demo_project_file)
    project = window.project
    window.session.set_time(0.5)
    dialogs.open_path = media("talking_videos/Talking-Face_PC-AVS__00015.mp4")  # 7 s of a speaker
    window.actions_by_id["import_performance"].trigger()
    assert len(project.channels["jawOpen"]) == 0  # tracking runs on a worker: the window stays live
    qtbot.waitUntil(lambda: len(project.channels["jawOpen"]) > 0, timeout=120_000)
    jaw = project.channels["jawOpen"]
    assert jaw.keys[1].time == pytest.approx(0.5) and len(project.channels["ry"]) > 1  # [0]: the lead-in frame
    assert window.session.undo_stack.undoText() == "Import Talking-Face_PC-AVS__00015.mp4 (31 channels)"
    opening = [channel_readout(project, f)["jawOpen"][2] for f in range(project.frame_of(0.5), project.frame_count)]
    assert max(opening) - min(opening) > 0.2  # the performer's mouth moves the result
    assert dialogs.messages == []
    window.actions_by_id["undo"].trigger()
    assert len(project.channels["jawOpen"]) == 0


# --- tooltips and the empty window --------------------------------------------------------------------
def test_every_control_has_a_tooltip(make_main_window, demo_project_file, qtbot):
    from PySide6.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit,
                                   QScrollBar)

    window = make_main_window(demo_project_file)
    missing = []
    for kind in (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit):
        for w in window.findChildren(kind):
            if isinstance(w, QScrollBar) or w.objectName().startswith("qt_") or not w.isVisibleTo(window):
                continue
            if isinstance(w, QLineEdit) and isinstance(w.parent(), (QAbstractSpinBox, QComboBox)):
                continue
            tip = w.toolTip() or (w.defaultAction().toolTip() if hasattr(w, "defaultAction") and w.defaultAction()
                                  else "")
            if not tip:
                missing.append(f"{type(w).__name__} {w.objectName() or getattr(w, 'text', lambda: '')()}")
    assert not missing, missing


def test_the_preview_of_a_dub_project_is_the_dubbed_source_frame(qtbot, monkeypatch, tmp_path):
    """Over a video the preview composes the re-rendered lower face into the source frame at the playhead (as a
    render does), instead of showing the renderer's face window."""
    from editor.preview2d import PreviewRenderer, PreviewRequest, preview_renderer
    from engine.pipeline import ProjectRequest, create_project
    from engine.render.compose import render_one
    from tests.media import media

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = create_project(ProjectRequest(portrait=None, audio=media("speech/Real3DPortrait__Obama_5s.wav"),
                                            video=media("talking_videos/Talking-Face_PC-AVS__00015.mp4")))
    frame = 50
    state = project.evaluate(frame)
    preview = PreviewRenderer()
    try:
        image = preview.render(PreviewRequest(1, frame, "render", state.landmarks_px, state), project.source,
                               project.renderer)
        source_frame = project.source.full_frame(frame)
        assert image.shape == source_frame.shape  # the whole source frame, not the face window
        top = int(state.landmarks_px[:, 1].min())  # above the face: the source's pixels untouched
        np.testing.assert_array_equal(image[:top], source_frame[:top])
        mouth = state.landmarks_px[[13, 14]].mean(axis=0).astype(int)
        y, x = mouth[1], mouth[0]
        assert np.abs(image[y - 8:y + 8, x - 12:x + 12].astype(int) - source_frame[y - 8:y + 8, x - 12:x + 12]).mean() > 2
        cls, config = preview_renderer(project.renderer)
        expected = render_one(project.source, cls(project.source, config), state.landmarks_px, frame)
        np.testing.assert_array_equal(image, expected)
        drawn = preview.render(PreviewRequest(2, frame, "landmarks", state.landmarks_px, state), project.source,
                               project.renderer)
        np.testing.assert_array_equal(drawn, source_frame)
    finally:
        preview.shutdown()


def test_the_view_menu_ticks_follow_the_panels_own_controls(make_main_window, demo_project_file, qtbot):
    """Changing the preview, time unit, wireframe or normalised view in its own panel left the View menu ticking
    the old state; with the wireframe box ticked, the first W did nothing (it turned it on again)."""
    window = make_main_window(demo_project_file)
    actions = window.actions_by_id
    window.preview.mode_box.setCurrentText("landmarks")
    window.timeline.mode_box.setCurrentText("frames")
    window.viewport.wire_box.setChecked(True)
    window.graph.normalise_box.setChecked(True)
    assert actions["preview_landmarks"].isChecked() and not actions["preview_render"].isChecked()
    assert actions["unit_frames"].isChecked() and not actions["unit_timecode"].isChecked()
    assert actions["wireframe"].isChecked() and actions["normalise"].isChecked()
    with qtbot.waitActive(window):
        window.activateWindow()
    window.timeline.graphics.setFocus()
    qtbot.keyClick(window.timeline.graphics, Qt.Key_W)
    assert not window.viewport.wire_box.isChecked()  # one W turns the wireframe off
    actions["preview_pose"].trigger()  # and the menu still drives the panel
    assert window.preview.mode_box.currentText() == "pose image"


def test_ctrl_c_in_the_terminal_closes_the_editor(make_main_window, demo_project_file, qtbot):
    """SIGINT was never seen while Qt's event loop ran: the editor stayed open until killed."""
    import os
    import signal

    from editor.app import close_on_interrupt

    window = make_main_window(demo_project_file)
    previous = signal.getsignal(signal.SIGINT)
    try:
        close_on_interrupt(window)
        os.kill(os.getpid(), signal.SIGINT)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_preview_shows_a_turn_past_the_warps_reach_as_the_render_does(qtbot, monkeypatch, tmp_path):
    """A typed 80 degree turn: the preview shows the furthest turn the warp can show (as the render does, not a
    torn face) and says so once; the frame's pose keeps the 80 degrees."""
    import dataclasses
    import warnings

    from editor.preview2d import PreviewRenderer, PreviewRequest
    from engine.motion import Motion
    from engine.pipeline import ProjectRequest, create_project
    from engine.render.warp import WarpBackend
    from tests.media import espeak_wav, media

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = create_project(ProjectRequest(portrait=media("portraits/hallo__6.jpg"),
                                            audio=espeak_wav("Turn around", tmp_path / "s.wav")))
    ref = project.reference
    state = project.evaluate(5)
    pose = state.pose.copy()
    pose[1] = 80.0
    turned = dataclasses.replace(state, pose=pose, landmarks_px=Motion(30.0, state.mesh[None], pose[None])
                                 .landmarks_px(ref.transform, ref.width, ref.height)[0])
    preview = PreviewRenderer()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = preview.render(PreviewRequest(1, 5, "render", turned.landmarks_px, turned), project.source,
                                   project.renderer)
            again = preview.render(PreviewRequest(2, 5, "render", turned.landmarks_px, turned), project.source,
                                   project.renderer)
        assert [str(w.message) for w in caught] == [
            "the head is turned further than the warp renderer can show: the preview and the render show it turned "
            "less (the pose values keep the turn)"]
        shown = WarpBackend.capabilities.turn_limit.shown(pose[None])
        assert 30.0 < shown[0, 1] < 40.0 and turned.pose[1] == 80.0
        warp = WarpBackend(project.source)
        expected = warp.preview(Motion(30.0, state.mesh[None], shown).landmarks_px(ref.transform, ref.width,
                                                                                   ref.height)[0])
        np.testing.assert_array_equal(image, expected)
        np.testing.assert_array_equal(again, image)
    finally:
        preview.shutdown()
