"""Lit front teeth in real talking-head videos against the photo's white and skin (where the painted teeth's
TEETH_OF_WHITE and TEETH_OF_SKIN in engine/render/mouth.py come from).

Every 6th frame with the inner lips apart (gap >= 0.12 of the inter-ocular distance) gives the brightest tenth of
the pixels inside the inner-lip polygon (the lit front teeth) and the frame's PhotoLook (eye whites, cheeks);
per clip the medians of teeth/skin and teeth/white brightness and the three colours' tints (RGB / luma).

    .venv/bin/python bench/measure_teeth.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.face.contours import inner_lip_polygon, lip_gap_ratio  # noqa: E402
from engine.face.landmarker import FaceLandmarkerSession  # noqa: E402
from engine.media.video_read import iter_video_frames  # noqa: E402
from engine.render.paint import padded_box, polygon_mask  # noqa: E402
from engine.render.photo import PhotoLook, luma  # noqa: E402

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
STEP, MIN_GAP, TEETH_SHARE = 6, 0.12, 0.10


def measure(video: Path) -> np.ndarray:
    """(frames, 11): teeth/skin, teeth/white, then the teeth, white and skin tints."""
    rows = []
    with FaceLandmarkerSession() as session:
        for i, (_t, rgb) in enumerate(iter_video_frames(video)):
            faces = session.detect(rgb) if i % STEP == 0 else []
            if not faces:
                continue
            px = faces[0].pixels(rgb.shape[1], rgb.shape[0])
            if lip_gap_ratio(px) < MIN_GAP:
                continue
            look = PhotoLook.measure(rgb, px[:468])
            poly = px[list(inner_lip_polygon())]
            x0, y0, x1, y1 = padded_box(poly, rgb.shape[1], rgb.shape[0], 1)
            inside = rgb[y0:y1, x0:x1][polygon_mask((y1 - y0, x1 - x0), poly - [x0, y0]) > 0.5].astype(float)
            if len(inside) < 50:
                continue
            level = luma(inside)
            teeth = inside[level >= np.percentile(level, 100 * (1 - TEETH_SHARE))].mean(axis=0)
            rows.append([luma(teeth) / luma(look.skin), luma(teeth) / max(luma(look.white), 1.0),
                         *(teeth / luma(teeth)), *(look.white / luma(look.white)), *(look.skin / luma(look.skin))])
    return np.asarray(rows)


def main() -> None:
    videos = sorted((MEDIA / "talking_videos").glob("*.mp4")) + sorted((MEDIA / "driving_videos").glob("*.mp4"))
    ratios = []
    for video in videos:
        rows = measure(video)
        if len(rows) < 3:
            print(f"{video.stem[:32]:32s} {len(rows)} open-mouth frames: left out")
            continue
        r = np.median(rows, axis=0)
        ratios.append(r[:2])
        print(f"{video.stem[:32]:32s} n={len(rows):3d} teeth/skin {r[0]:.2f} teeth/white {r[1]:.2f} "
              f"tints: teeth {np.round(r[2:5], 2)} white {np.round(r[5:8], 2)} skin {np.round(r[8:11], 2)}")
    skin, white = np.median(ratios, axis=0)
    print(f"median over {len(ratios)} clips: teeth/skin {skin:.2f}, teeth/white {white:.2f}")


if __name__ == "__main__":
    main()
