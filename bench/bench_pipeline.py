"""The whole `render` command, interpreter start to closed MP4, against the previous release in the same run.

Speed: `main.py render PORTRAIT AUDIO -o out.mp4` (512 px face crop, 30 fps, warp renderer) on speech clips of
each length in --clips (seconds; made by concatenating the speech files of ../shared/media, 16 kHz mono),
run alternately by this checkout and by the previous release (built from git into a temp folder with
`git archive`), --repeats times each; the median wall time is reported as a ratio to real time (clip length /
wall time), with CPU time and peak RSS. Memory: peak RSS of renders of the lengths in --memory (minutes).

The children get an explicit thread environment: by default the OMP/OpenBLAS/MKL thread variables are
removed (what a user's shell has; each release then picks its own BLAS threads), --blas-threads N sets them.

    .venv/bin/python bench/bench_pipeline.py [--clips 20,60] [--repeats 3] [--memory 3] [--prev cca6bcd]
    .venv/bin/python bench/bench_pipeline.py --clips "" --memory 1,3,6,30 --releases new   # memory only
    .venv/bin/python bench/bench_pipeline.py --releases new,patched --checkout patched=/tmp/tree   # another tree
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # this process only prepares audio

import argparse  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
PREVIOUS_RELEASE = "cca6bcd"  # the last release before the warp renderer v2 and streaming pipeline
PORTRAIT = "portraits/hallo__6.jpg"
SPEECH = ("speech/EDTalk__mouth_source.wav", "speech/SadTalker__RD_Radio31_000.wav", "speech/AniPortrait__lyl.wav",
          "speech/Real3DPortrait__Obama_5s.wav", "speech/dreamtalk__noisy_audio_narrative.wav",
          "speech/AniTalker__speech4.wav")
RATE = 16_000
GAP_S = 0.3  # silence between concatenated clips, as between sentences
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def speech_clip(seconds: float, path: Path) -> Path:
    """`seconds` of speech: the speech files one after another (looped), 16 kHz mono WAV."""
    import soundfile as sf

    from engine.audio.decode import load_audio, resample

    parts, total, k = [], 0, 0
    sources = [load_audio(str(MEDIA / s)) for s in SPEECH]
    need = int(seconds * RATE)
    while total < need:
        clip = sources[k % len(sources)]
        mono = np.asarray(clip.samples, dtype=np.float32).mean(axis=1)
        mono = resample(mono, int(clip.rate), RATE) if clip.rate != RATE else mono
        parts += [mono, np.zeros(int(GAP_S * RATE), np.float32)]
        total += len(mono) + int(GAP_S * RATE)
        k += 1
    sf.write(str(path), np.concatenate(parts)[:need], RATE, subtype="PCM_16")
    return path


def build_previous(commit: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run_render(checkout: Path, audio: Path, out: Path, env: dict) -> dict:
    """Runs the render command in `checkout`; wall s, CPU s (user + sys) and peak RSS (MB) of the process."""
    cmd = [sys.executable, "main.py", "render", str(MEDIA / PORTRAIT), str(audio), "-o", str(out)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"render in {checkout} failed ({proc.returncode}):\n{err[-2000:]}")
    out.unlink()
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default="20,60", help="clip lengths in seconds for the speed table")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", default="3", help="render lengths in minutes for the memory table")
    parser.add_argument("--releases", default="prev,new", help="prev, new or both (comma-separated)")
    parser.add_argument("--prev", default=PREVIOUS_RELEASE, help="git commit of the previous release")
    parser.add_argument("--checkout", action="append", default=[], metavar="NAME=DIR",
                        help="another checkout to run as release NAME (e.g. this tree with a proposed patch)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="set OMP/OpenBLAS/MKL threads in the children (default: unset, as for a user)")
    args = parser.parse_args()
    clips = [float(c) for c in args.clips.split(",") if c]
    minutes = [float(m) for m in args.memory.split(",") if m]
    releases = [r for r in args.releases.split(",") if r]

    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if args.blas_threads is not None:
        env.update({k: str(args.blas_threads) for k in THREAD_VARS})
    threads = "unset" if args.blas_threads is None else str(args.blas_threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    try:
        checkouts = {"new": ROOT}
        for item in args.checkout:
            name, _, folder = item.partition("=")
            checkouts[name] = Path(folder).resolve()
        if "prev" in releases:
            checkouts["prev"] = build_previous(args.prev, tmp / "prev")
        print(f"render command, {PORTRAIT} at 512 px, 30 fps; {os.cpu_count()} cores; OMP/BLAS threads in the "
              f"children: {threads}; previous release: {args.prev}", flush=True)
        if clips:
            print(f"\n{'clip':>6} {'release':<8}{'wall s (median)':>16}{'x real time':>13}{'CPU s':>8}"
                  f"{'peak RSS MB':>13}   runs (wall s)")
        for seconds in clips:
            audio = speech_clip(seconds, tmp / f"speech_{seconds:g}s.wav")
            runs = {r: [] for r in releases}
            for _ in range(args.repeats):
                for r in releases:  # alternating, so load from elsewhere hits both alike
                    runs[r].append(run_render(checkouts[r], audio, tmp / f"{r}.mp4", env))
            for r in releases:
                wall = statistics.median(x["wall"] for x in runs[r])
                cpu = statistics.median(x["cpu"] for x in runs[r])
                rss = max(x["rss"] for x in runs[r])
                print(f"{seconds:>5g}s {r:<8}{wall:>16.2f}{seconds / wall:>13.2f}{cpu:>8.1f}{rss:>13.0f}   "
                      + " ".join(f"{x['wall']:.2f}" for x in runs[r]), flush=True)
            if {"prev", "new"} <= set(runs):
                speedup = statistics.median(x["wall"] for x in runs["prev"]) / statistics.median(
                    x["wall"] for x in runs["new"])
                print(f"{'':>7}new / prev speed: {speedup:.2f}x", flush=True)
        if minutes:
            print(f"\n{'render':>8} {'release':<8}{'peak RSS MB':>13}{'wall s':>9}{'x real time':>13}")
        for m in minutes:
            audio = speech_clip(m * 60, tmp / f"speech_{m:g}min.wav")
            for r in releases:
                res = run_render(checkouts[r], audio, tmp / f"{r}.mp4", env)
                print(f"{m:>5g}min {r:<8}{res['rss']:>13.0f}{res['wall']:>9.1f}{m * 60 / res['wall']:>13.2f}",
                      flush=True)
            (tmp / f"speech_{m:g}min.wav").unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
