"""Contact sheet of mouth crops for the singing and non-English clips (issue 12: look at what the lip sync does
where there is no video to measure it against).

One row per clip of bench_lipsync.VOICE_CLIPS (each predicted with its language and style): a portrait rendered
by the warp renderer every STEP_S seconds over the clip's first SECONDS, each crop labelled with its time and the
clip's loudness envelope there (0 = the quietest, 1 = the loudest moment), so closed mouths in pauses and open
ones on loud notes can be checked at a glance.

    .venv/bin/python bench/voice_sheets.py OUT.png [--portrait portraits/hallo__6.jpg]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_lipsync import MEDIA, VOICE_CLIPS, loudness_envelope  # noqa: E402
from render_sheets import label, mouth_crop  # noqa: E402

from engine.pipeline import ProjectRequest, create_project  # noqa: E402
from engine.plugins import A2L_BACKENDS, RENDERERS, default_choice  # noqa: E402
from engine.render.compose import render_one  # noqa: E402
from engine.sources.portrait import Framing  # noqa: E402

FPS = 25.0
SECONDS = 6.0
STEP_S = 0.24  # six frames at 25 fps: about one crop per syllable


def clip_row(portrait: Path, rel: str, language: str, style: str) -> np.ndarray:
    import soundfile

    from engine.audio.decode import load_audio

    audio = load_audio(MEDIA / rel, analysed=False)
    head = audio.mono16k[:int(SECONDS * 16000)]
    wav = Path(os.environ.get("TMPDIR", "/tmp")) / f"voice_sheet_{Path(rel).stem}.wav"
    soundfile.write(wav, head, 16000)
    a2l = default_choice(A2L_BACKENDS).replace(language=language, style=style)
    project = create_project(ProjectRequest(portrait, str(wav), fps=FPS, framing=Framing(384), a2l=a2l))
    renderer = RENDERERS.get(project.renderer.name)(project.source, project.renderer.config)
    envelope = loudness_envelope(head, FPS, project.frame_count)
    envelope = (envelope - envelope.min()) / max(float(np.ptp(envelope)), 1e-9)
    cells = []
    for frame in range(0, project.frame_count, int(round(STEP_S * FPS))):
        state = project.evaluate(frame)
        rgb = render_one(project.source, renderer, state.landmarks_px, frame)
        cells.append(label(mouth_crop(rgb, state.landmarks_px), f"{frame / FPS:.2f}s {envelope[frame]:.2f}"))
    row = np.hstack(cells)
    title = np.zeros((18, row.shape[1], 3), np.uint8)
    cv2.putText(title, f"{rel} ({language}, {style})", (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1)
    return np.vstack([title, row])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--portrait", default="portraits/hallo__6.jpg", help="relative to ../shared/media")
    args = parser.parse_args()
    rows = [clip_row(MEDIA / args.portrait, rel, language, style) for rel, language, style in VOICE_CLIPS]
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])
    cv2.imwrite(args.out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(args.out, sheet.shape)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
