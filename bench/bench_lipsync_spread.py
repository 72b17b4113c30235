"""How much of bench_lipsync's figure is the recogniser's luck: the default Audio2Lmk run on each clip scaled to a
few peak levels 1-5 dB apart, each analysed at its own level (engine.a2l.loudness.ANALYSIS_PEAK_DBFS; the
product brings every voice to -1 dBFS).

A gain changes nothing a listener hears, and the acoustic measures are normalised per clip, but pocketsphinx's
beam search is chaotic: a few dB change which words win, so the phones and the mouth differ. The spread of the
mean r over these levels is the noise in any one bench_lipsync figure: a change that moves the mean by less
than this has not been shown to help.

    .venv/bin/python bench/bench_lipsync_spread.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lipsync import (HELD_OUT, MAX_SHIFT, SEPARATE_AUDIO, VIDEOS, ground_truth, mesh_opening,  # noqa: E402
                           pearson)

from engine.a2l import loudness  # noqa: E402
from engine.a2l.embedded import EmbeddedConfig, predict_embedded  # noqa: E402
from engine.audio.decode import AudioClip, load_audio  # noqa: E402
from engine.media.video_read import probe_video  # noqa: E402

LEVELS_DBFS = (-1.0, -2.0, -3.0, -6.0)


def at_peak(audio: AudioClip, dbfs: float) -> AudioClip:
    gain = np.float32(10.0 ** (dbfs / 20.0) / np.abs(audio.mono16k).max())
    return AudioClip(samples=audio.samples * gain, rate=audio.rate, source=audio.source, mono16k=audio.mono16k * gain)


def main() -> None:
    clips = [(v, probe_video(v).fps, ground_truth(v), load_audio(SEPARATE_AUDIO.get(v.name, v), analysed=False))
             for v in VIDEOS + HELD_OUT]
    product_level = loudness.ANALYSIS_PEAK_DBFS
    table = np.zeros((len(LEVELS_DBFS), len(clips)))
    for i, level in enumerate(LEVELS_DBFS):
        loudness.ANALYSIS_PEAK_DBFS = level
        for j, (video, fps, truth, audio) in enumerate(clips):
            base = predict_embedded(at_peak(audio, level), fps, EmbeddedConfig())
            n = min(len(truth), base.frame_count)
            pred = mesh_opening(base.offsets[:n])
            table[i, j] = max(pearson(truth[:n], pred, s) for s in range(-MAX_SHIFT, MAX_SHIFT + 1))
    loudness.ANALYSIS_PEAK_DBFS = product_level
    bench, driving = table[:, :len(VIDEOS)], table[:, len(VIDEOS):]
    print(f"{'clip':42s} " + " ".join(f"{lv:+7.0f} dB" for lv in LEVELS_DBFS) + "    spread")
    for j, (video, *_rest) in enumerate(clips):
        print(f"{video.stem:42s} " + " ".join(f"{r:10.3f}" for r in table[:, j])
              + f"    {np.ptp(table[:, j]):.3f}")
    for name, part in (("benchmark mean", bench), ("benchmark worst clip", None), ("driving clips mean", driving)):
        values = bench.min(axis=1) if part is None else part.mean(axis=1)
        print(f"{name:42s} " + " ".join(f"{r:10.3f}" for r in values)
              + f"    {np.ptp(values):.3f} (range {values.min():.3f}-{values.max():.3f})")


if __name__ == "__main__":
    main()
