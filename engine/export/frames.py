"""PNG image sequences (frame_000001.png, ...) with the audio as audio.wav beside them: the layout that
Adobe Character Animator and compositing tools import. A frame is named by its place in the whole clip, so a
range render writes the names a whole render would (render farms split a clip into ranges into one folder)."""
from __future__ import annotations

import os
import re
import shutil
import uuid
from fractions import Fraction

import numpy as np

from engine.audio.decode import AudioClip
from engine.errors import ExportError
from engine.export.atomic import CommitOnExit, replacing
from engine.export.audio_span import audio_excerpt
from engine.export.video import fps_fraction

FRAME_PATTERN = "frame_{:06d}.png"
AUDIO_NAME = "audio.wav"
_FRAME_NAME = re.compile(r"frame_(\d{6})\.png")


def frame_name(index: int) -> str:
    """File name of frame `index` (0-based; names start at 1 like most sequence importers expect)."""
    return FRAME_PATTERN.format(index + 1)


def write_png(folder: str | os.PathLike, index: int, frame_rgb: np.ndarray) -> str:
    """Writes frame `index` (0-based) atomically as folder/frame_{index+1:06d}.png; returns its path."""
    import cv2

    frame_rgb = np.asarray(frame_rgb)
    if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
        raise ExportError(f"frame must be an RGB uint8 image (H, W, 3), got {frame_rgb.dtype} {frame_rgb.shape}")
    ok, data = cv2.imencode(".png", cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ExportError(f"cannot encode frame {index} as PNG")
    path = os.path.join(os.fspath(folder), frame_name(index))
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data.tobytes())
    return path


class PngSequenceWriter(CommitOnExit):
    """Writes frames into a hidden staging folder inside `folder` and moves them in on close(), so that an
    aborted render leaves the folder as it was. Frames are numbered from the one at `audio_offset` (a range
    render's first frame). close() also writes the original audio from `audio_offset`, cut/padded like the
    MP4's: audio.wav for a `whole` render, which also removes frame_*.png left over from a longer earlier render;
    audio_from_frame_NNNNNN.wav for a range (ranges rendered into one folder keep each other's files, a range
    from the first frame too)."""

    def __init__(self, folder: str | os.PathLike, fps: float | Fraction, audio: AudioClip | None = None,
                 audio_offset: float = 0.0, whole: bool = True):
        self.folder = os.path.abspath(os.fspath(folder))
        self.fps = fps_fraction(fps)
        self.audio = audio
        self.audio_offset = audio_offset
        self.first = int(round(audio_offset * self.fps))  # 0-based index of the first frame in the whole clip
        self.whole = whole
        self.frames_written = 0
        self._staging = os.path.join(self.folder, f".talkline-frames-{uuid.uuid4().hex[:8]}")
        self._made_folder = not os.path.isdir(self.folder)
        try:
            os.makedirs(self._staging)
        except OSError as exc:
            raise ExportError(f"cannot create the frames folder {self.folder}: {exc.strerror or exc}") from None
        self._closed = False

    def write(self, frame_rgb: np.ndarray) -> None:
        if self._closed:
            raise ExportError(f"cannot write to {self.folder}: the sequence is already closed")
        write_png(self._staging, self.first + self.frames_written, frame_rgb)
        self.frames_written += 1

    def close(self) -> list[str]:
        """Moves the frames into place, writes audio.wav; returns the written paths."""
        if self._closed:
            return []
        if self.frames_written == 0:
            self.abort()
            raise ExportError(f"no frames were written to {self.folder}")
        try:
            outputs = []
            for index in range(self.first, self.first + self.frames_written):
                target = os.path.join(self.folder, frame_name(index))
                os.replace(os.path.join(self._staging, frame_name(index)), target)
                outputs.append(target)
            if self.whole:
                self._remove_stale_frames()
            if self.audio is not None:
                outputs.append(self._write_audio())
        except OSError as exc:
            self.abort()
            raise ExportError(f"cannot write the frames to {self.folder}: {exc.strerror or exc}") from None
        shutil.rmtree(self._staging, ignore_errors=True)
        self._closed = True
        return outputs

    def abort(self) -> None:
        shutil.rmtree(self._staging, ignore_errors=True)
        if self._made_folder:  # a folder this render made and left empty goes too ("as it was")
            try:
                os.rmdir(self.folder)
            except OSError:
                pass
        self._closed = True

    def _remove_stale_frames(self) -> None:
        for name in os.listdir(self.folder):
            match = _FRAME_NAME.fullmatch(name)
            if match and int(match.group(1)) > self.frames_written:
                os.remove(os.path.join(self.folder, name))

    def _write_audio(self) -> str:
        import soundfile

        samples = audio_excerpt(self.audio, self.audio_offset, self.frames_written, self.fps)
        name = AUDIO_NAME if self.whole else f"audio_from_{frame_name(self.first)[:-4]}.wav"
        path = os.path.join(self.folder, name)
        with replacing(path) as tmp:
            soundfile.write(tmp, np.clip(samples, -1.0, 1.0), self.audio.rate, subtype="PCM_16", format="WAV")
        return path
