"""Frame-level loudness, voicing and pitch of the 16 kHz analysis signal (cost linear in the length).

Features are computed at 100 Hz (25 ms windows; 40 ms for pitch) and sampled at the video frame times.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.audio.decode import ANALYSIS_RATE

HOP = ANALYSIS_RATE // 100
WIN = 400
PITCH_WIN = 640
F0_MIN, F0_MAX = 70.0, 500.0
BLOCK = 4096  # frames per FFT block: bounded memory on long files
SILENCE_DB = -55.0  # absolute floor: below this nothing is speech


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


def audio_features(mono16k: np.ndarray, fps: float, frame_count: int) -> AudioFeatures:
    x = np.asarray(mono16k, np.float32)
    level = level_100hz(x)
    voicing, pitch = voicing_100hz(x)
    t100 = np.arange(len(level)) / 100.0
    t = np.arange(frame_count) / fps
    # Average over the video frame's own span (not a point sample): a 24-30 fps frame shows ~40 ms of sound.
    k = max(1, int(round(100.0 / fps)))
    kernel = np.ones(k) / k
    lin = np.convolve(10.0 ** (level / 10.0), kernel, mode="same")
    level_v = 10.0 * np.log10(np.maximum(np.interp(t, t100, lin), 1e-12))
    voicing_v = np.interp(t, t100, np.convolve(voicing, kernel, mode="same"))
    pitch_v = np.interp(t, t100, pitch) * (voicing_v > 0.45)
    noise = float(np.percentile(level, 10)) if len(level) else SILENCE_DB
    loud = level[level > max(noise + 10.0, SILENCE_DB)]
    speech = float(np.percentile(loud, 80)) if len(loud) else SILENCE_DB
    floor = max(noise + 6.0, SILENCE_DB)
    activity = np.clip((level_v - floor) / max(speech - floor, 6.0), 0.0, 1.0)
    return AudioFeatures(level_v.astype(np.float32), voicing_v.astype(np.float32), pitch_v.astype(np.float32),
                         activity.astype(np.float32), speech, noise, voicing)
