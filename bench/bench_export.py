"""Export throughput: MP4 (H.264 crf 18 + AAC) and PNG sequence frames per second at the render sizes,
as a ratio to real time at 30 fps (>1 means the writer keeps up with a real-time render).

Run: .venv/bin/python bench/bench_export.py [frames]"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.audio.decode import load_audio
from engine.export import PngSequenceWriter, VideoWriter

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def frames(n: int, w: int, h: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)[:h, :w]
    return [np.roll(base, 3 * i, axis=1) for i in range(n)]  # moving texture: a fair load for the encoder


def main(n: int = 90) -> None:
    audio = load_audio(MEDIA / "speech" / "AniPortrait__lyl.wav")
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in ((512, 512), (1544, 516)):
            clip = frames(n, w, h)
            t0 = time.perf_counter()
            with VideoWriter(f"{tmp}/v.mp4", w, h, 30, audio=audio) as out:
                for f in clip:
                    out.write(f)
            mp4 = n / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            with PngSequenceWriter(f"{tmp}/png{w}", 30, audio=audio) as seq:
                for f in clip:
                    seq.write(f)
            png = n / (time.perf_counter() - t0)
            print(f"{w}x{h}: mp4 {mp4:6.1f} frames/s = {mp4 / 30:5.2f}x real time | "
                  f"png {png:6.1f} frames/s = {png / 30:5.2f}x real time")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 90)
