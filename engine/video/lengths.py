"""When the new audio and the source video differ in length: which source frame each output frame shows."""
from __future__ import annotations

import numpy as np

# pingpong: the video plays forwards then backwards as long as the audio lasts (motion stays alive, no jump);
# hold: the last frame stays; trim: the output ends with the shorter of the two. When the video is longer than
# the audio every mode ends the output with the audio (a dub is as long as its new speech).
FIT_MODES = ("pingpong", "hold", "trim")
DEFAULT_FIT = "pingpong"


def source_frames(source_count: int, audio_frames: int, fit: str = DEFAULT_FIT) -> np.ndarray:
    """(output frames,) index of the source frame each output frame shows."""
    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {', '.join(FIT_MODES)}, got {fit!r}")
    if source_count < 1 or audio_frames < 1:
        raise ValueError("both the video and the audio need at least one frame")
    n = min(source_count, audio_frames) if fit == "trim" else audio_frames
    j = np.arange(n)
    if fit == "hold" or source_count == 1:
        return np.minimum(j, source_count - 1)
    period = 2 * (source_count - 1)
    k = j % period
    return np.where(k < source_count, k, period - k)
