"""Head pose from prosody: nods on stressed syllables, a slow seeded sway, rest in silences.

Output is the contract's relative pose (T, 6) = [rx, ry, rz degrees, tx, ty, tz cm], zeros = the
reference pose. rx is pitch (a nod), ry yaw (turn), rz roll (tilt).
"""
from __future__ import annotations

import numpy as np

from engine.a2l.loudness import AudioFeatures, smooth

# Amplitudes (degrees / cm; the project's head gain scales them): small, like a calm speaker on camera.
SWAY_DEG = np.array([1.2, 2.5, 1.0])
SWAY_CM = np.array([0.25, 0.15, 0.2])
NOD_DEG = 2.5
SWAY_HZ = (0.07, 0.35)


def _sway(frame_count: int, fps: float, rng: np.random.Generator, channels: int) -> np.ndarray:
    """Sum of a few random low-frequency sinusoids per channel, unit RMS."""
    t = np.arange(frame_count) / fps
    out = np.zeros((frame_count, channels))
    for c in range(channels):
        freqs = rng.uniform(*SWAY_HZ, size=3)
        phases = rng.uniform(0, 2 * np.pi, size=3)
        amps = rng.uniform(0.5, 1.0, size=3)
        out[:, c] = (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None])).sum(0)
        out[:, c] /= np.sqrt((amps ** 2).sum() / 2)
    return out


def stress_peaks(features: AudioFeatures, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames of stressed syllables (prominent voiced loudness peaks, at least 0.3 s apart) and their
    strength in 0..1 (louder and higher-pitched = stronger)."""
    energy = smooth(features.activity * np.clip(features.voicing, 0, 1), 0.04 * fps)
    from scipy.signal import find_peaks

    peaks, props = find_peaks(energy, height=0.35, distance=max(1, int(0.3 * fps)), prominence=0.15)
    if len(peaks) == 0:
        return peaks, np.zeros(0)
    pitch = features.pitch_hz[peaks]
    voiced = features.pitch_hz[features.pitch_hz > 0]
    ref = float(np.median(voiced)) if len(voiced) else 1.0
    high = np.clip(np.where(pitch > 0, pitch / ref - 1.0, 0.0) * 2.0, 0.0, 1.0)
    strength = np.clip(props["prominences"] * (0.6 + 0.4 * high) / 0.6, 0.0, 1.0)
    return peaks, strength


def head_pose(features: AudioFeatures, fps: float, rng: np.random.Generator,
              stress: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """`stress`: stress_peaks(features, fps) when the caller already has them."""
    n = len(features.activity)
    pose = np.zeros((n, 6))
    if n == 0:
        return pose
    # Motion fades in with speech and settles ~1 s into a pause.
    engaged = smooth((features.activity > 0.1).astype(np.float64), 0.5 * fps)
    sway = _sway(n, fps, rng, 6)
    pose[:, :3] = sway[:, :3] * SWAY_DEG
    pose[:, 3:] = sway[:, 3:] * SWAY_CM
    peaks, strength = stress if stress is not None else stress_peaks(features, fps)
    nods = np.zeros(n)
    nods[peaks] = strength * rng.uniform(0.7, 1.3, size=len(peaks))
    # A nod: the head dips (positive pitch = chin down in this frame) over ~0.25 s and recovers.
    tau = np.arange(int(0.8 * fps)) / fps
    impulse = (tau / 0.12) * np.exp(1.0 - tau / 0.12)
    nod_track = np.convolve(nods, impulse)[:n] * NOD_DEG
    shift = int(round(0.1 * fps))  # the nod starts slightly before the stressed syllable peaks
    nod_track = np.concatenate([nod_track[shift:], np.zeros(shift)])
    pose[:, 0] += nod_track
    pose[:, 4] -= nod_track * 0.05
    return pose * engaged[:, None]
