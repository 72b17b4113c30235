"""Screenshot of the editor on a real project: a portrait speaking espeak-ng speech (its transcript aligned, so
the word lane is filled), keys on a few channels with some selected in the dope sheet and shown in the graph
editor, the playhead mid-speech with the mouth open. Writes docs/screenshot.png and /tmp/talkline_screenshot.png;
--panels DIR also writes the inspector's Audio2Lmk settings, the render dock, the timeline (word lane and dope
sheet) and the graph editor there; --empty PATH the window without a project (the welcome).

    xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX" .venv/bin/python scripts/screenshot_editor.py
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXT = "Hello! I am a talking portrait. Bob bought a big map, and we will visit the moon."


def settle(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portrait", default=str(ROOT.parent / "shared/media/portraits/AniPortrait__Aragaki.png"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--panels", metavar="DIR", help="also grab the inspector's Audio2Lmk box, the render dock, "
                        "the timeline and the graph editor")
    parser.add_argument("--empty", metavar="PATH", help="also grab the window with no project open")
    args = parser.parse_args()

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QScrollArea

    from editor.app import make_app
    from editor.commands import edit_curves
    from editor.main_window import MainWindow
    from engine.document.curves import Interpolation
    from engine.pipeline import ProjectRequest, create_project
    from engine.sources.portrait import Framing
    from engine.speech_synth import synthesize_speech

    app = make_app()
    tmp = Path(tempfile.mkdtemp(prefix="talkline-shot-"))
    audio = synthesize_speech(TEXT, tmp / "speech.wav")
    from engine.plugins import A2L_BACKENDS, default_choice

    a2l = default_choice(A2L_BACKENDS).replace(transcript=TEXT)
    project = create_project(ProjectRequest(args.portrait, str(audio), framing=Framing(512), a2l=a2l))

    window = MainWindow(settings=QSettings(str(tmp / "settings.ini"), QSettings.IniFormat), use_audio=False)
    window.resize(1920, 1080)
    window.show()
    if args.empty:
        settle(app, 0.8)
        window.grab().save(args.empty)
        print(args.empty)
    window.set_project(project)
    stack = window.session.undo_stack
    # A head turn, a smile swell and a brow accent: the kind of layer an animator adds over the base.
    for name, keys in {"ry": [(0.4, 0.0), (1.6, 8.0), (3.0, -4.0), (4.2, 0.0)],
                       "mouthSmileLeft": [(0.8, 0.0), (2.0, 0.45), (3.4, 0.1)],
                       "mouthSmileRight": [(0.8, 0.0), (2.0, 0.45), (3.4, 0.1)],
                       "browInnerUp": [(1.0, 0.0), (1.5, 0.6), (2.2, 0.0)]}.items():
        edit_curves(stack, project, [name], lambda _, c, keys=keys: [c.set_key(t, v) for t, v in keys], "keys")
    edit_curves(stack, project, ["browInnerUp"], lambda _, c: c.set_interpolation(1, Interpolation.EASE_IN_OUT),
                "ease")
    window.session.set_selection(["ry", "jawOpen", "mouthSmileLeft", "browInnerUp"])
    window.session.set_key_selection({("ry", 1), ("mouthSmileLeft", 1), ("mouthSmileRight", 1)})
    window.session.set_selection(["ry", "mouthSmileLeft", "browInnerUp"])
    words = window.timeline.lane_segments("words")
    if len(words) > 6:
        window.session.set_segment_selection(("words", 6))

    # Mid-speech with the mouth open: the frame of the widest base jaw opening around the middle.
    jaw = project.base.weights["jawOpen"]
    mid = project.frame_count // 2
    lo, hi = max(mid - int(project.fps), 0), min(mid + int(project.fps), project.frame_count)
    frame = lo + int(jaw[lo:hi].argmax())
    window.session.set_frame(frame)
    window.graph.frame_all()
    window.timeline.mode_box.setCurrentText("seconds")
    settle(app, 1.0)
    while not window.preview.up_to_date:
        settle(app, 0.1)
    settle(app, 0.5)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    shutil.copy(out, "/tmp/talkline_screenshot.png")
    print(f"{out} (frame {frame}, jawOpen base {jaw[frame]:.2f})")
    if args.panels:
        panels = Path(args.panels)
        panels.mkdir(parents=True, exist_ok=True)
        inspector = window.inspector
        inspector.findChild(QScrollArea).ensureWidgetVisible(inspector.regenerate_button)
        settle(app, 0.3)
        inspector.grab().save(str(panels / "inspector.png"))
        window.docks["render"].raise_()
        settle(app, 0.3)
        window.render_dock.grab().save(str(panels / "render_dock.png"))
        window.docks["timeline"].grab().save(str(panels / "timeline.png"))
        window.docks["graph"].grab().save(str(panels / "graph.png"))
        print(*(panels / n for n in ("inspector.png", "render_dock.png", "timeline.png", "graph.png")))
    stack.setClean()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
