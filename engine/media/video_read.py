"""Reads video frames with PyAV (any container/codec FFmpeg knows)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from engine.errors import VideoReadError


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as displayed (after the rotation metadata)
    height: int
    fps: float
    frame_count: int  # from the container; may be an estimate for some formats
    duration: float
    has_audio: bool
    rotation: int = 0  # counter-clockwise quarter turns x 90 the display matrix asks for (phones: -90 or 90)
    still: bool = False  # a single image (FFmpeg reads photos as one-frame videos)


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The frame as players show it: rotated counter-clockwise by `rotation` degrees (a multiple of 90)."""
    k = (round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def open_video(path: str | os.PathLike):
    """The PyAV container of a video file (VideoReadError if missing, unreadable or without a video stream)."""
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


def _rotation(container, stream) -> int:
    """The display rotation of the first frame (the display matrix is per stream; PyAV exposes it per frame)."""
    import av

    try:
        frame = next(container.decode(stream))
    except (StopIteration, av.error.FFmpegError):
        return 0
    return int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) * 90


def probe_video(path: str | os.PathLike) -> VideoInfo:
    with open_video(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        duration = float(stream.duration * stream.time_base) if stream.duration else float(container.duration or 0) / 1e6
        count = stream.frames or int(round(duration * fps))
        w, h = stream.codec_context.width, stream.codec_context.height
        rotation = _rotation(container, stream)
        if rotation % 180:
            w, h = h, w
        still = container.format.name == "image2" or container.format.name.endswith("_pipe")
        return VideoInfo(w, h, fps, int(count), duration, bool(container.streams.audio), rotation, still)


def iter_video_frames(path: str | os.PathLike) -> Iterator[tuple[float, np.ndarray]]:
    """Yields (time in seconds, RGB uint8 frame as displayed, rotation metadata applied) in presentation order."""
    import av

    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else float(frame.time or 0.0)
                yield t, upright(frame.to_ndarray(format="rgb24"), getattr(frame, "rotation", 0) or 0)
        except av.error.FFmpegError as exc:
            raise VideoReadError(f"cannot decode {path}: {exc}") from None
