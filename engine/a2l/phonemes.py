"""Phones from audio with pocketsphinx (offline, English acoustic model shipped with the package).

Two modes: allphone recognition (no transcript; phone n-gram decoding) and forced alignment of a
transcript (much more accurate). Both return ARPAbet labels without stress digits, "SIL" for
silence/noise, as `Segment`s in seconds. pocketsphinx works at 100 frames per second.
"""
from __future__ import annotations

import os
import re
import warnings

import numpy as np

from engine.a2l.base_layer import Segment
from engine.a2l.pronounce import pronounce
from engine.audio.decode import ANALYSIS_RATE

PS_FPS = 100.0
# Chunks keep recognition linear in time and memory on long files; cuts are placed at the quietest
# point near each boundary so words are rarely split.
CHUNK_S = 20.0
CUT_SEARCH_S = 3.0
# Forced alignment is one utterance; past this length a transcript is ignored (allphone instead).
MAX_ALIGN_S = 120.0
# Padding and a tiny seeded noise floor: digital silence (exact zeros, as in synthetic speech) makes
# pocketsphinx's log-energy features degenerate and alignment fails.
PAD_S = 0.3
NOISE_FLOOR = 1e-4
NOISE_PHONES = {"SIL", "+NSN+", "+SPN+", "+BREATH+", "+COUGH+", "+LAUGH+", "+NOISE+", "+SMACK+", "+UM+", "+UH+"}


def _model_paths() -> tuple[str, str, str]:
    import pocketsphinx

    root = os.path.join(pocketsphinx.get_model_path(), "en-us")
    return (os.path.join(root, "en-us"), os.path.join(root, "en-us-phone.lm.bin"),
            os.path.join(root, "cmudict-en-us.dict"))


def _pcm(x: np.ndarray) -> bytes:
    pad = np.zeros(int(PAD_S * ANALYSIS_RATE), np.float32)
    y = np.concatenate([pad, np.asarray(x, np.float32), pad])
    y = y + np.random.default_rng(0).normal(0.0, NOISE_FLOOR, y.shape).astype(np.float32)
    return (np.clip(y, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()


def _clean(label: str) -> str:
    label = re.sub(r"\d", "", label.upper())
    return "SIL" if label in NOISE_PHONES or label.startswith("+") else label


def _segments(raw: list[tuple[str, int, int]], offset_s: float, limit_s: float) -> list[Segment]:
    """pocketsphinx (label, first frame, last frame) on padded audio -> seconds on the original clock."""
    out = []
    for label, a, b in raw:
        start = max(0.0, a / PS_FPS - PAD_S) + offset_s
        end = min(limit_s, (b + 1) / PS_FPS - PAD_S + offset_s)
        if end > start:
            out.append(Segment(start, end, _clean(label)))
    return out


def _cut_points(x: np.ndarray) -> list[int]:
    """Sample indices where to split long audio: the quietest 10 ms near every CHUNK_S boundary."""
    n, hop = len(x), ANALYSIS_RATE // 100
    cuts = [0]
    while n - cuts[-1] > CHUNK_S * ANALYSIS_RATE * 1.5:
        lo = cuts[-1] + int((CHUNK_S - CUT_SEARCH_S) * ANALYSIS_RATE)
        hi = cuts[-1] + int((CHUNK_S + CUT_SEARCH_S) * ANALYSIS_RATE)
        frames = x[lo:hi][: (hi - lo) // hop * hop].reshape(-1, hop)
        cuts.append(lo + int(np.argmin((frames ** 2).mean(axis=1))) * hop)
    cuts.append(n)
    return cuts


def _decode_chunks(mono16k: np.ndarray, decode, progress=None) -> list[Segment]:
    """Runs `decode(pcm) -> [(label, first frame, last frame)]` on each chunk; phone segments of the clip."""
    cuts = _cut_points(mono16k)
    out: list[Segment] = []
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
        out += _segments(decode(_pcm(mono16k[a:b])), a / ANALYSIS_RATE, b / ANALYSIS_RATE)
        if progress:
            progress((i + 1) / (len(cuts) - 1))
    return merge_silence(out)


def _utterance(decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _alignment_phones(alignment) -> list[tuple[str, int, int]]:
    """(label, first frame, last frame) of every phone of a pocketsphinx phone-level alignment."""
    return [(phone.name, phone.start, phone.start + phone.duration - 1) for word in alignment for phone in word]


def _allphone_decoder():
    import pocketsphinx as ps

    hmm, phone_lm, _ = _model_paths()
    # lw=1: the shipped phone LM is weak, so the acoustics get more say than pocketsphinx's default (6.5) or our
    # earlier 2.0 gave them (bench_lipsync: better phone-timed openness on the benchmark and on the driving
    # clips no constant was fitted on).
    # ds=2 scores every other 10 ms frame (segments stay at 100 frames/s): ~2x faster, with phone
    # boundaries within a frame of the full decoding on speech; the acoustic openness carries the fine timing.
    return ps.Decoder(hmm=hmm, allphone=phone_lm, lm=None, lw=1.0, beam=1e-10, pbeam=1e-10, ds=2, loglevel="FATAL")


def _allphone(decoder, pcm: bytes) -> list[tuple[str, int, int]]:
    _utterance(decoder, pcm)
    return [(s.word, s.start_frame, s.end_frame) for s in (decoder.seg() or [])]


def recognize_phones(mono16k: np.ndarray, progress=None) -> list[Segment]:
    """Allphone recognition in chunks. Returns phone segments covering the clip (gaps are silence)."""
    decoder = _allphone_decoder()
    return _decode_chunks(mono16k, lambda pcm: _allphone(decoder, pcm), progress)


def recognize_word_phones(mono16k: np.ndarray, progress=None) -> list[Segment]:
    """Accurate mode: word recognition with the English language model, then phone-level alignment of the
    recognised words. The words constrain the phones far better than the phone LM (bench_lipsync), at about a
    third of allphone's speed; out-of-vocabulary words come out as similar-sounding ones, which is what lip
    shapes need. A chunk where alignment fails falls back to allphone."""
    import pocketsphinx as ps

    hmm, _, dictionary = _model_paths()
    lm = os.path.join(os.path.dirname(hmm), "en-us.lm.bin")
    # pocketsphinx's fast-decoding settings (downsampled frames, tight per-frame limits, no second passes)
    decoder = ps.Decoder(hmm=hmm, lm=lm, dict=dictionary, ds=2, topn=2, maxwpf=5, maxhmmpf=3000,
                         fwdflat=False, bestpath=False, loglevel="FATAL")
    fallback = None

    def decode(pcm: bytes) -> list[tuple[str, int, int]]:
        nonlocal fallback
        _utterance(decoder, pcm)
        hyp = decoder.hyp()
        if hyp is not None and hyp.hypstr.strip():
            try:
                decoder.set_alignment()
                _utterance(decoder, pcm)
                alignment = decoder.get_alignment()
            except RuntimeError:
                alignment = None
            decoder.activate_search()  # back to the language model for the next chunk
            if alignment is not None:
                return _alignment_phones(alignment)
        if fallback is None:
            fallback = _allphone_decoder()
        return _allphone(fallback, pcm)

    return _decode_chunks(mono16k, decode, progress)


def transcript_words(text: str) -> list[str]:
    """Lower-case words as the dictionary spells them (apostrophes kept, other punctuation dropped)."""
    return [w.strip("'") for w in re.findall(r"[a-z0-9']+", text.lower()) if w.strip("'")]


def align_transcript(mono16k: np.ndarray, transcript: str) -> list[Segment] | None:
    """Forced alignment of `transcript` (phone level). None when alignment fails or is not applicable."""
    import pocketsphinx as ps

    words = transcript_words(transcript)
    if not words:
        return None
    if len(mono16k) > MAX_ALIGN_S * ANALYSIS_RATE:
        warnings.warn(f"transcript ignored: forced alignment supports up to {MAX_ALIGN_S:.0f} s of audio; "
                      "phones are recognised without it", stacklevel=3)
        return None
    hmm, _, dictionary = _model_paths()
    decoder = ps.Decoder(hmm=hmm, dict=dictionary, lm=None, loglevel="FATAL")
    for word in set(words):
        if decoder.lookup_word(word) is None:
            decoder.add_word(word, " ".join(pronounce(word)), True)
    pcm = _pcm(mono16k)
    try:
        decoder.set_align_text(" ".join(words))
        _utterance(decoder, pcm)
        decoder.set_alignment()
        _utterance(decoder, pcm)
        alignment = decoder.get_alignment()
    except RuntimeError:
        return None
    if alignment is None:
        return None
    aligned_words = sum(not word.name.startswith(("<", "[")) for word in alignment)
    if aligned_words < len(words):  # a partial path: the decoder gave up
        return None
    return merge_silence(_segments(_alignment_phones(alignment), 0.0, len(mono16k) / ANALYSIS_RATE))


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


def phones_for(mono16k: np.ndarray, transcript: str | None, progress=None,
               accurate: bool = False) -> tuple[list[Segment], bool]:
    """Phone track of the clip and whether it came from the transcript (forced alignment). Without one,
    `accurate` recognises words (slower, better phones), otherwise phones directly (allphone)."""
    if transcript and transcript.strip():
        aligned = align_transcript(mono16k, transcript)
        if aligned is not None:
            if progress:
                progress(1.0)
            return aligned, True
        if len(mono16k) <= MAX_ALIGN_S * ANALYSIS_RATE:
            warnings.warn("the transcript could not be aligned to the audio; phones are recognised without it",
                          stacklevel=2)
    recognize = recognize_word_phones if accurate else recognize_phones
    return recognize(mono16k, progress), False
