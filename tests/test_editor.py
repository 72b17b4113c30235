"""The editor driven through its real widgets (pytest-qt on Xvfb with Mesa OpenGL)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from tests.media import media

pytestmark = pytest.mark.gui


def _widget_pos(graphics_view, scene_pos: QPointF) -> QPoint:
    return graphics_view.mapFromScene(scene_pos)


def _timeline_pos(window, t: float) -> QPoint:
    view = window.timeline.wave_plot.getViewBox()
    return _widget_pos(window.timeline.graphics, view.mapViewToScene(QPointF(t, 0.0)))


def _wait_preview(qtbot, window):
    qtbot.waitUntil(lambda: window.preview.up_to_date, timeout=20_000)
    assert window.preview.shown_frame == window.session.frame


def _drag(qtbot, widget, a: QPoint, b: QPoint, steps: int = 5) -> None:
    """Press at a, move in steps, release at b (after a pause, so Qt does not see a double click)."""
    from PySide6.QtWidgets import QApplication

    qtbot.wait(QApplication.doubleClickInterval() + 20)
    qtbot.mousePress(widget, Qt.LeftButton, pos=a)
    for i in range(1, steps + 1):
        qtbot.wait(12)  # pyqtgraph drops mouse moves closer than 10 ms apart (its mouseRateLimit)
        qtbot.mouseMove(widget, a + (b - a) * i / steps)
    qtbot.mouseRelease(widget, Qt.LeftButton, pos=b)


def _set_key(window, name: str, t: float, value: float):
    from editor.commands import edit_curves

    edit_curves(window.session.undo_stack, window.project, [name], lambda _, c: c.set_key(t, value), "test key")


def test_open_and_scrub_moves_playhead_mesh_and_preview(make_main_window, demo_project_file, qtbot):
    window = make_main_window(demo_project_file)
    project = window.project
    assert project.frame_count > 30 and window.timeline.pyramid is not None
    _wait_preview(qtbot, window)
    mesh0 = window.viewport.vertices.copy()
    image0 = window.preview.current_image()

    target = project.duration * 0.5
    qtbot.mouseClick(window.timeline.graphics.viewport(), Qt.LeftButton, pos=_timeline_pos(window, target))
    assert abs(window.session.frame - project.frame_of(target)) <= 1
    assert window.timeline.playheads[0].value() == pytest.approx(window.session.time)
    _wait_preview(qtbot, window)
    assert window.viewport.shown_frame == window.preview.shown_frame == window.session.frame  # 3D and 2D agree
    assert np.abs(window.viewport.vertices - mesh0).max() > 0.05  # mid-speech: the mouth moved
    assert np.abs(window.preview.current_image().astype(int) - image0).max() > 30

    # Drag-scrubbing: press, move, release on the waveform.
    view = window.timeline.graphics.viewport()
    qtbot.mousePress(view, Qt.LeftButton, pos=_timeline_pos(window, project.duration * 0.2))
    qtbot.mouseMove(view, _timeline_pos(window, project.duration * 0.6))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=_timeline_pos(window, project.duration * 0.8))
    assert abs(window.session.frame - project.frame_of(project.duration * 0.8)) <= 1


def _viewport_face_centre(window) -> tuple[float, float, int, int]:
    """Centre of the face's pixels in the 3D viewport's image (as shown), and the image's size."""
    display = window.viewport.display
    display.render_now()
    image = display.image
    w, h = image.width(), image.height()
    rgb = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())[:, :3 * w].reshape(h, w, 3)
    face = np.abs(rgb.astype(int) - rgb[2, 2]).sum(axis=-1) > 30
    ys, xs = np.nonzero(face)
    return float(xs.mean()), float(ys.mean()), w, h


def test_the_3d_face_sits_in_the_middle_of_its_panel_at_any_size(make_main_window, demo_project_file, qtbot):
    from editor.viewport3d import offscreen_app

    if offscreen_app() is None:
        pytest.skip("the 3D view draws into its own GL widget here (no EGL)")
    window = make_main_window(demo_project_file)
    for size in ((1600, 960), (1200, 800), (2560, 1440)):
        window.resize(*size)
        qtbot.wait(200)
        x, y, w, h = _viewport_face_centre(window)
        # before: the scene kept its first 400x300 layout inside a wider image, the face ~30 % left of centre
        assert abs(x - w / 2) < 0.1 * w and abs(y - h / 2) < 0.1 * h, (x, y, w, h)


def test_the_3d_face_is_framed_the_same_while_playing(make_main_window, demo_project_file, qtbot):
    """Playback renders the 3D view at half resolution; the scene was laid out for the full-size canvas inside
    the half-size image, so while playing the face was twice as large and off-centre (only the chin showed)."""
    from editor.viewport3d import PLAYBACK_SCALE, offscreen_app

    if offscreen_app() is None:
        pytest.skip("the 3D view draws into its own GL widget here (no EGL)")
    window = make_main_window(demo_project_file)
    display = window.viewport.display
    still = _viewport_face_centre(window)
    display.scale = PLAYBACK_SCALE
    playing = _viewport_face_centre(window)
    display.scale = 1.0
    assert playing[2] == pytest.approx(PLAYBACK_SCALE * still[2], abs=1)  # rendered at half resolution
    for a, b, size_a, size_b in ((still[0], playing[0], still[2], playing[2]), (still[1], playing[1], still[3],
                                                                                    playing[3])):
        assert abs(a / size_a - b / size_b) < 0.03, (still, playing)
    assert _viewport_face_centre(window) == pytest.approx(still, abs=0.5)  # and back when playback stops


def test_the_3d_face_fits_a_tall_narrow_panel(make_main_window, demo_project_file, qtbot):
    """The camera's view angle is along the panel's height: a narrow dock cut the face's sides off."""
    from editor.viewport3d import offscreen_app

    if offscreen_app() is None:
        pytest.skip("the 3D view draws into its own GL widget here (no EGL)")
    window = make_main_window(demo_project_file, size=(1500, 1400))
    window.resizeDocks([window.docks["viewport"]], [200], Qt.Horizontal)
    window.resizeDocks([window.docks["timeline"], window.docks["graph"]], [150, 150], Qt.Vertical)
    qtbot.wait(200)
    display = window.viewport.display
    display.render_now()
    image = display.image
    w, h = image.width(), image.height()
    assert h > 1.5 * w  # tall and narrow
    rgb = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())[:, :3 * w].reshape(h, w, 3)
    xs = np.nonzero((np.abs(rgb.astype(int) - rgb[2, 2]).sum(axis=-1) > 30).any(axis=0))[0]
    # the face's sides are inside the panel, with a margin (it reached 2 % from the edge)
    assert xs.min() > 0.05 * w and xs.max() < 0.95 * w, (xs.min(), xs.max(), w)


def test_inspector_key_changes_curve_mesh_and_render_with_undo(make_main_window, demo_project_file, qtbot):
    from engine.document.readout import channel_readout
    from engine.rig import load_rig

    window = make_main_window(demo_project_file)
    window.preview.set_mode("pose image")
    window.session.set_frame(5)
    _wait_preview(qtbot, window)
    mesh_before = window.session.frame_state().mesh.copy()
    image_before = window.preview.current_image()
    row = window.inspector.rows["jawOpen"]
    base = channel_readout(window.project, 5)["jawOpen"][0]

    row.slider.setValue(row.to_slider(0.8))  # a click on the groove: one key, one undo step
    curve = window.project.channels["jawOpen"]
    assert len(curve) == 1 and curve.keys[0].time == pytest.approx(window.session.time)
    assert curve.keys[0].value == pytest.approx(0.8 - base, abs=1e-3)  # the key stores what the result takes
    assert channel_readout(window.project, 5)["jawOpen"][2] == pytest.approx(0.8, abs=1e-3)
    expected = mesh_before + load_rig().offsets_frame({"jawOpen": curve.keys[0].value})
    assert np.allclose(window.session.frame_state().mesh, expected, atol=1e-5)
    _wait_preview(qtbot, window)
    assert np.allclose(window.viewport.vertices.mean(0), window.session.frame_state().mesh.mean(0), atol=0.5)
    assert np.abs(window.preview.current_image().astype(int) - image_before).sum() > 0
    assert row.key_mark.text() == "◆" and row.readout.text() == "0.800"

    # A drag is a single undo step however many values it passes through.
    count = window.session.undo_stack.count()
    row.slider.setSliderDown(True)
    for v in (0.5, 0.3, 0.2):
        row.slider.setValue(row.to_slider(v))
    row.slider.setSliderDown(False)
    assert window.session.undo_stack.count() == count + 1
    assert window.project.channels["jawOpen"].keys[0].value == pytest.approx(0.2 - base, abs=1e-3)

    window.actions_by_id["undo"].trigger()
    assert window.project.channels["jawOpen"].keys[0].value == pytest.approx(0.8 - base, abs=1e-3)
    window.actions_by_id["undo"].trigger()
    assert len(window.project.channels["jawOpen"]) == 0
    assert np.allclose(window.session.frame_state().mesh, mesh_before)
    window.actions_by_id["redo"].trigger()
    window.actions_by_id["redo"].trigger()
    assert window.project.channels["jawOpen"].keys[0].value == pytest.approx(0.2 - base, abs=1e-3)


def test_a_click_right_on_a_graph_key_selects_it(make_main_window, demo_project_file, qtbot):
    """The keys' scatter took a click on a key for itself: only a click a few pixels beside it selected it, and a
    Shift+click on one did not add it to the selection."""
    window = make_main_window(demo_project_file)
    graph = window.graph
    for t, v in ((0.3, 0.0), (0.9, 0.6), (1.5, 0.1)):
        _set_key(window, "browInnerUp", t, v)
    window.session.set_selection(["browInnerUp"])
    graph.frame_all()
    qtbot.wait(50)
    viewport = graph.plot.viewport()
    qtbot.mouseClick(viewport, Qt.LeftButton, pos=_widget_pos(graph.plot, graph.key_scene_pos("browInnerUp", 1)))
    assert graph.selected_keys == {("browInnerUp", 1)}
    qtbot.mouseClick(viewport, Qt.LeftButton, Qt.ShiftModifier,
                     pos=_widget_pos(graph.plot, graph.key_scene_pos("browInnerUp", 2)))
    assert graph.selected_keys == {("browInnerUp", 1), ("browInnerUp", 2)}
    qtbot.mouseClick(viewport, Qt.LeftButton, pos=_widget_pos(graph.plot, graph.scene_pos_of(0.45, 0.5)))
    assert graph.selected_keys == set()  # a click on empty space clears it
    # pyqtgraph's "A" (auto-range) button appeared in a corner under the pointer once the view was framed
    item = graph.plot.getPlotItem()
    item.mouseHovering = True
    item.updateButtons()
    assert not item.autoBtn.isVisible()


def test_graph_editor_drag_key_interpolation_and_clipboard(make_main_window, demo_project_file, qtbot):
    from engine.document.curves import Interpolation

    window = make_main_window(demo_project_file)
    graph = window.graph
    _set_key(window, "browInnerUp", 0.3, 0.0)
    _set_key(window, "browInnerUp", 0.9, 0.6)
    _set_key(window, "browInnerUp", 1.5, 0.1)
    window.session.set_selection(["browInnerUp"])
    graph.plot.setXRange(0.0, 2.0, padding=0)
    graph.plot.setYRange(-0.5, 1.0, padding=0)
    qtbot.wait(50)
    count = window.session.undo_stack.count()

    start = _widget_pos(graph.plot, graph.key_scene_pos("browInnerUp", 1))
    target = _widget_pos(graph.plot, graph.scene_pos_of(1.1, 0.3))
    viewport = graph.plot.viewport()
    _drag(qtbot, viewport, start, target)

    key = window.project.channels["browInnerUp"].keys[1]
    assert key.time == pytest.approx(1.1, abs=0.03) and key.value == pytest.approx(0.3, abs=0.03)
    assert window.session.undo_stack.count() == count + 1  # the whole drag is one step
    assert graph.selected_keys == {("browInnerUp", 1)}

    window.actions_by_id["interp_constant"].trigger()
    curve = window.project.channels["browInnerUp"]
    assert curve.keys[1].interpolation == Interpolation.CONSTANT
    assert curve.evaluate(1.3) == pytest.approx(key.value)  # constant holds until the next key

    # Dragging the bezier handle of key 0 (selected alone) sets an explicit handle.
    graph.selected_keys = {("browInnerUp", 0)}
    graph.redraw()
    handle = next((h, x, y) for h, x, y in graph._key_points if h.side == "right")
    p0 = _widget_pos(graph.plot, graph.scene_pos_of(handle[1], handle[2]))
    p1 = _widget_pos(graph.plot, graph.scene_pos_of(handle[1], handle[2] + 0.4))
    _drag(qtbot, viewport, p0, p1)
    right = window.project.channels["browInnerUp"].keys[0].handle_right
    assert right is not None and right[1] == pytest.approx(0.4, abs=0.04)

    window.actions_by_id["undo"].trigger()  # handle
    assert window.project.channels["browInnerUp"].keys[0].handle_right is None
    window.actions_by_id["undo"].trigger()  # interpolation
    assert window.project.channels["browInnerUp"].keys[1].interpolation == Interpolation.BEZIER
    window.actions_by_id["undo"].trigger()  # drag
    assert window.project.channels["browInnerUp"].keys[1].time == pytest.approx(0.9)
    window.actions_by_id["redo"].trigger()
    assert window.project.channels["browInnerUp"].keys[1].time == pytest.approx(1.1, abs=0.03)

    # Box select the first two keys, copy, paste at the playhead, delete.
    a = _widget_pos(graph.plot, graph.scene_pos_of(0.2, -0.3))  # from the bottom left: the legend is top left
    b = _widget_pos(graph.plot, graph.scene_pos_of(1.2, 0.5))
    _drag(qtbot, viewport, a, b)
    assert graph.selected_keys == {("browInnerUp", 0), ("browInnerUp", 1)}
    window.actions_by_id["copy_keys"].trigger()
    window.session.set_time(1.7)
    window.actions_by_id["paste_keys"].trigger()
    times = [k.time for k in window.project.channels["browInnerUp"].keys]
    assert len(times) == 5 and times[-2] == pytest.approx(window.session.time)
    graph.selected_keys = {("browInnerUp", 0)}
    window.actions_by_id["delete_keys"].trigger()
    assert len(window.project.channels["browInnerUp"]) == 4
    window.actions_by_id["undo"].trigger()
    assert len(window.project.channels["browInnerUp"]) == 5


def test_transport_keys_and_in_out(make_main_window, demo_project_file, qtbot):
    window = make_main_window(demo_project_file)
    fps = window.project.fps
    window.session.set_frame(3)
    with qtbot.waitActive(window):
        window.activateWindow()
    window.timeline.graphics.setFocus()
    qtbot.keyClick(window, Qt.Key_Right)
    assert window.session.frame == 4
    qtbot.keyClick(window, Qt.Key_Right, Qt.ShiftModifier)
    assert window.session.frame == 4 + round(fps)
    qtbot.keyClick(window, Qt.Key_Left)
    assert window.session.frame == 3 + round(fps)
    qtbot.keyClick(window, Qt.Key_I)
    window.session.set_frame(window.session.frame + 10)
    qtbot.keyClick(window, Qt.Key_O)
    a, b = window.project.in_out
    assert a == pytest.approx((3 + round(fps)) / fps) and b > a
    window.actions_by_id["undo"].trigger()
    window.actions_by_id["undo"].trigger()
    assert window.project.in_out is None

    _set_key(window, "rx", 0.2, 5.0)
    _set_key(window, "mouthSmileLeft", 1.0, 0.5)
    window.session.set_time(0.0)
    qtbot.keyClick(window, Qt.Key_Up)
    assert window.session.time == pytest.approx(0.2, abs=0.5 / fps)
    qtbot.keyClick(window, Qt.Key_Up)
    assert window.session.time == pytest.approx(1.0, abs=0.5 / fps)
    qtbot.keyClick(window, Qt.Key_Down)
    assert window.session.time == pytest.approx(0.2, abs=0.5 / fps)

    window.session.set_selection(["ry", "tz"])
    qtbot.keyClick(window, Qt.Key_S)
    assert len(window.project.channels["ry"]) == 1 and len(window.project.channels["tz"]) == 1

    window.session.set_frame(0)
    notices = []
    window.playback.notice.connect(notices.append)
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.playback.playing
    qtbot.waitUntil(lambda: window.session.frame >= 6, timeout=5_000)
    qtbot.keyClick(window, Qt.Key_K)
    assert not window.playback.playing
    # Without an audio device playback runs on a timer, and says so once, in the status bar.
    assert len(notices) == 1 and notices[0].startswith("No audio output device")
    assert window.statusBar().currentMessage() == notices[0]
    qtbot.keyClick(window, Qt.Key_Space)
    qtbot.keyClick(window, Qt.Key_K)
    assert len(notices) == 1


def _wait_base_change(qtbot, window):
    from engine.document.changes import ChangeKind

    return qtbot.waitSignal(window.session.project_changed, timeout=60_000,
                            check_params_cb=lambda change: change.kind is ChangeKind.BASE)


def test_regenerate_keeps_edits_and_is_undoable(make_main_window, demo_project_file, qtbot):
    from PySide6.QtWidgets import QCheckBox, QLineEdit, QSpinBox

    window = make_main_window(demo_project_file)
    form = window.inspector.a2l_form
    _set_key(window, "rz", 0.5, 4.0)
    old_base, old_a2l = window.project.base, window.project.a2l
    assert form.name == "embedded" and form.widgets["transcript"].text() == old_a2l.config.transcript
    assert isinstance(form.widgets["seed"], QSpinBox) and isinstance(form.widgets["transcript"], QLineEdit)
    # the styles are picked from their list (typed "Singing" read as "Cannot run here")
    from PySide6.QtWidgets import QComboBox

    for name, values in (("style", ["speech", "singing", "auto"]), ("head_style", ["calm", "natural", "lively"])):
        combo = form.widgets[name]
        assert isinstance(combo, QComboBox) and [combo.itemText(i) for i in range(combo.count())] == values
    form.widgets["head_style"].setCurrentText("lively")
    assert form.config().head_style == "lively" and window.inspector.regenerate_button.isEnabled()
    form.widgets["head_style"].setCurrentText("natural")
    form.widgets["seed"].setValue(7)
    form.widgets["transcript"].clear()  # empty: None (recognition instead of forced alignment)
    accurate = form.widgets["accurate_phones"]
    assert isinstance(accurate, QCheckBox)
    qtbot.mouseClick(accurate, Qt.MouseButton.LeftButton, pos=QPoint(8, accurate.height() // 2))
    window.graph.plot.setYRange(0.0, 0.01, padding=0)  # zoomed in on the values (the new curves went off the top)
    with _wait_base_change(qtbot, window):
        window.inspector.regenerate_button.click()
    config = window.project.a2l.config
    assert window.project.base is not old_base and config.seed == 7
    lo, hi = window.graph.view.viewRange()[1]
    drawn = np.concatenate([item.yData for item in window.graph._items])
    assert lo <= drawn.min() and drawn.max() <= hi
    assert config.accurate_phones and config.transcript is None
    assert config.lead_ms == old_a2l.config.lead_ms  # untouched fields keep their value
    assert not np.allclose(window.project.base.pose, old_base.pose)  # another seed: another head sway
    assert len(window.project.channels["rz"]) == 1
    # without a transcript the word lane shows the recognised words (it was empty)
    # (the recogniser's guesses at espeak-ng's voice, e.g. "loeb a lot op too epic": timed, in order, in the speech)
    recognised = window.timeline.lane_segments("words")
    assert len(recognised) >= 3 and all(re.fullmatch(r"[a-z']+", w.label) for w in recognised)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(recognised, recognised[1:]))
    assert 0 < recognised[0].start and recognised[-1].end <= window.project.duration
    window.actions_by_id["undo"].trigger()
    assert window.project.base is old_base and window.project.a2l == old_a2l
    assert [w.label for w in window.timeline.lane_segments("words")] == ["hello", "bob", "bought", "a", "big", "map"]
    assert not form.widgets["accurate_phones"].isChecked() and form.widgets["seed"].value() == 0


def test_invalid_backend_setting_is_reported_not_run(make_main_window, demo_project_file, dialogs, qtbot):
    window = make_main_window(demo_project_file)
    form = window.inspector.a2l_form
    form.widgets["min_hold_frames"].setValue(0)
    assert not window.inspector.regenerate_button.isEnabled()  # said at once, beside the form
    assert "min_hold_frames" in form.status.text() and form.status.isVisibleTo(window)
    with pytest.raises(Exception, match="min_hold_frames"):
        form.choice()
    window.inspector._request_regenerate()  # called anyway (e.g. by a shortcut): a box, nothing run
    kind, text = dialogs.messages[-1]
    assert kind == "critical" and "min_hold_frames" in text
    qtbot.wait(50)
    assert window.session.undo_stack.count() == 0
    form.widgets["min_hold_frames"].setValue(2)
    assert window.inspector.regenerate_button.isEnabled() and not form.status.isVisibleTo(window)


def _combo_entries(combo):
    from PySide6.QtCore import Qt

    return {combo.itemData(i): (combo.model().item(i).isEnabled(), combo.itemData(i, Qt.ToolTipRole))
            for i in range(combo.count())}


def test_inspector_lists_backends_with_availability(make_main_window, demo_project_file, fake_backends):
    window = make_main_window(demo_project_file)
    combo = window.inspector.a2l_form.combo
    entries = _combo_entries(combo)
    assert list(entries)[0] == "embedded" and list(entries)[-2:] == ["fake", "needs_weights"]
    assert entries["embedded"][0] and entries["fake"][0]
    enabled, tooltip = entries["needs_weights"]
    assert enabled and "weights folder" in tooltip  # pickable: typing a folder into its form makes it usable
    assert combo.itemText(combo.findData("fake")) == "Fake (tests)"
    assert window.inspector.a2l_form.parent().title() == "Audio2Lmk"  # not one backend's name


def test_regenerate_with_another_backend_and_undo(make_main_window, demo_project_file, fake_backends, qtbot):
    from PySide6.QtWidgets import QDoubleSpinBox, QLineEdit

    from tests.seams import FakeA2L

    window = make_main_window(demo_project_file)
    inspector, form = window.inspector, window.inspector.a2l_form
    old_base, old_a2l = window.project.base, window.project.a2l
    _set_key(window, "jawOpen", 0.5, 0.2)
    form.combo.setCurrentIndex(form.combo.findData("fake"))
    assert set(form.widgets) == {"amplitude", "period_s", "weights"}  # the fake's config, generated
    assert isinstance(form.widgets["amplitude"], QDoubleSpinBox) and isinstance(form.widgets["weights"], QLineEdit)
    assert form.widgets["amplitude"].value() == pytest.approx(0.5)
    form.widgets["amplitude"].setValue(0.8)
    calls = FakeA2L.calls
    with _wait_base_change(qtbot, window):
        inspector.regenerate_button.click()
    project = window.project
    assert project.a2l.name == "fake" and project.a2l.config.amplitude == pytest.approx(0.8)
    assert project.a2l.config.weights is None and FakeA2L.calls == calls + 1
    assert project.base is not old_base and set(project.base.weights) == {"jawOpen"}
    assert len(project.channels["jawOpen"]) == 1  # the edits stay

    # The views show what this backend gives: no phoneme/blink tracks, base values only for jawOpen.
    lanes = window.timeline.lane_items
    assert all(not item.segments for item in lanes)
    assert all(item.hint == "not provided by Fake (tests)" for item in lanes)
    window.session.set_frame(10)
    rows = inspector.rows
    assert rows["jawOpen"].base_readout.text() != "" and rows["mouthSmileLeft"].base_readout.text() == ""
    assert window.graph.base_track("jawOpen") is project.base.weights["jawOpen"]
    assert window.graph.base_track("mouthSmileLeft") is None and window.graph.base_track("rx") is not None

    window.actions_by_id["undo"].trigger()
    assert project.base is old_base and project.a2l == old_a2l
    assert form.name == "embedded" and form.widgets["seed"].value() == old_a2l.config.seed
    assert all(item.segments and not item.hint for item in window.timeline.lane_items[:2])
    assert inspector.rows["mouthSmileLeft"].base_readout.text() != ""
    window.actions_by_id["redo"].trigger()
    assert project.a2l.name == "fake" and FakeA2L.calls == calls + 1  # redo swaps back, no new prediction


def test_save_reload_equality(make_main_window, demo_project_file, dialogs, tmp_path):
    from engine.document.project_io import load_project

    window = make_main_window(demo_project_file)
    _set_key(window, "jawOpen", 0.4, 0.7)
    _set_key(window, "ry", 1.0, -6.0)
    window.inspector.gain_boxes["head"].setValue(0.5)
    assert window.windowTitle().startswith("project1.talkline*")
    dialogs.save_path = str(tmp_path / "saved")
    window.actions_by_id["save_as"].trigger()
    assert window.project.path.endswith("saved.talkline")
    assert "*" not in window.windowTitle()
    loaded = load_project(tmp_path / "saved.talkline")
    assert loaded.channels == window.project.channels
    assert loaded.gains == window.project.gains
    assert np.allclose(loaded.evaluate(12).mesh, window.project.evaluate(12).mesh)
    assert str(tmp_path / "saved.talkline") in window.recent_files()


def test_a_gain_typed_with_decimals_is_taken_whole_as_one_undo_step(make_main_window, demo_project_file, qtbot):
    """Typing 0.5 into the lip gain left it at 0.00: every keystroke was an edit whose refresh rewrote the box
    ("0" -> "0.00") under the cursor, so the "." and the "5" were refused."""
    window = make_main_window(demo_project_file)
    box = window.inspector.gain_boxes["lip"]
    steps = window.session.undo_stack.count()
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "0.5")
    qtbot.keyClick(box, Qt.Key_Return)
    assert window.project.gains.lip == pytest.approx(0.5)
    assert window.session.undo_stack.count() == steps + 1
    window.actions_by_id["undo"].trigger()
    assert window.project.gains.lip == pytest.approx(1.0) and box.value() == pytest.approx(1.0)
    qtbot.keyClick(box, Qt.Key_Up)  # the arrows still apply at once
    assert window.project.gains.lip > 1.0


def test_autosave_recovery_after_crash(make_main_window, demo_project_file, dialogs):
    from PySide6.QtWidgets import QMessageBox

    crashed = make_main_window(demo_project_file)
    _set_key(crashed, "mouthPucker", 0.6, 0.9)
    crashed.autosave()  # the debounced autosave, run now; then the "crash": the window is never closed
    dialogs.question_answer = QMessageBox.Yes
    fresh = make_main_window()
    assert fresh.offer_recovery()
    assert fresh.project.channels["mouthPucker"] == crashed.project.channels["mouthPucker"]
    assert fresh.project.path == crashed.project.path  # saving writes over the original
    assert "*" in fresh.windowTitle()
    dialogs.question_answer = QMessageBox.Discard


def test_edits_undone_back_to_the_saved_state_are_not_offered_after_a_crash(make_main_window, demo_project_file,
                                                                            dialogs):
    from engine.document.project_io import autosave_path, find_recoverable

    window = make_main_window(demo_project_file)
    _set_key(window, "mouthPucker", 0.6, 0.9)
    window.autosave()
    assert autosave_path(window.project.path).exists()
    window.session.undo_stack.undo()  # back to the file as saved: nothing to recover (the crash offered the key)
    assert not autosave_path(window.project.path).exists() and find_recoverable() == []
    window.session.undo_stack.redo()  # edited again: saved again on the next autosave
    window.autosave()
    assert autosave_path(window.project.path).exists()


def test_render_to_mp4_decodes_and_cancel_leaves_no_file(make_main_window, demo_project_file, qtbot, tmp_path,
                                                          dialogs):
    import av

    window = make_main_window(demo_project_file)
    dock = window.render_dock
    dock.stem_edit.setText(str(tmp_path / "take"))
    with qtbot.waitSignal(dock.thread.job_finished, timeout=180_000) as done:
        job_id = dock.queue_render()
    outputs = done.args[1]
    assert done.args[0] == job_id and outputs == [str(tmp_path / "take.mp4")]
    with av.open(outputs[0]) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    ref = window.project.reference
    assert len(frames) == window.project.frame_count and frames[0].shape == (ref.height, ref.width, 3)

    # another size and frame rate, chosen in the dock
    dock.stem_edit.setText(str(tmp_path / "small"))
    dock.size_box.setValue(128)
    dock.fps_box.setCurrentText("25")
    with qtbot.waitSignal(dock.thread.job_finished, timeout=180_000) as done:
        dock.queue_render()
    with av.open(done.args[1][0]) as container:
        stream = container.streams.video[0]
        small = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert float(stream.base_rate) == 25.0
    assert small[0].shape == (128, 128, 3)
    # the queue says the frames are the project's and the rate the render's (it read "[0-150]" for 189 frames)
    assert "rendered at 25 fps" in dock.queue_list.currentItem().text()
    assert len(small) == math.ceil(window.project.frame_count / window.project.fps * 25 - 1e-9)
    dock.size_box.setValue(max(ref.width, ref.height))
    dock.fps_box.setCurrentText("project")

    dock.stem_edit.setText(str(tmp_path / "cancelled"))
    dock.kind_boxes["landmarks"].setChecked(True)
    first = []
    dock.thread.job_progress.connect(lambda i, p: (first.append(p), dock.cancel_selected()) if not first else None)
    with qtbot.waitSignal(dock.thread.job_cancelled, timeout=60_000):
        dock.queue_render()
    assert len(first) == 1 and first[0].done < window.project.frame_count
    assert not (tmp_path / "cancelled.mp4").exists() and not (tmp_path / "cancelled_landmarks.npz").exists()
    assert "cancelled" in dock.queue_list.currentItem().text()

    # Closing the window while a render runs asks first (it stopped the render without a word); No keeps both.
    from PySide6.QtWidgets import QMessageBox

    dock.stem_edit.setText(str(tmp_path / "while_closing"))
    with qtbot.waitSignal(dock.thread.job_started, timeout=60_000):
        dock.queue_render()
    dialogs.question_answer = QMessageBox.No
    assert not window.close() and window.isVisible()
    assert any("render is not finished" in text for kind, text in dialogs.messages if kind == "question")
    qtbot.waitUntil(lambda: (tmp_path / "while_closing.mp4").exists(), timeout=180_000)  # the render went on


def test_bad_input_shows_error_dialogs(make_main_window, dialogs, qtbot, tmp_path):
    window = make_main_window()
    garbage = tmp_path / "broken.talkline"
    garbage.write_bytes(b"not a zip at all")
    assert not window.open_project(str(garbage))
    kind, text = dialogs.messages[-1]
    assert kind == "critical" and "broken.talkline" in text

    worker = window.create_project(media("not_a_person/LivePortrait__s22.jpg"),
                                   media("speech/Real3DPortrait__Obama_5s.wav"), size=256)
    qtbot.waitUntil(lambda: len(dialogs.messages) == 2, timeout=60_000)
    kind, text = dialogs.messages[-1]
    assert kind == "critical" and "face" in text.lower() and not text.startswith("NoFaceError")
    assert window.project is None and worker is not None


def test_multi_channel_edit_refreshes_views_once(make_main_window, demo_project_file, qtbot):
    from editor.commands import edit_curves
    from engine.document.changes import Change, ChangeKind
    from engine.document.project_io import relink_source

    window = make_main_window(demo_project_file)
    graph, timeline, project = window.graph, window.timeline, window.project
    names = ["rx", "jawOpen", "browInnerUp"]
    window.session.set_selection(names)
    seen, redraws = [], []
    window.session.project_changed.connect(seen.append)
    redraw = graph.redraw
    graph.redraw = lambda *a, **k: (redraws.append(1), redraw(*a, **k))

    edit_curves(window.session.undo_stack, project, names, lambda _, c: c.set_key(0.5, 0.4), "three keys")
    assert len(seen) == 1 and seen[0].kind is ChangeKind.CHANNELS and set(seen[0].channels) == set(names)
    assert len(redraws) == 1  # the graph shows all three: one redraw, not three
    window.session.set_time(0.5)
    assert all(window.session.frame_state().values[n] == pytest.approx(0.4) for n in names)
    assert timeline.dope_sheet.rows == [n for n in project.channel_names if n in names]
    window.actions_by_id["undo"].trigger()
    assert len(seen) == 2 and len(redraws) == 2
    assert all(len(project.channels[n]) == 0 for n in names)
    assert all(window.session.frame_state().values[n] == 0.0 for n in names)

    # A gain change redraws the graph once (its result curves are base x gain + edit).
    window.inspector.gain_boxes["head"].setValue(0.5)
    assert seen[-1] == Change(ChangeKind.GAINS) and len(redraws) == 3

    # A frame-rate change rebuilds the timeline but keeps the waveform pyramid of the unchanged audio.
    pyramid = timeline.pyramid
    project.set_fps(25.0)
    assert seen[-1] == Change(ChangeKind.FPS) and timeline.pyramid is pyramid and timeline.waveform.pyramid is pyramid
    relink_source(project, "audio", project.audio_source.path)  # a newly decoded clip: a new pyramid
    assert seen[-1] == Change(ChangeKind.SOURCES)
    assert timeline.pyramid is not pyramid and timeline.waveform.pyramid is timeline.pyramid


def test_render_and_preview_with_another_renderer(make_main_window, demo_project_file, fake_backends, qtbot,
                                                  tmp_path):
    import av

    from engine.plugins import RENDERERS, Choice
    from engine.render.renderer import RendererCapabilities
    from tests.seams import FakeRenderer, FlatConfig

    window = make_main_window(demo_project_file)
    project, dock = window.project, window.render_dock
    form = dock.renderer_form
    entries = list(_combo_entries(form.combo))
    assert entries[0] == "warp" and entries[-1] == "flat" and form.name == "warp"  # the project's renderer
    form.combo.setCurrentIndex(form.combo.findData("flat"))
    assert set(form.widgets) == {"window", "weights"}
    form.widgets["window"].setValue(3)
    dock.stem_edit.setText(str(tmp_path / "flat"))
    with qtbot.waitSignal(dock.thread.job_finished, timeout=180_000) as done:
        dock.queue_render()
    assert dock.thread.entries[done.args[0]].job.renderer == Choice("flat", FlatConfig(window=3))
    with av.open(done.args[1][0]) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == project.frame_count
    # The flat renderer's frame (the unwarped portrait with white landmarks), not the warp's.
    landmarks = project.evaluate(0).landmarks_px
    flat = FakeRenderer(project.source).preview(landmarks).astype(int)
    warp = RENDERERS.get("warp")(project.source).preview(landmarks).astype(int)
    assert np.abs(frames[0] - flat).mean() < np.abs(frames[0] - warp).mean()

    # The preview shows the project's renderer where it follows the playhead in real time, else the warp.
    _wait_preview(qtbot, window)
    project.set_renderer(Choice("flat", FlatConfig()))
    assert form.name == "flat"
    _wait_preview(qtbot, window)
    assert window.preview.render_title == "Warp (CPU, real time)"

    class RealtimeFlat(FakeRenderer):
        capabilities: ClassVar[RendererCapabilities] = RendererCapabilities(realtime_preview=True)

    RENDERERS.register("flat_rt", RealtimeFlat)
    try:
        project.set_renderer(Choice("flat_rt", FlatConfig()))
        _wait_preview(qtbot, window)
        state = window.session.frame_state()
        assert np.array_equal(window.preview.current_image(), FakeRenderer(project.source).preview(state.landmarks_px))
        assert "Flat (tests)" in window.preview.status.text()
    finally:
        RENDERERS.unregister("flat_rt")


@dataclass
class _Settings:
    VERSION: ClassVar[int] = 1
    count: int | None = None
    scale: float = 0.123456
    name: str = "x"
    on: bool = False


def test_config_form_is_generated_from_the_dataclass(qtbot):
    from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QLineEdit, QSpinBox

    from editor.config_form import ConfigForm
    from engine.a2l.embedded import EmbeddedConfig
    from engine.errors import ConfigError

    form = ConfigForm(_Settings())
    qtbot.addWidget(form)
    kinds = {"count": QLineEdit, "scale": QDoubleSpinBox, "name": QLineEdit, "on": QCheckBox}
    assert all(isinstance(form.widgets[n], kind) for n, kind in kinds.items()) and len(form.widgets) == 4
    assert form.config() == _Settings()  # untouched: digits the spin box cannot show are kept
    form.widgets["count"].setText("3")
    form.widgets["on"].setChecked(True)
    form.widgets["scale"].setValue(2.5)
    assert form.config() == _Settings(count=3, scale=2.5, on=True)
    form.widgets["count"].setText("three")
    with pytest.raises(ConfigError, match="count"):
        form.config()

    form.set_config(EmbeddedConfig(seed=5, transcript="hi"))  # another class: the rows are rebuilt
    assert list(form.widgets) == list(vars(EmbeddedConfig()))
    assert isinstance(form.widgets["seed"], QSpinBox) and form.widgets["seed"].value() == 5
    assert form.widgets["lead_ms"].text() == "50"  # no trailing zeros
    form.widgets["transcript"].setText("  ")
    assert form.config() == EmbeddedConfig(seed=5)  # empty optional text: None
    form.widgets["min_hold_frames"].setValue(0)
    with pytest.raises(ConfigError, match="min_hold_frames"):  # the config's own range check
        form.config()


def test_cli_and_editor_make_identical_motion(make_main_window, qtbot, tmp_path):
    """The CLI's predict and the editor's New Project run one pipeline: the same inputs, the same motion."""
    import main
    from editor.dialogs import NewProjectDialog

    portrait = media("portraits/AniPortrait__Aragaki.png")
    audio = str(Path(__file__).parent / "fixtures" / "schema1_speech.wav")
    npz = tmp_path / "cli.npz"
    assert main.main(["predict", audio, "--portrait", portrait, "-o", str(npz), "--seed", "2", "--face-index", "0",
                      "--size", "256", "--fps", "25"]) == 0

    window = make_main_window()
    dialog = NewProjectDialog(window, portrait, audio)
    dialog.size_box.setValue(256)
    dialog.fps_box.setCurrentText("25")
    dialog.face_index_box.setValue(0)
    dialog.a2l_form.widgets["seed"].setValue(2)
    values = dialog.values()
    assert values["face_index"] == 0 and values["a2l"].config.seed == 2 and values["transcript"] is None
    with qtbot.waitSignal(window.session.project_replaced, timeout=120_000):
        window.create_project(**values)

    project = window.project
    motion, ref = project.evaluate_motion(), project.reference
    with np.load(npz) as cli:
        np.testing.assert_array_equal(motion.mesh.astype(np.float32), cli["mesh"])
        np.testing.assert_array_equal(motion.pose.astype(np.float32), cli["pose"])
        np.testing.assert_array_equal(motion.landmarks_px(ref.transform, ref.width, ref.height).astype(np.float32),
                                      cli["landmarks_2d"])
    assert project.source.framing.face_index == 0 and project.a2l.config.seed == 2


def test_a_new_project_from_a_video_is_a_dub_of_it(make_main_window, qtbot, monkeypatch, tmp_path):
    """A video in the New Project dialog's face-source field makes a dub project: the video's frames and frame
    rate, the lower face from the audio, the preview the dubbed source frame."""
    from editor.dialogs import NewProjectDialog

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    video = media("talking_videos/Talking-Face_PC-AVS__00015.mp4")  # 224 x 224 at 25 fps
    window = make_main_window()
    dialog = NewProjectDialog(window, video, media("speech/Real3DPortrait__Obama_5s.wav"))
    assert dialog.ok_button.isEnabled()
    values = dialog.values()
    assert values["video"] == video
    with qtbot.waitSignal(window.session.project_replaced, timeout=120_000):
        window.create_project(**values)
    project = window.project
    assert project.source.kind == "video" and project.fps == 25.0
    assert (project.reference.width, project.reference.height) == (224, 224)
    # the timeline's audio row: the new audio above, the video's own sound (muted) below, as the picture plays it
    from engine.audio.decode import load_audio

    timeline = window.timeline
    assert [label for _, label in timeline.wave_plot.getAxis("left")._tickLevels[0]] == ["audio", "source (muted)"]
    n = len(project.source.sound)
    assert n == round(project.frame_count / 25.0 * 16000)
    own = load_audio(video, analysed=False).mono16k
    np.testing.assert_array_equal(project.source.sound[:16000], own[:16000])  # 5 s of speech: the video plays on
    _, below = timeline.source_waveform.getData()
    _, above = timeline.waveform.getData()
    assert below.size and below.max() <= 1e-6 and below.min() < -0.5 + -0.5 * 0.2  # loud enough to see
    assert above.min() >= -1e-6
    window.session.set_time(1.0)
    qtbot.waitUntil(lambda: window.preview.up_to_date and window.preview.shown_frame == 25, timeout=30_000)
    assert window.preview.image_view._size == (224, 224)  # the whole dubbed source frame
