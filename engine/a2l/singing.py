"""Singing: sustained notes from Praat's pitch, and where a clip is sung rather than spoken.

A note is a voiced stretch whose pitch, once vibrato is smoothed away, stays within NOTE_SEMITONES of its
median for at least NOTE_MIN_S. Speech glides: its syllables rarely hold one pitch that long; song is
mostly notes. `singing_share` is the share of the voiced time, in a window around each frame, that lies in
notes; "auto" style calls a stretch sung where it exceeds SINGING_SHARE and its voiced stretches are held
longer than spoken syllables (`voiced_run_s`): level tones and drawn-out syllables of speech hold a pitch too,
but between short voiced stretches.
Over a note the mouth holds the vowel shape (the note's median acoustic measures) and opens with the note's
loudness, low-passed below the vibrato rate so vibrato (pitch and loudness wobble at 4.5-7 Hz) does not
flutter the jaw.
"""
from __future__ import annotations

import numpy as np

from engine.a2l.loudness import convolve_same
from engine.a2l.vad import _runs

# Vibrato is a 4.5-7 Hz pitch wobble of up to +-1 semitone (Sundberg): a 3 Hz low-pass removes it and keeps
# the note changes (a note lasts 0.2 s and more).
VIBRATO_CUT_HZ = 3.0
NOTE_SEMITONES = 0.75  # within a note the smoothed pitch stays this close to its mean (under a semitone)
NOTE_MIN_S = 0.25  # a held note; a spoken syllable's steady part is shorter (~0.1-0.2 s)
SHARE_WINDOW_S = 4.0  # the share of voice time in notes is judged over a few sung phrases
# Speech keeps well under this share of its voiced time in notes (bench speech clips: 0.0-0.2), sung
# phrases well above it (the singing clips: 0.5-0.8).
SINGING_SHARE = 0.35
MIN_VOICED_S = 0.3  # a window with less voice than this (one short word) is not judged
# Speech breaks its voice at the unvoiced consonants and pauses between syllables (~5 a second), so its voiced
# stretches last about a syllable; song holds its vowels through the notes. 0.3 s: half again a spoken
# syllable's ~0.2 s. (The mean voiced stretch over 4 s windows: 0.07-0.26 s at the median of the media's speech
# clips in five languages, 0.42-0.50 s in the two songs.)
SUNG_RUN_S = 0.3
NOTE_LOUDNESS_HZ = 2.0  # a note's loudness envelope: 2 Hz attenuates the 4.5-7 Hz vibrato tremolo by 14 dB and more


def _lowpass(y: np.ndarray, hz: float, rate: float = 100.0) -> np.ndarray:
    if len(y) < 16:
        return np.asarray(y, np.float64)
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(2, hz, fs=rate, output="sos"), y)


def semitones(f0: np.ndarray) -> np.ndarray:
    return np.where(f0 > 0, 12.0 * np.log2(np.maximum(f0, 1e-6) / 55.0), np.nan)


def notes(f0: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) 100 Hz frame spans of the sustained notes."""
    out: list[tuple[int, int]] = []
    voiced = f0 > 0
    st = semitones(f0)
    min_len = int(round(NOTE_MIN_S * 100))
    for a, b in zip(*_runs(voiced)):
        if b - a < min_len:
            continue
        pitch = _lowpass(st[a:b], VIBRATO_CUT_HZ) if b - a >= 16 else st[a:b]
        start = 0
        while start < len(pitch):
            end, total = start + 1, pitch[start]
            # grow the note while the pitch stays near the note's mean so far
            while end < len(pitch) and abs(pitch[end] - total / (end - start)) <= NOTE_SEMITONES:
                total += pitch[end]
                end += 1
            if end - start >= min_len:
                out.append((a + start, a + end))
            start = end
    return out


def singing_share(f0: np.ndarray, note_spans: list[tuple[int, int]] | None = None) -> np.ndarray:
    """(frames,) share of the voiced time around each frame that lies in notes."""
    n = len(f0)
    in_note = np.zeros(n)
    for a, b in note_spans if note_spans is not None else notes(f0):
        in_note[a:b] = 1.0
    k = max(1, int(SHARE_WINDOW_S * 100))
    kernel = np.ones(k)
    voiced = convolve_same((f0 > 0).astype(np.float64), kernel)
    held = convolve_same(in_note, kernel)
    return np.where(voiced >= MIN_VOICED_S * 100, held / np.maximum(voiced, 1e-9), 0.0)


def voiced_run_s(f0: np.ndarray) -> np.ndarray:
    """(frames,) mean length (s) of the voiced stretches in the SHARE_WINDOW_S window around each frame: the
    voiced time over the number of stretches that begin there (or over one, inside a note held longer than the
    window, where none begins)."""
    voiced = (f0 > 0).astype(np.float64)
    begins = np.diff(voiced, prepend=0.0) > 0
    kernel = np.ones(max(1, int(SHARE_WINDOW_S * 100)))
    count = convolve_same(begins.astype(np.float64), kernel)
    return convolve_same(voiced, kernel) / np.maximum(count, 1.0) / 100.0


def singing_mask(f0: np.ndarray, style: str, note_spans: list[tuple[int, int]] | None = None) -> np.ndarray:
    """(frames,) 0..1: how much each frame is treated as singing for the style ("speech", "singing", "auto")."""
    n = len(f0)
    if style == "speech":
        return np.zeros(n)
    if style == "singing":
        return np.ones(n)
    sung = (singing_share(f0, note_spans) > SINGING_SHARE) & (voiced_run_s(f0) > SUNG_RUN_S)
    return np.clip(_lowpass(sung.astype(np.float64), 0.5), 0.0, 1.0)


def hold_notes(track: np.ndarray, note_spans: list[tuple[int, int]]) -> np.ndarray:
    """`track` (100 Hz) with each note's span replaced by the track's median over the note: one shape held."""
    out = np.asarray(track, np.float64).copy()
    for a, b in note_spans:
        out[a:b] = np.median(out[a:b])
    return out


def note_loudness(level_db: np.ndarray, speech_db: float) -> np.ndarray:
    """0..LOUDNESS_MAX loudness envelope for sung notes (vibrato tremolo removed): 1 at the clip's loud parts,
    halving with every 10 dB below them (Stevens' power law: +10 dB sounds about twice as loud)."""
    rel = _lowpass(np.asarray(level_db, np.float64) - speech_db, NOTE_LOUDNESS_HZ)
    return np.clip(2.0 ** (rel / 10.0), 0.0, LOUDNESS_MAX)


LOUDNESS_MAX = 1.2  # a note louder than the clip's loud parts opens a little wider, not without limit
