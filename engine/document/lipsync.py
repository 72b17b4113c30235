"""Lip-sync lanes as editable data (Papagayo-style), Qt-free: the word lane, boundary drags that retime the base
layer's mouth locally, and relabelling a phoneme or viseme that reshapes the mouth over its span.

The base layer (engine.a2l.base_layer.BaseLayer) has words, phonemes, visemes and blinks. Projects saved before
the base layer kept its words have none: their words are derived here from the phones and the transcript (each
transcript word takes as many phones as its pronunciation has), and the first lip-sync edit stores them. Edits
return a new BaseLayer that differs from the old one only over the edited stretch; the editor swaps it in as one
undo step (edit layers are kept).
"""
from __future__ import annotations

import bisect
import dataclasses
import functools
import os

import numpy as np

from engine.a2l.base_layer import BaseLayer, Segment

SILENCE = "SIL"


# --- words ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _dictionary() -> dict[str, tuple[str, ...]]:
    """The CMU dictionary shipped with pocketsphinx (first pronunciation of each word), or empty."""
    try:
        import pocketsphinx
    except ImportError:
        return {}
    path = os.path.join(pocketsphinx.get_model_path(), "en-us", "cmudict-en-us.dict")
    out: dict[str, tuple[str, ...]] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) > 1 and "(" not in parts[0]:
                    out.setdefault(parts[0], tuple(parts[1:]))
    except OSError:
        return {}
    return out


def pronunciation(word: str) -> tuple[str, ...]:
    from engine.a2l.pronounce import letter_to_sound

    return _dictionary().get(word) or tuple(letter_to_sound(word))


def words_from_phones(phones: list[Segment], transcript: str) -> list[Segment]:
    """Word segments over a phone track aligned from `transcript`: transcript words take consecutive non-silent
    phones, as many as their pronunciation has (spread proportionally when the counts disagree)."""
    from engine.a2l.phonemes import transcript_words

    words = transcript_words(transcript)
    spoken = [p for p in phones if p.label != SILENCE]
    if not words or not spoken:
        return []
    counts = np.array([max(len(pronunciation(w)), 1) for w in words], dtype=np.float64)
    edges = np.concatenate([[0.0], np.cumsum(counts)]) * (len(spoken) / counts.sum())
    out = []
    for word, a, b in zip(words, edges[:-1], edges[1:]):
        i, j = int(round(a)), max(int(round(b)), int(round(a)) + 1)
        i, j = min(i, len(spoken) - 1), min(j, len(spoken))
        out.append(Segment(spoken[i].start, spoken[j - 1].end, word))
    return out


def typed_words(part: BaseLayer, transcript: str | None) -> list[Segment]:
    """The word lane of a stretch predicted from a typed transcript: the words the alignment timed when they
    are the typed ones, else (the alignment failed and the words were recognised, or the backend gives no words)
    the typed words spread over the phones; without a transcript, whatever words the prediction has."""
    from engine.a2l.phonemes import transcript_words

    if not transcript:
        return list(part.words)  # (re-predicted without text: the recognised words)
    if part.words and transcript_words(" ".join(w.label for w in part.words)) == transcript_words(transcript):
        return list(part.words)
    return words_from_phones(part.phonemes, transcript)


def word_segments(project) -> list[Segment]:
    """The word lane of a project: the base layer's words, else words derived from its phones and transcript."""
    base = project.base
    if base.words:
        return list(base.words)
    transcript = getattr(project.a2l.config, "transcript", None)
    if not transcript or not base.phonemes:
        return []
    return words_from_phones(base.phonemes, transcript)


# --- boundary drags: a local time warp of the base layer ------------------------------------------------
def warp_map(anchors_from: list[float], anchors_to: list[float]):
    """A piecewise-linear, monotonic time map through the anchor pairs (identity outside them)."""
    xs, ys = np.asarray(anchors_from, float), np.asarray(anchors_to, float)
    if np.any(np.diff(xs) <= 0) or np.any(np.diff(ys) <= 0):
        raise ValueError("boundaries must stay in order")

    def f(t):
        t = np.asarray(t, float)
        return np.where((t < xs[0]) | (t > xs[-1]), t, np.interp(t, xs, ys))

    return f


def _warp_segments(segments: list[Segment], f) -> list[Segment]:
    return [Segment(float(f(s.start)), float(f(s.end)), s.label) for s in segments]


def move_boundary(base: BaseLayer, lane: str, index: int, new_time: float, min_len: float = 0.02,
                  words: list[Segment] | None = None) -> BaseLayer:
    """Moves the boundary between segment `index` - 1 and `index` of a lane ("phonemes", "visemes" or "words",
    the latter given as `words`) to `new_time`. The mouth tracks (offsets and weights) and every lane's segments
    between the two segments' outer edges are time-warped with it; the rest of the base layer is unchanged
    (the head pose too: it follows prosody, not the phones)."""
    segments = words if lane == "words" else getattr(base, lane)
    if not 0 < index < len(segments):
        raise IndexError(f"no boundary before segment {index} of the {lane}")
    left, right = segments[index - 1], segments[index]
    old = right.start
    new_time = float(np.clip(new_time, left.start + min_len, right.end - min_len))
    f = warp_map([left.start, old, right.end], [left.start, new_time, right.end])
    return warp_base(base, f, left.start, right.end, words)


def warp_base(base: BaseLayer, f, start: float, end: float, words: list[Segment] | None = None) -> BaseLayer:
    """The base layer with its mouth tracks resampled through the inverse of the time map `f` over
    [start, end] (a frame at new time t shows what was at f^-1(t)) and its segments mapped by f."""
    fps = base.fps
    n = base.frame_count
    frames = np.arange(max(int(np.floor(start * fps)), 0), min(int(np.ceil(end * fps)) + 1, n))
    offsets, weights = base.offsets, dict(base.weights)
    if frames.size:
        grid = np.linspace(start, end, 512)
        inverse = np.interp(frames / fps, f(grid), grid)  # f is monotonic: invert by swapping axes
        src = np.clip(inverse * fps, 0, n - 1)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n - 1)
        w = (src - i0)[:, None, None]
        offsets = base.offsets.copy()
        offsets[frames] = ((1 - w) * base.offsets[i0] + w * base.offsets[i1]).astype(base.offsets.dtype)
        for name, track in base.weights.items():
            new = track.copy()
            new[frames] = ((1 - w[:, 0, 0]) * track[i0] + w[:, 0, 0] * track[i1]).astype(track.dtype)
            weights[name] = new
    fields = {"offsets": offsets, "weights": weights, "phonemes": _warp_segments(base.phonemes, f),
              "visemes": _warp_segments(base.visemes, f)}
    if words is not None:
        fields["words"] = _warp_segments(words, f)
    return dataclasses.replace(base, **fields)


# --- relabelling ----------------------------------------------------------------------------------------
def _bump(times: np.ndarray, start: float, end: float, ramp: float) -> np.ndarray:
    ramp = max(min(ramp, 0.5 * (end - start)), 1e-6)
    w = np.minimum(np.clip((times - (start - ramp)) / (2 * ramp), 0, 1), np.clip(((end + ramp) - times) / (2 * ramp), 0, 1))
    return w * w * (3 - 2 * w)


def relabel(base: BaseLayer, lane: str, index: int, label: str, rig, ramp: float = 0.04) -> BaseLayer:
    """Gives segment `index` of the phonemes or visemes another label, and reshapes the mouth over its span:
    the mouth controls move from the old shape's targets to the new one's (the embedded backend's viseme
    table), eased in and out over `ramp` seconds; offsets follow through the rig. Outside the span (plus the
    ramps) nothing changes."""
    from engine.a2l.visemes import diphthong_middle, mouth_controls, target_matrix, visemes_of

    segments = list(getattr(base, lane))
    seg = segments[index]
    controls = mouth_controls()
    targets = target_matrix(controls)  # (visemes, controls)
    names = _viseme_names()
    n = base.frame_count
    t = np.arange(n) / base.fps
    envelope = _bump(t, seg.start, seg.end, ramp)
    frames = np.flatnonzero(envelope > 0)

    # a diphthong's onset before the span's middle, its offglide after it, eased over `ramp` like the edges
    offglide = np.clip((t[frames] - diphthong_middle(seg.start, seg.end)) / (2 * max(ramp, 1e-6)) + 0.5, 0, 1)
    offglide = (offglide * offglide * (3 - 2 * offglide))[:, None]

    def rows(lab: str) -> np.ndarray:
        """(len(frames), controls): the label's targets over the span."""
        parts = (lab,) if lane == "visemes" else visemes_of(lab)
        table = [targets[names.index(v)] if v in names else np.zeros(len(controls)) for v in parts]
        return table[0] + (table[-1] - table[0]) * offglide

    delta = rows(label) - rows(seg.label)
    segments[index] = Segment(seg.start, seg.end, label)
    fields = {lane: segments}
    if frames.size and np.any(delta) and base.weights:
        weights = dict(base.weights)
        changes = {}
        for j, name in enumerate(controls):
            if np.any(delta[:, j]) and name in weights and name in rig.controls:
                new = weights[name].astype(np.float64)
                new[frames] = np.clip(new[frames] + delta[:, j] * envelope[frames], 0.0, 1.0)
                changes[name] = new - weights[name]
                weights[name] = new.astype(base.weights[name].dtype)
        if changes:
            offsets = base.offsets.copy()
            offsets[frames] += rig.offsets({k: v[frames] for k, v in changes.items()}).astype(offsets.dtype)
            fields.update(offsets=offsets, weights=weights)
    if lane == "phonemes":
        from engine.a2l.visemes import viseme_segments

        fields["visemes"] = _respliced_visemes(base.visemes, viseme_segments(segments), seg.start, seg.end)
    return dataclasses.replace(base, **fields)


def _viseme_names() -> list[str]:
    from engine.a2l.visemes import VISEMES

    return list(VISEMES)


def label_choices(lane: str) -> list[str]:
    """What a phoneme (ARPAbet) or viseme segment may be relabelled to."""
    from engine.a2l.visemes import PHONE_TO_VISEME, VISEMES

    return list(VISEMES) if lane == "visemes" else sorted(PHONE_TO_VISEME)


def _respliced_visemes(old: list[Segment], new: list[Segment], start: float, end: float) -> list[Segment]:
    """The viseme track with the stretch [start, end] taken from `new` (the rest of `old` as it was)."""
    keep = [s for s in old if s.end <= start + 1e-9 or s.start >= end - 1e-9]
    inside = [Segment(max(s.start, start), min(s.end, end), s.label) for s in new if s.end > start and s.start < end]
    return sorted(keep + inside, key=lambda s: s.start)


def segment_at(segments: list[Segment], t: float) -> int | None:
    starts = [s.start for s in segments]
    i = bisect.bisect_right(starts, t) - 1
    return i if 0 <= i < len(segments) and segments[i].start <= t < segments[i].end else None


# --- re-predicting a stretch ----------------------------------------------------------------------------
def _clip_segments(segments: list[Segment], start: float, end: float, shift: float = 0.0) -> list[Segment]:
    out = []
    for s in segments:
        a, b = max(s.start + shift, start), min(s.end + shift, end)
        if b - a > 1e-6:
            out.append(Segment(a, b, s.label))
    return out


def _outside(segments: list[Segment], start: float, end: float) -> list[Segment]:
    return _clip_segments(segments, -np.inf, start) + _clip_segments(segments, end, np.inf)


def splice(base: BaseLayer, part: BaseLayer, offset: float, start: float, end: float, fade: float = 0.04,
           words: list[Segment] | None = None, part_words: list[Segment] | None = None) -> BaseLayer:
    """`base` with the stretch [start, end] taken from `part` (a prediction of the audio from `offset` seconds on,
    at the same frame rate): mouth offsets and weight tracks cross-fade over `fade` seconds at the edges, the
    phonemes and visemes (and words) inside the stretch come from `part`; the head pose and blinks stay."""
    from engine.document.edits import ease_window

    fps = base.fps
    n = base.frame_count
    t = np.arange(n) / fps
    w = ease_window(t, start, end, fade)
    frames = np.flatnonzero(w > 0)
    src = np.clip(np.round((t[frames] - offset) * fps).astype(int), 0, part.frame_count - 1)
    wf = w[frames]
    part_offsets = part.offsets[src].astype(np.float64)
    blinks = [n for n in ("eyeBlinkLeft", "eyeBlinkRight") if n in part.weights and n in base.weights]
    if blinks:  # the stretch keeps its old blinks: swap the part's blink offsets for the old ones
        from engine.rig import load_rig

        rig = load_rig()
        part_offsets += rig.offsets({n: base.weights[n][frames] for n in blinks}) - rig.offsets(
            {n: part.weights[n][src] for n in blinks})
    offsets = base.offsets.copy()
    offsets[frames] = ((1 - wf)[:, None, None] * base.offsets[frames]
                       + wf[:, None, None] * part_offsets).astype(base.offsets.dtype)
    weights = dict(base.weights)
    for name, track in part.weights.items():
        if name in weights and not name.startswith("eyeBlink"):
            new = weights[name].copy()
            new[frames] = ((1 - wf) * new[frames] + wf * track[src]).astype(new.dtype)
            weights[name] = new
    phonemes = sorted(_outside(base.phonemes, start, end) + _clip_segments(part.phonemes, start, end, offset),
                      key=lambda s: s.start)
    visemes = sorted(_outside(base.visemes, start, end) + _clip_segments(part.visemes, start, end, offset),
                     key=lambda s: s.start)
    new_words = sorted(_outside(words or [], start, end) + _clip_segments(part_words or [], start, end, offset),
                       key=lambda s: s.start)
    return dataclasses.replace(base, offsets=offsets, weights=weights, phonemes=phonemes, visemes=visemes,
                               words=new_words)
