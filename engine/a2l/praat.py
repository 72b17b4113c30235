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
# Praat analyses a long clip in blocks of this much audio: its working memory for a whole clip grows by ~14 MB
# (pitch) and ~22 MB (formants) a minute of speech, and a render's memory must stay flat in the clip's length.
# A clip up to this long is analysed in one piece, exactly as before blocks.
PRAAT_BLOCK_S = 30.0
# Each pitch block also sees this much audio past its ends (then cut away), so the Viterbi path at a block's
# edge is chosen with the context it has in one piece: its pull reaches a few syllables, well under a second.
PITCH_CONTEXT_S = 1.0
HALF_FRAME_TIE = 1e-6  # of a frame: far above float noise in times (~1e-13), far below any real offset


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

    x = np.asarray(mono16k, np.float32)
    f0, strength = np.zeros(frames), np.zeros(frames)
    if len(x) < int(0.1 * ANALYSIS_RATE):
        return PitchTrack(f0, strength)
    hop, block, context = ANALYSIS_RATE // 100, int(PRAAT_BLOCK_S * 100), int(PITCH_CONTEXT_S * ANALYSIS_RATE)
    peak = float(np.abs(x).max())
    for a in range(0, frames, block):
        b = min(frames, a + block)
        if frames <= block:
            lo, hi = 0, len(x)
        else:
            # Praat centres its frames in the sound: a block as long as the clip modulo the 10 ms step (and
            # starting on the step) has its frames on the same times as the whole clip's.
            lo = max(0, a * hop - context)
            hi = min(len(x), b * hop + context + len(x) % hop)
        piece = x[lo:hi].astype(np.float64)
        if frames > block:
            # Praat's voicing weighs each frame's peak against the sound's global peak: the clip's peak goes on
            # the block's outermost context sample (cut away, a second from any frame kept).
            piece[0 if lo > 0 else -1] = peak
        pitch = parselmouth.Sound(piece, float(ANALYSIS_RATE), lo / ANALYSIS_RATE).to_pitch_ac(
            time_step=0.01, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ,
            voicing_threshold=VOICED_STRENGTH)
        t = np.asarray(pitch.xs())
        if not len(t):
            continue
        sel = pitch.selected_array
        block_f0 = np.asarray(sel["frequency"], np.float64)
        block_strength = np.where(block_f0 > 0, np.asarray(sel["strength"], np.float64), 0.0)
        # Grid times often fall halfway between two of Praat's frames (it centres its frames in the sound):
        # take the later one always (round half up, HALF_FRAME_TIE past float noise) so that every Praat frame
        # is used once, not some twice and their neighbours never.
        grid = np.arange(a, b) / 100.0
        idx = np.clip(np.floor((grid - t[0]) / 0.01 + 0.5 + HALF_FRAME_TIE).astype(np.int64), 0, len(t) - 1)
        inside = (grid >= t[0] - 0.01) & (grid <= t[-1] + 0.01)
        f0[a:b] = np.where(inside, block_f0[idx], 0.0)
        strength[a:b] = np.where(inside, block_strength[idx], 0.0)
    return PitchTrack(f0, strength)


def formants_100hz(mono16k: np.ndarray, voiced: np.ndarray, median_f0: float) -> tuple[np.ndarray, np.ndarray]:
    """F1 and F2 (Hz) on the 100 Hz grid, NaN outside the voiced frames (`voiced`: bool at 100 Hz)."""
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
    ceiling = CEILING_FEMALE_HZ if median_f0 >= FEMALE_F0_HZ else CEILING_MALE_HZ
    # Burg's LPC is local to its 25 ms window: groups of spans analysed apart give the same tracks as one analysis,
    # sampled on each group's own 20 ms lattice
    src_t, values = [], []
    for group in _span_groups(spans, int(PRAAT_BLOCK_S * 100)):
        t, v = _burg(mono16k, group, ceiling)
        src_t.append(t)
        values.append(v)
    src_t, values = np.concatenate(src_t), np.concatenate(values)
    if len(src_t) < 2:
        return f1, f2
    grid = np.arange(frames) / 100.0
    f1i = np.interp(grid, src_t, values[:, 0])
    f2i = np.interp(grid, src_t, values[:, 1])
    f1[voiced] = f1i[voiced]
    f2[voiced] = f2i[voiced]
    return f1, f2


def _span_groups(spans: list[list[int]], most: int) -> list[list[list[int]]]:
    """Consecutive spans (100 Hz frames) gathered into groups of at most `most` frames (a longer span alone)."""
    groups: list[list[list[int]]] = [[]]
    length = 0
    for span in spans:
        if groups[-1] and length + span[1] - span[0] > most:
            groups.append([])
            length = 0
        groups[-1].append(span)
        length += span[1] - span[0]
    return groups


def _burg(mono16k: np.ndarray, spans: list[list[int]], ceiling: float) -> tuple[np.ndarray, np.ndarray]:
    """Praat's Burg formants over the spans joined: (times in s on the clip's clock, (n, 2) F1 and F2) of the
    frames where both are defined."""
    import parselmouth
    from parselmouth.praat import call

    hop = ANALYSIS_RATE // 100
    pieces, offsets, pos = [], [], 0
    for a, b in spans:
        piece = np.asarray(mono16k[a * hop: min(len(mono16k), b * hop)], np.float64)
        pieces.append(piece)
        offsets.append((pos, a * hop, len(piece)))
        pos += len(piece)
    joined = np.concatenate(pieces)
    none = (np.zeros(0), np.zeros((0, 2)))
    if len(joined) < int(0.06 * ANALYSIS_RATE):
        return none
    formant = parselmouth.Sound(joined, float(ANALYSIS_RATE)).to_formant_burg(
        time_step=FORMANT_STEP_S, max_number_of_formants=FORMANT_COUNT, maximum_formant=ceiling,
        window_length=FORMANT_WINDOW_S)
    t = np.asarray(formant.xs())
    if len(t) == 0:
        return none
    values = np.stack([np.asarray(call(formant, "To Matrix", k).values, np.float64).reshape(-1)[: len(t)]
                       for k in (1, 2)], axis=1)  # Praat writes 0 (undefined) where a formant is missing
    # map each analysis frame back to the original clock
    sample = t * ANALYSIS_RATE
    src = np.full(len(t), np.nan)
    for start, orig, length in offsets:
        inside = (sample >= start) & (sample < start + length)
        src[inside] = orig + sample[inside] - start
    ok = np.isfinite(src) & np.isfinite(values).all(axis=1) & (values > 0).all(axis=1)
    return src[ok] / ANALYSIS_RATE, values[ok]
