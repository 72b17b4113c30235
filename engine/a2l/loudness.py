"""Frame-level loudness, voicing and pitch of the 16 kHz analysis signal (cost linear in the length).

Features are computed at 100 Hz (25 ms windows; 40 ms for pitch) and sampled at the video frame times.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.audio.decode import ANALYSIS_RATE, SILENCE_DBFS

HOP = ANALYSIS_RATE // 100
WIN = 400
PITCH_WIN = 640
F0_MIN, F0_MAX = 70.0, 500.0
BLOCK = 4096  # frames per FFT block: bounded memory on long files
# The voice is analysed with its peak at this level. A recording's level says how the microphone was set, not
# what the speaker does, but a few floors must be absolute (the VAD's digital-silence floor, the recogniser's
# dither, 16-bit samples): a quiet take (peak -45 dBFS, its speech around -60 dBFS RMS) fell under them, and its
# motion drifted from the same take at full level (r 0.81 at -45, 0.44 at -55 dBFS). Loud clips are brought down
# to it as well, so every level of a take is analysed alike. -1 dBFS: full scale less the usual true-peak
# headroom, so the 16-bit samples the recogniser reads never clip.
ANALYSIS_PEAK_DBFS = -1.0


def at_analysis_level(mono16k: np.ndarray) -> np.ndarray:
    """The signal scaled so its peak sits at ANALYSIS_PEAK_DBFS; one so quiet that it is silence (peak below
    SILENCE_DBFS, where the decoder warns) is returned as it is. (A stretch re-predicted alone is analysed at its
    own peak: the measures are normalised over the stretch anyway.)"""
    peak = float(np.max(np.abs(mono16k))) if mono16k.size else 0.0
    target = 10.0 ** (ANALYSIS_PEAK_DBFS / 20.0)
    if peak <= 10.0 ** (SILENCE_DBFS / 20.0):
        return mono16k
    return (mono16k * np.float32(target / peak)).astype(mono16k.dtype, copy=False)


@dataclass
class AudioFeatures:
    """Per video frame: level (dBFS of the RMS), voicing (0..1 normalised autocorrelation peak), pitch (Hz,
    0 where unvoiced), activity (0..1, sound well above the noise floor), and the clip's speech level; plus
    the voicing at 100 Hz (`voicing_track`), which the acoustic openness reuses."""

    level_db: np.ndarray
    voicing: np.ndarray
    pitch_hz: np.ndarray
    activity: np.ndarray
    speech_db: float
    noise_db: float
    voicing_track: np.ndarray


def _frames(x: np.ndarray, win: int) -> np.ndarray:
    n = max(1, int(np.ceil(len(x) / HOP)))
    pad = np.pad(x, (win // 2, win // 2 + n * HOP))
    return np.lib.stride_tricks.sliding_window_view(pad, win)[::HOP][:n]


def level_100hz(x: np.ndarray) -> np.ndarray:
    frames = _frames(x, WIN)
    out = np.empty(len(frames))
    for a in range(0, len(frames), BLOCK):
        out[a:a + BLOCK] = np.sqrt(np.mean(np.square(frames[a:a + BLOCK], dtype=np.float64), axis=1))
    return 20.0 * np.log10(np.maximum(out, 1e-6))


def voicing_100hz(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised autocorrelation peak in the F0 lag range, and the pitch it implies."""
    frames = _frames(x, PITCH_WIN)
    lo, hi = int(ANALYSIS_RATE / F0_MAX), int(ANALYSIS_RATE / F0_MIN)
    window = np.hanning(PITCH_WIN).astype(np.float32)
    # Autocorrelation of the window itself: dividing by it removes the taper's bias towards short lags.
    wac = np.fft.irfft(np.abs(np.fft.rfft(window, 2 * PITCH_WIN)) ** 2)[: hi + 1]
    voicing = np.zeros(len(frames))
    pitch = np.zeros(len(frames))
    for a in range(0, len(frames), BLOCK):
        f = frames[a:a + BLOCK] * window
        f = f - f.mean(axis=1, keepdims=True) * window
        spec = np.fft.rfft(f, 2 * PITCH_WIN, axis=1)
        ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, : hi + 1] / wac
        ac /= np.maximum(ac[:, :1], 1e-12)
        lag = lo + np.argmax(ac[:, lo:hi + 1], axis=1)
        peak = ac[np.arange(len(f)), lag]
        voicing[a:a + BLOCK] = np.clip(peak, 0.0, 1.0)
        pitch[a:a + BLOCK] = ANALYSIS_RATE / lag
    return voicing, pitch


def smooth(x: np.ndarray, frames: float) -> np.ndarray:
    """Zero-phase exponential smoothing (forward-backward one-pole) with a time constant in frames."""
    if frames <= 0 or len(x) < 2:
        return np.asarray(x, np.float64).copy()
    from scipy.signal import filtfilt

    a = float(np.exp(-1.0 / frames))
    y = np.asarray(x, np.float64)
    if len(y) <= 6:
        return y.copy()
    return filtfilt([1.0 - a], [1.0, -a], y, padtype="constant", padlen=min(len(y) - 1, int(3 * frames) + 1))


def convolve_same(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """np.convolve(x, kernel, mode="same") that keeps x's length even when the kernel is longer (numpy's returns
    the longer of the two: a clip shorter than a smoothing kernel broke the tracks' lengths)."""
    full = np.convolve(x, kernel, mode="full")
    start = (len(kernel) - 1) // 2
    return full[start:start + len(x)]


def to_frames(track: np.ndarray, fps: float, frame_count: int, lead_s: float = 0.0) -> np.ndarray:
    """A 100 Hz track at the video frame times (+ lead_s), averaged over each frame's own span: a 24-30 fps
    frame shows ~40 ms of sound, not a point sample."""
    y = np.asarray(track, np.float64)
    if len(y) == 0:
        return np.zeros(frame_count)
    k = max(1, int(round(100.0 / fps)))
    if k > 1 and len(y) >= k:
        y = convolve_same(y, np.ones(k) / k)
    return np.interp(np.arange(frame_count) / fps + lead_s, np.arange(len(y)) / 100.0, y)


def audio_features(mono16k: np.ndarray, fps: float, frame_count: int, analysis=None) -> AudioFeatures:
    """Per-frame features from engine.a2l.analysis (computed here when not given)."""
    from engine.a2l.analysis import analyse

    an = analysis if analysis is not None else analyse(mono16k)
    lin = to_frames(10.0 ** (an.level / 10.0), fps, frame_count)
    level_v = 10.0 * np.log10(np.maximum(lin, 1e-12))
    voicing_v = to_frames(an.strength, fps, frame_count)
    t = np.arange(frame_count) / fps
    f0 = an.f0
    pitch_v = np.interp(t, np.arange(len(f0)) / 100.0, f0) if len(f0) else np.zeros(frame_count)
    pitch_v = pitch_v * (to_frames(an.voiced.astype(np.float64), fps, frame_count) > 0.5)
    activity = np.clip(to_frames(an.presence, fps, frame_count), 0.0, 1.0)
    return AudioFeatures(level_v.astype(np.float32), voicing_v.astype(np.float32), pitch_v.astype(np.float32),
                         activity.astype(np.float32), an.speech_db, an.floor_db, an.strength)
