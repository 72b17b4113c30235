"""Phones from audio with pocketsphinx (offline, English acoustic model shipped with the package).

Without a transcript, words are recognised with pocketsphinx's English language model and their dictionary
pronunciations give the phones: the words constrain the phones far better than allphone recognition with
the shipped phone LM (bench_lipsync). With a transcript, forced alignment (phone level; the most accurate).
Both return ARPAbet labels without stress digits, "SIL" for silence/noise, as `Segment`s in seconds.
pocketsphinx works at 100 frames per second.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from engine.a2l.base_layer import Segment
from engine.a2l.pronounce import pronounce
from engine.audio.decode import ANALYSIS_RATE
from engine.errors import SpeechModelMissingError

PS_FPS = 100.0
# Word recognition runs over the most frequent English words (scripts/make_common_words.py): a small
# vocabulary keeps the search fast, and a rare word comes out as similar-sounding common ones, which is what
# lip shapes need.
VOCABULARY_SIZE = 5000
COMMON_WORDS = Path(__file__).resolve().parents[2] / "resources" / "a2l" / "common_words.dict"
# Chunks keep recognition linear in time and memory on long files; cuts are placed at the quietest
# point near each boundary so words are rarely split.
CHUNK_S = 20.0
CUT_SEARCH_S = 3.0
# Forced alignment is one utterance; past this length a transcript is ignored (recognition instead).
MAX_ALIGN_S = 120.0
# Padding and a tiny seeded noise floor: digital silence (exact zeros, as in synthetic speech) makes
# pocketsphinx's log-energy features degenerate and alignment fails.
PAD_S = 0.3
NOISE_FLOOR = 1e-4
# Forced alignment needs a higher floor (about -50 dBFS): at 1e-4, espeak-ng's silences still dropped the last
# word of 6 in 30 synthesized sentences (the README demo's among them). Recognition keeps the lower floor:
# this much noise hurts it on real speech (bench_lipsync 0.46 -> 0.43), while real speech aligns at either.
ALIGN_NOISE_FLOOR = 3e-3
# Forced alignment follows one path through the transcript, and pocketsphinx's default beams (1e-48 and 7e-29
# for words) can prune it where a speaker's pronunciation strays from the dictionary's: a real interview
# aligned 0 of its 29 words, all 29 with these (1e-56 still lost it). A first pass that loses words is retried
# with them (0.05-0.15 s per second of audio, more on longer takes: 63 s aligned in 11 s in all).
WIDE_ALIGN_BEAMS = dict(beam=1e-64, wbeam=1e-44, pbeam=1e-64)
# A take trimmed inside its transcript's first or last words aligns only the words it holds: they are kept
# where they are at least this share of the transcript (two words of a ten-word sentence); fewer means the text
# and the take differ (another take, a missing passage), and the words are recognised instead.
ALIGN_MIN_SHARE = 0.8
# Where the whole text does not align at all, the take may be cut inside its script's first or last words
# (pocketsphinx then times none of them): up to this many are left out at either end, one at a time, each try a
# pass with the wide beams (a transcript that does not align at all costs 6 passes instead of 2).
TRIMMED_WORDS = 2
# pocketsphinx's fast-decoding settings (downsampled frames, tight per-frame limits, no second passes), and its
# phone-loop lookahead over 5 frames, which prunes words whose phones the coming frames rule out: ~10% faster,
# and the same lip sync on every clip of bench_lipsync and the driving clips.
WORD_DECODING = dict(ds=2, topn=2, maxwpf=5, maxhmmpf=3000, fwdflat=False, bestpath=False, pl_window=5)
# With the common-words vocabulary, a language weight a little above pocketsphinx's default 6.5: fewer live
# hypotheses, ~12% faster, the same lip sync on bench_lipsync and the driving clips (10 and more lose words;
# the accurate mode keeps the default, which it needs).
COMMON_WORDS_LW = 8.0
# A recognised word's span is shared among its phones, a vowel counting this many consonants (about their
# ratio of mean durations in read English; bench_lipsync: this timing scores as well as a phone-level
# alignment pass, which costs as much as the recognition).
VOWEL_LENGTH = 2.0
VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})
NOISE_PHONES = {"SIL", "+NSN+", "+SPN+", "+BREATH+", "+COUGH+", "+LAUGH+", "+NOISE+", "+SMACK+", "+UM+", "+UH+"}


def _model_paths() -> tuple[str, str, str]:
    """The acoustic model folder, the word language model and the full CMUdict shipped with pocketsphinx."""
    import pocketsphinx

    root = os.path.join(pocketsphinx.get_model_path(), "en-us")
    return (os.path.join(root, "en-us"), os.path.join(root, "en-us.lm.bin"), os.path.join(root, "cmudict-en-us.dict"))


def _pcm(x: np.ndarray, noise_floor: float = NOISE_FLOOR) -> bytes:
    pad = np.zeros(int(PAD_S * ANALYSIS_RATE), np.float32)
    y = np.concatenate([pad, np.asarray(x, np.float32), pad])
    y = y + np.random.default_rng(0).normal(0.0, noise_floor, y.shape).astype(np.float32)
    return (np.clip(y, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()


def _clean(label: str) -> str:
    label = re.sub(r"\d", "", label.upper())
    return "SIL" if label in NOISE_PHONES or label.startswith("+") else label


def _segments(raw: list[tuple[str, int, int]], offset_s: float, limit_s: float, clean: bool = True) -> list[Segment]:
    """pocketsphinx (label, first frame, last frame) on padded audio -> seconds on the original clock (phone
    labels cleaned to ARPAbet or SIL unless `clean` is False)."""
    out = []
    for label, a, b in raw:
        start = max(0.0, a / PS_FPS - PAD_S) + offset_s
        end = min(limit_s, (b + 1) / PS_FPS - PAD_S + offset_s)
        if end > start:
            out.append(Segment(start, end, _clean(label) if clean else label))
    return out


# Recognition skips stretches where no voice sounds for this long or longer (room tone, a music bed, long
# pauses): the speech gate closes the mouth there whatever the phones say, so decoding them costs time and
# changes nothing. 1 s: over three times the gap the gate bridges (engine.a2l.openness.PAUSE_BRIDGE_S), so the
# skip never reaches into the speech, and each decoded span keeps SPAN_PAD_S of its real room tone around it.
SKIP_SILENCE_S = 1.0
SPAN_PAD_S = 0.3


def _speech_spans(speech: np.ndarray | None, samples: int) -> list[tuple[int, int]]:
    """(first, end) sample ranges to decode: the runs of `speech` (bool, 100 Hz) joined across gaps shorter than
    SKIP_SILENCE_S and padded by SPAN_PAD_S; the whole clip without a speech mask."""
    if speech is None:
        return [(0, samples)] if samples else []
    from engine.a2l.vad import _runs

    hop, pad = ANALYSIS_RATE // 100, int(SPAN_PAD_S * 100)
    runs: list[list[int]] = []
    for a, b in zip(*_runs(speech)):
        if runs and a - runs[-1][1] < SKIP_SILENCE_S * 100:
            runs[-1][1] = b
        else:
            runs.append([a, b])
    return [(max(0, a - pad) * hop, min(samples, (b + pad) * hop)) for a, b in runs if (a - pad) * hop < samples]


def _cut_points(x: np.ndarray, chunk_s: float = CHUNK_S) -> list[int]:
    """Sample indices where to split long audio: the quietest 10 ms near every `chunk_s` boundary."""
    n, hop = len(x), ANALYSIS_RATE // 100
    search_s = min(CUT_SEARCH_S, chunk_s / 4)
    cuts = [0]
    while n - cuts[-1] > chunk_s * ANALYSIS_RATE * 1.5:
        lo = cuts[-1] + int((chunk_s - search_s) * ANALYSIS_RATE)
        hi = cuts[-1] + int((chunk_s + search_s) * ANALYSIS_RATE)
        frames = x[lo:hi][: (hi - lo) // hop * hop].reshape(-1, hop)
        cuts.append(lo + int(np.argmin((frames ** 2).mean(axis=1))) * hop)
    cuts.append(n)
    return cuts


# (phones, words) of a clip: Segments in seconds; a phone track covering the clip (gaps are silence) and the
# words spoken in it (none in the gaps).
Recognition = tuple[list[Segment], list[Segment]]
Raw = list[tuple[str, int, int]]  # pocketsphinx (label, first frame, last frame)


def speech_chunks(mono16k: np.ndarray, speech: np.ndarray | None = None,
                  chunk_s: float = CHUNK_S) -> list[tuple[int, int]]:
    """(first, end) sample ranges to recognise one at a time: the speech spans (`_speech_spans`), each cut at its
    quietest 10 ms near every `chunk_s`."""
    return [(first + a, first + b) for first, end in _speech_spans(speech, len(mono16k))
            for cuts in [_cut_points(mono16k[first:end], chunk_s)] for a, b in zip(cuts[:-1], cuts[1:])]


def phone_track(phones: list[Segment], duration: float) -> list[Segment]:
    """Recognised phones (in time order, maybe with gaps) as a track from 0 to `duration`: silence before, between
    and after them (all silence where there are none)."""
    phones = list(phones)
    if duration and (not phones or phones[0].start > 0.0):
        phones.insert(0, Segment(0.0, phones[0].start if phones else duration, "SIL"))
    if phones and phones[-1].end < duration:
        phones.append(Segment(phones[-1].end, duration, "SIL"))
    return merge_silence(phones)


def _decode_chunks(mono16k: np.ndarray, decode, progress=None, speech: np.ndarray | None = None) -> Recognition:
    """Runs `decode(pcm) -> (phones, words)` (Raw each) on each chunk of the speech spans; the phones and words
    of the clip (silence between the spans)."""
    chunks = speech_chunks(mono16k, speech)
    phones: list[Segment] = []
    words: list[Segment] = []
    for i, (a, b) in enumerate(chunks):
        raw_phones, raw_words = decode(_pcm(mono16k[a:b]))
        phones += _segments(raw_phones, a / ANALYSIS_RATE, b / ANALYSIS_RATE)
        words += _segments(raw_words, a / ANALYSIS_RATE, b / ANALYSIS_RATE, clean=False)
        if progress:
            progress((i + 1) / len(chunks))
    return phone_track(phones, len(mono16k) / ANALYSIS_RATE), words


def _utterance(decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _is_word(name: str) -> bool:
    """A pocketsphinx entry name is a word (not a silence, filler or sentence mark)."""
    return not name.startswith(("<", "["))


def _word_count(names) -> int:
    return sum(map(_is_word, names))


def _words(decoder) -> Raw:
    """(word, first frame, last frame) of the words just decoded ("word(2)", an alternative pronunciation's
    entry, is the word)."""
    return [(re.sub(r"\(\d+\)$", "", seg.word), seg.start_frame, seg.end_frame)
            for seg in decoder.seg() or [] if _is_word(seg.word)]


def _phone_alignment(decoder, pcm: bytes, words: int) -> list[tuple[str, int, int]]:
    """(label, first frame, last frame) of every phone from a second, state-level pass over the `words` words
    just decoded. Where that pass fails or loses words (it did on 2 of 30 synthesized sentences whose word pass
    succeeded), the phones timed within the decoded words stand."""
    in_words = _phones_in_words(decoder)
    try:
        decoder.set_alignment()
        _utterance(decoder, pcm)
        alignment = decoder.get_alignment()
    except RuntimeError:
        return in_words
    if alignment is None or _word_count(w.name for w in alignment) < words:
        return in_words
    return [(phone.name, phone.start, phone.start + phone.duration - 1) for word in alignment for phone in word]


def _phones_in_words(decoder) -> list[tuple[str, int, int]]:
    """(label, first frame, last frame) of the phones of the recognised words, each word's frames shared among
    its dictionary phones (a vowel counts VOWEL_LENGTH consonants); fillers and silences are SIL."""
    out = []
    for seg in decoder.seg() or []:
        pronunciation = decoder.lookup_word(seg.word) if _is_word(seg.word) else None
        if not pronunciation:
            out.append(("SIL", seg.start_frame, seg.end_frame))
            continue
        phones = pronunciation.split()
        weight = np.cumsum([VOWEL_LENGTH if p in VOWELS else 1.0 for p in phones])
        frames = seg.end_frame + 1 - seg.start_frame
        shares = np.concatenate([[0.0], weight / weight[-1]])
        edges = (seg.start_frame + np.round(shares * frames)).astype(int).tolist()
        out += [(p, a, b - 1) for p, a, b in zip(phones, edges[:-1], edges[1:]) if b > a]
    return out


def recognize(mono16k: np.ndarray, progress=None, accurate: bool = False,
              speech: np.ndarray | None = None) -> Recognition:
    """Word recognition in chunks: the phones covering the clip (gaps are silence) and the recognised words.
    `speech` (bool per 10 ms, where a voice sounds): only its spans are decoded (SKIP_SILENCE_S).

    Default: the common-words vocabulary, phones timed within each word (VOWEL_LENGTH). `accurate`: the full
    CMUdict vocabulary and a phone-level alignment pass over the recognised words (better phone boundaries
    and rare words, e.g. for mouth-cue export; about 2.5x slower, no better lip sync on bench_lipsync)."""
    import pocketsphinx as ps

    hmm, lm, dictionary = _model_paths()
    if accurate:
        decoder = ps.Decoder(hmm=hmm, lm=lm, dict=dictionary, loglevel="FATAL", **WORD_DECODING)
    elif not COMMON_WORDS.is_file():
        raise SpeechModelMissingError(f"speech recognition vocabulary not found at {COMMON_WORDS} "
                                      "(scripts/make_common_words.py writes it)")
    else:
        decoder = ps.Decoder(hmm=hmm, lm=lm, dict=str(COMMON_WORDS), lw=COMMON_WORDS_LW, loglevel="FATAL",
                             **WORD_DECODING)

    def decode(pcm: bytes) -> tuple[Raw, Raw]:
        _utterance(decoder, pcm)
        words = _words(decoder)
        if not accurate or not words:
            return _phones_in_words(decoder), words
        phones = _phone_alignment(decoder, pcm, len(words))
        decoder.activate_search()  # back to the language model for the next chunk
        return phones, words

    return _decode_chunks(mono16k, decode, progress, speech)


def transcript_words(text: str) -> list[str]:
    """Lower-case words as the dictionary spells them (apostrophes kept, other punctuation dropped)."""
    return [w.strip("'") for w in re.findall(r"[a-z0-9']+", text.lower()) if w.strip("'")]


def _forced_alignment(hmm: str, dictionary: str, words: list[str], pcm: bytes, beams: dict):
    """A decoder that has aligned `words` to `pcm` with `beams`, and the words it timed (a prefix of them where
    it did not reach the end); None when it failed outright."""
    import pocketsphinx as ps

    decoder = ps.Decoder(hmm=hmm, dict=dictionary, lm=None, loglevel="FATAL", **beams)
    for word in set(words):
        if decoder.lookup_word(word) is None:
            decoder.add_word(word, " ".join(pronounce(word)), True)
    try:
        decoder.set_align_text(" ".join(words))
        _utterance(decoder, pcm)
    except RuntimeError:
        return None
    return decoder, _words(decoder)


def _align_words(hmm: str, dictionary: str, words: list[str], pcm: bytes, tries=({}, WIDE_ALIGN_BEAMS)):
    """(decoder, timed words) of the fullest alignment of `words`: pocketsphinx's default beams, then, where
    they lose words, WIDE_ALIGN_BEAMS. None when neither timed a word."""
    best = None
    for beams in tries:
        got = _forced_alignment(hmm, dictionary, words, pcm, beams)
        if got is not None and got[1] and (best is None or len(got[1]) > len(best[1])):
            best = got
        if best is not None and len(best[1]) == len(words):
            break
    return best


def _trimmed_takes(words: list[str]):
    """(first, end) word ranges to try where the whole text does not align: a take trimmed inside its script's
    last or first words (up to TRIMMED_WORDS of them), the end first."""
    for k in range(1, TRIMMED_WORDS + 1):
        if len(words) - k >= ALIGN_MIN_SHARE * len(words):
            yield 0, len(words) - k
            yield k, len(words)


def align_transcript(mono16k: np.ndarray, transcript: str, noisy: bool = False) -> Recognition | None:
    """Forced alignment of `transcript` (phone level): its phones and words timed on the clip. None when
    alignment fails or is not applicable. Where the first or last words are not found (a take cut inside its
    script, or a word lost in noise), the others are aligned, with a warning naming them (`noisy`: see
    phones_for)."""
    words = transcript_words(transcript)
    if not words:
        return None
    if len(mono16k) > MAX_ALIGN_S * ANALYSIS_RATE:
        warnings.warn(f"transcript ignored: forced alignment supports up to {MAX_ALIGN_S:.0f} s of audio; "
                      "phones are recognised without it", stacklevel=3)
        return None
    hmm, _, dictionary = _model_paths()
    pcm = _pcm(mono16k, ALIGN_NOISE_FLOOR)
    first, best = 0, _align_words(hmm, dictionary, words, pcm)
    if best is None or len(best[1]) < len(words):
        for lo, hi in _trimmed_takes(words):
            got = _align_words(hmm, dictionary, words[lo:hi], pcm, (WIDE_ALIGN_BEAMS,))
            if got is not None and len(got[1]) == hi - lo:
                first, best = lo, got
                break
    if best is None or len(best[1]) < ALIGN_MIN_SHARE * len(words):  # the text and the take differ
        return None
    decoder, timed = best
    missing = words[:first] + words[first + len(timed):]
    if missing:
        where = "first" if first else "last"
        warnings.warn(f"the transcript's {where} {len(missing)} word{'s' * (len(missing) > 1)} "
                      f"(\"{' '.join(missing)}\") {'were' if len(missing) > 1 else 'was'} not found in the audio (cut "
                      f"from the take, or lost in noise): the other words are aligned{_hint(transcript, noisy)}",
                      stacklevel=3)
    phones = _phone_alignment(decoder, pcm, len(timed))
    duration = len(mono16k) / ANALYSIS_RATE
    return merge_silence(_segments(phones, 0.0, duration)), _segments(timed, 0.0, duration, clean=False)


def merge_silence(segments: list[Segment]) -> list[Segment]:
    """Joins adjacent silences and closes gaps so the track is contiguous from its first phone."""
    out: list[Segment] = []
    for seg in segments:
        if out and out[-1].label == "SIL" and seg.label == "SIL":
            out[-1] = Segment(out[-1].start, seg.end, "SIL")
        elif out and seg.start > out[-1].end + 1e-6:
            out.append(Segment(out[-1].end, seg.start, "SIL"))
            out.append(seg)
        else:
            out.append(seg)
    return out


# A transcript whose letters are this share or more outside a-z (accents, other scripts) is taken for another
# language when it fails to align: one borrowed "café" in an English sentence stays under it, a sentence of
# them does not (a false hint costs little: it only comes with a transcript that failed to align anyway).
FOREIGN_LETTER_SHARE = 0.03


def looks_english(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return not letters or sum(not c.isascii() for c in letters) < FOREIGN_LETTER_SHARE * len(letters)


def _hint(transcript: str, noisy: bool) -> str:
    """What may let a transcript that did not (fully) align do so."""
    if not looks_english(transcript):
        return " (the transcript does not look English: set its language code, e.g. fr)"
    return " (the recording is noisy: the denoise setting, --denoise, may let it align)" if noisy else ""


def phones_for(mono16k: np.ndarray, transcript: str | None, progress=None, accurate: bool = False,
               speech: np.ndarray | None = None, noisy: bool = False) -> tuple[list[Segment], list[Segment], bool]:
    """Phones and words of the clip and whether they came from the transcript (forced alignment). Without one,
    the recognised words and their phones (`accurate`, `speech`: see recognize). `noisy`: the voice stands little
    above the recording's noise (a failed alignment then suggests denoising)."""
    if transcript and transcript.strip():
        aligned = align_transcript(mono16k, transcript, noisy)
        if aligned is not None:
            if progress:
                progress(1.0)
            return *aligned, True
        if len(mono16k) <= MAX_ALIGN_S * ANALYSIS_RATE:
            warnings.warn("the transcript could not be aligned to the audio; phones are recognised without it"
                          f"{_hint(transcript, noisy)}", stacklevel=2)
    return *recognize(mono16k, progress, accurate, speech), False
