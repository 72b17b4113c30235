"""Editor playback and scrubbing as the user sees them (run under Xvfb + Mesa llvmpipe): a 1600x1000 main window
with every panel visible (3D viewport, 2D preview in "render" mode, timeline with dope sheet, graph editor with
four channels, inspector), audio device off (playback runs on its timer clock, as it does without a sound card).

- playback_fps_*: frames per second the 2D preview actually paints during playback (distinct frames, over
  PLAY_S seconds), on the demo (~6 s) and on a 60 s clip; the 3D viewport is checked to show the same frame.
- scrub_to_preview_ms: median time from a mouse click on the timeline's waveform to the 2D preview painting
  the clicked frame (the whole path: event, evaluation, every view's update, the render worker, the paint).
- drag_*: a 60 Hz mouse drag of the playhead over the waveform: frames the preview paints per second, and how
  many frames it trails the playhead on average.

The last line printed is a JSON object with these figures.

    xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX" .venv/bin/python bench/bench_editor.py
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PLAY_S = 5.0
CACHE = Path(tempfile.gettempdir()) / "talkline-bench-editor"
LONG_TEXT = ("Hello! I am a talking portrait, and this is a long take for the editor's playback benchmark. "
             "Bob bought a big map, and we will visit the moon, the sea and the old town by the river. ")


def settle(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def projects() -> dict[str, Path]:
    """The demo project and a 60 s clip (built once, cached across runs)."""
    from engine.demo import build_demo_project, demo_request
    from engine.document.project_io import save_project
    from engine.pipeline import create_project
    from engine.speech_synth import synthesize_speech

    CACHE.mkdir(parents=True, exist_ok=True)
    out = {"demo": CACHE / "demo.talkline", "long": CACHE / "long.talkline"}
    if not out["demo"].exists():
        save_project(build_demo_project(CACHE / "demo_src"), out["demo"])
    if not out["long"].exists():
        folder = CACHE / "long_src"
        folder.mkdir(exist_ok=True)
        audio = folder / "speech.wav"
        from engine.audio.decode import load_audio

        synthesize_speech(LONG_TEXT, audio)
        reps = max(int(round(60.0 / load_audio(str(audio)).duration)), 1)  # about 60 s of speech
        synthesize_speech(LONG_TEXT * reps, audio)
        request = demo_request(folder, audio=str(audio))
        save_project(create_project(request), out["long"])
    return out


class Probe:
    """Counts the frames the 2D preview paints (wraps its image view's paintEvent)."""

    def __init__(self, window):
        self.window = window
        self.painted: list[tuple[float, int]] = []  # (time, frame) of every paint showing a new frame
        view = window.preview.image_view
        original = view.paintEvent

        def paint(event):
            original(event)
            frame = window.preview.shown_frame
            if not self.painted or self.painted[-1][1] != frame:
                self.painted.append((time.perf_counter(), frame))

        view.paintEvent = paint


def open_window(app, path: Path):
    from PySide6.QtCore import QSettings

    from editor.commands import edit_curves
    from editor.main_window import MainWindow

    window = MainWindow(settings=QSettings(str(CACHE / "settings.ini"), QSettings.IniFormat), use_audio=False)
    window.resize(1600, 1000)
    window.show()
    window.open_project(str(path))
    project = window.project
    d = project.duration
    for name, keys in {"ry": [(0.1 * d, 0), (0.4 * d, 8), (0.8 * d, -4)], "jawOpen": [(0.2 * d, 0), (0.3 * d, 0.3)],
                       "mouthSmileLeft": [(0.1 * d, 0), (0.5 * d, 0.4)], "browInnerUp": [(0.3 * d, 0), (0.35 * d, 0.5)]
                       }.items():
        edit_curves(window.session.undo_stack, project, [name], lambda _, c, k=keys: [c.set_key(*x) for x in k], "k")
    window.session.set_selection(["ry", "jawOpen", "mouthSmileLeft", "browInnerUp"])
    settle(app, 1.0)
    return window


def playback_fps(app, window) -> tuple[float, float]:
    """(fps the preview paints, share of painted frames where the 3D viewport showed the same frame)."""
    probe = Probe(window)
    session = window.session
    window.playback.loop = True
    session.set_frame(0)
    settle(app, 0.5)
    same, checks = 0, 0
    viewport = window.viewport

    window.playback.play()
    start = time.perf_counter()
    probe.painted.clear()
    while time.perf_counter() - start < PLAY_S:
        app.processEvents()
        if probe.painted and getattr(viewport, "shown_frame", None) is not None:
            checks += 1
            same += viewport.shown_frame == probe.painted[-1][1]
    window.playback.stop()
    elapsed = time.perf_counter() - start
    settle(app, 0.3)
    return len(probe.painted) / elapsed, (same / checks if checks else float("nan"))


def timeline_point(window, t: float):
    from PySide6.QtCore import QPointF

    view = window.timeline.wave_plot.getViewBox()
    return window.timeline.graphics.mapFromScene(view.mapViewToScene(QPointF(t, 0.0)))


def scrub_ms(app, window, count: int = 24) -> float:
    """Median click-to-painted-preview latency over `count` clicks at spread-out times."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    probe = Probe(window)
    project = window.project
    rng = np.random.default_rng(0)
    target_view = window.timeline.graphics.viewport()
    out = []
    for t in rng.uniform(0.05, 0.95, count) * project.duration:
        settle(app, 0.15)
        pos = timeline_point(window, float(t))
        probe.painted.clear()
        t0 = time.perf_counter()
        QTest.mouseClick(target_view, Qt.LeftButton, Qt.NoModifier, pos)
        frame = window.session.frame
        while not any(f == frame for _, f in probe.painted):
            app.processEvents()
            if time.perf_counter() - t0 > 5.0:
                break
        hit = next((ts for ts, f in probe.painted if f == frame), None)
        if hit is not None:
            out.append((hit - t0) * 1000.0)
    return float(np.median(out)) if out else float("nan")


def drag(app, window, seconds: float = 3.0) -> tuple[float, float]:
    """A 60 Hz drag across the waveform: (painted fps, mean frames the preview trails the playhead)."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtCore import QEvent, QPointF

    probe = Probe(window)
    project = window.project
    view = window.timeline.graphics.viewport()
    span = min(project.duration * 0.8, 4.0)
    steps = int(seconds * 60)

    def send(kind, pos: QPoint, buttons):
        ev = QMouseEvent(kind, QPointF(pos), QPointF(view.mapToGlobal(pos)), Qt.LeftButton, buttons, Qt.NoModifier)
        app.sendEvent(view, ev)

    settle(app, 0.2)
    t_start = project.duration * 0.1
    send(QEvent.MouseButtonPress, timeline_point(window, t_start), Qt.LeftButton)
    probe.painted.clear()
    lags = []
    begin = time.perf_counter()
    for i in range(1, steps + 1):
        due = begin + i / 60.0
        while time.perf_counter() < due:
            app.processEvents()
        t = t_start + span * (0.5 - 0.5 * np.cos(np.pi * i / steps))
        send(QEvent.MouseMove, timeline_point(window, t), Qt.LeftButton)
        app.processEvents()
        if probe.painted:
            lags.append(abs(window.session.frame - probe.painted[-1][1]))
    send(QEvent.MouseButtonRelease, timeline_point(window, t_start + span), Qt.NoButton)
    elapsed = time.perf_counter() - begin
    return len(probe.painted) / elapsed, float(np.mean(lags)) if lags else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the demo only (no 60 s clip)")
    args = parser.parse_args()
    from editor.app import make_app

    app = make_app()
    paths = projects()
    results = {}
    for name in (("demo",) if args.quick else ("demo", "long")):
        window = open_window(app, paths[name])
        frames = window.project.frame_count
        fps, sync = playback_fps(app, window)
        results[f"playback_fps_{name}"] = round(fps, 1)
        results[f"playback_3d_same_frame_{name}"] = None if sync != sync else round(sync, 3)
        print(f"{name}: {frames} frames ({window.project.duration:.1f} s): playback shows {fps:.1f} fps "
              f"(3D on the preview's frame {100 * sync:.0f}% of the time)", flush=True)
        if name == "demo":
            results["scrub_to_preview_ms"] = round(scrub_ms(app, window), 1)
            print(f"scrub (click on the timeline) -> preview painted: {results['scrub_to_preview_ms']:.1f} ms median",
                  flush=True)
            dfps, lag = drag(app, window)
            results["drag_fps"], results["drag_lag_frames"] = round(dfps, 1), round(lag, 2)
            print(f"60 Hz playhead drag: preview paints {dfps:.1f} fps, trailing by {lag:.2f} frames", flush=True)
        else:
            results["scrub_to_preview_ms_long"] = round(scrub_ms(app, window, 12), 1)
            print(f"scrub on the 60 s clip: {results['scrub_to_preview_ms_long']:.1f} ms median", flush=True)
        window.session.undo_stack.setClean()
        window.close()
        window.deleteLater()
        settle(app, 0.2)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
