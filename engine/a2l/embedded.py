"""The embedded Audio2Lmk backend (CPU, offline): audio -> base layer.

phones (pocketsphinx: forced alignment of a transcript, else the phones of recognised words)
  -> visemes -> coarticulated mouth control tracks (anticipation, bilabial closures, anti-flicker)
  x loudness and voicing (quiet speech opens less, shouting more; sung or non-English vowels still open
    the mouth through the voiced-energy envelope; silence closes it)
  + head pose from prosody, blinks, brow accents -> rig weights -> mesh offsets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.a2l.backend import A2LCapabilities, Cancel, Progress, stage_reporter
from engine.a2l.base_layer import BaseLayer
from engine.a2l.blinks import blink_times, blink_track
from engine.a2l.coarticulation import CoarticulationParams, bilabial_frames, coarticulate
from engine.a2l.head_pose import head_pose, stress_peaks
from engine.a2l.loudness import AudioFeatures, audio_features, smooth
from engine.a2l.openness import acoustic_openness
from engine.a2l.phonemes import phones_for
from engine.a2l.visemes import mouth_controls, viseme_segments
from engine.audio.decode import AudioClip

# Speech whose loud parts sit at this level (dBFS, 25 ms RMS, 80th percentile) opens the mouth at gain 1;
# each 10 dB louder/quieter scales the opening by ~1.33 / 0.75 (clamped).
NOMINAL_SPEECH_DB = -20.0
# jawOpen = ACOUSTIC_JAW x acoustic openness (F1 + 1-3 kHz envelope, engine.a2l.openness) + PHONE_JAW x the
# coarticulated phone-class opening. The acoustic part carries much of the weight: recognised phones
# are often wrong and English-only, while F1 follows the jaw in any language and in singing (bench_lipsync:
# acoustic+phones beats either alone). The 0.4 : 0.45 ratio is one of the constants tuned on the bench.
ACOUSTIC_JAW = 0.4
PHONE_JAW = 0.45
CLOSURE_RESIDUAL_JAW = 0.15  # jaw left on a closed bilabial frame (the lips seal over it)
RECOGNISED_CLOSURE = 0.5
# Rounded lips (funnel, pucker) narrow the inner-lip gap on real faces (bench_lipsync: the phone-timed funnel
# track correlates negatively with the measured gap), while the rig's mouthFunnel alone parts the lips a
# little. Each unit of rounding therefore brings this much mouthClose (bounded by the jaw), which seals the
# gap more than the funnel opens it.
ROUNDING_CLOSE = 0.35
BROW_ACCENT = 0.25
LIP_PARTING = ("mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthFunnel")


@dataclass
class EmbeddedConfig:
    VERSION: ClassVar[int] = 1
    seed: int = 0
    transcript: str | None = None
    blink_rate: float = 1.0  # scale of the natural ~17 blinks per minute
    min_hold_frames: int = 2  # a mouth shape lasts at least this many frames (viseme track and smoothing)
    lead_ms: float = 50.0  # the mouth anticipates the sound (phones and acoustic openness; tuned on bench_lipsync)
    loudness_influence: float = 1.0  # 0: opening from phones only; 1: acoustic openness and clip loudness
    brow_intensity: float = 1.0
    # Without a transcript: recognise words over the whole dictionary and align their phones (finer phone timing,
    # rare words; ~2.5x slower) instead of the common-words vocabulary with phones timed in each word.
    accurate_phones: bool = False

    def validate(self) -> None:
        if self.min_hold_frames < 1:
            raise ValueError(f"min_hold_frames must be at least 1, got {self.min_hold_frames}")
        for name in ("blink_rate", "loudness_influence", "brow_intensity"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not -500.0 <= self.lead_ms <= 500.0:
            raise ValueError(f"lead_ms must be within +-500 ms, got {self.lead_ms}")


def _rng(seed: int, stream: str) -> np.random.Generator:
    """Independent deterministic streams, so e.g. changing blink_rate does not change the head motion."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, sum(stream.encode())])


def jaw_opening(phone_jaw: np.ndarray, acoustic: np.ndarray, features: AudioFeatures,
                loudness_influence: float = 1.0) -> np.ndarray:
    """The openness model: acoustic openness + phone-class opening, scaled by the clip's loudness."""
    k = loudness_influence
    clip_gain = np.clip(10.0 ** ((features.speech_db - NOMINAL_SPEECH_DB) / 80.0), 0.7, 1.4)
    phone_weight = PHONE_JAW + (1.0 - k) * (1.0 - PHONE_JAW)  # k = 0: the phone opening alone, unscaled
    jaw = (1.0 + k * (clip_gain - 1.0)) * (k * ACOUSTIC_JAW * acoustic + phone_weight * phone_jaw)
    return np.clip(smooth(jaw, 1.0), 0.0, 1.0)


class EmbeddedBackend:
    """CPU, offline, no weights: phones + acoustics -> rig weights -> offsets; prosody -> head pose; blinks."""

    name: ClassVar[str] = "embedded"
    title: ClassVar[str] = "Audio2Lmk (embedded, CPU)"
    Config: ClassVar[type] = EmbeddedConfig
    capabilities: ClassVar[A2LCapabilities] = A2LCapabilities(phonemes=True, blinks=True, rig_weights=True,
                                                              transcript=True)

    @classmethod
    def available(cls, config: EmbeddedConfig) -> tuple[bool, str]:
        try:
            import pocketsphinx  # noqa: F401
        except ImportError:
            return False, "the pocketsphinx package is not installed"
        return True, ""

    def predict(self, audio: AudioClip, fps: float, config: EmbeddedConfig, *, progress: Progress | None = None,
                cancel: Cancel | None = None) -> BaseLayer:
        return predict_embedded(audio, fps, config, stage_reporter(progress, cancel))


def predict_embedded(audio: AudioClip, fps: float = 30.0, config: EmbeddedConfig | None = None,
                     report: Progress | None = None) -> BaseLayer:
    from engine.rig import load_rig

    s = config or EmbeddedConfig()
    report = report or (lambda _f: None)
    n = audio.frame_count(fps)
    times = np.arange(n) / fps
    phones, aligned = phones_for(audio.mono16k, s.transcript, lambda f: report(0.7 * f), s.accurate_phones)
    phones = [p for p in phones if p.start < n / fps]
    features = audio_features(audio.mono16k, fps, n)
    report(0.8)

    lead = s.lead_ms / 1000.0
    params = CoarticulationParams(lead_s=lead, min_width_s=max(0.5 * s.min_hold_frames / fps, 0.02))
    controls = mouth_controls()
    mouth = coarticulate(phones, times, controls, params)
    col = {c: i for i, c in enumerate(controls)}
    acoustic = acoustic_openness(audio.mono16k, fps, n, lead, features.voicing_track)
    jaw = jaw_opening(mouth[:, col["jawOpen"]], acoustic, features, s.loudness_influence)
    # Lip shaping follows speech activity so the mouth rests in silences.
    gate = smooth(features.activity > 0.05, 0.5)[:, None]
    mouth = mouth * np.clip(gate, 0, 1)
    mouth[:, col["jawOpen"]] = jaw
    closed = bilabial_frames(phones, fps, lead, n)
    # Aligned bilabials really close the lips; recognised ones are often wrong (M/N, B/D confusions),
    # so they only narrow the mouth.
    c = 1.0 if aligned else RECOGNISED_CLOSURE
    mouth[closed, col["jawOpen"]] *= 1.0 - c * (1.0 - CLOSURE_RESIDUAL_JAW)
    for name in LIP_PARTING:
        mouth[closed, col[name]] *= 1.0 - c  # these part the lips
    rounding = mouth[:, col["mouthFunnel"]] + mouth[:, col["mouthPucker"]]
    mouth[:, col["mouthClose"]] = np.minimum(ROUNDING_CLOSE * rounding, mouth[:, col["jawOpen"]])
    mouth[closed, col["mouthClose"]] = c * mouth[closed, col["jawOpen"]]  # seal the lips over the residual jaw

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
    pose = head_pose(features, fps, _rng(s.seed, "head"), (peaks, strength))
    report(0.9)

    rig = load_rig()
    weights = {name: track for name, track in weights.items() if name in rig.controls}
    offsets = rig.offsets(weights).astype(np.float32)
    report(1.0)
    return BaseLayer(fps=float(fps), offsets=offsets, pose=pose, weights=weights, phonemes=phones,
                     visemes=viseme_segments(phones, s.min_hold_frames / fps), blinks=blinks)
