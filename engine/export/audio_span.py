"""How much audio goes with N rendered frames (shared by the MP4 and the PNG-sequence writers)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from engine.audio.decode import AudioClip


def samples_at(frame_index: int, fps: Fraction, rate: int) -> int:
    """Audio sample at which a frame starts."""
    return round(frame_index * rate * fps.denominator / fps.numerator)


def output_audio_samples(n_frames: int, fps: Fraction, rate: int, available: int) -> int:
    """Samples of audio to write with `n_frames` frames, given `available` samples from the render start.

    Audio longer than the frames is cut at the end of the last frame (in/out-range renders); audio that
    ends inside the last frame ends the output there (the last frame is shortened, so a full render lasts
    exactly as long as its audio); audio that ends earlier is padded with silence to the end of the video."""
    full = samples_at(n_frames, fps, rate)
    if available >= full or available <= samples_at(n_frames - 1, fps, rate):
        return full
    return available


def audio_excerpt(audio: AudioClip, offset: float, n_frames: int, fps: Fraction) -> np.ndarray:
    """(samples, channels) float32 of the original audio that goes with `n_frames` frames from `offset` s."""
    start = min(audio.samples.shape[0], round(offset * audio.rate))
    available = audio.samples[start:]
    total = output_audio_samples(n_frames, fps, audio.rate, available.shape[0])
    excerpt = available[:total]
    if excerpt.shape[0] < total:
        excerpt = np.pad(excerpt, ((0, total - excerpt.shape[0]), (0, 0)))
    return np.ascontiguousarray(excerpt, dtype=np.float32)
