"""Mouth openness and vowel shape from the sound itself (language-independent: any language, and singing).

Three acoustic correlates of the jaw opening, read in the voiced frames of the speech (formants exist
there; in fricatives and stop bursts the same measures describe frication noise) and carried across
unvoiced frames by interpolation:
- F1 as Praat tracks it (Burg LPC, engine.a2l.praat): F1 rises with jaw opening (open vowels such as "ah"
  ~700-900 Hz, close ones "ee", "oo" and nasals ~250-350 Hz);
- a cheap F1 proxy that cannot jump to F2 or lose a weak F1: the power-squared-weighted spectral centroid in
  200-1000 Hz;
- the share of the 1-3 kHz band (F2-F3 region, which Chandrasekaran et al. 2009 found to correlate best
  with the mouth area) in the 100-4000 Hz level: an open vocal tract radiates more of its energy there,
  while the overall level mostly follows vocal effort.
The three are errors of different kinds on the same quantity, so their mean (each normalised per clip) is
steadier than any one (bench_lipsync: the share alone 0.35, the centroid 0.32, Praat F1 0.27; their mean
0.40 as the old pair did). Each is smoothed to the syllabic rate (< 4 Hz) and normalised per clip between
percentiles of the speech frames, so the result depends neither on the microphone level nor on the
speaker's vocal tract length (Lobanov-style speaker normalisation).
F2 (Praat) gives the lip shape: high F2 (front vowels "ee", "eh") spreads the lips, low F2 with low F1
("oo", "oh") rounds them.
Pauses: the speech gate (engine.a2l.analysis: VAD x noise floor) closes the mouth; a gap shorter than
PAUSE_BRIDGE_S (a stop closure, a breath-less hesitation between words) is not a pause.
"""
from __future__ import annotations

import numpy as np

from engine.a2l.loudness import BLOCK, WIN, _frames
from engine.a2l.vad import speech_span_db

NFFT = 512
F1_BAND = (200.0, 1000.0)
ENVELOPE_BAND = (1000.0, 3000.0)
LEVEL_BAND = (100.0, 4000.0)
SYLLABIC_HZ = 4.0  # low-pass of the 100 Hz feature tracks: mouth movements follow syllables, not pitch periods


def band_tracks(mono16k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """100 Hz tracks: F1 proxy (Hz), 1-3 kHz band level (dB) and 100-4000 Hz level (dB)."""
    frames = _frames(np.asarray(mono16k, np.float32), WIN)
    freqs = np.fft.rfftfreq(NFFT, 1.0 / 16000.0)
    f1_bins = (freqs >= F1_BAND[0]) & (freqs < F1_BAND[1])
    env_bins = (freqs >= ENVELOPE_BAND[0]) & (freqs < ENVELOPE_BAND[1])
    level_bins = (freqs >= LEVEL_BAND[0]) & (freqs < LEVEL_BAND[1])
    window = np.hanning(WIN).astype(np.float32)
    f1 = np.empty(len(frames))
    env = np.empty(len(frames))
    level = np.empty(len(frames))
    for a in range(0, len(frames), BLOCK):
        power = np.abs(np.fft.rfft(frames[a:a + BLOCK] * window, NFFT, axis=1)) ** 2
        p2 = power[:, f1_bins].astype(np.float64) ** 2
        f1[a:a + BLOCK] = (p2 @ freqs[f1_bins]) / np.maximum(p2.sum(axis=1), 1e-30)
        env[a:a + BLOCK] = 10.0 * np.log10(power[:, env_bins].sum(axis=1) + 1e-10)
        level[a:a + BLOCK] = 10.0 * np.log10(power[:, level_bins].sum(axis=1) + 1e-10)
    # dB of the band power relative to a full-scale sine's frame power
    full_scale = 10.0 * np.log10((window.sum() / 2.0) ** 2)
    return f1, env - full_scale, level - full_scale


def _lowpass(y: np.ndarray, hz: float) -> np.ndarray:
    if len(y) < 16:
        return y.astype(np.float64)
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(2, hz, fs=100.0, output="sos"), y)


def _percentile_norm(y: np.ndarray, mask: np.ndarray, min_range: float = 1e-9) -> np.ndarray:
    """y mapped to 0..1 between its 10th and 90th percentiles over `mask` (clipped to 0..1.2). A spread under
    `min_range` is widened to it around its middle: a measure that hardly varies over the clip (one held
    vowel) is not stretched into full openings and closures."""
    ref = y[mask] if mask.sum() >= 20 else y
    lo, hi = np.percentile(ref, [10, 90])
    if hi - lo < min_range:
        lo, hi = (lo + hi - min_range) / 2.0, (lo + hi + min_range) / 2.0
    return np.clip((y - lo) / max(hi - lo, 1e-9), 0.0, 1.2)


def _voiced_only(y: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """y with its unvoiced frames replaced by interpolation between the voiced ones around them."""
    idx = np.flatnonzero(voiced)
    if len(idx) < 10:  # hardly any voicing (whisper, noise): keep the raw measure
        return y
    return np.interp(np.arange(len(y)), idx, y[idx])


# A gap in the voice shorter than this is not a pause (stop closures, hesitations between words): the
# openness carries across it. 0.3 s: longer than a stop closure or a geminate (< 0.2 s) and the typical
# between-word gap of fluent speech; shorter than the breath and phrase pauses (0.4-1 s) in which real
# speakers close or relax the mouth.
PAUSE_BRIDGE_S = 0.3
GATE_HZ = 4.0  # the mouth closes and opens over about a syllable (a 4 Hz low-pass of the speech gate)
# ... but it does not start opening before the voice does: the symmetric low-pass alone rose ~0.1 s ahead of
# an onset, so the first vowel's jaw showed in the room tone before it. From the onset the gate rises with
# this time constant (a jaw opening gesture takes ~50-100 ms; lead_ms anticipates the sound on top).
ONSET_S = 0.03
SPREAD_Z = 1.5  # F2 z-score (Lobanov) at which the lips are fully spread / rounded
F1_MEDIAN_FRAMES = 5  # Praat F1 is median-filtered over 50 ms first: the tracker's single-frame jumps
# Praat F1 is left out where the speech stands less than this above the clip's noise floor: LPC formant tracking
# needs the formant peaks well above the noise, and under white noise 10 dB below the speech its F1 followed the
# noise (r 0.33 with the same clip's clean F1, 0.13 with the mouth) while the two band measures held (0.31, 0.28).
F1_MIN_SPAN_DB = 20.0


def speech_gate(analysis) -> np.ndarray:
    """0..1 at 100 Hz: the voice is sounding (short gaps bridged); 0 in pauses, breaths, room tone."""
    from scipy.signal import lfilter

    from engine.a2l.analysis import _bridge

    bridged = _bridge(analysis.presence > 0.5, int(round(PAUSE_BRIDGE_S * 100)))
    soft = np.maximum(bridged.astype(np.float64), np.clip(analysis.presence, 0.0, 1.0))
    a = 1.0 - np.exp(-0.01 / ONSET_S)
    attack = lfilter([a], [1.0, a - 1.0], soft)  # causal: 0 until the voice begins
    return np.clip(np.minimum(_lowpass(soft, GATE_HZ), attack), 0.0, 1.0)


def _norm_voiced(y: np.ndarray, voiced: np.ndarray, speech: np.ndarray, min_range: float) -> np.ndarray | None:
    if voiced.sum() < 10:
        return None
    return _percentile_norm(_lowpass(_voiced_only(y, voiced), SYLLABIC_HZ), speech, min_range)


# The least spread (10th-90th percentile over the clip) each measure is normalised by: about a third of the
# distance between a close and an open vowel ("ee" ~300 Hz vs "ah" ~750 Hz F1: log ratio 0.9, ~350 Hz of the
# centroid, ~10 dB of the 1-3 kHz share), so a clip of one held vowel reads as one steady opening.
MIN_RANGE_LOG_F1 = 0.3
MIN_RANGE_CENTROID_HZ = 120.0
MIN_RANGE_SHARE_DB = 3.0


# Voiced frames this close (10 ms frames) to an unvoiced one are not read: Praat's formant window (50 ms
# Gaussian) and the 25 ms band window reach into the neighbouring frication or burst there.
EDGE_FRAMES = 2


def _inner(voiced: np.ndarray) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    if not voiced.any():
        return voiced
    inner = binary_erosion(voiced, np.ones(2 * EDGE_FRAMES + 1, bool), border_value=1)
    return inner if inner.sum() >= 10 else voiced


def jaw_measures(analysis, mono16k: np.ndarray) -> np.ndarray:
    """(frames,) ~0..1.2 acoustic jaw opening inside the speech (not gated): the mean of the available
    normalised measures."""
    from scipy.ndimage import median_filter

    n = analysis.frames
    f1c, env, level = band_tracks(mono16k)
    f1c, env, level = f1c[:n], env[:n], level[:n]
    speech = analysis.presence > 0.5
    voiced = _inner(analysis.voiced) & speech
    if analysis.whispered:  # its vowels' formants shape the breath noise: the band measures are read over all of it
        voiced = speech
    measures = [_norm_voiced(f1c, voiced, speech, MIN_RANGE_CENTROID_HZ),
                _norm_voiced(env - level, voiced, speech, MIN_RANGE_SHARE_DB)]
    f1 = analysis.f1
    ok = voiced & np.isfinite(f1)
    if ok.sum() >= 10 and speech_span_db(analysis.level, analysis.floor_db) >= F1_MIN_SPAN_DB:
        log_f1 = median_filter(np.log(np.where(np.isfinite(f1), f1, 1.0)), F1_MEDIAN_FRAMES)
        measures.append(_norm_voiced(log_f1, ok, speech, MIN_RANGE_LOG_F1))
    measures = [m for m in measures if m is not None]
    if not measures:
        return np.zeros(n)
    return np.mean(measures, axis=0)


def lip_shape(analysis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(spread, rounding, confidence) at 100 Hz from F2 and F1 (Lobanov z-scores of the clip's voiced speech):
    spread grows with F2 above the speaker's mean, rounding with F2 below it (more so for close vowels,
    low F1); confidence is 1 in clearly voiced speech and fades away from it."""
    n = analysis.frames
    zero = np.zeros(n)
    speech = analysis.presence > 0.5
    ok = analysis.voiced & speech & np.isfinite(analysis.f2) & np.isfinite(analysis.f1)
    if ok.sum() < 20:
        return zero, zero, zero
    z1, z2 = lobanov(analysis.f1, ok), lobanov(analysis.f2, ok)
    z1 = _lowpass(_voiced_only(z1, ok), SYLLABIC_HZ)
    z2 = _lowpass(_voiced_only(z2, ok), SYLLABIC_HZ)
    spread = np.clip(z2 / SPREAD_Z, 0.0, 1.0)
    rounding = np.clip(-z2 / SPREAD_Z, 0.0, 1.0) * np.clip(0.5 - 0.5 * z1, 0.0, 1.0)
    confidence = np.clip(_lowpass(ok.astype(np.float64), SYLLABIC_HZ), 0.0, 1.0)
    return spread, rounding, confidence


def lobanov(formant: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """z-score of log formant frequency over the frames `ok` (speaker normalisation; NaN stays NaN)."""
    log_f = np.log(np.where(np.isfinite(formant) & (formant > 0), formant, np.nan))
    mu, sd = np.nanmean(log_f[ok]), np.nanstd(log_f[ok])
    return (log_f - mu) / max(sd, 1e-6)


def vowel_classes(analysis) -> np.ndarray:
    """Per 100 Hz frame, the nearest cardinal vowel ("a", "e", "i", "o", "u", or "ə" for central) in the
    speaker-normalised (z F1, z F2) plane; "" where there is no voiced speech."""
    n = analysis.frames
    out = np.full(n, "", dtype=object)
    speech = analysis.presence > 0.5
    ok = analysis.voiced & speech & np.isfinite(analysis.f2) & np.isfinite(analysis.f1)
    if ok.sum() < 20:
        out[analysis.voiced & speech] = "ə"
        return out
    z = np.stack([lobanov(analysis.f1, ok), lobanov(analysis.f2, ok)], axis=1)[ok]
    names = list(VOWEL_CENTROIDS)
    centres = np.array([VOWEL_CENTROIDS[k] for k in names])
    out[ok] = np.array(names, dtype=object)[np.argmin(((z[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)]
    return out


# Cardinal vowels in the Lobanov (z F1, z F2) plane: the corners and centre of the vowel space, about
# where /a e i o u/ and schwa fall for any speaker and language once normalised.
VOWEL_CENTROIDS = {"a": (1.2, 0.0), "e": (0.2, 0.8), "i": (-1.0, 1.2), "o": (0.2, -1.0), "u": (-1.0, -1.2),
                   "ə": (0.0, 0.0)}
