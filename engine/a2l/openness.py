"""Mouth openness from the sound itself (language-independent: works for any language and for singing).

Two acoustic correlates of the lip aperture, per 10 ms frame of the 16 kHz signal:
- the first formant: F1 rises with jaw opening (open vowels such as "ah" have F1 ~700-900 Hz, close ones
  "ee", "oo" and nasals ~250-350 Hz). It is tracked as the power-squared-weighted spectral centroid in
  200-1000 Hz (squaring the power favours the formant peak over the F0 harmonic floor; a cheap, robust proxy
  for LPC formant tracking);
- the share of the 1-3 kHz band (F2-F3 region, which Chandrasekaran et al. 2009 found to correlate best with
  the mouth area) in the 100-4000 Hz level: an open vocal tract radiates more of its energy there, while the
  overall level mostly follows vocal effort (bench_lipsync: the share scores clearly better than the raw
  band envelope, and the level alone hardly correlates with the lip gap).
Both are read only in voiced frames (formants exist there; in fricatives and stop bursts the same
measures describe frication noise, not the vocal tract) and carried across unvoiced frames by
interpolation. Both are then smoothed to the syllabic rate (< 4 Hz) and normalised per utterance between
percentiles of the speech frames (everything within SPEECH_RANGE_DB of the loud parts), so the result does
not depend on the microphone level. Pauses: a short one (under
PAUSE_BRIDGE_S) keeps the mouth slightly ajar, as real speakers breathe through it; a long one and silence
close it.
"""
from __future__ import annotations

import numpy as np

from engine.a2l.loudness import BLOCK, SILENCE_DB, WIN, _frames, voicing_100hz

NFFT = 512
F1_BAND = (200.0, 1000.0)
ENVELOPE_BAND = (1000.0, 3000.0)
LEVEL_BAND = (100.0, 4000.0)
SYLLABIC_HZ = 4.0  # low-pass of the 100 Hz feature tracks: mouth movements follow syllables, not pitch periods
# A frame is speech when its level is within this range of the clip's loud parts (90th percentile). Relative
# to the loud parts, not the noise floor: clips with few pauses have no noise floor to measure, and a
# floor-relative gate then mutes quiet syllables.
SPEECH_RANGE_DB = 40.0
PAUSE_BRIDGE_S = 0.6
PAUSE_OPENING = 0.3  # opening held through a short pause (breathing), in units of the speech range
F1_SHARE = 0.5  # the rest is the 1-3 kHz share
VOICED = 0.5  # normalised autocorrelation peak above which a frame counts as voiced


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
    # dB of the band power relative to a full-scale sine's frame power, so SILENCE_DB applies
    full_scale = 10.0 * np.log10((window.sum() / 2.0) ** 2)
    return f1, env - full_scale, level - full_scale


def _lowpass(y: np.ndarray, hz: float) -> np.ndarray:
    if len(y) < 16:
        return y.astype(np.float64)
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(2, hz, fs=100.0, output="sos"), y)


def _percentile_norm(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ref = y[mask] if mask.sum() >= 20 else y
    lo, hi = np.percentile(ref, [10, 90])
    return np.clip((y - lo) / max(hi - lo, 1e-9), 0.0, 1.2)


def _voiced_only(y: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """y with its unvoiced frames replaced by interpolation between the voiced ones around them."""
    idx = np.flatnonzero(voiced)
    if len(idx) < 10:  # hardly any voicing (whisper, noise): keep the raw measure
        return y
    return np.interp(np.arange(len(y)), idx, y[idx])


def acoustic_openness_100hz(mono16k: np.ndarray, voicing: np.ndarray | None = None) -> np.ndarray:
    """(frames at 100 Hz,) openness ~0..1.2 from F1 and the 1-3 kHz share; 0 in silence. `voicing` is
    loudness.voicing_100hz of the same signal (computed here when not given)."""
    from scipy.ndimage import binary_closing

    f1, env, level = band_tracks(mono16k)
    if len(level) == 0:
        return np.zeros(0)
    active = (level > np.percentile(level, 90) - SPEECH_RANGE_DB) & (level > SILENCE_DB)
    if not active.any():
        return np.zeros(len(level))
    if voicing is None:
        voicing = voicing_100hz(np.asarray(mono16k, np.float32))[0]
    voiced = active & (voicing[: len(level)] > VOICED)
    speech = (F1_SHARE * _percentile_norm(_lowpass(_voiced_only(f1, voiced), SYLLABIC_HZ), active)
              + (1.0 - F1_SHARE) * _percentile_norm(_lowpass(_voiced_only(env - level, voiced), SYLLABIC_HZ),
                                                     active))
    opening = np.where(active, speech, PAUSE_OPENING)
    k = int(PAUSE_BRIDGE_S * 100)
    padded = np.concatenate([np.zeros(k, bool), active, np.zeros(k, bool)])
    in_speech = binary_closing(padded, np.ones(k, bool))[k:-k]
    return opening * np.clip(_lowpass(in_speech.astype(np.float64), 2.0), 0.0, 1.0)


def acoustic_openness(mono16k: np.ndarray, fps: float, frame_count: int, lead_s: float = 0.0,
                      voicing: np.ndarray | None = None) -> np.ndarray:
    """(frame_count,) openness at the video frame times (averaged over each frame's span), taken `lead_s`
    ahead: the mouth opens before the sound it shapes."""
    y = acoustic_openness_100hz(mono16k, voicing)
    if len(y) == 0:
        return np.zeros(frame_count)
    k = max(1, int(round(100.0 / fps)))
    y = np.convolve(y, np.ones(k) / k, mode="same")
    return np.interp(np.arange(frame_count) / fps + lead_s, np.arange(len(y)) / 100.0, y)
