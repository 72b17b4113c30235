import pytest
from PySide6.QtCore import QPoint, Qt
def test_probe(make_main_window, demo_project_file, qtbot, qtlog, tmp_path):
    window = make_main_window(demo_project_file)
    row = window.inspector.rows["rx"]
    qtbot.mouseClick(row.check, Qt.LeftButton, pos=QPoint(8, row.check.height() // 2))
    print("focus", window.focusWidget(), row.check.isChecked())
    qtbot.keyClick(row.check, Qt.Key_Space)
    print("after space checked", row.check.isChecked(), "playing", window.playback.playing)
    window.playback.stop()
    s = row.slider
    h = s.style().subControlRect(s.style().CC_Slider, None, s.style().SC_SliderHandle, s) if False else None
    qtbot.mouseClick(s, Qt.LeftButton, pos=QPoint(s.width()//2, s.height()//2))
    print("undo count after click", window.session.undo_stack.count(), window.focusWidget())
    f = window.session.frame
    qtbot.keyClick(s, Qt.Key_Right)
    print("frame", f, window.session.frame, "undo", window.session.undo_stack.count())
    dock = window.render_dock
    dock.stem_edit.setText(str(tmp_path / "take"))
    with qtbot.waitSignal(dock.thread.job_finished, timeout=180_000):
        dock.queue_render()
    window.close()
    qtbot.wait(100)
    for r in qtlog.records: print("QTLOG", r.message)
