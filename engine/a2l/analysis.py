"""One acoustic analysis of the clip, shared by every stage (100 Hz tracks, cost linear in the length).

level (dB), Silero speech probability and region, the noise floor, speech presence (VAD x level above the
floor), Praat pitch and voicing, Praat F1/F2 in the voiced frames, and the spectral band tracks of
engine.a2l.openness (F1 centroid, 1-3 kHz share). Without parselmouth the numpy autocorrelation pitch of
engine.a2l.loudness stands in (and there are no Praat formants); without the VAD model the noise floor and
voicing alone give the presence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.a2l import vad
from engine.a2l.loudness import level_100hz, voicing_100hz
from engine.a2l.praat import formants_100hz, pitch_100hz, praat_status

# Voiced frames (Praat) this far above the noise floor count as sound a person makes even where the VAD
# doubts it (sung notes, speech over music, expressive voices the VAD was not trained on, speech in noise, where
# Silero's probability collapses): 12 dB is twice the plain sound margin (vad.FLOOR_MARGIN_DB), so hum and
# steady room resonances near the floor do not qualify. In a noisy clip it shrinks, as that margin does, to
# twice its share of the speech-to-floor range: a fixed 12 dB could not be reached by speech 10 dB over white
# noise, and with Silero failing there too the mouth stayed shut (bench: robustness figures in the README).
VOICED_OVER_FLOOR_DB = 12.0
VOICED_SHARE = 2 * vad.MARGIN_SHARE
# Unvoiced gaps shorter than this between voiced frames are consonants of the same stretch of voice.
VOICED_BRIDGE_S = 0.15
NUMPY_VOICED = 0.45  # the numpy autocorrelation's voicing threshold (its peak is a normalised correlation)
# A clip voiced in less than this share of its clear sound (VOICED_OVER_FLOOR_DB over the floor) is whispered.
# Speech and song are voiced in 35-90 % of it on the clips of ../shared/media (noisy, telephone-band and
# reverberant copies included), espeak-ng's whisper in 1 %: the share only tells the two apart (about their
# geometric middle). A whisper's breath noise is then its voice (Silero hears little of it), and its vowels are
# read in that noise.
WHISPERED_VOICING = 0.05


@dataclass
class Analysis:
    level: np.ndarray  # dB (25 ms RMS), 100 Hz
    prob: np.ndarray | None  # Silero speech probability per 32 ms (None: no VAD model)
    vad_region: np.ndarray  # bool, 100 Hz (all False without the model)
    floor_db: float
    speech_db: float  # loud parts of the speech (80th percentile of the present frames)
    f0: np.ndarray  # Hz, 0 unvoiced
    strength: np.ndarray  # voicing strength 0..1
    voiced: np.ndarray  # bool
    presence: np.ndarray  # 0..1: a voice is sounding (speech or song), not room tone, breath, silence
    f1: np.ndarray  # Hz, NaN outside voiced frames (all NaN without parselmouth)
    f2: np.ndarray
    has_vad: bool
    has_praat: bool
    whispered: bool = False  # voiced in under WHISPERED_VOICING of its clear sound

    @property
    def frames(self) -> int:
        return len(self.level)


def _bridge(mask: np.ndarray, frames: int) -> np.ndarray:
    out = mask.copy()
    starts, ends = vad._runs(~out)
    for a, b in zip(starts, ends):
        if a > 0 and b < len(out) and b - a <= frames:
            out[a:b] = True
    return out


def trim_to_sound(region: np.ndarray, above: np.ndarray) -> np.ndarray:
    """0..1 presence: each run of `region` (where a voice is) trimmed at both ends to where the level stands
    above the noise floor (`above`, 0..1), with the soft gate kept on the trimmed edges. Inside a run the
    level is not gated: quiet consonants and word endings are part of the speech, not pauses."""
    out = np.zeros(len(region))
    starts, ends = vad._runs(region)
    for a, b in zip(starts, ends):
        sounding = np.flatnonzero(above[a:b] >= 0.5)
        if len(sounding) == 0:
            continue
        first, last = a + sounding[0], a + sounding[-1] + 1
        out[first:last] = 1.0
        # the ramp into and out of the run follows the level
        lo = max(a, first - 5)
        out[lo:first] = above[lo:first]
        hi = min(b, last + 5)
        out[last:hi] = above[last:hi]
    return out


def analyse(mono16k: np.ndarray) -> Analysis:
    x = np.asarray(mono16k, np.float32)
    level = level_100hz(x)
    n = len(level)
    prob = vad.speech_probability(x)
    region = vad.vad_region_100hz(prob, n) if prob is not None and len(prob) else np.zeros(n, bool)
    has_praat = praat_status()[0]
    if has_praat:
        pitch = pitch_100hz(x, n)
        f0, strength = pitch.f0, pitch.strength
    else:
        strength, f0 = voicing_100hz(x)
        strength, f0 = strength[:n], f0[:n]
        f0 = np.where(strength > NUMPY_VOICED, f0, 0.0)
        strength = np.where(f0 > 0, strength, 0.0)
    floor = vad.noise_floor_db(level, region if prob is not None else None)
    above = vad.level_gate(level, floor)
    voiced = (f0 > 0) & (above > 0)
    # clear sound: a whisper must stand VOICED_OVER_FLOOR_DB over the floor (room tone alone never does)
    sound = level > floor + VOICED_OVER_FLOOR_DB
    whispered = bool(sound.sum() >= 10 and voiced.sum() < WHISPERED_VOICING * sound.sum())
    # Voice: the VAD's speech, or clearly voiced sound well above the floor (bridged over consonants); in a
    # whisper, its clear sound.
    over = min(VOICED_OVER_FLOOR_DB, VOICED_SHARE * vad.speech_span_db(level, floor))
    strong = sound if whispered else voiced & (level > floor + over)
    voice = region | _bridge(strong, int(round(VOICED_BRIDGE_S * 100)))
    if prob is None:  # no VAD: the floor and voicing alone (unvoiced sound near voiced sound included)
        voice = vad.dilate(_bridge(strong, int(round(VOICED_BRIDGE_S * 100))), int(round(vad.VAD_PAD_S * 100)))
    presence = trim_to_sound(voice, above)
    present = level[presence > 0.5]
    speech_db = float(np.percentile(present, 80)) if len(present) >= 10 else float(np.max(level, initial=-100.0))
    if has_praat and voiced.any():
        median_f0 = float(np.median(f0[voiced]))
        f1, f2 = formants_100hz(x, voiced & (presence > 0), median_f0)
    else:
        f1 = np.full(n, np.nan)
        f2 = np.full(n, np.nan)
    return Analysis(level=level, prob=prob, vad_region=region, floor_db=floor, speech_db=speech_db, f0=f0,
                    strength=strength, voiced=voiced, presence=presence, f1=f1, f2=f2, has_vad=prob is not None,
                    has_praat=has_praat, whispered=whispered)
