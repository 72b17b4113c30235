"""Lmk2Video speed on a GPU: the reference's schedule vs Talkline's, with full-size random weights.

    .venv/bin/python bench/bench_lmk2video.py [--frames 48] [--steps 25] [--size 512] [--dtype fp16]
        [--context-batch 1,2] [--compile] [--json OUT.json]
    .venv/bin/python bench/bench_lmk2video.py --tiny DIR      # CPU smoke test on scripts/make_tiny_weights.py output

Full-size SD1.5 UNets + motion modules + PoseGuider + VAE + CLIP ViT-L/14 are built directly on the GPU from the
built-in configs (random weights: the work per step does not depend on the values), 512 x 512, 25 DDIM steps,
CFG 3.5, fp16, windows of 16 frames overlapping by 4 (the reference's defaults). Runs, in one process:
  reference  the reference's computation (PoseGuider per window per step on the CFG-doubled batch, reference
             UNet at batch 2, bank repeated per frame with K/V projected at every call, the unconditional
             self-attention twice, VAE one frame at a time)
  ours       the same output (asserted: max pixel difference and PSNR against `reference`), Talkline's schedule
  ours-bN    the same with N windows per UNet call
  fast       the fast preset (DPM-Solver++ 8 steps, guidance on the first quarter, overlap 2, no wrap)
For each: seconds of compute per second of 30 fps video, speed-up over `reference`, peak GPU memory.
Target (issue 10): ours >= 3x faster at equal output and <= 12 GB; fast >= 10x.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def _inputs(frames: int, size: int):
    """A portrait-like reference image and real pose images of a moving mouth (the reference's drawing)."""
    import cv2

    from engine.face.canonical import load_canonical_model
    from engine.geometry import project
    from engine.render.pose_image import draw_pose_image

    mesh = load_canonical_model().vertices.astype(np.float64)
    transform = np.eye(4)
    transform[2, 3] = -30.0
    poses = []
    for i in range(frames):
        m = mesh.copy()
        m[[14, 17, 84, 87, 178, 88, 95, 317, 402, 318, 324, 314, 405, 321, 375], 1] -= 0.6 * (1 + math.sin(i / 3))
        pose = np.array([2 * math.sin(i / 10), 3 * math.sin(i / 13), 0, 0, 0, 0], dtype=np.float64)
        px = project(m, transform, pose[None], size, size)
        image = draw_pose_image(px[0] if px.ndim == 3 else px, size, size)
        poses.append(image if size == image.shape[0] else cv2.resize(image, (size, size)))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    ref = np.stack([200 * yy + 30, 150 * xx + 50, 120 + 0 * xx], -1) + rng.normal(0, 8, (size, size, 3))
    return np.clip(ref, 0, 255).astype(np.uint8), np.stack(poses)


def _full_size_models(device, dtype):
    import torch

    from engine.neural import configs
    from engine.neural.lmk2video import Lmk2VideoModels, build_models

    with torch.device(device):
        nets = build_models(configs.SD15_UNET, configs.SD_VAE_FT_MSE, configs.CLIP_VIT_L14)
    g = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():  # the zero-initialised outputs of the reference get small random values
        for name, p in nets["denoising_unet"].named_parameters():
            if "proj_out" in name and "motion_modules" in name:
                p.copy_(torch.randn(p.shape, generator=g, device=device) * 1e-3)
        p = nets["pose_guider"].final_proj.weight
        p.copy_(torch.randn(p.shape, generator=g, device=device) * 1e-3)
    nets = {k: v.to(dtype) for k, v in nets.items()}
    return Lmk2VideoModels(device=torch.device(device), dtype=dtype, **nets).eval()


def _run(models, ref, poses, settings, device):
    import torch

    from engine.neural.lmk2video import Sampler

    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    frames = list(Sampler(models, settings).frames(ref, poses))
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    return np.stack(frames), seconds, peak


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Lmk2Video: reference schedule vs Talkline's, full-size random weights")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--dtype", default="fp16", choices=("fp16", "bf16", "fp32"))
    parser.add_argument("--context-batch", default="1,2", help="comma-separated windows per UNet call to try")
    parser.add_argument("--vae-batch", type=int, default=8)
    parser.add_argument("--compile", action="store_true", help="also time ours with torch.compile")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--tiny", metavar="DIR", help="CPU smoke test with a tiny weights folder")
    parser.add_argument("--json", metavar="OUT", help="write the results as JSON")
    args = parser.parse_args(argv)

    import torch

    from engine.neural.lmk2video import DTYPES, SamplerSettings, load_models
    from engine.render.aniportrait import PRESETS

    if args.tiny:
        torch.set_num_threads(1)
        device, models = torch.device("cpu"), load_models(args.tiny)
        size = models.size
    else:
        if not torch.cuda.is_available():
            print("no CUDA device: run with --tiny DIR for a CPU smoke test", file=sys.stderr)
            return 2
        device = torch.device("cuda")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        t0 = time.perf_counter()
        models = _full_size_models(device, DTYPES[args.dtype])
        models = models if args.size == models.native_size else \
            __import__("dataclasses").replace(models, frame_size=args.size)
        size = args.size
        print(f"models built on {torch.cuda.get_device_name()} in {time.perf_counter() - t0:.1f} s; "
              f"weights {torch.cuda.memory_allocated() / 2**30:.2f} GiB", flush=True)
    ref, poses = _inputs(args.frames, size)
    video_s = args.frames / 30.0
    base = dict(steps=args.steps, guidance=3.5, seed=42)
    runs = []
    if not args.skip_reference:
        runs.append(("reference", SamplerSettings(**base, schedule="reference")))
    for b in [int(x) for x in args.context_batch.split(",") if x]:
        runs.append(("ours" if b == 1 else f"ours-b{b}", SamplerSettings(**base, context_batch=b,
                                                                          vae_batch=args.vae_batch)))
    fast = PRESETS["fast"]
    runs.append(("fast", SamplerSettings(**fast, seed=42, vae_batch=args.vae_batch)))

    # warm-up (kernel selection, cudnn benchmark) on a short clip, not timed
    _run(models, ref, poses[: min(16, args.frames)], SamplerSettings(steps=1, guidance=3.5), device)
    results, frames_of = [], {}
    for name, settings in runs:
        frames, seconds, peak = _run(models, ref, poses, settings, device)
        frames_of[name] = frames
        row = {"run": name, "seconds": round(seconds, 2), "seconds_per_video_second": round(seconds / video_s, 2),
               "peak_gib": None if peak is None else round(peak, 2)}
        results.append(row)
        print(json.dumps(row), flush=True)
    if args.compile and not args.tiny:
        models.denoising_unet.forward = torch.compile(models.denoising_unet.forward, dynamic=False)
        t0 = time.perf_counter()
        _run(models, ref, poses[:16], SamplerSettings(steps=1, guidance=3.5), device)
        compile_s = time.perf_counter() - t0
        frames, seconds, peak = _run(models, ref, poses, SamplerSettings(**base, vae_batch=args.vae_batch), device)
        frames_of["ours-compiled"] = frames
        row = {"run": "ours-compiled", "seconds": round(seconds, 2), "compile_seconds": round(compile_s, 1),
               "seconds_per_video_second": round(seconds / video_s, 2), "peak_gib": round(peak, 2)}
        results.append(row)
        print(json.dumps(row), flush=True)
    ref_row = next((r for r in results if r["run"] == "reference"), None)
    for row in results:
        if ref_row:
            row["speedup_vs_reference"] = round(ref_row["seconds"] / row["seconds"], 2)
            if row["run"] != "fast" and row["run"] != "reference":
                a, b = frames_of[row["run"]], frames_of["reference"]
                row["max_pixel_diff"] = int(np.abs(a.astype(int) - b).max())
                row["psnr_vs_reference_db"] = round(_psnr(a, b), 1)
    summary = {"device": str(device) if args.tiny else torch.cuda.get_device_name(), "frames": args.frames,
               "size": size, "steps": args.steps, "dtype": args.dtype, "results": results}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
