"""Phones heard in speech of any language, without a transcript: hama's phoneme recogniser (a CTC model over the
waveform with IPA output; Apache-2.0, its 4.7 MB model ships inside the PyPI package and runs on the package's
own CPU engine: no onnxruntime, no torch, nothing downloaded).

A CTC model emits each phone on one 20 ms frame and blanks elsewhere, so the phones are timed from their
emissions: a phone starts EMISSION_LATENCY_S before its emission and lasts until the next phone starts (at most
MAX_PHONE_S); what lies between is silence. The speech gate, not these spans, closes the mouth in pauses.

What it brings where no transcript is given in a language other than English (the acoustic path has no phones
of its own): bilabial closures and vowel and consonant classes. On espeak-ng speech in 8 languages (en, de, es,
pt, fr, it, ko, cmn) it found 54-87 % of the p, b, m (the model knows English best; French lowest), and 85-100 %
of the bilabials it emitted were real. On the benchmark's real talking-head clips predicted as German
(`bench/bench_lipsync.py --language de`) lip sync rose from the acoustic path's 0.405 / 0.314 (talking / driving
clips, mean r) to 0.483 / 0.381. English keeps pocketsphinx's word recognition (0.465 / 0.422): about as good
over both sets, and twice as fast (16.8x against 7.8x real time in one run of bench_a2l_speed).
"""
from __future__ import annotations

import threading

import numpy as np

from engine.a2l.base_layer import Segment
from engine.a2l.phonemes import phone_track, speech_chunks
from engine.a2l.visemes import viseme_of
from engine.audio.decode import ANALYSIS_RATE

# How long after a phone's start the model emits it, from the emitting frame's centre (frame i is centred on
# i x 20 ms): on espeak-ng speech in 8 languages at 150 and 190 words a minute (known phone times), phones
# started this long before their emissions agreed best with the true phones' visemes (43 % of speech frames;
# 17 % at -10 ms, 40 % at 70 ms). Bilabials alone: 42-77 ms by language.
EMISSION_LATENCY_S = 0.05
# A phone followed by a long run of blanks ends after this: the longest vowels of fluent speech. On the same
# espeak-ng speech 0.15-1 s made no difference (the gate closes the pauses); it keeps one emission before a
# hum or a held note from showing its shape throughout.
MAX_PHONE_S = 0.3
MIN_PHONE_S = 0.02  # one output frame of the model: two phones it emitted are at least this far apart
# Audio recognised in one call: progress and cancelling come between calls, and another worker's prediction
# waits at most one call (~1.2 s of one core for 10 s). The model needs a phone's neighbours, not sentences.
CHUNK_S = 10.0

# One engine session, shared by the render and preview workers (its runs and its loading are serialised).
_lock = threading.RLock()
_loaded: list = []


def _model():
    with _lock:
        if not _loaded:
            from hama.asr import ASRModel

            _loaded.append(ASRModel())
        return _loaded[0]


def ipa_status() -> tuple[bool, str]:
    """Whether the recogniser can run here (its engine ships for Linux and macOS) and, if not, why."""
    try:
        _model()
    except (ImportError, OSError, RuntimeError) as exc:
        return False, f"the phoneme recogniser (hama) cannot run here ({exc})"
    return True, "ok"


def _emissions(x: np.ndarray) -> list[tuple[float, str]]:
    """(time in seconds from the start of `x`, IPA phone) of each phone the model emits in 16 kHz audio `x`."""
    from hama.asr import ASR_OUTPUT_FRAME_SAMPLES

    with _lock:
        model = _model()
        frames = model.transcribe_waveform(x, ANALYSIS_RATE).frame_token_ids
    frame_s = ASR_OUTPUT_FRAME_SAMPLES / model.model_sample_rate
    out: list[tuple[float, str]] = []
    previous = -1
    for i, token in enumerate(frames):
        if token != previous and token != model.blank_id:
            label = model.decoder_tokens[token]
            # "<wb>", "<unk>" and the like would map to visemes by their letters; tone marks, length marks and
            # punctuation map to none: no sounds
            if not label.startswith("<") and viseme_of(label) != "sil":
                out.append((i * frame_s, label))
        previous = token
    return out


def recognise_ipa(mono16k: np.ndarray, speech: np.ndarray | None = None, progress=None) -> list[Segment]:
    """The phone track (IPA labels, "SIL" between) of 16 kHz audio, recognised in the speech spans of `speech`
    (bool, 100 Hz; the whole clip without it), one chunk at a time (linear in time and memory)."""
    chunks = speech_chunks(mono16k, speech, CHUNK_S)
    phones: list[Segment] = []
    for i, (a, b) in enumerate(chunks):
        offset, end = a / ANALYSIS_RATE, b / ANALYSIS_RATE
        starts: list[tuple[float, str]] = []
        for t, label in _emissions(mono16k[a:b]):
            # a phone at least a frame after the one before: emissions within the latency of a chunk's start
            # all fell on its start, and all but the last were lost
            floor = starts[-1][0] + MIN_PHONE_S if starts else max(offset, phones[-1].end if phones else 0.0)
            starts.append((max(offset + t - EMISSION_LATENCY_S, floor), label))
        for (start, label), following in zip(starts, starts[1:] + [(end, "")]):
            stop = min(following[0], start + MAX_PHONE_S, end)
            if stop > start:
                phones.append(Segment(start, stop, label))
        if progress:
            progress((i + 1) / len(chunks))
    return phone_track(phones, len(mono16k) / ANALYSIS_RATE)
