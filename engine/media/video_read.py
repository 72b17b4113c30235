"""Reads video frames with PyAV (any container/codec FFmpeg knows)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from engine.errors import VideoReadError


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int  # from the container; may be an estimate for some formats
    duration: float
    has_audio: bool


def _open(path: str | os.PathLike):
    import av

    if not os.path.exists(path):
        raise VideoReadError(f"video file not found: {path}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise VideoReadError(f"cannot read {path}: not a recognised video file ({exc})") from None
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"{path} has no video stream")
    return container


def probe_video(path: str | os.PathLike) -> VideoInfo:
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        duration = float(stream.duration * stream.time_base) if stream.duration else float(container.duration or 0) / 1e6
        count = stream.frames or int(round(duration * fps))
        return VideoInfo(stream.codec_context.width, stream.codec_context.height, fps, int(count), duration,
                         bool(container.streams.audio))


def iter_video_frames(path: str | os.PathLike) -> Iterator[tuple[float, np.ndarray]]:
    """Yields (time in seconds, RGB uint8 frame) in presentation order."""
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else float(frame.time or 0.0)
                yield t, frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise VideoReadError(f"cannot decode {path}: {exc}") from None
