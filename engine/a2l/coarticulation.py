"""Coarticulation: per-frame mouth control tracks from a timed viseme sequence.

A dominance model (Cohen & Massaro): every phone pulls each control towards its viseme's target with a
weight that decays with the distance from the phone's centre, scaled by the viseme's dominance; the
frame value is the weighted mean of its neighbours' targets. Vowels therefore shape the consonants
around them (anticipation of the next vowel), lip consonants dominate their neighbours, and the
kernel's minimum width keeps the mouth from flickering at 24-30 fps. Bilabials (P, B, M) are then
forced shut on the frame nearest their centre: a blended closure would leave the lips ajar.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.a2l.base_layer import Segment
from engine.a2l.visemes import VISEMES, dominance, target_matrix, viseme_of, viseme_spans

NEIGHBOURS = 3  # viseme spans (phones; a diphthong is two) either side that influence a frame
PP = VISEMES.index("PP")


@dataclass(frozen=True)
class CoarticulationParams:
    lead_s: float = 0.03  # the mouth moves slightly ahead of the sound
    min_width_s: float = 0.04  # kernel half-width floor: sets the smoothness / anti-flicker
    width_scale: float = 0.6  # kernel half-width as a fraction of the phone's duration


def phone_arrays(phones: list[Segment]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (s), durations (s) and viseme indices of a phone track's viseme spans (a diphthong is two)."""
    spans = viseme_spans(phones)
    if not spans:
        return np.zeros(1), np.ones(1), np.zeros(1, np.int64)
    starts = np.array([p.start for p in spans])
    ends = np.array([p.end for p in spans])
    vis = np.array([VISEMES.index(p.label) for p in spans], np.int64)
    return (starts + ends) / 2.0, np.maximum(ends - starts, 1e-3), vis


def coarticulate(phones: list[Segment], times: np.ndarray, controls: tuple[str, ...],
                 params: CoarticulationParams = CoarticulationParams()) -> np.ndarray:
    """(T, len(controls)) control values at `times` (seconds)."""
    centres, durations, vis = phone_arrays(phones)
    targets = target_matrix(controls)[vis]  # (N, C)
    dom = dominance()[vis]
    width = np.maximum(durations * params.width_scale, params.min_width_s)
    t = np.asarray(times, np.float64) + params.lead_s
    nearest = np.clip(np.searchsorted(centres, t), 0, len(centres) - 1)
    num = np.zeros((len(t), len(controls)))
    den = np.zeros((len(t), 1))
    for k in range(-NEIGHBOURS, NEIGHBOURS + 1):
        i = np.clip(nearest + k, 0, len(centres) - 1)
        # Duplicate indices from clipping at the ends would count a phone twice: keep one copy.
        valid = (nearest + k >= 0) & (nearest + k < len(centres))
        w = dom[i] * np.exp(-(np.abs(t - centres[i]) / width[i]) ** 1.5) * valid
        num += w[:, None] * targets[i]
        den += w[:, None]
    out = num / np.maximum(den, 1e-9)
    return out.astype(np.float32)


def bilabial_frames(phones: list[Segment], fps: float, lead_s: float, frame_count: int,
                    min_frames: int = 1) -> np.ndarray:
    """Indices of the frames that must show closed lips: every frame inside a P/B/M (shifted `lead_s` earlier),
    and at least the `min_frames` frames nearest its centre (a seal of one frame between open ones pops)."""
    frames: list[int] = []
    for p in phones:
        if viseme_of(p.label) != "PP":
            continue
        a, b = (p.start - lead_s) * fps, (p.end - lead_s) * fps
        inside = list(range(int(np.ceil(a)), int(np.floor(b)) + 1))
        if len(inside) < min_frames:
            centre = (a + b) / 2.0
            near = range(int(np.floor(centre)) - min_frames, int(np.ceil(centre)) + min_frames + 1)
            inside = sorted(near, key=lambda f: (abs(f - centre), f))[:min_frames]
        frames += inside
    # a closure cut by the clip's edge still shows on the first/last frame
    return np.unique(np.clip(np.asarray(frames, np.int64), 0, frame_count - 1))
