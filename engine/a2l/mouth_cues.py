"""Rhubarb Lip Sync style mouth cues (shapes A-H and X) from a base layer's viseme track and its jaw.

JSON: {"metadata": {"soundFile", "duration"}, "mouthCues": [{"start", "end", "value"}]} (times in seconds,
2 decimals, as Rhubarb writes them). TSV: one `seconds<TAB>shape` line per cue start, from 0.00, and a
last line at the end of the recording with the closed mouth X.
"""
from __future__ import annotations

import json
import math

import numpy as np

from engine.a2l.base_layer import BaseLayer
from engine.a2l.visemes import VISEME_SHAPES, VISEME_TO_RHUBARB

# Where the phones do not describe the animated mouth (a stretch the recogniser calls silence while the voice
# goes on and the mouth moves), the shape follows the animated jaw: the nearest of the shapes' own openings in
# the viseme table (X rest 0, B a consonant ~0.16, C "E" 0.42, D "aa" 0.7), boundaries halfway between.
OPEN_SHAPES = ((0.08, "X"), (0.5 * (0.16 + VISEME_SHAPES["E"][0]), "B"),
               (0.5 * (VISEME_SHAPES["E"][0] + VISEME_SHAPES["aa"][0]), "C"), (np.inf, "D"))
# Below this jaw the speech gate holds the mouth at rest: phones heard in music or noise show X, not a shape
# the mouth does not make. (The closed shapes A and G stay: they are closed.)
REST_JAW = 0.02
CLOSED_SHAPES = ("A", "G", "X")


def _frame_shapes(base: BaseLayer, lead_s: float = 0.0) -> list[str]:
    """The Rhubarb shape of every frame: its viseme's (`lead_s` ahead, as the backend animates the mouth
    ahead of the sound), or the animated jaw's where the phones say silence or the mouth is at rest."""
    n = base.frame_count
    times = np.arange(n) / base.fps + lead_s
    segs = [s for s in base.visemes if s.end > s.start]
    shapes = np.full(n, "X", dtype=object)
    if segs:
        ends = np.array([s.end for s in segs])
        k = np.searchsorted([s.start for s in segs], times, side="right") - 1
        inside = (k >= 0) & (times < ends[np.maximum(k, 0)])
        shapes[inside] = np.array([VISEME_TO_RHUBARB.get(s.label, "X") for s in segs], dtype=object)[k[inside]]
    jaw = base.weights.get("jawOpen")
    if jaw is not None:
        limits, names = zip(*OPEN_SHAPES)
        by_jaw = np.array(names, dtype=object)[np.searchsorted(limits, jaw[:n], side="right")]
        at_rest = ~np.isin(shapes, CLOSED_SHAPES) & (jaw[:n] < REST_JAW)
        silent = shapes == "X"
        shapes[silent] = by_jaw[silent]
        shapes[at_rest] = "X"
        # A (lips pressed) only where the animated lips do close: a recognised bilabial only narrows the mouth
        # (the closure is trusted by half), and the jaw less mouthClose is how far the lips stay apart there
        close = base.weights.get("mouthClose")
        gap = jaw[:n] - (close[:n] if close is not None else 0.0)
        parted = (shapes == "A") & (gap >= limits[0])
        shapes[parted] = np.array(names, dtype=object)[np.searchsorted(limits, gap[parted], side="right")]
    return shapes.tolist()


# A mouth shape held for one frame reads as a flicker in a drawn mouth (the jaw crossing a shape's boundary for a
# frame, at 60 fps a 17 ms "B"): it joins the cue before it. Lips pressed (A) stay: a closure must show.
MIN_CUE_FRAMES = 2


def _steady(shapes: list[str]) -> list[str]:
    """`shapes` with runs shorter than MIN_CUE_FRAMES (other than A) taken by the run before them (the first by
    the one after it)."""
    runs: list[list] = []  # [shape, frames]
    for shape in shapes:
        if runs and runs[-1][0] == shape:
            runs[-1][1] += 1
        else:
            runs.append([shape, 1])
    for i, (shape, length) in enumerate(runs):
        if length < MIN_CUE_FRAMES and shape != "A" and len(runs) > 1:
            runs[i][0] = runs[i - 1][0] if i > 0 else runs[i + 1][0]
    return [shape for shape, length in runs for _ in range(length)]


def mouth_cues(base: BaseLayer, duration: float | None = None, lead_s: float = 0.0) -> list[tuple[float, float, str]]:
    """(start, end, shape) covering 0..duration (the sound's, as Rhubarb gives it; the animation's whole frames
    by default) at the animation's frames; neighbouring frames of the same shape are one cue, and none is held for
    less than MIN_CUE_FRAMES but lips pressed."""
    duration = base.duration if duration is None else min(duration, base.duration)
    shapes = _steady(_frame_shapes(base, lead_s)) or ["X"]
    cues: list[tuple[float, float, str]] = []
    for i, shape in enumerate(shapes):
        start = i / base.fps
        if cues and cues[-1][2] == shape:
            continue
        if cues:
            cues[-1] = (cues[-1][0], start, cues[-1][2])
        cues.append((start, duration, shape))
    if len(cues) > 1 and cues[-1][1] - cues[-1][0] < 0.005:  # the sound ends just inside the last frame
        cues[-2:] = [(cues[-2][0], duration, cues[-2][2])]  # (a cue of 0.00 s once rounded)
    return cues


def _written(cues: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """The cues with their times in Rhubarb's hundredths: a cue that starts on a frame is written at or just
    before that frame's time, never after it (rounded, frame 20 at 30 fps, 0.6667 s, became 0.67, and a player
    looking the cue up at the frame's time showed the one before for a frame); the sound's end is rounded."""
    def down(t: float) -> float:
        return math.floor(t * 100.0 + 1e-6) / 100.0

    out = [(down(a), down(b), v) for a, b, v in cues]
    out[-1] = (out[-1][0], round(cues[-1][1], 2), out[-1][2])
    return [c for c in out if c[1] > c[0]]  # (a one-frame A at 120 fps can fall within one hundredth)


def mouth_cues_json(base: BaseLayer, sound_file: str, duration: float | None = None, lead_s: float = 0.0) -> str:
    cues = _written(mouth_cues(base, duration, lead_s))
    return json.dumps({"metadata": {"soundFile": sound_file, "duration": cues[-1][1]},
                       "mouthCues": [{"start": a, "end": b, "value": v} for a, b, v in cues]}, indent=2)


def mouth_cues_tsv(base: BaseLayer, duration: float | None = None, lead_s: float = 0.0) -> str:
    cues = _written(mouth_cues(base, duration, lead_s))
    lines = [f"{a:.2f}\t{v}" for a, _b, v in cues]
    lines.append(f"{cues[-1][1]:.2f}\tX")
    return "\n".join(lines) + "\n"
