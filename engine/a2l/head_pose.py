"""Head pose from prosody: nods on stressed syllables, a slow seeded sway, rest in silences.

Output is the contract's relative pose (T, 6) = [rx, ry, rz degrees, tx, ty, tz cm], zeros = the
reference pose. rx is pitch (a nod), ry yaw (turn), rz roll (tilt).
"""
from __future__ import annotations

import numpy as np

from engine.a2l.loudness import AudioFeatures, smooth

# Amplitudes (degrees / cm; the project's head gain scales them) of the "natural" style: a speaker on camera.
# v1 had 1.2 / 2.5 / 1.0 degrees and 2.5 degree nods (about 1 degree standard deviation: read as stiff by
# viewers); these are ~1.4x that, still inside the 2-4 degree rotation spread of the talking-head datasets
# (HDTF, VoxCeleb) the reference implementation's pose templates come from.
SWAY_DEG = np.array([1.7, 3.4, 1.4])
SWAY_CM = np.array([0.3, 0.2, 0.25])
NOD_DEG = 3.5
SWAY_HZ = (0.07, 0.35)
NOD_PEAK_S = 0.15  # a nod reaches its lowest point this long after it starts (~0.25 s dip and recovery)
# Slow drift: posture shifts over tens of seconds (a speaker settles, leans), below the sway's band.
DRIFT_HZ = (0.015, 0.05)
DRIFT_DEG = np.array([1.0, 2.0, 0.8])
# Head-motion styles: (sway amplitude, nod strength on stressed syllables, slow drift), each a scale of the
# amplitudes above. Every component stays below 0.4 Hz (sway, drift) or is a 0.25 s smooth nod, so no
# style is jittery; "lively" only moves further, not faster.
HEAD_STYLES = {"calm": (0.6, 0.6, 0.5), "natural": (1.0, 1.0, 1.0), "lively": (1.5, 1.5, 1.4)}


def _sway(frame_count: int, fps: float, rng: np.random.Generator, channels: int,
          band: tuple[float, float] = SWAY_HZ) -> np.ndarray:
    """Sum of a few random low-frequency sinusoids per channel, unit RMS."""
    t = np.arange(frame_count) / fps
    out = np.zeros((frame_count, channels))
    for c in range(channels):
        freqs = rng.uniform(*band, size=3)
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
              stress: tuple[np.ndarray, np.ndarray] | None = None, style: str = "natural") -> np.ndarray:
    """`stress`: stress_peaks(features, fps) when the caller already has them; `style`: a HEAD_STYLES key."""
    n = len(features.activity)
    pose = np.zeros((n, 6))
    if n == 0:
        return pose
    amplitude, nod_gain, drift_gain = HEAD_STYLES[style]
    # Motion fades in with speech and settles ~1 s into a pause.
    engaged = smooth((features.activity > 0.1).astype(np.float64), 0.5 * fps)
    sway = _sway(n, fps, rng, 6)
    pose[:, :3] = sway[:, :3] * SWAY_DEG * amplitude
    pose[:, 3:] = sway[:, 3:] * SWAY_CM * amplitude
    peaks, strength = stress if stress is not None else stress_peaks(features, fps)
    nods = np.zeros(n)
    nods[peaks] = strength * rng.uniform(0.7, 1.3, size=len(peaks))
    # A nod: the head dips (positive pitch = chin down in this frame) over ~0.25 s and recovers. The gamma
    # shape (tau/T)^2 e^(2(1 - tau/T)) starts with zero velocity and peaks at T: no jerk at its start.
    tau = np.arange(int(1.0 * fps)) / fps
    impulse = (tau / NOD_PEAK_S) ** 2 * np.exp(2.0 * (1.0 - tau / NOD_PEAK_S))
    # The nod starts slightly before the stressed syllable peaks; a nod under way when the clip ends is cut there,
    # not dropped (the head snapped back to rest over the last frames).
    shift = int(round(0.1 * fps))
    nod_track = np.convolve(nods, impulse)[shift:shift + n] * NOD_DEG * nod_gain
    pose[:, 0] += nod_track
    pose[:, 4] -= nod_track * 0.05
    # slow posture drift (drawn after the sway and the nods so the v1 random streams of a seed are unchanged)
    pose[:, :3] += _sway(n, fps, rng, 3, DRIFT_HZ) * DRIFT_DEG * drift_gain
    return pose * engaged[:, None]
