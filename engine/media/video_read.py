"""Reads video frames with PyAV (any container/codec FFmpeg knows)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from engine.errors import VideoReadError, reason
from engine.limits import special_file


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


# (Kr, Kb) of the colour standards by their AVColorSpace code: BT.709 (1), BT.601 as BT.470BG (5) and
# SMPTE 170M (6), and unspecified (2), which FFmpeg reads as BT.601 too. Other standards (BT.2020, SMPTE 240M,
# ...) keep FFmpeg's conversion.
_LUMA_WEIGHTS = {1: (0.2126, 0.0722), 2: (0.299, 0.114), 5: (0.299, 0.114), 6: (0.299, 0.114)}
_FULL_RANGE = 2  # AVColorRange of full-range ("JPEG") frames


def _yuv_to_rgb_matrix(kr: float, kb: float, full_range: bool) -> np.ndarray:
    """(3, 4) affine map from [Y, Cb, Cr, 1] code values to R, G, B (0..255)."""
    kg = 1.0 - kr - kb
    y_scale, c_scale = (1.0, 1.0) if full_range else (255.0 / 219.0, 255.0 / 224.0)
    y0 = 0.0 if full_range else 16.0
    m = np.array([[1.0, 0.0, 2.0 * (1.0 - kr)],
                  [1.0, -2.0 * kb * (1.0 - kb) / kg, -2.0 * kr * (1.0 - kr) / kg],
                  [1.0, 2.0 * (1.0 - kb), 0.0]]) * np.array([y_scale, c_scale, c_scale])
    return np.hstack([m, -(m @ np.array([y0, 128.0, 128.0]))[:, None]])


def rgb_of(frame) -> np.ndarray:
    """A decoded frame as RGB uint8, rounded to the nearest level. FFmpeg's own 4:2:0 -> RGB conversion
    truncates: every decode came out ~1 level darker (a dub's untouched pixels, re-encoded, drifted from the
    source). 8-bit 4:2:0 frames of the BT.601 and BT.709 standards (nearly every camera and web video) are
    converted here, chroma upsampled bilinearly; other frames keep FFmpeg's conversion."""
    import cv2

    name = frame.format.name
    if name not in ("yuv420p", "yuvj420p") or frame.colorspace not in _LUMA_WEIGHTS:
        return frame.to_ndarray(format="rgb24")
    w, h = frame.width, frame.height
    planes = [np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size) for plane in frame.planes]
    y = planes[0][:h, :w]
    u, v = (plane[:(h + 1) // 2, :(w + 1) // 2] for plane in planes[1:])
    u = cv2.resize(u, (w, h), interpolation=cv2.INTER_LINEAR)
    v = cv2.resize(v, (w, h), interpolation=cv2.INTER_LINEAR)
    full = name == "yuvj420p" or frame.color_range == _FULL_RANGE
    matrix = _yuv_to_rgb_matrix(*_LUMA_WEIGHTS[frame.colorspace], full)
    return cv2.transform(cv2.merge([y, u, v]), matrix)  # uint8 out: rounded and saturated


def open_video(path: str | os.PathLike):
    """The PyAV container of a video file (VideoReadError if missing, unreadable or without a video stream)."""
    import av

    if not os.path.exists(path):
        raise VideoReadError(f"video file not found: {path}")
    if special_file(path):  # (a FIFO hung dub and reenact until killed)
        raise VideoReadError(f"{path} is not a file but a pipe or a device: save the video to a file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise VideoReadError(f"cannot read {path}: not a recognised video file ({reason(exc)})") from None
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"{path} has no video stream")
    if video_stream(container) is None:
        container.close()
        raise VideoReadError(f"{path} has no video, only a still picture (cover art), so it is an audio file")
    return container


def video_stream(container):
    """The container's first moving-picture stream (an MP3's or M4A's cover art is a one-frame "video" stream
    flagged as an attached picture: not one), or None."""
    import av

    cover = av.stream.Disposition.attached_pic
    return next((s for s in container.streams.video if not s.disposition & cover), None)


def _rotation(container, stream) -> int:
    """The display rotation of the first frame (the display matrix is per stream; PyAV exposes it per frame)."""
    import av

    try:
        frame = next(container.decode(stream))
    except (StopIteration, av.error.FFmpegError):
        return 0
    return int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) * 90


def _decodable_stream(container, path: str | os.PathLike):
    """The container's video stream, where FFmpeg has a decoder for it here (an SVG it demuxes has none)."""
    stream = video_stream(container)
    if stream.codec_context is None:
        raise VideoReadError(f"cannot read {path}: FFmpeg has no decoder here for its pictures")
    return stream


def probe_video(path: str | os.PathLike) -> VideoInfo:
    with open_video(path) as container:
        stream = _decodable_stream(container, path)
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        duration = float(stream.duration * stream.time_base) if stream.duration else float(container.duration or 0) / 1e6
        count = stream.frames or int(round(duration * fps))
        w, h = stream.codec_context.width, stream.codec_context.height
        rotation = _rotation(container, stream)
        if rotation % 180:
            w, h = h, w
        still = container.format.name == "image2" or container.format.name.endswith("_pipe")
        return VideoInfo(w, h, fps, int(count), duration, bool(container.streams.audio), rotation, still)


def frames_spread(path: str | os.PathLike, count: int) -> list[np.ndarray]:
    """About `count` RGB frames spread over the video, as displayed: the keyframe at or before each of `count`
    evenly spaced times (one decode each, however far apart the keyframes are)."""
    import av

    out = []
    with open_video(path) as container:
        stream = video_stream(container)
        duration = float(stream.duration * stream.time_base) if stream.duration else float(container.duration or 0) / 1e6
        for k in range(count):
            t = duration * k / max(count, 1)
            try:
                container.seek(int(t / stream.time_base) + (stream.start_time or 0), stream=stream, backward=True)
                frame = next(container.decode(stream), None)
            except av.error.FFmpegError:
                frame = None
            if frame is not None:
                out.append(upright(rgb_of(frame), getattr(frame, "rotation", 0) or 0))
    return out


def sound_lead(path: str | os.PathLike) -> float:
    """Seconds of the file's sound before its first picture (the streams' start times: a camera or an editor may
    start one before the other); 0 when it has no sound or a stream has no start time."""
    with open_video(path) as container:
        video = video_stream(container)
        if not container.streams.audio:
            return 0.0
        audio = container.streams.audio[0]
        if video.start_time is None or audio.start_time is None:
            return 0.0
        return float(video.start_time * video.time_base - audio.start_time * audio.time_base)


def variable_rate_note(path: str | os.PathLike) -> str | None:
    """What to tell the user when the video's frames stray from a steady rate by more than half a frame (a phone's
    variable frame rate): Talkline shows frame i at i / fps, so its head motion and blinks shift against the
    original timeline. None for a steady video. Reads the packets' times only (no decoding)."""
    with open_video(path) as container:
        stream = _decodable_stream(container, path)
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        times = np.sort([float(p.pts * stream.time_base) for p in container.demux(stream)
                         if p.pts is not None and p.size])
    if len(times) < 2:
        return None
    drift = np.abs(times - times[0] - np.arange(len(times)) / fps).max()
    if drift <= 0.5 / fps:
        return None
    return (f"{os.fspath(path)} has a variable frame rate: its frames are shown at a steady {fps:.6g} fps, up to "
            f"{1000 * drift:.0f} ms from their own times (convert it to a constant rate first for exact timing)")


def iter_video_frames(path: str | os.PathLike) -> Iterator[tuple[float, np.ndarray]]:
    """Yields (time in seconds, RGB uint8 frame as displayed, rotation metadata applied) in presentation order."""
    import av

    with open_video(path) as container:
        stream = video_stream(container)
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else float(frame.time or 0.0)
                yield t, upright(rgb_of(frame), getattr(frame, "rotation", 0) or 0)
        except av.error.FFmpegError as exc:
            raise VideoReadError(f"cannot decode {path}: {reason(exc)} (the file is damaged or cut short)") from None
