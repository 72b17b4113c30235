"""Pitch, voicing and formants with Praat (praat-parselmouth), as 100 Hz tracks.

- Pitch: Praat's autocorrelation pitch (Boersma 1993) with its Viterbi path over candidates: far fewer
  octave jumps than a frame-wise autocorrelation peak, which matters for singing (notes) and stress.
- Formants: Praat's Burg LPC tracker, run only on the voiced stretches (formants of a vowel exist there;
  in silence and frication they are noise) and at FORMANT_STEP_S: the mouth moves at syllable rate, so
  50 Hz formant frames carry all of it, at half the cost of 100 Hz.
Without parselmouth (not installed) `praat_status()` says why and callers use their numpy fallbacks.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

from engine.audio.decode import ANALYSIS_RATE

PITCH_FLOOR_HZ = 60.0  # low male speech and bass singing; Praat's window is 3 periods of the floor (50 ms)
# Praat's speech default is 500-600; sopranos sing to ~1000 Hz, and the path finder keeps octave jumps rare
PITCH_CEILING_HZ = 1000.0
VOICED_STRENGTH = 0.45  # Praat's voicing threshold (its default for to_pitch_ac)
FORMANT_STEP_S = 0.02
FORMANT_WINDOW_S = 0.025  # Praat's default analysis window for formants
FORMANT_COUNT = 5
# Praat's advice for the formant ceiling: 5000 Hz for an adult male voice, 5500 Hz for a female one (shorter
# vocal tract, higher formants). The voice's median F0 tells which: 165 Hz lies between typical male
# (~120 Hz) and female (~210 Hz) speaking pitch.
CEILING_MALE_HZ, CEILING_FEMALE_HZ = 5000.0, 5500.0
FEMALE_F0_HZ = 165.0
# Voiced stretches are widened by this for the formant analysis so their edge frames have a full window.
FORMANT_MARGIN_S = 0.03


def praat_status() -> tuple[bool, str]:
    if importlib.util.find_spec("parselmouth") is None:
        return False, "praat-parselmouth is not installed"
    return True, ""


@dataclass
class PitchTrack:
    f0: np.ndarray  # Hz at 100 Hz frames, 0 where unvoiced
    strength: np.ndarray  # 0..1 (Praat's candidate strength), 0 where unvoiced


def pitch_100hz(mono16k: np.ndarray, frames: int) -> PitchTrack:
    """Praat pitch on the 100 Hz grid t = k / 100 s (frame centres as loudness.level_100hz)."""
    import parselmouth

    x = np.asarray(mono16k, np.float64)
    if len(x) < int(0.1 * ANALYSIS_RATE):
        return PitchTrack(np.zeros(frames), np.zeros(frames))
    pitch = parselmouth.Sound(x, float(ANALYSIS_RATE)).to_pitch_ac(
        time_step=0.01, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ,
        voicing_threshold=VOICED_STRENGTH)
    sel = pitch.selected_array
    f0 = np.asarray(sel["frequency"], np.float64)
    strength = np.asarray(sel["strength"], np.float64)
    strength = np.where(f0 > 0, strength, 0.0)
    t = np.asarray(pitch.xs())
    grid = np.arange(frames) / 100.0
    idx = np.clip(np.round((grid - t[0]) / 0.01).astype(np.int64), 0, len(t) - 1) if len(t) else None
    if idx is None:
        return PitchTrack(np.zeros(frames), np.zeros(frames))
    inside = (grid >= t[0] - 0.01) & (grid <= t[-1] + 0.01)
    return PitchTrack(np.where(inside, f0[idx], 0.0), np.where(inside, strength[idx], 0.0))


def formants_100hz(mono16k: np.ndarray, voiced: np.ndarray, median_f0: float) -> tuple[np.ndarray, np.ndarray]:
    """F1 and F2 (Hz) on the 100 Hz grid, NaN outside the voiced frames (`voiced`: bool at 100 Hz)."""
    import parselmouth

    frames = len(voiced)
    f1 = np.full(frames, np.nan)
    f2 = np.full(frames, np.nan)
    if not voiced.any():
        return f1, f2
    from engine.a2l.vad import _runs

    margin = int(round(FORMANT_MARGIN_S * 100))
    starts, ends = _runs(voiced)
    # widened runs, merged where they touch
    spans: list[list[int]] = []
    for a, b in zip(np.maximum(starts - margin, 0), np.minimum(ends + margin, frames)):
        if spans and a <= spans[-1][1]:
            spans[-1][1] = int(b)
        else:
            spans.append([int(a), int(b)])
    hop = ANALYSIS_RATE // 100
    x = np.asarray(mono16k, np.float64)
    pieces, offsets, pos = [], [], 0
    for a, b in spans:
        piece = x[a * hop: min(len(x), b * hop)]
        pieces.append(piece)
        offsets.append((pos, a * hop, len(piece)))
        pos += len(piece)
    joined = np.concatenate(pieces)
    if len(joined) < int(0.06 * ANALYSIS_RATE):
        return f1, f2
    ceiling = CEILING_FEMALE_HZ if median_f0 >= FEMALE_F0_HZ else CEILING_MALE_HZ
    formant = parselmouth.Sound(joined, float(ANALYSIS_RATE)).to_formant_burg(
        time_step=FORMANT_STEP_S, max_number_of_formants=FORMANT_COUNT, maximum_formant=ceiling,
        window_length=FORMANT_WINDOW_S)
    t = np.asarray(formant.xs())
    if len(t) == 0:
        return f1, f2
    from parselmouth.praat import call

    values = np.stack([np.asarray(call(formant, "To Matrix", k).values, np.float64).reshape(-1)[: len(t)]
                       for k in (1, 2)], axis=1)  # Praat writes 0 (undefined) where a formant is missing
    # map each analysis frame back to the original clock
    sample = t * ANALYSIS_RATE
    src = np.full(len(t), np.nan)
    for start, orig, length in offsets:
        inside = (sample >= start) & (sample < start + length)
        src[inside] = orig + sample[inside] - start
    ok = np.isfinite(src) & np.isfinite(values).all(axis=1) & (values > 0).all(axis=1)
    if ok.sum() < 2:
        return f1, f2
    src_t = src[ok] / ANALYSIS_RATE
    grid = np.arange(frames) / 100.0
    f1i = np.interp(grid, src_t, values[ok, 0])
    f2i = np.interp(grid, src_t, values[ok, 1])
    f1[voiced] = f1i[voiced]
    f2[voiced] = f2i[voiced]
    return f1, f2
