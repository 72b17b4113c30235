"""The editor driven through its real widgets (pytest-qt on Xvfb with Mesa OpenGL)."""
from __future__ import annotations

import math

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
    assert np.abs(window.viewport.vertices - mesh0).max() > 0.05  # mid-speech: the mouth moved
    _wait_preview(qtbot, window)
    assert np.abs(window.preview.current_image().astype(int) - image0).max() > 30

    # Drag-scrubbing: press, move, release on the waveform.
    view = window.timeline.graphics.viewport()
    qtbot.mousePress(view, Qt.LeftButton, pos=_timeline_pos(window, project.duration * 0.2))
    qtbot.mouseMove(view, _timeline_pos(window, project.duration * 0.6))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=_timeline_pos(window, project.duration * 0.8))
    assert abs(window.session.frame - project.frame_of(project.duration * 0.8)) <= 1


def test_inspector_key_changes_curve_mesh_and_render_with_undo(make_main_window, demo_project_file, qtbot):
    from engine.rig import load_rig

    window = make_main_window(demo_project_file)
    window.preview.set_mode("pose image")
    window.session.set_frame(5)  # before speech: mouth closed in the base layer
    _wait_preview(qtbot, window)
    mesh_before = window.session.frame_state().mesh.copy()
    image_before = window.preview.current_image()
    row = window.inspector.rows["jawOpen"]

    row.slider.setValue(row.to_slider(0.8))  # a click on the groove: one key, one undo step
    curve = window.project.channels["jawOpen"]
    assert len(curve) == 1 and curve.keys[0].time == pytest.approx(window.session.time)
    assert curve.keys[0].value == pytest.approx(0.8, abs=1e-3)
    expected = mesh_before + load_rig().offsets_frame({"jawOpen": curve.keys[0].value})
    assert np.allclose(window.session.frame_state().mesh, expected, atol=1e-5)
    assert np.allclose(window.viewport.vertices.mean(0), window.session.frame_state().mesh.mean(0), atol=0.5)
    _wait_preview(qtbot, window)
    assert np.abs(window.preview.current_image().astype(int) - image_before).sum() > 0
    assert row.key_mark.text() == "◆"

    # A drag is a single undo step however many values it passes through.
    count = window.session.undo_stack.count()
    row.slider.setSliderDown(True)
    for v in (0.5, 0.3, 0.2):
        row.slider.setValue(row.to_slider(v))
    row.slider.setSliderDown(False)
    assert window.session.undo_stack.count() == count + 1
    assert window.project.channels["jawOpen"].keys[0].value == pytest.approx(0.2, abs=1e-3)

    window.actions_by_id["undo"].trigger()
    assert window.project.channels["jawOpen"].keys[0].value == pytest.approx(0.8, abs=1e-3)
    window.actions_by_id["undo"].trigger()
    assert len(window.project.channels["jawOpen"]) == 0
    assert np.allclose(window.session.frame_state().mesh, mesh_before)
    window.actions_by_id["redo"].trigger()
    window.actions_by_id["redo"].trigger()
    assert window.project.channels["jawOpen"].keys[0].value == pytest.approx(0.2, abs=1e-3)


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
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.playback.playing
    qtbot.waitUntil(lambda: window.session.frame >= 6, timeout=5_000)
    qtbot.keyClick(window, Qt.Key_K)
    assert not window.playback.playing
    assert window.statusBar().currentMessage().startswith("No audio output device") or window.playback._noticed


def test_regenerate_keeps_edits_and_is_undoable(make_main_window, demo_project_file, qtbot):
    window = make_main_window(demo_project_file)
    _set_key(window, "rz", 0.5, 4.0)
    old_base = window.project.base
    window.inspector.seed_box.setValue(7)
    window.inspector.a2l_boxes["head_intensity"].setValue(2.0)
    qtbot.mouseClick(window.inspector.accurate_check, Qt.MouseButton.LeftButton,
                     pos=QPoint(8, window.inspector.accurate_check.height() // 2))
    with qtbot.waitSignal(window.session.project_changed, timeout=60_000,
                          check_params_cb=lambda what: what == "base"):
        window.inspector.regenerate_button.click()
    assert window.project.base is not old_base and window.project.a2l_settings.seed == 7
    assert window.project.a2l_settings.accurate_phones
    assert not np.allclose(window.project.base.pose, old_base.pose)
    assert len(window.project.channels["rz"]) == 1
    window.actions_by_id["undo"].trigger()
    assert window.project.base is old_base and window.project.a2l_settings.seed == 0
    assert not window.project.a2l_settings.accurate_phones and not window.inspector.accurate_check.isChecked()


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


def test_render_to_mp4_decodes_and_cancel_leaves_no_file(make_main_window, demo_project_file, qtbot, tmp_path):
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
    assert len(seen) == 1 and seen[0].startswith("channel:")
    assert set(seen[0].partition(":")[2].split(",")) == set(names)
    assert len(redraws) == 1  # the graph shows all three: one redraw, not three
    window.session.set_time(0.5)
    assert all(window.session.frame_state().values[n] == pytest.approx(0.4) for n in names)
    assert [lane[0] for lane in timeline.key_lanes.lanes] == [n for n in project.channel_names if n in names]
    window.actions_by_id["undo"].trigger()
    assert len(seen) == 2 and len(redraws) == 2
    assert all(len(project.channels[n]) == 0 for n in names)
    assert all(window.session.frame_state().values[n] == 0.0 for n in names)

    # A gain change does not redraw the graph (it draws nothing gain-dependent).
    window.inspector.gain_boxes["head"].setValue(0.5)
    assert seen[-1] == "gains" and len(redraws) == 2

    # A frame-rate change rebuilds the timeline but keeps the waveform pyramid of the unchanged audio.
    pyramid = timeline.pyramid
    project.set_fps(25.0)
    assert seen[-1] == "fps" and timeline.pyramid is pyramid and timeline.waveform.pyramid is pyramid
    relink_source(project, "audio", project.sources.audio)  # a newly decoded clip: a new pyramid
    assert timeline.pyramid is not pyramid and timeline.waveform.pyramid is timeline.pyramid
