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


# Output frames laid at a time: a block's index arithmetic (~70 bytes a sample) stays ~30 MB for 48 kHz sound at
# 25 fps however long the file (a 10-minute 48 kHz stereo bed built it at once, per channel: 1.9 GB).
SOUND_BLOCK_FRAMES = 200


def sound_under_frames(samples: np.ndarray, rate: float, fps: float, frame_map: np.ndarray,
                       lead: float = 0.0) -> np.ndarray:
    """A source's (N,) or (N, C) sound laid under the output frames of `frame_map` (output frame -> source frame):
    each output frame gets its source frame's stretch of sound, reversed where the video plays backwards (a
    ping-pong loop) and silent where it stands still (a held last frame) or runs past the sound's end. `lead`:
    seconds of the sound before the source's first frame (the streams' start times; negative when the picture
    starts first), the sound being decoded from its stream's first sample."""
    frame_map = np.asarray(frame_map, dtype=np.int64)
    samples = np.asarray(samples, dtype=np.float32)
    per_frame = rate / fps  # samples a frame
    total = int(round(len(frame_map) * per_frame))
    out = np.zeros((total,) + samples.shape[1:], np.float32)
    # how the video reached each frame: +1 forwards, -1 backwards, 0 held (the first plays forwards)
    step_in = np.diff(frame_map, prepend=frame_map[0] - 1)
    block = int(SOUND_BLOCK_FRAMES * per_frame)
    for a in range(0, total, block):
        j = np.arange(a, min(a + block, total))
        out_frame = np.minimum(((j + 0.5) / per_frame).astype(np.int64), len(frame_map) - 1)  # by the sample's centre
        offset = j - out_frame * per_frame  # samples into its frame
        step = step_in[out_frame]
        start = frame_map[out_frame] * per_frame + lead * rate
        index = np.round(np.where(step < 0, start + per_frame - 1 - offset, start + offset)).astype(np.int64)
        ok = (step != 0) & (index >= 0) & (index < len(samples))
        out[j[ok]] = samples[index[ok]]
    return out
