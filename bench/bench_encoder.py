"""libx264 presets on the renderer's own output: encode speed and quality against `medium` at the same CRF.

Frames: the `warp` renderer's 512x512 demo clip (speech shapes, a head turn, a blink) on two portraits, held in
memory, so only the encoder is timed (wall and CPU time of the process, x264's threads included). Quality:
SSIM (Wang et al., Gaussian 11x11 sigma 1.5, on BT.709 luma) and PSNR of the decoded frames against the
rendered ones, every SSIM_EVERY-th frame, and the file size. CRF as the writer's default (18).

    .venv/bin/python bench/bench_encoder.py [--frames 150] [--presets ultrafast,superfast,veryfast,faster,fast,medium]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.export.video import VideoWriter  # noqa: E402
from engine.face.reference import analyze_portrait  # noqa: E402
from engine.render.warp import WarpBackend  # noqa: E402
from engine.sources.portrait import PortraitSource  # noqa: E402
from tests import warp_targets as wt  # noqa: E402

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "portraits"
PORTRAITS = ("hallo__6.jpg", "Moore-AnimateAnyone__4.png")
SSIM_EVERY = 3


def render(name: str, frames: int) -> list[np.ndarray]:
    ref = analyze_portrait(MEDIA / name)
    backend = WarpBackend(PortraitSource(name, ref))
    return list(backend.frames(wt.demo_sequence(ref, frames)))


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


def decode(path: str) -> list[np.ndarray]:
    import av

    with av.open(path) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def encode(frames: list[np.ndarray], path: str, preset: str) -> tuple[float, float]:
    """(wall s, process CPU s) for encoding `frames`."""
    h, w = frames[0].shape[:2]
    wall, cpu = time.perf_counter(), time.process_time()
    with VideoWriter(path, w, h, 30, preset=preset) as out:
        for frame in frames:
            out.write(frame)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    from skimage.metrics import structural_similarity

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--presets", default="ultrafast,superfast,veryfast,faster,fast,medium")
    args = parser.parse_args()
    presets = args.presets.split(",")
    clips = {name: render(name, args.frames) for name in PORTRAITS}
    total = sum(len(c) for c in clips.values())
    print(f"{total} frames 512x512 ({', '.join(PORTRAITS)}), CRF 18, {os.cpu_count()} cores")
    print(f"{'preset':<11}{'wall ms/f':>10}{'cpu ms/f':>10}{'fps':>8}{'SSIM':>9}{'PSNR dB':>9}{'kB/s':>8}")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            wall = cpu = 0.0
            ssim, psnr, size = [], [], 0
            for name, frames in clips.items():
                path = f"{tmp}/{preset}_{name}.mp4"
                a, b = encode(frames, path, preset)
                wall, cpu = wall + a, cpu + b
                size += os.path.getsize(path)
                for src, dec in list(zip(frames, decode(path)))[::SSIM_EVERY]:
                    y0, y1 = luma(src), luma(dec)
                    ssim.append(structural_similarity(y0, y1, data_range=255, gaussian_weights=True, sigma=1.5,
                                                      use_sample_covariance=False))
                    psnr.append(10 * np.log10(255**2 / np.mean((src.astype(float) - dec) ** 2)))
            rows[preset] = (np.mean(ssim), np.mean(psnr))
            kbps = size * 8 / 1000 / (total / 30)
            print(f"{preset:<11}{wall / total * 1000:>10.2f}{cpu / total * 1000:>10.2f}{total / wall:>8.0f}"
                  f"{np.mean(ssim):>9.4f}{np.mean(psnr):>9.2f}{kbps:>8.0f}", flush=True)
    if "medium" in rows:
        print("\nagainst medium at the same CRF: " + ", ".join(
            f"{p} SSIM {rows[p][0] - rows['medium'][0]:+.4f} PSNR {rows[p][1] - rows['medium'][1]:+.2f} dB"
            for p in presets if p != "medium"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
