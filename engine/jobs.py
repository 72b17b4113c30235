"""Render jobs: one object with inputs, settings and outputs that yields progress and honours cancel.

The CLI iterates it with a progress bar; the editor runs the same job on its render worker thread.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterator

from engine.audio.decode import AudioClip
from engine.errors import RenderCancelled
from engine.face.reference import ReferenceFace
from engine.motion import Motion
from engine.render.pose_image import CANVAS, pose_image_rgb

BACKENDS = ("warp",)


@dataclass
class RenderSettings:
    output: str | None = None  # MP4 (H.264 + AAC)
    frames_dir: str | None = None  # PNG sequence + audio.wav
    landmarks: str | None = None  # landmark .npz
    pose_video: str | None = None  # MP4 of the pose images
    side_by_side: bool = False  # [reference | pose image | result] like the reference implementation
    backend: str = "warp"
    size: int | None = None  # output frame size (longer side); None = the reference's
    fps: float | None = None  # output frame rate; None = the motion's

    def wants_frames(self) -> bool:
        return bool(self.output or self.frames_dir)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    elapsed: float
    eta: float | None
    message: str

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def make_renderer(backend: str, reference: ReferenceFace):
    if backend == "warp":
        from engine.render.warp import WarpRenderer

        return WarpRenderer(reference)
    raise ValueError(f"unknown render backend {backend!r}; available: {', '.join(BACKENDS)}")


class RenderJob:
    def __init__(self, reference: ReferenceFace, motion: Motion, audio: AudioClip | None,
                 settings: RenderSettings, audio_offset: float = 0.0):
        if not (settings.output or settings.frames_dir or settings.landmarks or settings.pose_video):
            raise ValueError("a render job needs at least one output")
        self.reference = reference.resized(settings.size) if settings.size else reference
        self.motion = motion.resampled(settings.fps) if settings.fps else motion
        self.audio = audio
        self.settings = settings
        self.audio_offset = audio_offset
        self.outputs: list[str] = []
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> Iterator[Progress]:
        from engine.export.frames import PngSequenceWriter
        from engine.export.grid import side_by_side
        from engine.export.landmarks import save_landmarks_npz
        from engine.export.video import VideoWriter

        ref, s, motion = self.reference, self.settings, self.motion
        w, h = ref.width, ref.height
        total = motion.frame_count
        landmarks = motion.landmarks_px(ref.transform, w, h)
        renderer = make_renderer(s.backend, ref) if s.wants_frames() else None
        ref_pose_panel = pose_image_rgb(ref.landmarks_px, w, h) if s.side_by_side else None

        writers = []
        try:
            video = None
            if s.output:
                if s.side_by_side:
                    probe = side_by_side(ref.image, ref_pose_panel, ref.image)
                    vw, vh = probe.shape[1], probe.shape[0]
                else:
                    vw, vh = w, h
                video = VideoWriter(s.output, vw, vh, motion.fps, audio=self.audio, audio_offset=self.audio_offset)
                writers.append(video)
            pose_video = None
            if s.pose_video:
                pose_video = VideoWriter(s.pose_video, CANVAS, CANVAS, motion.fps, audio=self.audio,
                                         audio_offset=self.audio_offset)
                writers.append(pose_video)
            frames = None
            if s.frames_dir:
                frames = PngSequenceWriter(s.frames_dir, motion.fps, audio=self.audio, audio_offset=self.audio_offset)
                writers.append(frames)

            start = time.perf_counter()
            for i in range(total):
                if self._cancel.is_set():
                    raise RenderCancelled("render cancelled")
                pose_panel = pose_image_rgb(landmarks[i], w, h) if (pose_video or s.side_by_side) else None
                if renderer is not None:
                    frame = renderer.render(landmarks[i])
                    if frames:
                        frames.write(frame)
                    if video:
                        video.write(side_by_side(ref.image, pose_panel, frame) if s.side_by_side else frame)
                if pose_video:
                    pose_video.write(pose_panel)
                elapsed = time.perf_counter() - start
                eta = elapsed / (i + 1) * (total - i - 1)
                yield Progress(i + 1, total, elapsed, eta, f"frame {i + 1}/{total}")
            if self._cancel.is_set():
                raise RenderCancelled("render cancelled")
            for writer in writers:
                written = writer.close()
                self.outputs.extend(written if isinstance(written, list) else [written])
            if s.landmarks:
                save_landmarks_npz(s.landmarks, landmarks, motion.mesh, motion.pose, motion.fps, (w, h))
                self.outputs.append(s.landmarks)
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
