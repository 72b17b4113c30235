"""Decodes the audio of any common file (WAV, FLAC, MP3, M4A/AAC, OGG, the audio track of
MP4/MOV/MKV) with PyAV. The original samples are kept for the final mux; a mono 16 kHz copy
feeds the analysis."""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from engine.errors import AudioReadError, reason
from engine.limits import special_file

ANALYSIS_RATE = 16_000
SILENCE_DBFS = -60.0
# A mix this far (dB) under its channels' mean level has channels that cancel: one is phase-inverted (a miswired
# balanced microphone). In-phase channels mix at 0 dB and unrelated ones at about -3 dB, so real stereo never
# comes near it.
CANCELLING_MIX_DB = 20.0
# A WAV data size this large is a streaming writer's placeholder, not a length (0xFFFFFFFF, arecord's
# 0x7FFFFFFF into a pipe; 0 too): such a file's end is not known from its header.
UNKNOWN_WAV_LENGTH = 0x7FFFF000


def cancelling_channel(samples: np.ndarray) -> int | None:
    """Where the channels cancel when mixed (CANCELLING_MIX_DB under their mean level): the loudest one, else
    None. Powers are summed per channel without a float64 copy of the whole file."""
    if samples.ndim != 2 or samples.shape[1] < 2 or len(samples) == 0:
        return None
    power = np.einsum("ij,ij->j", samples, samples, dtype=np.float64)
    total = samples.sum(axis=1, dtype=np.float64)
    mixed = float(total @ total) / samples.shape[1] ** 2
    if power.max() <= 0 or mixed >= power.mean() * 10.0 ** (-CANCELLING_MIX_DB / 10.0):
        return None
    return int(np.argmax(power))


@dataclass
class AudioClip:
    samples: np.ndarray  # (N, C) float32 in [-1, 1] at `rate`: the original, for muxing
    rate: int
    source: str = ""
    mono16k: np.ndarray = field(default=None, repr=False)  # (M,) float32 at 16 kHz for analysis
    # the channel analysed alone because the channels cancel in the mix (one phase-inverted), else None
    lone_channel: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if self.samples.ndim == 1:
            self.samples = self.samples[:, None]
        if self.mono16k is None:
            # 16 kHz mono audio (speech recordings often are) is analysed as it is, not copied: a view shares it
            self.lone_channel = cancelling_channel(self.samples)
            if self.samples.shape[1] == 1:
                mono = self.samples[:, 0]
            elif self.lone_channel is not None:
                mono = np.ascontiguousarray(self.samples[:, self.lone_channel])
            else:
                mono = self.samples.mean(axis=1)
            self.mono16k = mono if self.rate == ANALYSIS_RATE and mono.dtype == np.float32 \
                else resample(mono, self.rate, ANALYSIS_RATE)

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / self.rate

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    def frame_count(self, fps: float) -> int:
        """Video frames that cover the audio: ceil(duration * fps), as the reference implementation."""
        from engine.timing import frames_covering

        return frames_covering(self.duration, fps)

    def head(self, seconds: float) -> "AudioClip":
        """The first `seconds` of the clip (all of it when shorter; cut down to a whole sample, so it never
        covers a frame more than `seconds` do); the 16 kHz analysis copy is cut alike."""
        n, m = math.floor(seconds * self.rate + 1e-9), math.floor(seconds * ANALYSIS_RATE + 1e-9)
        if n >= self.samples.shape[0]:
            return self
        return AudioClip(samples=self.samples[:n], rate=self.rate, source=self.source, mono16k=self.mono16k[:m])

    def peak_dbfs(self) -> float:
        peak = float(np.abs(self.samples).max()) if self.samples.size else 0.0
        return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited polyphase resampling of a 1-D signal."""
    x = np.asarray(x, dtype=np.float32)
    if rate_in == rate_out:
        return x.copy()
    from scipy.signal import resample_poly

    g = math.gcd(int(rate_in), int(rate_out))
    return resample_poly(x, rate_out // g, rate_in // g).astype(np.float32)


def load_audio(path: str | os.PathLike, *, analysed: bool = True) -> AudioClip:
    """Reads the first audio stream of `path`. Raises AudioReadError with a specific reason. `analysed`: the
    animation follows this sound, so say when it is silent or its channels cancel."""
    import av

    path = str(path)
    if not os.path.exists(path):
        raise AudioReadError(f"audio file not found: {path}")
    if special_file(path):  # (said "empty (0 bytes)")
        raise AudioReadError(f"{path} is not a file but a pipe or a device: save the audio to a file")
    if os.path.getsize(path) == 0:
        raise AudioReadError(f"audio file is empty (0 bytes): {path}")
    try:
        container = av.open(path)
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise AudioReadError(f"cannot read {path}: not a recognised audio or video file ({reason(exc)})") from None
    with container:
        if not container.streams.audio:
            raise AudioReadError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        chunks = []
        rate = None
        downmix = None
        try:
            for frame in container.decode(stream):
                rate = frame.sample_rate
                if len(frame.layout.channels) > 2:
                    # Surround (5.1, 7.1...) is mixed down to stereo by its layout (FFmpeg's matrix: the centre,
                    # where film dialogue sits, at -3 dB in both sides, LFE left out); a plain mean of the channels
                    # left a centre-channel voice 15 dB down in the render.
                    downmix = downmix or av.AudioResampler(format="flt", layout="stereo", rate=rate)
                    chunks += [_samples(f) for f in downmix.resample(frame)]
                else:
                    chunks.append(_samples(frame))
            if downmix is not None:
                chunks += [_samples(f) for f in downmix.resample(None)]
        except av.error.FFmpegError as exc:
            if not chunks:
                raise AudioReadError(f"cannot decode the audio of {path}: {reason(exc)} (the file is damaged or cut "
                                     "short)") from None
            warnings.warn(f"{path}: audio decoding stopped early ({reason(exc)}); using what was decoded", stacklevel=2)
    if not chunks or rate is None or sum(c.shape[0] for c in chunks) == 0:
        raise AudioReadError(f"{path} contains no audio samples (zero length, or the file is cut short)")
    samples = np.concatenate(chunks, axis=0)
    if not np.isfinite(samples).all():  # float files can hold NaN or infinity; they would poison every feature
        raise AudioReadError(f"{path} holds invalid samples (NaN or infinity): export the audio again")
    clip = AudioClip(samples=samples, rate=int(rate), source=path)
    share = _wav_share_present(path)
    if share < 0.99:  # under 1 %: a sloppy writer's rounding, not a lost take
        warnings.warn(f"{path} is cut short: its header says {clip.duration / max(share, 1e-9):.1f} s of audio, the "
                      f"file holds {clip.duration:.1f} s (an interrupted copy or recording?); using what is there",
                      stacklevel=2)
    if analysed and clip.lone_channel is not None:
        warnings.warn(f"the channels of {path} cancel each other when mixed (one is phase-inverted, as from a "
                      f"miswired microphone): the lip sync follows channel {clip.lone_channel + 1} alone",
                      stacklevel=2)
    if analysed and clip.peak_dbfs() < SILENCE_DBFS:
        warnings.warn(f"{path} is silent (peak {clip.peak_dbfs():.0f} dBFS): the mouth will stay closed", stacklevel=2)
    return clip


def _wav_share_present(path: str) -> float:
    """For a RIFF/WAVE file: the share of the audio bytes its data chunk declares that the file holds (1.0 when
    whole, not a WAV, or of unknown length). FFmpeg quietly shortens a cut-short file to what is there."""
    import struct

    try:
        with open(path, "rb") as f:
            if f.read(12)[8:12] != b"WAVE":
                return 1.0
            size = os.fstat(f.fileno()).st_size
            while True:
                header = f.read(8)
                if len(header) < 8:
                    return 1.0
                chunk, length = header[:4], struct.unpack("<I", header[4:])[0]
                if chunk == b"data":
                    return 1.0 if length == 0 or length >= UNKNOWN_WAV_LENGTH else min((size - f.tell()) / length, 1.0)
                f.seek(length + (length & 1), os.SEEK_CUR)  # chunks are padded to an even length
    except OSError:
        return 1.0


def _samples(frame) -> np.ndarray:
    """(samples, channels) float32 of a decoded audio frame."""
    arr = frame.to_ndarray()
    arr = arr.T if frame.format.is_planar else arr.reshape(-1, len(frame.layout.channels))
    return _to_float(arr)


def _to_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.int16:
        return arr.astype(np.float32) / 32768.0
    if arr.dtype == np.int32:
        return arr.astype(np.float32) / 2147483648.0
    if arr.dtype == np.uint8:
        return (arr.astype(np.float32) - 128.0) / 128.0
    return arr.astype(np.float32)
