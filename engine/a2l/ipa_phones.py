"""Phones heard in speech of any language, without a transcript: hama's phoneme recogniser (a CTC model over the
waveform with IPA output; Apache-2.0, its 4.7 MB model ships inside the PyPI package and runs on the package's
own CPU engine: no onnxruntime, no torch, nothing downloaded).

A CTC model emits each phone on one 20 ms frame and blanks elsewhere, so the phones are timed from their
emissions: a phone starts EMISSION_LATENCY_S before its emission and lasts until the next phone starts (at most
MAX_PHONE_S); what lies between is silence. The speech gate, not these spans, closes the mouth in pauses.

What it brings where no transcript is given in a language other than English (the acoustic path has no phones
of its own): bilabial closures and vowel and consonant classes. On espeak-ng speech in 8 languages (en, de, es,
pt, fr, it, ko, cmn) it found 54-100 % of the p, b, m (the model knows English best; French lowest) and 85-100 %
of the bilabials it emitted were real. On the English benchmark clips, animated as if their language were
unknown, lip sync rose from the acoustic path's 0.405 / 0.314 (talking / driving clips, mean r) to 0.455 /
0.357; pocketsphinx's English words give 0.465 / 0.422 and stay the English path (2.5x faster, and better).
"""
from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from engine.a2l.base_layer import Segment
from engine.a2l.phonemes import phone_track, speech_chunks
from engine.a2l.visemes import viseme_of
from engine.audio.decode import ANALYSIS_RATE

# The model's output frame: 2 x its 160-sample STFT hop at 16 kHz.
FRAME_S = 0.02
# How long after a phone's start the model emits it: on espeak-ng speech in 8 languages at 150 and 190 words a
# minute (known phone times), phones started this long before their emissions agreed best with the true phones'
# visemes (43 % of speech frames; 18 % at 0 ms, 40 % at 80 ms). Bilabials alone: 52-87 ms by language.
EMISSION_LATENCY_S = 0.06
# A phone followed by a long run of blanks ends after this: the longest vowels of fluent speech. On the same
# espeak-ng speech 0.15-1 s made no difference (the gate closes the pauses); it keeps one emission before a
# hum or a held note from showing its shape throughout.
MAX_PHONE_S = 0.3

_lock = threading.Lock()  # one engine session, shared by the render and preview workers


@lru_cache(maxsize=1)
def _model():
    from hama.asr import ASRModel

    return ASRModel()


def ipa_status() -> tuple[bool, str]:
    """Whether the recogniser can run here (its engine ships for Linux and macOS) and, if not, why."""
    try:
        _model()
    except (ImportError, OSError, RuntimeError) as exc:
        return False, f"the phoneme recogniser (hama) cannot run here: {exc}"
    return True, "ok"


def _emissions(x: np.ndarray) -> list[tuple[float, str]]:
    """(time in seconds from the start of `x`, IPA phone) of each phone the model emits in 16 kHz audio `x`."""
    model = _model()
    with _lock:
        frames = model.transcribe_waveform(x, ANALYSIS_RATE).frame_token_ids
    out: list[tuple[float, str]] = []
    previous = -1
    for i, token in enumerate(frames):
        if token != previous and token != model.blank_id:
            label = model.decoder_tokens[token]
            # word boundaries (<wb>), <unk>, tone marks and punctuation are no sounds
            if not label.startswith("<") and viseme_of(label) != "sil":
                out.append(((i + 0.5) * FRAME_S, label))
        previous = token
    return out


def recognise_ipa(mono16k: np.ndarray, speech: np.ndarray | None = None, progress=None) -> list[Segment]:
    """The phone track (IPA labels, "SIL" between) of 16 kHz audio, recognised in the speech spans of `speech`
    (bool, 100 Hz; the whole clip without it), one chunk at a time (linear in time and memory)."""
    chunks = speech_chunks(mono16k, speech)
    phones: list[Segment] = []
    for i, (a, b) in enumerate(chunks):
        offset, end = a / ANALYSIS_RATE, b / ANALYSIS_RATE
        emitted = [(max(offset, offset + t - EMISSION_LATENCY_S), label) for t, label in _emissions(mono16k[a:b])]
        for (start, label), following in zip(emitted, emitted[1:] + [(end, "")]):
            start = max(start, phones[-1].end if phones else 0.0)
            stop = min(following[0], start + MAX_PHONE_S, end)
            if stop > start:
                phones.append(Segment(start, stop, label))
        if progress:
            progress((i + 1) / len(chunks))
    return phone_track(phones, len(mono16k) / ANALYSIS_RATE)
