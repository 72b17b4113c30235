"""Render jobs: one object with inputs, settings and outputs that yields progress and honours cancel.

The CLI iterates it with a progress bar; the editor runs the same job on its render worker thread. The job
drives the renderer's frame iterator (engine.render.renderer) and hands each frame to the writers.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from engine.audio.decode import AudioClip
from engine.errors import RenderCancelled
from engine.motion import Motion
from engine.plugins import RENDERERS, Choice, default_choice
from engine.render.pose_image import CANVAS, pose_image_rgb
from engine.sources.base import FaceSource

if TYPE_CHECKING:
    from engine.document.project import Project


@dataclass
class RenderSettings:
    output: str | None = None  # MP4 (H.264 + AAC)
    frames_dir: str | None = None  # PNG sequence + audio.wav
    landmarks: str | None = None  # landmark .npz
    pose_video: str | None = None  # MP4 of the pose images
    side_by_side: bool = False  # [reference | pose image | result] like the reference implementation
    renderer: Choice | None = None  # None: the project's renderer (warp for a bare job)
    size: int | None = None  # output frame size (longer side); None = the source's
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


class RenderJob:
    def __init__(self, source: FaceSource, motion: Motion, audio: AudioClip | None, settings: RenderSettings,
                 audio_offset: float = 0.0):
        if not (settings.output or settings.frames_dir or settings.landmarks or settings.pose_video):
            raise ValueError("a render job needs at least one output")
        self.source = source.resized(settings.size) if settings.size else source
        self.motion = motion.resampled(settings.fps) if settings.fps else motion
        self.audio = audio
        self.settings = settings
        self.renderer = settings.renderer or default_choice(RENDERERS)
        if settings.wants_frames():
            RENDERERS.require(self.renderer.name, self.renderer.config)  # fail now, not on the render thread
        self.audio_offset = audio_offset
        self.outputs: list[str] = []
        self._cancel = threading.Event()

    @classmethod
    def for_project(cls, project: "Project", settings: RenderSettings, start: int = 0,
                    stop: int | None = None) -> "RenderJob":
        """Frames [start, stop) of the project with all its edits, evaluated now (later edits don't leak in),
        with the project's renderer unless the settings name another."""
        if settings.renderer is None:
            settings.renderer = project.renderer
        return cls(project.source, project.evaluate_motion(start, stop), project.audio, settings,
                   audio_offset=project.time_of(max(0, start)))

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _check(self) -> None:
        if self._cancel.is_set():
            raise RenderCancelled("render cancelled")

    def run(self) -> Iterator[Progress]:
        from engine.export.frames import PngSequenceWriter
        from engine.export.grid import side_by_side
        from engine.export.landmarks import save_landmarks_npz
        from engine.export.video import VideoWriter

        ref, s, motion = self.source.reference, self.settings, self.motion
        w, h = ref.width, ref.height
        total = motion.frame_count
        landmarks = motion.landmarks_px(ref.transform, w, h)
        ref_pose_panel = pose_image_rgb(ref.landmarks_px, w, h) if s.side_by_side else None

        writers = []
        try:
            video = frames = pose_video = None
            if s.output:
                vw, vh = (w, h) if not s.side_by_side else side_by_side(ref.image, ref_pose_panel, ref.image).shape[1::-1]
                video = VideoWriter(s.output, vw, vh, motion.fps, audio=self.audio, audio_offset=self.audio_offset)
                writers.append(video)
            if s.pose_video:
                pose_video = VideoWriter(s.pose_video, CANVAS, CANVAS, motion.fps, audio=self.audio,
                                         audio_offset=self.audio_offset)
                writers.append(pose_video)
            if s.frames_dir:
                frames = PngSequenceWriter(s.frames_dir, motion.fps, audio=self.audio, audio_offset=self.audio_offset)
                writers.append(frames)

            if s.wants_frames():
                renderer = RENDERERS.get(self.renderer.name)(self.source, self.renderer.config)
                rendered = renderer.frames(landmarks, cancel=self._cancel.is_set)
            else:
                rendered = (None for _ in range(total))
            start = time.perf_counter()
            for i, frame in enumerate(rendered):
                self._check()
                pose_panel = pose_image_rgb(landmarks[i], w, h) if (pose_video or s.side_by_side) else None
                if frames:
                    frames.write(frame)
                if video:
                    video.write(side_by_side(ref.image, pose_panel, frame) if s.side_by_side else frame)
                if pose_video:
                    pose_video.write(pose_panel)
                elapsed = time.perf_counter() - start
                eta = elapsed / (i + 1) * (total - i - 1)
                yield Progress(i + 1, total, elapsed, eta, f"frame {i + 1}/{total}")
            self._check()
            for writer in writers:
                self.outputs.extend(writer.close())
            if s.landmarks:
                save_landmarks_npz(s.landmarks, landmarks, motion.mesh, motion.pose, motion.fps, (w, h))
                self.outputs.append(s.landmarks)
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
