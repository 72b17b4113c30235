"""The embedded Audio2Lmk backend (CPU, offline): audio -> base layer.

one acoustic analysis (engine.a2l.analysis: Silero VAD x noise floor -> speech presence; Praat pitch,
  voicing and F1/F2)
phones (English: pocketsphinx forced alignment of a transcript, else the phones of recognised words; any
  other language: espeak-ng phones of the transcript warped onto the audio by DTW, else the IPA phones heard
  by hama's phoneme recogniser (engine.a2l.ipa_phones), else language-neutral acoustic labels)
  -> visemes -> coarticulated mouth control tracks (anticipation, bilabial closures, anti-flicker)
  + the acoustic jaw (F1, F1 proxy, 1-3 kHz share) and lip shape (F2: spread vs rounding), blended with the
    phones by their confidence; sung notes hold their vowel and open with the note's loudness
  x the speech gate (pauses, breaths and room tone close the mouth) and the clip's loudness
  + head pose from prosody (a head-motion style), blinks, brow accents -> rig weights -> mesh offsets.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from engine.a2l.analysis import Analysis, analyse
from engine.a2l.backend import A2LCapabilities, Cancel, Progress, stage_reporter
from engine.a2l.base_layer import BaseLayer, Segment
from engine.a2l.blinks import blink_times, blink_track
from engine.a2l.coarticulation import CoarticulationParams, bilabial_frames, coarticulate
from engine.a2l.denoise import analysis_audio
from engine.a2l.head_pose import HEAD_STYLES, head_pose, stress_peaks
from engine.a2l.loudness import audio_features, convolve_same, smooth, to_frames
from engine.a2l.openness import F1_MIN_SPAN_DB, jaw_measures, lip_shape, speech_gate, vowel_classes
from engine.a2l.phonemes import phones_for
from engine.a2l.vad import speech_span_db
from engine.a2l.visemes import mouth_controls, viseme_segments
from engine.audio.decode import ANALYSIS_RATE, AudioClip

# jawOpen = ACOUSTIC_JAW x acoustic openness + PHONE_JAW x the coarticulated phone-class opening. The
# acoustic part carries much of the weight: recognised phones are often wrong and English-only, while the
# formant measures follow the jaw in any language and in singing (bench_lipsync: acoustic+phones beats
# either alone). The 0.4 : 0.45 ratio is one of the constants tuned on the bench (v1).
ACOUSTIC_JAW = 0.4
PHONE_JAW = 0.45
# Without phones (a language other than English, no transcript, and hama's recogniser cannot run), the acoustic
# openness alone drives the jaw at this gain: the sum of the two weights above, times the ratio of the phone-class opening to the
# acoustic openness in speech (both ~0.4-0.5 on the median speech frame of the English clips): the same
# typical opening as with phones, so switching the language does not make the mouth smaller or larger.
ACOUSTIC_ONLY_JAW = ACOUSTIC_JAW + PHONE_JAW
CLOSURE_RESIDUAL_JAW = 0.15  # jaw left on a closed bilabial frame (the lips seal over it)
RECOGNISED_CLOSURE = 0.5
# Rounded lips (funnel, pucker) narrow the inner-lip gap on real faces (bench_lipsync: the phone-timed funnel
# track correlates negatively with the measured gap), while the rig's mouthFunnel alone parts the lips a
# little. Each unit of rounding therefore brings this much mouthClose (bounded by the jaw), which seals the
# gap more than the funnel opens it.
ROUNDING_CLOSE = 0.35
BROW_ACCENT = 0.25
LIP_PARTING = ("mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthFunnel")
# How far the phones' lip shapes are trusted against the formants' (F2 spread / rounding), by where the
# phones come from: an aligned transcript knows the vowel; recognised English words are right about half
# the time (pocketsphinx on real speech), and hama's phones of other languages about as often (the right
# viseme on 43 % of espeak-ng speech frames in 8 languages: engine.a2l.ipa_phones), so they share the value;
# acoustic labels carry no lip shape of their own.
PHONE_SHAPE_CONFIDENCE = {"aligned": 0.8, "recognised": 0.4, "acoustic": 0.0}
# The formant lip shape at full spread / full rounding: the viseme table's own "I" (ee) and "U" (oo) shapes,
# so formants and phones speak the same shape vocabulary.
SPREAD_SHAPE = {"mouthStretch": 0.35, "mouthSmile": 0.25}
ROUND_SHAPE = {"mouthPucker": 0.75, "mouthFunnel": 0.3}
# Sung phrases: recognised phones of sung words are mostly wrong (the recogniser knows speech, and sung
# vowels are stretched far beyond its models), so where the clip is sung they give up their share of the jaw
# and their closures entirely (aligned transcripts keep theirs).
SINGING_PHONE_DAMP = 1.0
# On a held note the opening is the note's loudness (0 at the floor, 1 at the loud parts) shaped by its
# vowel: an open vowel (acoustic openness 1) opens fully, a close one ("oo", "ee") to this fraction.
CLOSE_VOWEL_NOTE = 0.45
STYLES = ("speech", "singing", "auto")
HEAD_RATE = 100.0  # Hz at which head motion is made (the analysis rate), then sampled at the frames
ENGLISH = ("en", "en-us", "en-gb", "en-029", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
           "en-gb-x-rp", "en-us-nyc")


MAX_HOLD_FRAMES = 30  # (a million was taken: every shape merged into one)


@dataclass
class EmbeddedConfig:
    VERSION: ClassVar[int] = 1
    seed: int = 0
    transcript: str | None = None
    blink_rate: float = 1.0  # scale of the natural ~17 blinks per minute
    min_hold_frames: int = 2  # a mouth shape lasts at least this many frames (visemes, smoothing, lip seals)
    lead_ms: float = 50.0  # the mouth anticipates the sound (phones and acoustic openness; tuned on bench_lipsync)
    loudness_influence: float = 1.0  # 0: opening from phones only; 1: the acoustic openness blended in
    brow_intensity: float = 1.0
    # Without a transcript: recognise words over the whole dictionary and align their phones (finer phone timing,
    # rare words; ~2.5x slower) instead of the common-words vocabulary with phones timed in each word.
    accurate_phones: bool = False
    # "speech"; "singing": sustained notes hold their vowel and open with the note's loudness, vibrato smoothed
    # away; "auto": sung stretches are found from the share of the voice held on steady notes.
    style: str = field(default="speech", metadata={"choices": STYLES})
    # Language of the speech (an espeak-ng voice code: "en", "de", "fr", "ja", "cmn", "ko", ...). English uses
    # pocketsphinx; any other language aligns its transcript through espeak-ng phones, and without one its phones
    # are recognised as IPA (no words; the phone lane shows the phones heard, not English words).
    language: str = "en"
    # "calm", "natural" or "lively": amplitude, nods on stress, slow drift
    head_style: str = field(default="natural", metadata={"choices": tuple(HEAD_STYLES)})
    # Suppress background noise (RNNoise) before the analysis: for speech under hiss or steady noise;
    # it costs accuracy on clean recordings (see engine/a2l/denoise.py), so it is off unless asked for.
    denoise: bool = False

    def validate(self) -> None:
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be 0 .. 2^32-1, got {self.seed}")
        if not 1 <= self.min_hold_frames <= MAX_HOLD_FRAMES:
            raise ValueError(f"min_hold_frames must be at least 1 and at most {MAX_HOLD_FRAMES} (a mouth shape held "
                             f"half a second at 60 fps), got {self.min_hold_frames}")
        for name in ("blink_rate", "loudness_influence", "brow_intensity"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not -500.0 <= self.lead_ms <= 500.0:
            raise ValueError(f"lead_ms must be within +-500 ms, got {self.lead_ms}")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {self.style!r}")
        if self.head_style not in HEAD_STYLES:
            raise ValueError(f"head_style must be one of {', '.join(HEAD_STYLES)}, got {self.head_style!r}")
        code = self.language.strip()
        if not code or len(code) > 32 or not all(c.isalnum() or c in "-_+" for c in code):
            raise ValueError(f"language must be a language code such as en, de, fr, ja, got {self.language!r}")


def is_english(language: str) -> bool:
    code = language.strip().lower().replace("_", "-")  # en_US is en-US
    return code in ENGLISH or code.split("-")[0] == "en"


def _rng(seed: int, stream: str) -> np.random.Generator:
    """Independent deterministic streams, so e.g. changing blink_rate does not change the head motion."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, sum(stream.encode())])


def jaw_opening(phone_jaw: np.ndarray, acoustic: np.ndarray, loudness_influence: float = 1.0,
                phone_share: np.ndarray | float = 1.0) -> np.ndarray:
    """The openness model: acoustic openness + phone-class opening. `phone_share` (0..1, per frame or one
    value): how much the phones are trusted; what they lose goes to the acoustic openness (at
    ACOUSTIC_ONLY_JAW when they are not trusted at all). The clip's recording level plays no part: it says
    how the microphone was set, not how wide the speaker opens (the same take at -40 and -1 dBFS opened
    the mouth 2x apart when the loud parts' level scaled it); the acoustic measures are normalised per clip."""
    k = loudness_influence
    w = np.asarray(phone_share, np.float64)
    phone_weight = (PHONE_JAW + (1.0 - k) * (1.0 - PHONE_JAW)) * w  # k = 0: the phone opening alone
    acoustic_weight = k * (ACOUSTIC_JAW * w + ACOUSTIC_ONLY_JAW * (1.0 - w))
    jaw = acoustic_weight * acoustic + phone_weight * phone_jaw
    return np.clip(smooth(jaw, 1.0), 0.0, 1.0)


def acoustic_phones(analysis: Analysis, opening: np.ndarray, min_s: float = 0.04) -> list[Segment]:
    """Language-neutral phone labels from the sound alone: "SIL" outside the speech, the nearest cardinal vowel
    ("a", "e", "i", "o", "u", "ə") on open voiced frames, "C" (consonant / narrowing) elsewhere in the speech.
    Runs shorter than `min_s` join their predecessor. (`opening`: the acoustic openness at 100 Hz.)"""
    n = analysis.frames
    gate = speech_gate(analysis)
    vowels = vowel_classes(analysis)
    labels = np.where(gate < 0.5, "SIL", "C").astype(object)
    open_voiced = (gate >= 0.5) & analysis.voiced & (opening >= ACOUSTIC_VOWEL_OPENING)
    labels[open_voiced] = np.where(vowels[open_voiced] == "", "ə", vowels[open_voiced])
    out: list[Segment] = []
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    bounds = np.concatenate([[0], change, [n]])
    for a, b in zip(bounds[:-1], bounds[1:]):
        seg = Segment(float(a) / 100.0, float(b) / 100.0, str(labels[a]))
        if out and (seg.end - seg.start < min_s or out[-1].label == seg.label):
            out[-1] = Segment(out[-1].start, seg.end, out[-1].label)
        else:
            out.append(seg)
    return out


# Speech standing less than this above the recording's noise floor is noisy: forced alignment fails there (at 5 dB
# and 0 dB SNR in a new user's pass, while RNNoise let both align). The span at which Praat's F1 is left out too.
NOISY_SPAN_DB = F1_MIN_SPAN_DB
# An aligned transcript's words span about the whole time a voice sounds (pauses are silence in both); when
# they span less than half of it, words are missing (a partial or another take's transcript) and forced
# alignment stretches the few words there are while the rest of the speech gets no phones at all.
TRANSCRIPT_MIN_COVER = 0.5
# A transcript longer than this many characters a second of audio (four times a fast speaker's ~15, in any
# script: Japanese and Chinese write fewer characters a second) plus a sentence or two cannot be this recording's.
TRANSCRIPT_CHARS_PER_S = 60.0
TRANSCRIPT_SLACK_CHARS = 200
# A voiced frame whose acoustic openness (0..1 between the clip's 10th and 90th percentiles) reaches this is a
# vowel nucleus for the acoustic labels: the middle of the range (vowels are the open half of speech).
ACOUSTIC_VOWEL_OPENING = 0.4


def _phones(mono16k: np.ndarray, s: EmbeddedConfig, analysis: Analysis, opening: np.ndarray,
            report) -> tuple[list[Segment], list[Segment], str]:
    """The phone track, the words and where they came from: "aligned" (a transcript), "recognised" (English
    words; in another language, IPA phones heard without words) or "acoustic" (language-neutral labels from the
    sound, where the phoneme recogniser cannot run)."""
    transcript = s.transcript
    duration = len(mono16k) / ANALYSIS_RATE
    if transcript and len(transcript) > TRANSCRIPT_CHARS_PER_S * duration + TRANSCRIPT_SLACK_CHARS:
        # aligning it would take minutes (20k characters on 2 s took 9 s, 960k never ended) to fail anyway
        warnings.warn(f"the transcript has {len(transcript)} characters for {duration:.1f} s of audio, far more than "
                      "can be spoken in it: it is not this recording's, so it is not used", stacklevel=3)
        transcript = None
    if is_english(s.language):
        speech = analysis.presence > 0.5
        noisy = not s.denoise and speech_span_db(analysis.level, analysis.floor_db) < NOISY_SPAN_DB
        phones, words, aligned = phones_for(mono16k, transcript, report, s.accurate_phones, speech, noisy)
        if aligned:
            spoken = sum(p.end - p.start for p in phones if p.label != "SIL")
            voice = float(speech.sum()) / 100.0
            if spoken < TRANSCRIPT_MIN_COVER * voice:
                warnings.warn(f"the transcript's words cover {spoken:.1f} s of the {voice:.1f} s of speech: words "
                              "are missing, so the phones are recognised instead", stacklevel=3)
                phones, words, aligned = phones_for(mono16k, None, report, s.accurate_phones, speech)
        return phones, words, "aligned" if aligned else "recognised"
    if transcript and transcript.strip():
        from engine.a2l.espeak_align import align_with_espeak

        present = np.flatnonzero(analysis.presence > 0.5)
        span = (present[0] / 100.0, (present[-1] + 1) / 100.0) if len(present) else None
        try:
            phones, words = align_with_espeak(mono16k, transcript, s.language, span)
            report(1.0)
            return phones, words, "aligned"
        except (RuntimeError, ValueError) as exc:
            warnings.warn(f"the transcript could not be aligned ({exc}); its phones are recognised instead",
                          stacklevel=3)
    from engine.a2l.ipa_phones import ipa_status, recognise_ipa

    runs, why = ipa_status()
    if runs:
        return recognise_ipa(mono16k, analysis.presence > 0.5, report), [], "recognised"
    warnings.warn(f"{why}: the mouth follows the sound alone, without phones", stacklevel=3)
    report(1.0)
    return acoustic_phones(analysis, opening), [], "acoustic"


def predict_embedded(audio: AudioClip, fps: float = 30.0, config: EmbeddedConfig | None = None,
                     report: Progress | None = None) -> BaseLayer:
    s = config or EmbeddedConfig()
    report = report or (lambda _f: None)
    mono16k = analysis_audio(audio.mono16k, s.denoise, lambda f: report(0.1 * f))
    analysis = analyse(mono16k)
    if analysis.has_vad and not analysis.vad_region.any() and (analysis.presence > 0.5).any():
        warnings.warn("the voice detector heard no speech in the audio: the mouth follows its pitched sound, so "
                      "an instrument or a hum moves it too", stacklevel=2)
    report(0.15)
    opening100 = jaw_measures(analysis, mono16k)
    phones, words, source = _phones(mono16k, s, analysis, opening100, lambda f: report(0.15 + 0.65 * f))
    report(0.8)
    base = animate(mono16k, fps, audio.frame_count(fps), s, analysis, opening100, phones, source, report)
    return replace(base, words=[w for w in words if w.start < base.duration])


def animate(mono16k: np.ndarray, fps: float, n: int, s: EmbeddedConfig, analysis: Analysis,
            opening100: np.ndarray, phones: list[Segment], source: str, report=None) -> BaseLayer:
    """Phones + analysis -> base layer (everything after the phone stage; the lip-sync bench reuses it)."""
    from engine.a2l import singing
    from engine.rig import load_rig

    report = report or (lambda _f: None)
    phones = [p for p in phones if p.start < n / fps]
    features = audio_features(mono16k, fps, n, analysis)
    times = np.arange(n) / fps
    lead = s.lead_ms / 1000.0

    # --- acoustic openness and lip shape (100 Hz), with sung notes held -------------------------------------
    gate100 = speech_gate(analysis)
    spread100, round100, shape_conf100 = lip_shape(analysis)
    sung100 = singing.singing_mask(analysis.f0, s.style) if s.style != "speech" else np.zeros(analysis.frames)
    acoustic100 = opening100 * gate100
    if sung100.any():
        spans = [(a, b) for a, b in singing.notes(analysis.f0) if sung100[a:b].mean() > 0.5]
        loud = singing.note_loudness(analysis.level, analysis.speech_db)
        vowel = np.clip(singing.hold_notes(opening100, spans), 0.0, 1.2)
        held = loud * (CLOSE_VOWEL_NOTE + (1.0 - CLOSE_VOWEL_NOTE) * np.clip(vowel, 0.0, 1.0)) * gate100
        in_note = np.zeros(analysis.frames)
        for a, b in spans:
            in_note[a:b] = 1.0
        in_note = np.clip(singing._lowpass(in_note, singing.VIBRATO_CUT_HZ), 0.0, 1.0) * sung100
        acoustic100 = (1.0 - in_note) * acoustic100 + in_note * held
        spread100 = (1.0 - in_note) * spread100 + in_note * singing.hold_notes(spread100, spans)
        round100 = (1.0 - in_note) * round100 + in_note * singing.hold_notes(round100, spans)
    acoustic = to_frames(acoustic100, fps, n, lead)
    gate = np.clip(to_frames(gate100, fps, n, lead), 0.0, 1.0)
    sung = to_frames(sung100, fps, n, lead)
    spread, rounding = to_frames(spread100, fps, n, lead), to_frames(round100, fps, n, lead)
    shape_conf = np.clip(to_frames(shape_conf100, fps, n, lead), 0.0, 1.0)

    # --- phones -> coarticulated controls, blended with the acoustics ---------------------------------------
    params = CoarticulationParams(lead_s=lead, min_width_s=max(0.5 * s.min_hold_frames / fps, 0.02))
    controls = mouth_controls()
    col = {c: i for i, c in enumerate(controls)}
    mouth = coarticulate(phones, times, controls, params)
    phone_share = np.ones(n) if source != "acoustic" else np.zeros(n)
    if source == "recognised":
        phone_share = 1.0 - SINGING_PHONE_DAMP * sung
    jaw = jaw_opening(mouth[:, col["jawOpen"]], acoustic, s.loudness_influence, phone_share)
    # lip shape: the phones' where they are trusted, the formants' where voiced speech gives them
    trust = PHONE_SHAPE_CONFIDENCE[source] * (1.0 - sung * (source == "recognised"))
    formant_weight = (1.0 - trust) * shape_conf
    for names, target in ((SPREAD_SHAPE, spread), (ROUND_SHAPE, rounding)):
        for name, full in names.items():
            for c in ((name,) if name in col else (name + "Left", name + "Right")):
                mouth[:, col[c]] = (1.0 - formant_weight) * mouth[:, col[c]] + formant_weight * full * target
    mouth = mouth * gate[:, None]  # lip shaping follows speech activity so the mouth rests in pauses
    mouth[:, col["jawOpen"]] = jaw * gate
    closed = bilabial_frames(phones, fps, lead, n, s.min_hold_frames)  # a one-frame seal pops
    # Aligned bilabials really close the lips; recognised ones are often wrong (pocketsphinx's M/N, B/D
    # confusions; hama finds 54-87 % of them), so they only narrow the mouth (and hardly at all in song, where
    # recognition is poorer still).
    c = np.full(n, 1.0 if source == "aligned" else RECOGNISED_CLOSURE if source == "recognised" else 0.0)
    if source == "recognised":
        c = c * (1.0 - SINGING_PHONE_DAMP * sung)
    cc = c[closed]
    mouth[closed, col["jawOpen"]] *= 1.0 - cc * (1.0 - CLOSURE_RESIDUAL_JAW)
    for name in LIP_PARTING:
        mouth[closed, col[name]] *= 1.0 - cc  # these part the lips
    rounding_total = mouth[:, col["mouthFunnel"]] + mouth[:, col["mouthPucker"]]
    mouth[:, col["mouthClose"]] = np.minimum(ROUNDING_CLOSE * rounding_total, mouth[:, col["jawOpen"]])
    mouth[closed, col["mouthClose"]] = cc * mouth[closed, col["jawOpen"]]  # seal the lips over the residual jaw

    weights = {c: mouth[:, i].astype(np.float32) for c, i in col.items()}
    blink, blinks = blink_track(blink_times(n / fps, _rng(s.seed, "blinks"), s.blink_rate,
                                            features.activity < 0.05, fps), n, fps)
    weights["eyeBlinkLeft"] = weights["eyeBlinkRight"] = blink
    # Head motion and brow accents are made at a fixed rate and sampled at the frames: the stressed syllables
    # found and the seeded draws for them were the frame rate's (the same clip nodded up to 2 degrees apart at 30
    # and 60 fps).
    m = int(np.ceil(n / fps * HEAD_RATE)) + 1
    head_features = audio_features(mono16k, HEAD_RATE, m, analysis)
    peaks, strength = stress_peaks(head_features, HEAD_RATE)
    accents = np.zeros(n)
    np.maximum.at(accents, np.minimum(np.round(peaks / HEAD_RATE * fps).astype(int), n - 1), strength)
    bump = np.hanning(max(3, int(0.5 * fps)))
    brows = np.clip(convolve_same(accents, bump) * BROW_ACCENT * s.brow_intensity, 0, 1)
    weights["browInnerUp"] = brows.astype(np.float32)
    weights["browOuterUpLeft"] = weights["browOuterUpRight"] = (0.6 * brows).astype(np.float32)
    pose_at_rate = head_pose(head_features, HEAD_RATE, _rng(s.seed, "head"), (peaks, strength), s.head_style)
    pose = np.stack([np.interp(times, np.arange(m) / HEAD_RATE, c) for c in pose_at_rate.T], axis=1)
    report(0.9)

    rig = load_rig()
    weights = {name: track for name, track in weights.items() if name in rig.controls}
    offsets = rig.offsets(weights)  # float32 already: a copy would cost 5.6 KB a frame at the peak
    report(1.0)
    return BaseLayer(fps=float(fps), offsets=offsets, pose=pose, weights=weights, phonemes=phones,
                     visemes=viseme_segments(phones, s.min_hold_frames / fps), blinks=blinks)


class EmbeddedBackend:
    """CPU, offline, no weights: phones + acoustics -> rig weights -> offsets; prosody -> head pose; blinks."""

    name: ClassVar[str] = "embedded"
    title: ClassVar[str] = "Audio2Lmk (embedded, CPU)"
    Config: ClassVar[type] = EmbeddedConfig
    capabilities: ClassVar[A2LCapabilities] = A2LCapabilities(phonemes=True, blinks=True, rig_weights=True,
                                                              transcript=True)

    @classmethod
    def available(cls, config: EmbeddedConfig) -> tuple[bool, str]:
        if is_english(config.language):
            try:
                import pocketsphinx  # noqa: F401
            except ImportError:
                return False, "the pocketsphinx package is not installed"
            return True, ""
        from engine.a2l.espeak_align import unknown_language

        why = unknown_language(config.language)  # a typo ("french", "xx") would silently mean "not English"
        return why is None, why or ""

    def predict(self, audio: AudioClip, fps: float, config: EmbeddedConfig, *, progress: Progress | None = None,
                cancel: Cancel | None = None) -> BaseLayer:
        return predict_embedded(audio, fps, config, stage_reporter(progress, cancel))
