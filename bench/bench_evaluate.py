"""Scrubbing cost: Project.evaluate(frame) (and evaluate + pose-image draw) per frame of a real project
with keys on several channels, as a ratio to the 60 Hz frame budget (16.7 ms). Also the first evaluate
after an edit (rebuilds the edited channel's samples) and after a gain change (rebuilds the base arrays).

Run: .venv/bin/python bench/bench_evaluate.py [portrait] [audio]
"""
from __future__ import annotations

import os
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # the budget is for one core

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.document.curves import Interpolation  # noqa: E402
from engine.document.project import Gains  # noqa: E402
from engine.pipeline import ProjectRequest, create_project  # noqa: E402
from engine.render.pose_image import draw_pose_image  # noqa: E402

MEDIA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "media")

BUDGET_MS = 1000.0 / 60.0


def stats(ms: list[float]) -> str:
    a = np.asarray(ms)
    return (f"mean {a.mean():.3f} ms ({a.mean() / BUDGET_MS:.3f} of the 60 Hz budget), "
            f"p95 {np.percentile(a, 95):.3f} ms ({np.percentile(a, 95) / BUDGET_MS:.3f})")


def main() -> None:
    portrait = sys.argv[1] if len(sys.argv) > 1 else os.path.join(MEDIA, "portraits", "AniPortrait__Aragaki.png")
    audio = sys.argv[2] if len(sys.argv) > 2 else os.path.join(MEDIA, "speech", "SadTalker__RD_Radio31_000.wav")
    t0 = time.perf_counter()
    project = create_project(ProjectRequest(portrait, audio))
    print(f"create_project: {time.perf_counter() - t0:.2f} s, {project.frame_count} frames at {project.fps} fps")
    rng = np.random.default_rng(0)
    for name, scale in (("rx", 8), ("ry", 8), ("tz", 2), ("jawOpen", 0.6), ("mouthSmileLeft", 0.8),
                        ("mouthSmileRight", 0.8), ("browInnerUp", 0.7), ("eyeBlinkLeft", 1.0)):
        for t in np.sort(rng.uniform(0, project.duration, 12)):
            project.channels[name].set_key(float(t), float(rng.uniform(-1, 1) * scale),
                                           list(Interpolation)[rng.integers(len(Interpolation))])
    project.gains = Gains(lip=1.2, head=0.8, smoothing=0.03)
    ref = project.reference

    project.evaluate(0)  # builds the caches once, as the first paint after loading does
    eval_ms, draw_ms = [], []
    for f in range(project.frame_count):
        a = time.perf_counter()
        st = project.evaluate(f)
        b = time.perf_counter()
        draw_pose_image(st.landmarks_px, ref.width, ref.height)
        c = time.perf_counter()
        eval_ms.append((b - a) * 1e3)
        draw_ms.append((c - a) * 1e3)
    print(f"evaluate(frame):        {stats(eval_ms)}")
    print(f"evaluate + pose image:  {stats(draw_ms)}")

    edit_ms, gain_ms = [], []
    for i in range(20):
        project.channels["jawOpen"].set_key(1.0, 0.01 * i)  # a key drag step
        a = time.perf_counter()
        project.evaluate(30)
        edit_ms.append((time.perf_counter() - a) * 1e3)
        project.gains.lip = 1.0 + 0.01 * i  # a gain slider step
        a = time.perf_counter()
        project.evaluate(30)
        gain_ms.append((time.perf_counter() - a) * 1e3)
    print(f"first evaluate after a key edit:  {stats(edit_ms)}")
    print(f"first evaluate after a gain edit: {stats(gain_ms)}")

    a = time.perf_counter()
    motion = project.evaluate_motion()
    print(f"evaluate_motion (all {motion.frame_count} frames): {(time.perf_counter() - a) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
