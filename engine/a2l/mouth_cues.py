"""Rhubarb Lip Sync style mouth cues (shapes A-H and X) from a base layer's viseme track.

JSON: {"metadata": {"soundFile", "duration"}, "mouthCues": [{"start", "end", "value"}]} (times in seconds,
2 decimals, as Rhubarb writes them). TSV: one `seconds<TAB>shape` line per cue start, from 0.00, and a
last line at the end of the recording with the closed mouth X.
"""
from __future__ import annotations

import json

from engine.a2l.base_layer import BaseLayer
from engine.a2l.visemes import VISEME_TO_RHUBARB


def mouth_cues(base: BaseLayer) -> list[tuple[float, float, str]]:
    """(start, end, shape) covering 0..duration; neighbouring cues of the same shape are merged."""
    cues: list[tuple[float, float, str]] = []
    duration = base.duration
    for seg in base.visemes:
        start, end = max(0.0, seg.start), min(duration, seg.end)
        if end <= start:
            continue
        shape = VISEME_TO_RHUBARB.get(seg.label, "X")
        if cues and cues[-1][2] == shape:
            cues[-1] = (cues[-1][0], end, shape)
        elif cues and start > cues[-1][1]:
            cues.append((cues[-1][1], start, "X"))
            cues.append((start, end, shape))
        else:
            cues.append((start, end, shape))
    if not cues or cues[0][0] > 0:
        cues.insert(0, (0.0, cues[0][0] if cues else duration, "X"))
    if cues[-1][1] < duration:
        cues.append((cues[-1][1], duration, "X"))
    return cues


def mouth_cues_json(base: BaseLayer, sound_file: str) -> str:
    cues = [{"start": round(a, 2), "end": round(b, 2), "value": v} for a, b, v in mouth_cues(base)]
    return json.dumps({"metadata": {"soundFile": sound_file, "duration": round(base.duration, 2)},
                       "mouthCues": cues}, indent=2)


def mouth_cues_tsv(base: BaseLayer) -> str:
    lines = [f"{a:.2f}\t{v}" for a, _b, v in mouth_cues(base)]
    lines.append(f"{base.duration:.2f}\tX")
    return "\n".join(lines) + "\n"
