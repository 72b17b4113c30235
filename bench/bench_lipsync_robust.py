"""Lip sync under real recording conditions: the talking-head and driving clips of bench_lipsync.py with their
audio degraded (same length and timing), scored the same way (r of the predicted inner-lip opening with the
video's, at each clip's best offset within +-2 frames), beside the RMS-envelope baseline under the same audio.

Conditions (seeded, so every run is the same): white and pink noise 10 dB under the speech's active level, a
music bed (../shared/media/singing/MultiTalk__1.wav, looped) 8 dB under it, reverberation with an RT60 of 0.8 s
(exponentially decaying noise plus a direct path) and a take recorded 18 dB too hot (x8, clipped at full scale).
Nothing in the engine was fitted on these conditions; they show where the clean figures do not carry.
Condition "clean" is the audio unchanged. With --denoise the engine suppresses the noise first (RNNoise, the
`--denoise` option); its "clean" row shows what the option costs where there is no noise.

    .venv/bin/python bench/bench_lipsync_robust.py [--denoise] [CONDITION ...]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_lipsync import (HELD_OUT, MAX_SHIFT, MEDIA, SEPARATE_AUDIO, VIDEOS, ground_truth, mesh_opening,  # noqa: E402
                           pearson, rms_baseline)
from engine.a2l.embedded import EmbeddedConfig, predict_embedded  # noqa: E402
from engine.audio.decode import ANALYSIS_RATE, AudioClip, load_audio  # noqa: E402
from engine.media.video_read import probe_video  # noqa: E402

SR = ANALYSIS_RATE


def active_rms(x: np.ndarray) -> float:
    """RMS of the active frames (25 ms, within 25 dB of the 95th-percentile frame): the speech's level, not the
    pauses' (a simple ITU P.56-like active level, independent of the engine's own voice detection)."""
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), 400)[::160]
    power = np.mean(frames ** 2, axis=1)
    db = 10.0 * np.log10(power + 1e-20)
    return float(np.sqrt(power[db > np.percentile(db, 95) - 25.0].mean()))


def _under(x: np.ndarray, other: np.ndarray, db: float) -> np.ndarray:
    """x with `other` added `db` dB under x's active level."""
    return x + other * (active_rms(x) * 10.0 ** (-db / 20.0) / max(active_rms(other), 1e-12))


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SR)
    spectrum = np.where(f >= 50.0, spectrum / np.sqrt(np.maximum(f, 1.0)), 0.0)  # 1/f power over 50 Hz-8 kHz
    return np.fft.irfft(spectrum, n)


def _music(n: int) -> np.ndarray:
    bed = load_audio(MEDIA / "singing" / "MultiTalk__1.wav", analysed=False).mono16k.astype(np.float64)
    return np.tile(bed, n // len(bed) + 2)[5 * SR:5 * SR + n]  # from 5 s in: the song, not its intro


def _reverb(x: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import fftconvolve

    t = np.arange(int(1.2 * rt60 * SR)) / SR
    h = rng.standard_normal(len(t)) * np.exp(-6.908 * t / rt60)  # -60 dB at rt60
    h[0] = np.abs(h).max()  # the direct path
    y = fftconvolve(x, h)[:len(x)]
    return y * active_rms(x) / active_rms(y)


CONDITIONS = {
    "clean": lambda x, rng: x,
    "white10": lambda x, rng: _under(x, rng.standard_normal(len(x)), 10.0),
    "pink10": lambda x, rng: _under(x, _pink(len(x), rng), 10.0),
    "music-8": lambda x, rng: _under(x, _music(len(x)), 8.0),
    "reverb0.8": lambda x, rng: _reverb(x, 0.8, rng),
    "clipped": lambda x, rng: np.clip(8.0 * x, -1.0, 1.0),
}


def score(video: Path, condition: str, denoise: bool = False) -> tuple[float, float]:
    """(ours, RMS baseline): r at the clip's best offset."""
    info = probe_video(video)
    truth = ground_truth(video)
    x = load_audio(SEPARATE_AUDIO.get(video.name, video), analysed=False).mono16k.astype(np.float64)
    y = CONDITIONS[condition](x, np.random.default_rng(1)).astype(np.float32)
    clip = AudioClip(samples=y[:, None], rate=SR)
    base = predict_embedded(clip, info.fps, EmbeddedConfig(denoise=denoise))
    n = min(len(truth), base.frame_count)
    preds = (mesh_opening(base.offsets[:n]), rms_baseline(y, info.fps, n))
    return tuple(max(pearson(truth[:n], p, s) for s in range(-MAX_SHIFT, MAX_SHIFT + 1)) for p in preds)


def main() -> None:
    denoise = "--denoise" in sys.argv[1:]
    conditions = [a for a in sys.argv[1:] if a != "--denoise"] or list(CONDITIONS)
    print("engine audio: denoised (--denoise)" if denoise else "engine audio: as degraded")
    print(f"{'condition':12s} {'talking: ours':>14s} {'rms':>7s} {'worst clip':>11s}   {'driving: ours':>14s} {'rms':>7s}")
    for condition in conditions:
        talk = np.array([score(v, condition, denoise) for v in VIDEOS])
        drive = np.array([score(v, condition, denoise) for v in HELD_OUT])
        print(f"{condition:12s} {talk[:, 0].mean():14.3f} {talk[:, 1].mean():7.3f} {talk[:, 0].min():11.3f}   "
              f"{drive[:, 0].mean():14.3f} {drive[:, 1].mean():7.3f}", flush=True)


if __name__ == "__main__":
    main()
