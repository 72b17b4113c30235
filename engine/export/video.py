"""MP4 writer: H.264 (libx264, yuv420p, BT.709) + AAC of the original audio, through PyAV.

Frames are encoded as they arrive (a render can be any length) into a temporary file beside the target,
renamed over it by close(); abort() removes it. The audio decides the length: a render of N frames whose
audio ends inside the last frame gets that frame shortened, so the video and the audio end together."""
from __future__ import annotations

import math
import os
import warnings
from fractions import Fraction
from typing import NoReturn

import numpy as np

from engine.audio.decode import AudioClip, resample
from engine.errors import ExportError
from engine.export.audio_span import output_audio_samples, samples_at
from engine.export.atomic import CommitOnExit, prepare_target, remove_quietly, temp_sibling

_AAC_FALLBACK_RATE = 48_000
_TICKS_PER_SECOND_MIN = 48_000  # video time base resolution: fine enough to end the last frame on an audio sample
_BT709 = 1  # AVCOL_PRI_BT709 = AVCOL_TRC_BT709 = AVCOL_SPC_BT709
_LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG: what players assume for H.264
# libx264 speed/compression trade-off, chosen by measurement (bench/bench_encoder.py: 300 frames of 512x512 warp
# renders at CRF 18, 2 cores): superfast encodes in a third of medium's CPU time (3.9 vs 11.9 ms a frame, the
# RGB -> YUV conversion included) at the same quality (SSIM 0.9883 both, PSNR +0.02 dB); it spends ~1.8x the
# bits (850 vs 480 kbit/s, 6 MB a minute). veryfast is as fast but loses 0.003 SSIM.
DEFAULT_PRESET = "superfast"
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def fps_fraction(fps: float | Fraction) -> Fraction:
    """Exact frame rate: NTSC rates given as floats (29.97, 23.976, 59.94) become n*1000/1001."""
    if isinstance(fps, Fraction):
        rate = fps
    else:
        fps = float(fps)
        if not math.isfinite(fps) or fps <= 0:
            raise ExportError(f"frame rate must be a positive number, got {fps}")
        ntsc = round(fps * 1.001)
        if abs(fps - round(fps)) > 1e-6 and abs(fps * 1.001 - ntsc) < 2e-3:
            rate = Fraction(ntsc * 1000, 1001)
        else:
            rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ExportError(f"frame rate must be a positive number, got {fps}")
    return rate


class VideoWriter(CommitOnExit):
    """`with VideoWriter(path, w, h, fps, audio) as out: out.write(frame)`; an exception inside the block
    aborts (no file is left at `path`, an existing one is untouched)."""

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float | Fraction,
                 audio: AudioClip | None = None, audio_offset: float = 0.0, crf: int = 18,
                 preset: str = DEFAULT_PRESET):
        if width <= 0 or height <= 0:
            raise ExportError(f"video size must be positive, got {width}x{height}")
        # H.264 in 4:2:0 needs an even width and height: a frame of odd size (a phone's or an editor's odd crop)
        # loses its last column / row, so every other pixel stays where it was.
        if width < 2 or height < 2:
            raise ExportError(f"a video must be at least 2x2 pixels, got {width}x{height}")
        self.frame_shape = (int(height), int(width), 3)
        if width % 2 or height % 2:
            warnings.warn(f"H.264 needs an even width and height: the {width}x{height} frames are written as "
                          f"{width - width % 2}x{height - height % 2} (the last column or row left out)", stacklevel=2)
            width, height = width - width % 2, height - height % 2
        if not 0 <= crf <= 51:
            raise ExportError(f"H.264 quality (crf) must be between 0 and 51, got {crf}")
        if preset not in PRESETS:
            raise ExportError(f"unknown H.264 preset {preset!r}: one of {', '.join(PRESETS)}")
        if audio_offset < 0:
            raise ExportError(f"audio offset must be >= 0 seconds, got {audio_offset}")
        self.path = prepare_target(path)
        self.width, self.height = int(width), int(height)
        self.fps = fps_fraction(fps)
        self.frames_written = 0
        self._tmp = temp_sibling(self.path)
        self._closed = False

        # Time base: an integer number of ticks per frame, and at least 48000 ticks per second.
        scale = math.ceil(_TICKS_PER_SECOND_MIN / self.fps.numerator)
        self._ticks_per_frame = scale * self.fps.denominator
        self._time_base = Fraction(1, scale * self.fps.numerator)
        self._audio = _prepare_audio(audio, audio_offset) if audio is not None else None

        import av

        try:
            self._container = av.open(self._tmp, "w", format="mp4", options={"movflags": "+faststart"})
        except (av.error.FFmpegError, OSError) as exc:
            raise ExportError(f"cannot write {self.path}: {exc}") from None
        try:
            self._video = self._container.add_stream(
                "libx264", rate=self.fps, time_base=self._time_base, width=self.width, height=self.height,
                pix_fmt="yuv420p", options={"crf": str(int(crf)), "preset": preset})
            ctx = self._video.codec_context
            ctx.color_primaries = ctx.color_trc = ctx.colorspace = _BT709
            ctx.color_range = _LIMITED_RANGE
            self._audio_stream = None
            if self._audio is not None:
                samples, rate = self._audio
                channels = samples.shape[0]
                self._audio_stream = self._container.add_stream(
                    "aac", rate=rate, layout="mono" if channels == 1 else "stereo",
                    bit_rate=min(96_000 * channels, 256_000))
            self._audio_done = 0  # samples of the output audio already encoded
            self._pending = None  # newest frame, held back until we know whether it is the last one
        except Exception:
            self.abort()
            raise

    # -- public API ---------------------------------------------------------------------------------------
    def write(self, frame_rgb: np.ndarray) -> None:
        """Encodes one RGB uint8 frame (height, width, 3)."""
        if self._closed:
            raise ExportError(f"cannot write to {self.path}: the writer is already closed")
        frame_rgb = np.asarray(frame_rgb)
        if frame_rgb.shape != self.frame_shape or frame_rgb.dtype != np.uint8:
            raise ExportError(f"frame must be uint8 RGB of shape {self.frame_shape}, got {frame_rgb.dtype} "
                              f"{frame_rgb.shape}")
        frame_rgb = frame_rgb[:self.height, :self.width]
        try:
            if self._pending is not None:
                self._encode_video(self._pending, self._ticks_per_frame)
            self._pending = self._to_yuv(frame_rgb, self.frames_written)
            self.frames_written += 1
            # Audio up to the start of the newest frame keeps the file interleaved without buffering.
            self._encode_audio_until(self._audio_samples_at(self.frames_written - 1))
        except Exception as exc:
            self._fail(exc)

    def finish(self) -> None:
        """Finalises the temporary file (the last frames, the audio's end, the index: the writes a full disk
        fails) without replacing the target yet."""
        if self._closed or self._container is None:
            return
        if self.frames_written == 0:
            self.abort()
            raise ExportError(f"no frames were written to {self.path}")
        try:
            last_ticks, audio_total = self._ending()
            self._encode_video(self._pending, last_ticks, last=True)
            self._pending = None
            self._mux(self._video.encode(None), last_ticks)
            if self._audio_stream is not None:
                self._encode_audio_until(audio_total)
                self._container.mux(self._audio_stream.encode(None))
            self._container.close()
            self._container = None
        except Exception as exc:
            self._fail(exc)

    def close(self) -> list[str]:
        """Finalises the file and moves it to the target path; returns [that path]."""
        if self._closed:
            return [self.path]
        self.finish()
        try:
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self._fail(exc)
        self._closed = True
        return [self.path]

    def _fail(self, exc: Exception) -> NoReturn:
        """Aborts, then raises: a file-system failure (disk full, folder gone) as one line, any other as it was."""
        self.abort()
        if isinstance(exc, OSError):
            raise ExportError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        raise exc

    def abort(self) -> None:
        """Stops writing and removes the partial output (the target path is never touched)."""
        if getattr(self, "_container", None) is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the file is being discarded, its state does not matter
                pass
            self._container = None
        self._closed = True
        self._pending = None
        remove_quietly(self._tmp)

    # -- internals ----------------------------------------------------------------------------------------
    def _to_yuv(self, frame_rgb: np.ndarray, index: int):
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_rgb), format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.pts = index * self._ticks_per_frame
        frame.time_base = self._time_base
        return frame

    def _encode_video(self, frame, duration_ticks: int, last: bool = False) -> None:
        frame.duration = duration_ticks
        self._mux(self._video.encode(frame), duration_ticks if last else None)

    def _mux(self, packets, last_ticks: int | None) -> None:
        last_pts = (self.frames_written - 1) * self._ticks_per_frame
        for packet in packets:
            # libx264 does not carry frame durations; the MP4 muxer takes the last frame's from its packet.
            if last_ticks is not None and packet.pts == last_pts:
                packet.duration = last_ticks
            self._container.mux(packet)

    def _audio_samples_at(self, frame_index: int) -> int:
        return samples_at(frame_index, self.fps, self._audio[1]) if self._audio is not None else 0

    def _ending(self) -> tuple[int, int]:
        """(ticks of the last frame, total output audio samples): see output_audio_samples."""
        if self._audio is None:
            return self._ticks_per_frame, 0
        samples, rate = self._audio
        total = output_audio_samples(self.frames_written, self.fps, rate, samples.shape[1])
        end_ticks = round(Fraction(total, rate) / self._time_base)
        last_ticks = end_ticks - (self.frames_written - 1) * self._ticks_per_frame
        return max(1, min(self._ticks_per_frame, last_ticks)), total

    def _encode_audio_until(self, total: int) -> None:
        if self._audio_stream is None or total <= self._audio_done:
            return
        import av

        samples, rate = self._audio
        chunk = np.clip(samples[:, self._audio_done:total], -1.0, 1.0)  # a chunk at a time: no copy of the whole
        if chunk.shape[1] < total - self._audio_done:  # past the end of the audio: silence
            chunk = np.pad(chunk, ((0, 0), (0, total - self._audio_done - chunk.shape[1])))
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp",
                                           layout="mono" if chunk.shape[0] == 1 else "stereo")
        frame.sample_rate = rate
        frame.pts = self._audio_done
        frame.time_base = Fraction(1, rate)
        self._container.mux(self._audio_stream.encode(frame))
        self._audio_done = total


def _prepare_audio(audio: AudioClip, offset: float) -> tuple[np.ndarray, int]:
    """The audio from `offset` on as planar float32 (channels, samples) at a rate AAC supports (a view of the
    clip where it can be: the writer clips it to [-1, 1] a chunk at a time). Decoded files have at most two
    channels (engine.audio.decode mixes surround down); a clip made in code with more is mixed to mono."""
    import av

    samples = np.asarray(audio.samples, dtype=np.float32)
    start = min(samples.shape[0], round(offset * audio.rate))
    planar = samples[start:].T
    if planar.shape[0] > 2:
        planar = planar.mean(axis=0, keepdims=True)
    rate = int(audio.rate)
    if rate not in av.codec.Codec("aac", "w").audio_rates:
        planar = np.stack([resample(ch, rate, _AAC_FALLBACK_RATE) for ch in planar])
        rate = _AAC_FALLBACK_RATE
    return planar, rate
