"""The embedded Audio2Lmk backend (CPU, offline): audio -> base layer.

phones (pocketsphinx: forced alignment of a transcript, else allphone recognition)
  -> visemes -> coarticulated mouth control tracks (anticipation, bilabial closures, anti-flicker)
  x loudness and voicing (quiet speech opens less, shouting more; sung or non-English vowels still open
    the mouth through the voiced-energy envelope; silence closes it)
  + head pose from prosody, blinks, brow accents -> rig weights -> mesh offsets.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import numpy as np

from engine.a2l.base_layer import BaseLayer
from engine.a2l.blinks import blink_times, blink_track
from engine.a2l.coarticulation import CoarticulationParams, bilabial_frames, coarticulate
from engine.a2l.head_pose import head_pose, stress_peaks
from engine.a2l.loudness import AudioFeatures, audio_features, smooth
from engine.a2l.phonemes import phones_for
from engine.a2l.visemes import mouth_controls, viseme_segments
from engine.audio.decode import AudioClip

# Speech whose loud parts sit at this level (dBFS, 25 ms RMS, 80th percentile) opens the mouth at gain 1;
# each 10 dB louder/quieter scales the opening by ~1.33 / 0.75 (clamped).
NOMINAL_SPEECH_DB = -20.0
# The voiced-energy envelope's share of the opening: it carries singing, non-English speech and long
# vowels that the English phone recogniser gets wrong. Kept small: on real talking-head videos speakers
# often open the mouth in pauses (breathing), so loudness alone predicts opening poorly (bench_lipsync).
ENVELOPE_SHARE = 0.12
FRAME_LOUDNESS_SHARE = 0.3
BROW_ACCENT = 0.25


@dataclass
class A2LSettings:
    seed: int = 0
    transcript: str | None = None
    lip_intensity: float = 1.0
    head_intensity: float = 1.0
    blink_rate: float = 1.0  # scale of the natural ~17 blinks per minute
    min_hold_frames: int = 2  # a mouth shape lasts at least this many frames (viseme track and smoothing)
    lead_ms: float = 70.0  # the mouth anticipates the sound (and recognised phone boundaries lag it)
    loudness_influence: float = 1.0  # 0: opening from phones only; 1: scaled by loudness
    brow_intensity: float = 1.0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | dict) -> "A2LSettings":
        data = json.loads(text) if isinstance(text, str) else dict(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _rng(seed: int, stream: str) -> np.random.Generator:
    """Independent deterministic streams, so e.g. changing blink_rate does not change the head motion."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, sum(stream.encode())])


def jaw_opening(phone_jaw: np.ndarray, features: AudioFeatures, loudness_influence: float = 1.0) -> np.ndarray:
    """The openness model: phone-class opening x frame loudness, plus the voiced-energy envelope."""
    act = features.activity.astype(np.float64)
    envelope = smooth(act ** 0.8 * (0.35 + 0.65 * np.clip(features.voicing, 0, 1)), 1.0)
    clip_gain = np.clip(10.0 ** ((features.speech_db - NOMINAL_SPEECH_DB) / 80.0), 0.7, 1.4)
    frame_gain = 1.0 - FRAME_LOUDNESS_SHARE + FRAME_LOUDNESS_SHARE * np.sqrt(act)
    k = loudness_influence
    jaw = (1.0 + k * (clip_gain - 1.0)) * ((1.0 - k + k * frame_gain) * phone_jaw + k * ENVELOPE_SHARE * envelope)
    jaw = smooth(jaw, 1.0)
    return np.clip(jaw, 0.0, 1.0)


def predict_embedded(audio: AudioClip, fps: float = 30.0, settings: A2LSettings | None = None,
                     progress: Callable[[float], None] | None = None) -> BaseLayer:
    from engine.a2l.rig import load_rig

    s = settings or A2LSettings()
    report = progress or (lambda _f: None)
    n = audio.frame_count(fps)
    times = np.arange(n) / fps
    phones, _aligned = phones_for(audio.mono16k, s.transcript, lambda f: report(0.7 * f))
    phones = [p for p in phones if p.start < n / fps]
    features = audio_features(audio.mono16k, fps, n)
    report(0.8)

    lead = s.lead_ms / 1000.0
    params = CoarticulationParams(lead_s=lead, min_width_s=max(0.5 * s.min_hold_frames / fps, 0.02))
    controls = mouth_controls()
    mouth = coarticulate(phones, times, controls, params)
    col = {c: i for i, c in enumerate(controls)}
    jaw = jaw_opening(mouth[:, col["jawOpen"]], features, s.loudness_influence)
    # Lip shaping follows speech activity so the mouth rests in silences.
    gate = smooth(features.activity > 0.05, 0.5)[:, None]
    mouth = mouth * np.clip(gate, 0, 1)
    mouth[:, col["jawOpen"]] = jaw
    closed = bilabial_frames(phones, fps, lead, n)
    mouth[closed, col["jawOpen"]] *= 0.15
    for name in ("mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthFunnel"):
        mouth[closed, col[name]] = 0.0  # these part the lips
    mouth[closed, col["mouthClose"]] = mouth[closed, col["jawOpen"]]  # seal the lips over the residual jaw
    mouth *= s.lip_intensity

    weights = {c: mouth[:, i].astype(np.float32) for c, i in col.items()}
    blink, blinks = blink_track(blink_times(n / fps, _rng(s.seed, "blinks"), s.blink_rate,
                                            features.activity < 0.05, fps), n, fps)
    weights["eyeBlinkLeft"] = weights["eyeBlinkRight"] = blink
    peaks, strength = stress_peaks(features, fps)
    accents = np.zeros(n)
    accents[peaks] = strength
    bump = np.hanning(max(3, int(0.5 * fps)))
    brows = np.clip(np.convolve(accents, bump, mode="same") * BROW_ACCENT * s.brow_intensity, 0, 1)
    weights["browInnerUp"] = brows.astype(np.float32)
    weights["browOuterUpLeft"] = weights["browOuterUpRight"] = (0.6 * brows).astype(np.float32)
    pose = head_pose(features, fps, _rng(s.seed, "head"), s.head_intensity)
    report(0.9)

    rig = load_rig()
    weights = {name: track for name, track in weights.items() if name in rig.controls}
    offsets = rig.offsets(weights).astype(np.float32)
    report(1.0)
    return BaseLayer(fps=float(fps), offsets=offsets, pose=pose, weights=weights, phonemes=phones,
                     visemes=viseme_segments(phones, s.min_hold_frames / fps), blinks=blinks,
                     backend="embedded")
