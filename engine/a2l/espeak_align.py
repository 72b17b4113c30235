"""Transcript alignment in any language espeak-ng speaks (~100): synthesize the transcript with espeak-ng
(libespeak-ng through ctypes, phoneme events on: each phone's IPA symbol and its sample position), then warp
those phone times onto the real recording by dynamic time warping over MFCCs of the two signals (the method
of aeneas, at the phone rather than the sentence level).

The synthetic and the real voice differ, but their spectral envelopes follow the same phone sequence;
cepstral mean/variance normalisation per signal removes most of the speaker and channel difference. The
DTW runs over the span where the real recording has speech (engine.a2l.analysis) so lead-in noise and
trailing silence are not stretched over phones.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import threading

import numpy as np

from engine.a2l.base_layer import Segment
from engine.audio.decode import ANALYSIS_RATE, resample

MFCC_COUNT = 13  # c1..c12 (+ c0 dropped): the spectral envelope; the usual speech-recognition front end
MEL_BANDS = 26
DTW_HOP_S = 0.02  # 50 Hz frames: phones last 50-150 ms, and the DTW cost grows with the square of the rate
# The warping may stretch the synthetic speech by at most this factor, either way, against the real speech's
# span (a Sakoe-Chiba-like slope limit through the band width): real speakers are 0.5-2x espeak's rate.
MAX_STRETCH = 2.5
_lock = threading.Lock()

# espeak-ng event types and init options (speak_lib.h)
EVENT_END_LIST, EVENT_WORD, EVENT_PHONEME = 0, 1, 7
AUDIO_OUTPUT_RETRIEVAL = 1
INIT_PHONEME_EVENTS, INIT_PHONEME_IPA, INIT_DONT_EXIT = 0x0001, 0x0002, 0x8000
ESPEAK_RATE = 1


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@functools.lru_cache(maxsize=1)
def _library():
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None, 0
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_RETRIEVAL, 0, None,
                                 INIT_PHONEME_EVENTS | INIT_PHONEME_IPA | INIT_DONT_EXIT)
    if rate <= 0:
        return None, 0
    return lib, rate


def espeak_status() -> tuple[bool, str]:
    lib, _ = _library()
    return (True, "") if lib is not None else (False, "libespeak-ng is not installed (apt: espeak-ng)")


# Codes people write for a language whose espeak-ng voice has another name: ISO 639-1 Chinese is Mandarin
# (Cantonese for Hong Kong), Norwegian is Bokmål, and the retired ISO codes of Hebrew and Indonesian.
VOICE_ALIASES = {"zh": "cmn", "zh-hk": "yue", "zh-yue": "yue", "no": "nb", "iw": "he", "in": "id"}


def voice_names(code: str) -> list[str]:
    """espeak-ng voice names to try for a language code, most specific first: as written, lower case with
    "-" (a locale such as "fr_FR" or "fr-FR"), an alias of the code or of its language, then the language
    alone ("fr" for "fr-fr", which espeak-ng's command line accepts but its voice table names "fr")."""
    lower = code.strip().lower().replace("_", "-")
    base = lower.split("-")[0]
    names = [code.strip(), lower, VOICE_ALIASES.get(lower, ""), VOICE_ALIASES.get(base, ""), base]
    return [n for i, n in enumerate(names) if n and n not in names[:i]]


@functools.lru_cache(maxsize=256)
def has_voice(code: str) -> bool | None:
    """Whether espeak-ng has a voice for the language code (None: espeak-ng is not installed). Cached: the
    editor asks on every settings edit, and a running synthesis holds the library."""
    lib, _ = _library()
    if lib is None:
        return None
    with _lock:
        return _set_voice(lib, code)


def unknown_language(code: str) -> str | None:
    """Why `code` is no language espeak-ng speaks, or None (it is one, or espeak-ng is not installed to say)."""
    if has_voice(code) is not False:
        return None
    return (f"espeak-ng knows no language {code!r}: use a code such as en, de, fr, es, it, pt, ru, ja, ko, cmn "
            "(`espeak-ng --voices` lists them)")


def _set_voice(lib, code: str) -> bool:
    """Selects the first espeak-ng voice of voice_names(code) the library has (the caller holds _lock)."""
    return any(lib.espeak_SetVoiceByName(name.encode("ascii", errors="replace")) == 0 for name in voice_names(code))


@dataclasses.dataclass
class Synthesis:
    """espeak-ng's speech of a text: the samples (float32) at `rate`, the phones (IPA labels; "SIL" for pauses)
    and the words (as written in the text) timed in seconds on them."""

    samples: np.ndarray
    rate: int
    phones: list[Segment]
    words: list[Segment]


def synthesize_phones(text: str, voice: str, words_per_minute: int = 175) -> Synthesis:
    """espeak-ng speech of `text` in `voice` (a language code: "de", "fr", "ja", "cmn", ...) with its phone and
    word timings."""
    lib, rate = _library()
    if lib is None:
        raise RuntimeError(espeak_status()[1])
    chunks: list[np.ndarray] = []
    events: list[tuple[int, str]] = []
    word_events: list[tuple[int, int, int]] = []  # (sample, first character (1-based), characters)

    def collect(wav, count, event):
        if wav and count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).astype(np.float32) / 32768.0)
        i = 0
        while event[i].type != EVENT_END_LIST:
            if event[i].type == EVENT_PHONEME:
                events.append((int(event[i].sample), event[i].id.string.decode("utf-8", errors="replace")))
            elif event[i].type == EVENT_WORD:
                word_events.append((int(event[i].sample), int(event[i].text_position), int(event[i].length)))
            i += 1
        return 0

    callback = _Callback(collect)
    data = text.encode("utf-8")
    with _lock:
        lib.espeak_SetSynthCallback(callback)
        if not _set_voice(lib, voice):
            raise ValueError(f"espeak-ng has no voice for language {voice!r}")
        lib.espeak_SetParameter(ESPEAK_RATE, int(words_per_minute), 0)
        lib.espeak_Synth(ctypes.c_char_p(data), len(data) + 1, 0, 0, 0, 0, None, None)
        lib.espeak_Synchronize()
    x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    # "(en)"-style events mark a switch of language (a foreign word in the text), not a sound
    events = [(sample, label) for sample, label in events if not (label.startswith("(") and label.endswith(")"))]
    phones: list[Segment] = []
    total = len(x) / rate
    for (sample, label), nxt in zip(events, events[1:] + [(len(x), "")]):
        start, end = sample / rate, min(nxt[0] / rate, total)
        if end <= start:
            continue
        label = label.strip() or "SIL"
        if phones and phones[-1].label == label == "SIL":
            phones[-1] = Segment(phones[-1].start, end, "SIL")
        else:
            phones.append(Segment(start, end, label))
    return Synthesis(x, rate, phones, _word_spans(text, word_events, phones, rate))


def _word_spans(text: str, word_events: list[tuple[int, int, int]], phones: list[Segment],
                rate: int) -> list[Segment]:
    """Each word of the text, timed from its first to its last sounding phone (a word runs until the next
    word begins; the pause before that is not the word's). A word spoken as several (a Latin-script word in
    Japanese is spelled letter by letter: one event a letter, each naming the whole word) is one span."""
    out: list[Segment] = []
    bounds = [sample / rate for sample, _, _ in word_events[1:]] + [np.inf]
    previous = None
    for (sample, position, length), until in zip(word_events, bounds):
        label = text[max(position - 1, 0):max(position - 1, 0) + max(length, 0)].strip()
        sounding = [p for p in phones if p.label != "SIL" and sample / rate - 1e-6 <= p.start < until]
        if not label or not sounding:
            continue
        if (position, length) == previous:
            out[-1] = Segment(out[-1].start, sounding[-1].end, label)
        else:
            out.append(Segment(sounding[0].start, sounding[-1].end, label))
        previous = (position, length)
    return out


def mfcc(x: np.ndarray, rate: int = ANALYSIS_RATE, hop_s: float = DTW_HOP_S) -> np.ndarray:
    """(frames, MFCC_COUNT - 1) cepstral mean/variance-normalised MFCCs c1..c12 (25 ms Hamming windows)."""
    from scipy.fft import dct

    hop, win, nfft = int(hop_s * rate), int(0.025 * rate), 512
    n = max(1, int(np.ceil(len(x) / hop)))
    padded = np.pad(np.asarray(x, np.float32), (win // 2, win // 2 + n * hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n] * np.hamming(win).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges = 700.0 * (10 ** (np.linspace(mel(100.0), mel(min(7600.0, rate / 2)), MEL_BANDS + 2) / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(nfft, 1.0 / rate)
    bank = np.zeros((MEL_BANDS, len(bins)))
    for m in range(MEL_BANDS):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        bank[m] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0.0, None)
    feats = dct(np.log(power @ bank.T + 1e-10), type=2, axis=1, norm="ortho")[:, 1:MFCC_COUNT]
    return (feats - feats.mean(axis=0)) / np.maximum(feats.std(axis=0), 1e-6)


def dtw_path(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each frame of `a`, the matching frame of `b` (monotonic DTW, steps (1,0), (1,1), (0,1); Euclidean
    cost). Rows are solved one at a time; the horizontal run within a row is a cumulative minimum, so each row
    is a handful of vector operations (cost and memory O(len(a) x len(b)), pointers kept as int8)."""
    n, m = len(a), len(b)
    b_sq = (b ** 2).sum(axis=1)
    pointers = np.zeros((n, m), np.int8)  # 0 diagonal, 1 from above (i-1, j), 2 from the left (i, j-1)
    prev = None
    for i in range(n):
        cost = np.sqrt(np.maximum((a[i] ** 2).sum() + b_sq - 2.0 * b @ a[i], 0.0))
        if prev is None:
            row = np.cumsum(cost)
            pointers[i, 1:] = 2
        else:
            diag = np.concatenate([[np.inf], prev[:-1]])
            up = prev
            best = np.minimum(diag, up)
            pointers[i] = np.where(up < diag, 1, 0)
            tmp = cost + best
            csum = np.cumsum(cost)
            run = np.minimum.accumulate(tmp - csum)
            row = csum + run
            pointers[i] = np.where(row < tmp - 1e-9, 2, pointers[i])
        prev = row
    # backtrack from the last cell
    match = np.zeros(n, np.int64)
    i, j = n - 1, m - 1
    while i >= 0:
        match[i] = j
        p = pointers[i, j]
        if p == 0:
            i, j = i - 1, j - 1
        elif p == 1:
            i -= 1
        else:
            j -= 1
        if j < 0:
            match[:i + 1] = 0
            break
    return match


def align_with_espeak(mono16k: np.ndarray, transcript: str, language: str,
                      span: tuple[float, float] | None = None) -> tuple[list[Segment], list[Segment]]:
    """Phones (IPA labels) and words of `transcript` timed on the recording. `span`: (start, end) seconds of
    the speech in the recording (the DTW maps the synthetic speech onto it); the whole clip when None."""
    synthesis = synthesize_phones(transcript, language)
    x_syn, rate, phones = synthesis.samples, synthesis.rate, synthesis.phones
    if len(x_syn) == 0 or not phones:
        raise ValueError("espeak-ng produced no speech for the transcript")
    syn = resample(x_syn, rate, ANALYSIS_RATE)
    duration = len(mono16k) / ANALYSIS_RATE
    a, b = span if span is not None else (0.0, duration)
    spoken = [p for p in phones if p.label != "SIL"]
    s0, s1 = spoken[0].start, spoken[-1].end  # the synthetic speech without its own lead-in and tail
    syn_part = syn[int(s0 * ANALYSIS_RATE): int(s1 * ANALYSIS_RATE)]
    real_part = np.asarray(mono16k[int(a * ANALYSIS_RATE): int(b * ANALYSIS_RATE)], np.float32)
    if len(syn_part) < 0.05 * ANALYSIS_RATE or len(real_part) < 0.05 * ANALYSIS_RATE:
        raise ValueError("too little speech to align")
    ratio = len(real_part) / len(syn_part)
    if not 1.0 / MAX_STRETCH <= ratio <= MAX_STRETCH:
        raise ValueError(f"the recording's speech lasts {ratio:.1f}x as long as the transcript takes to say: "
                         "not this recording's words")
    match = dtw_path(mfcc(syn_part), mfcc(real_part))
    syn_t = np.arange(len(match)) * DTW_HOP_S
    real_t = a + match * DTW_HOP_S

    def warp(t: float) -> float:
        return float(np.interp(t - s0, syn_t, real_t))

    out: list[Segment] = []
    if a > 0:
        out.append(Segment(0.0, a, "SIL"))
    for p in phones:
        if p.end <= s0 or p.start >= s1:
            continue
        start, end = warp(max(p.start, s0)), warp(min(p.end, s1))
        if out and start < out[-1].end:
            start = out[-1].end
        if end > start:
            out.append(Segment(start, end, p.label))
    if out and out[-1].end < duration:
        out.append(Segment(out[-1].end, duration, "SIL"))
    words = [Segment(warp(max(w.start, s0)), warp(min(w.end, s1)), w.label) for w in synthesis.words]
    return out, [w for w in words if w.end > w.start]
