"""Blinks at natural intervals: seeded, about 17 per minute at blink_rate 1 (adults in conversation),
never closer than 1.2 s, slightly more likely in pauses of the speech."""
from __future__ import annotations

import numpy as np

from engine.a2l.base_layer import Segment
from engine.easing import smoothstep

BLINKS_PER_MINUTE = 17.0
MIN_GAP_S = 1.2
CLOSE_S, HOLD_S, OPEN_S = 0.08, 0.04, 0.16


def blink_times(duration: float, rng: np.random.Generator, rate: float = 1.0,
                pause: np.ndarray | None = None, fps: float = 30.0) -> list[float]:
    """Blink start times in seconds. Intervals are gamma distributed (shape 3: fairly regular); a blink
    that falls during speech is nudged to a pause within 0.5 s when there is one."""
    if rate <= 0 or duration <= 0:
        return []
    mean_gap = 60.0 / (BLINKS_PER_MINUTE * rate)
    times, t = [], rng.uniform(0.3, max(0.31, min(mean_gap, duration)))
    while t < duration - (CLOSE_S + HOLD_S + OPEN_S):
        if pause is not None and len(pause):
            f = int(t * fps)
            lo, hi = max(0, f - int(0.5 * fps)), min(len(pause), f + int(0.5 * fps) + 1)
            quiet = np.flatnonzero(pause[lo:hi])
            if len(quiet) and not pause[min(f, len(pause) - 1)]:
                t = (lo + quiet[np.argmin(np.abs(lo + quiet - f))]) / fps
        if not times or t - times[-1] >= MIN_GAP_S:
            times.append(float(t))
        t += max(MIN_GAP_S, rng.gamma(3.0, mean_gap / 3.0))
    return times


def blink_track(times: list[float], frame_count: int, fps: float) -> tuple[np.ndarray, list[Segment]]:
    """(T,) eyelid closure 0..1 and the blink segments."""
    t = np.arange(frame_count) / fps
    track = np.zeros(frame_count, np.float32)
    segments = []
    for start in times:
        d = t - start
        closing = np.clip(d / CLOSE_S, 0, 1)
        opening = np.clip(1.0 - (d - CLOSE_S - HOLD_S) / OPEN_S, 0, 1)
        shape = np.where(d < CLOSE_S, closing, opening)
        shape = np.where((d >= 0) & (d <= CLOSE_S + HOLD_S + OPEN_S), shape, 0.0)
        # lids accelerate and decelerate
        track = np.maximum(track, smoothstep(shape).astype(np.float32))
        segments.append(Segment(start, start + CLOSE_S + HOLD_S + OPEN_S, "blink"))
    return track, segments
