"""Editor frame cost with real widgets (run under Xvfb): per-frame evaluate + 3D viewport update + 2D preview
(the project renderer's preview and the pose image) + playhead move + inspector refresh, and waveform redraw of
a 10-minute file at several zoom levels. Printed as ms and as a fraction of the 60 Hz budget (16.7 ms).

    xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX" .venv/bin/python bench/bench_timeline.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BUDGET_MS = 1000.0 / 60.0


def timed(fn, repeats: int) -> np.ndarray:
    out = np.empty(repeats)
    for i in range(repeats):
        t = time.perf_counter()
        fn(i)
        out[i] = (time.perf_counter() - t) * 1000.0
    return out


def row(name: str, ms: np.ndarray) -> None:
    mean, p95 = ms.mean(), np.percentile(ms, 95)
    print(f"{name:<44} {mean:8.2f} {p95:8.2f} {mean / BUDGET_MS:8.2f}")


def main() -> int:
    from PySide6.QtCore import QSettings

    from editor.app import make_app
    from editor.commands import edit_curves
    from engine.demo import build_demo_project
    from editor.main_window import MainWindow
    from editor.preview2d import PreviewRequest
    from editor.timeline.waveform import WaveformPyramid

    app = make_app()
    tmp = Path(tempfile.mkdtemp(prefix="talkline-bench-"))
    project = build_demo_project(tmp, size=512)
    window = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat), use_audio=False)
    window.resize(1920, 1080)
    window.show()
    window.set_project(project)
    for name, keys in {"ry": [(0.5, 0), (2.0, 8)], "jawOpen": [(1.0, 0), (1.5, 0.5)],
                       "browInnerUp": [(0.3, 0), (1.2, 0.4)]}.items():
        edit_curves(window.session.undo_stack, project, [name], lambda _, c, k=keys: [c.set_key(*x) for x in k], "k")
    for _ in range(20):
        app.processEvents()
    n = project.frame_count
    s = window.session
    print(f"project: {n} frames, 512 px; 2 cores shared with other jobs (noisy)")
    print(f"{'per frame (ms)':<44} {'mean':>8} {'p95':>8} {'x 60Hz':>8}")

    def seek(i):
        """Moves the session to frame i without frame_changed, so each row times its own view alone (the
        signal would also update every view and queue a preview render on the worker)."""
        s._state = None
        s.frame = i % n

    row("evaluate (Project.evaluate)", timed(lambda i: (seek(i), s.frame_state()), n))
    viewport = window.viewport
    draw = (lambda: viewport.display.render_now()) if viewport.offscreen else (lambda: viewport.display.repaint())
    row("3D viewport mesh update + GL draw", timed(lambda i: (seek(i), viewport.update_frame(), draw()), n))
    row("playhead move + timeline repaint", timed(lambda i: (window.timeline._on_frame(i % n),
                                                            window.timeline.graphics.viewport().repaint(),
                                                            window.timeline.dope_sheet.plot.viewport().repaint()), n))
    row("inspector refresh (34 sliders)", timed(lambda i: window.inspector.refresh_values(), n))
    renderer = window.preview.renderer
    for mode in ("render", "pose image"):
        def render(i, mode=mode):
            seek(i)
            renderer.render(PreviewRequest(i, i % n, mode, s.frame_state().landmarks_px), project.source,
                            project.renderer)
        render(0)  # warm-up (the renderer is built, and precomputes, on first use)
        row(f"2D preview: {mode} (worker thread)", timed(render, min(n, 60)))
    window.preview.set_mode("pose image")

    def full_frame(i):
        s.set_frame(i % n)
        window.preview.request()
        while not window.preview.up_to_date:
            app.processEvents()
        app.processEvents()

    row("set_frame end-to-end (all views, pose preview)", timed(full_frame, n))

    print()
    print(f"{'waveform, 10-minute file (ms)':<44} {'mean':>8} {'p95':>8} {'x 60Hz':>8}")
    rate = 16000
    rng = np.random.default_rng(0)
    ten_min = (rng.standard_normal(600 * rate) * np.repeat(rng.random(600 * 10), rate // 10)).astype(np.float32)
    t = time.perf_counter()
    pyramid = WaveformPyramid(ten_min, rate)
    print(f"pyramid build: {(time.perf_counter() - t) * 1000:.0f} ms (once per audio file)")
    for p in window.timeline.plots:
        p.getViewBox().setLimits(xMin=0.0, xMax=600.0, minXRange=0.001)
    window.timeline.waveform.set_pyramid(pyramid)
    plot = window.timeline.wave_plot
    view = window.timeline.graphics.viewport()
    for span in (600.0, 60.0, 5.0, 0.05):
        def pan(i, span=span):
            start = (i * span * 0.05) % max(600.0 - span, 1e-9)
            plot.setXRange(start, start + span, padding=0)  # triggers the envelope refresh
            view.repaint()
        row(f"pan/zoom redraw, {span:g} s visible", timed(pan, 40))
    s.undo_stack.setClean()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
