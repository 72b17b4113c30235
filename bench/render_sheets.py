"""Contact sheets of the `warp` renderer for looking at it: mouth crops through speech shapes and framing.

Rows are portraits; the mouth sheet's columns are the reference and rig speech shapes (the same targets as
the fidelity benchmark), each crop centred on the target mouth and scaled to the same width; the framing
sheet shows each portrait's 512 px face crop (padding, if any, is what a streak would show in). Run it from
a checkout to look at that checkout's renderer (e.g. the previous release built in a temp folder).

    .venv/bin/python bench/render_sheets.py OUT_DIR [--portraits a.png,b.jpg] [--label before]
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
from engine.face.reference import analyze_portrait  # noqa: E402
from engine.render.warp import WarpRenderer  # noqa: E402
from tests import warp_targets as wt  # noqa: E402

MEDIA = Path("/work/shared/media") if Path("/work/shared/media").is_dir() else ROOT.parent / "shared" / "media"
# Chosen to cover what the issue names: a moustache (Einstein, the terracotta warrior), teeth in the reference
# (Obama, the soft 256 px StyleGAN smile, the astronaut), a painted face, a teal-graded film still (lyl),
# stubble (Bana), a plain colour photo (Olsen).
DEFAULT_PORTRAITS = ("portraits/hallo__6.jpg", "portraits/LivePortrait__s12.jpg", "portraits/Moore-AnimateAnyone__4.png",
                     "portraits/SadTalker__happy.png", "astronaut", "stylized/SadTalker__art_7.png",
                     "portraits/AniPortrait__lyl.png", "stylized/LivePortrait__s6.jpg",
                     "portraits/JoyVASA__joyvasa_005.png")
SHAPES = ("reference", "small", "ah", "eh_smile", "oh_funnel", "half_closed", "jaw_wide")
CELL = 180  # px per mouth crop in the sheet
CROP_WIDTHS = 2.0  # crop side / outer mouth width


def load(name: str) -> np.ndarray | Path:
    if name == "astronaut":
        from skimage.data import astronaut

        return astronaut()
    return MEDIA / name


def mouth_crop(frame: np.ndarray, px: np.ndarray) -> np.ndarray:
    c = (px[61] + px[291]) / 2 + np.array([0.0, 0.1]) * np.linalg.norm(px[291] - px[61])
    half = CROP_WIDTHS * np.linalg.norm(px[291] - px[61]) / 2
    m = np.array([[CELL / (2 * half), 0, CELL / 2 - c[0] * CELL / (2 * half)],
                  [0, CELL / (2 * half), CELL / 2 - c[1] * CELL / (2 * half)]])
    return cv2.warpAffine(frame, m, (CELL, CELL), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)


def label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    cv2.putText(img, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3)
    cv2.putText(img, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
    return img


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--portraits", default=",".join(DEFAULT_PORTRAITS))
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, frames = [], []
    for name in [n for n in args.portraits.split(",") if n]:
        ref = analyze_portrait(load(name), min_confidence=0.5)  # stylised faces score lower
        renderer = WarpRenderer(ref)
        targets = {"reference": ref.landmarks_px[:468], **wt.fidelity_targets(ref)}
        cells = []
        for shape in SHAPES:
            frame = renderer.render(targets[shape])
            cells.append(label(mouth_crop(frame, targets[shape]), shape))
            if shape == "ah":
                frames.append(label(cv2.resize(frame, (256, 256), interpolation=cv2.INTER_AREA), Path(name).stem[:28]))
        short = Path(name).stem.split("__")[-1][:14]
        cells[0] = label(cells[0], "")
        cv2.putText(cells[0], short, (3, CELL - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3)
        cv2.putText(cells[0], short, (3, CELL - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
        rows.append(np.hstack(cells))
        print(name, flush=True)
    sheet = np.vstack(rows)
    if args.label:
        bar = np.zeros((22, sheet.shape[1], 3), np.uint8)
        cv2.putText(bar, args.label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1)
        sheet = np.vstack([bar, sheet])
    cv2.imwrite(str(out / "mouths.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    while len(frames) % 3:
        frames.append(np.zeros_like(frames[0]))
    grid = np.vstack([np.hstack(frames[i:i + 3]) for i in range(0, len(frames), 3)])
    cv2.imwrite(str(out / "frames.png"), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
