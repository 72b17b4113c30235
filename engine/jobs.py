"""Render jobs: one object with inputs, settings and outputs that yields progress and honours cancel.

The CLI iterates it with a progress bar; the editor runs the same job on its render worker thread. The job
drives the renderer's frame iterator (engine.render.renderer) and hands each frame to the writers.

It streams: the motion is evaluated and projected in chunks of CHUNK_FRAMES as the renderer reaches them (a
LandmarkSequence is what the renderer gets), and a writer thread encodes while the caller's thread renders the
next frames (cv2, swscale and libx264 release the GIL), with at most QUEUE_FRAMES frames between them. Memory
is therefore flat in the clip's length, except for what a landmark export must hold.
"""
from __future__ import annotations

import copy
import math
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.audio.decode import AudioClip
from engine.errors import RenderCancelled
from engine.motion import Motion
from engine.plugins import RENDERERS, Choice, default_choice
from engine.render.compose import render_clip
from engine.render.pose_image import CANVAS, pose_image_rgb
from engine.render.turn_limit import AXES, TurnLimit
from engine.sources.base import FaceSource

if TYPE_CHECKING:
    from engine.document.project import Project

# Frames of motion evaluated and projected at a time: ~5 MB of mesh and landmarks, so memory does not grow
# with the clip while each numpy call still covers many frames (per-frame calls would cost ~0.1 ms each).
CHUNK_FRAMES = 256
# Chunks a LandmarkSequence keeps: the current one and the one before it (a windowed renderer looks back).
CACHED_CHUNKS = 2
# Frames in flight between the render thread and the writer thread: enough to ride out x264 handing back
# packets in bursts, ~6 MB at 512 px.
QUEUE_FRAMES = 8
# BLAS threads during a render. The warp's matrix products are small; a second OpenBLAS thread only
# busy-waits beside the encoder (CPU time varied 2-3x between runs with the default).
RENDER_BLAS_THREADS = 1


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


@dataclass(frozen=True)
class MotionChunks:
    """A motion evaluated on demand, frames [start, stop) at a time, so a render never holds all of it."""

    fps: float
    frame_count: int
    evaluate: Callable[[int, int], Motion]  # (start, stop) -> Motion of those frames
    # The seconds these frames stand for, when the last frame covers less than a whole frame (a clip whose audio
    # ends inside it): at another frame rate, ceil(duration x fps) frames, as a direct render at that rate makes.
    duration: float | None = None

    @classmethod
    def of(cls, motion: "Motion | MotionChunks") -> "MotionChunks":
        if isinstance(motion, MotionChunks):
            return motion
        return cls(motion.fps, motion.frame_count,
                   lambda a, b: Motion(motion.fps, motion.mesh[a:b], motion.pose[a:b]))

    @classmethod
    def of_project(cls, project: "Project", start: int = 0, stop: int | None = None) -> "MotionChunks":
        """Frames [start, stop) of the project as they are now: the channel values and gains are copied and the
        base layer (replaced, never modified, when the document changes) kept, so later edits don't leak into a
        render and the render thread never calls into the document. Each chunk's base is evaluated from the base
        layer's frames near it alone (no full-length copies: memory stays flat in the clip's length), equal to
        what Project.evaluate_motion gives (tests/test_jobs.py holds them equal)."""
        from engine.document.project import POSE_CHANNELS, evaluate_base

        stop = project.frame_count if stop is None else min(stop, project.frame_count)
        start = max(0, start)
        samples = np.array(project.channel_samples()[start:stop])
        base, gains, fps = project.base, copy.copy(project.gains), project.fps
        source, rig, n_pose = project.source, project.rig, len(POSE_CHANNELS)

        def evaluate(a: int, b: int) -> Motion:
            rest, source_pose = source.geometry(start + a, start + b)
            offsets, base_pose = evaluate_base(base, rig, fps, gains, start + a, start + b)
            mesh = rest + offsets
            controls = samples[a:b, n_pose:]
            if np.any(controls):
                mesh = mesh + rig.offsets(controls)
            pose = base_pose + samples[a:b, :n_pose]
            return Motion(project.fps, mesh, pose if source_pose is None else pose + source_pose)

        end = stop / fps  # ... or where the audio ends inside the last frame (not before it: a shorter take)
        if project.audio is not None and (stop - 1) / fps < project.audio.duration < end:
            end = project.audio.duration
        return cls(project.fps, stop - start, evaluate, max(end - start / fps, 0.0))

    def chunk(self, start: int, stop: int) -> Motion:
        return self.evaluate(max(0, start), min(stop, self.frame_count))

    def turn_limited(self, limit: TurnLimit, source: FaceSource, turned: dict[int, np.ndarray]) -> "MotionChunks":
        """The motion as a renderer with `limit` shows it (frame i turned away from `source`'s frame i); the frames
        of each evaluated chunk that turn further than it shows are noted in `turned` ({frame: (3,) degrees of
        the turn as animated})."""
        def evaluate(a: int, b: int) -> Motion:
            motion = self.chunk(a, b)
            own = source.geometry(a, b)[1]
            shown = limit.shown(motion.pose, own)
            gone = limit.past(motion.pose, own).any(axis=1)
            turn = np.abs(motion.pose[:, :3] - (0.0 if own is None else own[:, :3]))
            turned.update((a + int(i), turn[i]) for i in np.flatnonzero(gone))
            return Motion(motion.fps, motion.mesh, shown)

        return MotionChunks(self.fps, self.frame_count, evaluate, self.duration)

    def resampled(self, fps: float) -> "MotionChunks":
        """The same motion at another frame rate, chunk by chunk exactly as Motion.resampled does it."""
        from engine.timing import frames_covering

        if fps == self.fps:
            return self
        ratio, last = self.fps / fps, self.frame_count - 1

        def evaluate(a: int, b: int) -> Motion:
            src = np.clip(np.arange(a, b) * ratio, 0, last)
            i0 = np.floor(src).astype(int)
            i1 = np.minimum(i0 + 1, last)
            lo = int(i0.min())
            part = self.chunk(lo, int(i1.max()) + 1)
            w = src - i0

            def mix(x: np.ndarray) -> np.ndarray:
                ww = w.reshape((-1,) + (1,) * (x.ndim - 1))
                return ((1 - ww) * x[i0 - lo] + ww * x[i1 - lo]).astype(x.dtype)

            return Motion(fps, mix(part.mesh), mix(part.pose))

        duration = self.frame_count / self.fps if self.duration is None else self.duration
        return MotionChunks(fps, frames_covering(duration, fps), evaluate, duration)


class LandmarkSequence(Sequence):
    """(T, 468, 2) pixel landmarks of a MotionChunks, projected a chunk at a time as they are read.

    Reads like the array renderers used to get: len(), [i] -> (468, 2), [a:b] -> (b-a, 468, 2), iteration,
    `shape`. np.asarray(seq) works too, at the cost of holding every frame."""

    def __init__(self, motion: MotionChunks, transform: np.ndarray, width: int, height: int,
                 chunk_frames: int | None = None):
        self.motion = motion
        self._projection = (transform, width, height)
        self.chunk_frames = chunk_frames or CHUNK_FRAMES
        self._chunks: OrderedDict[int, tuple[Motion, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()  # the writer thread reads it too (pose images)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self), 468, 2)

    @property
    def dtype(self):
        return np.dtype(np.float64)

    def __len__(self) -> int:
        return self.motion.frame_count

    def chunk(self, k: int) -> tuple[Motion, np.ndarray]:
        """Chunk k: (its motion, its (n, 468, 2) landmarks)."""
        with self._lock:
            if k in self._chunks:
                self._chunks.move_to_end(k)
                return self._chunks[k]
            start = k * self.chunk_frames
            motion = self.motion.chunk(start, start + self.chunk_frames)
            entry = (motion, motion.landmarks_px(*self._projection))
            self._chunks[k] = entry
            while len(self._chunks) > CACHED_CHUNKS:
                self._chunks.popitem(last=False)
            return entry

    def __getitem__(self, index):
        n = len(self)
        if isinstance(index, slice):
            a, b, step = index.indices(n)
            if step != 1:
                return np.stack([self[i] for i in range(a, b, step)]) if len(range(a, b, step)) \
                    else np.zeros((0, 468, 2))
            if b <= a:
                return np.zeros((0, 468, 2))
            c = self.chunk_frames
            parts = [self.chunk(k)[1][max(a - k * c, 0):b - k * c] for k in range(a // c, (b - 1) // c + 1)]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"frame {index} out of range for {n} frames")
        return self.chunk(i // self.chunk_frames)[1][i % self.chunk_frames]

    def __iter__(self) -> Iterator[np.ndarray]:
        for k in range((len(self) + self.chunk_frames - 1) // self.chunk_frames):
            yield from self.chunk(k)[1]

    def __array__(self, dtype=None, copy=None):
        arr = self[0:len(self)]
        return arr if dtype is None else arr.astype(dtype)


@contextmanager
def blas_threads(count: int):
    """BLAS (OpenBLAS/MKL) limited to `count` threads inside the block (threadpoolctl)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=count, user_api="blas"):
        yield


class _WriterThread:
    """Hands frames to the writers on a thread of its own, in order, so that encoding overlaps rendering."""

    _DONE = object()

    def __init__(self, write: Callable[[int, np.ndarray | None], None]):
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="talkline-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is self._DONE or self._stop.is_set():
                return
            try:
                self._write(*item)
            except BaseException as exc:  # noqa: BLE001 - handed to the render thread, which raises it
                self.error = exc
                return

    def put(self, index: int, frame: np.ndarray | None, cancelled: Callable[[], bool]) -> None:
        while True:
            self.raise_error()
            if cancelled():
                raise RenderCancelled("render cancelled")
            try:
                self._queue.put((index, frame), timeout=0.1)
                return
            except queue.Full:
                continue

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        """Waits until every queued frame is written; raises the writers' error, if any."""
        while self._thread.is_alive():
            try:
                self._queue.put(self._DONE, timeout=0.1)
                break
            except queue.Full:
                continue
        self._thread.join()
        self.raise_error()

    def stop(self) -> None:
        """Abandons the queued frames and waits for the frame being written (then the writers may abort)."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        try:
            self._queue.put_nowait(self._DONE)
        except queue.Full:
            pass
        self._thread.join()


def _check_project_audio(project: "Project", settings: RenderSettings) -> None:
    """AudioReadError, before any work, where the render's sound would be wrong: missing for a video, or another
    recording than the one the project was animated to for a video or frames."""
    from engine.audio.decode import load_audio
    from engine.errors import AudioReadError

    path = project.audio_source.path
    if project.audio is None and settings.output:
        # a video of a talking head without its voice is never what was meant
        state = "is missing"
        if os.path.exists(path):  # there, but no audio (another file put at its path, a device): say why
            try:
                load_audio(path, analysed=False)
            except AudioReadError as exc:
                state = f"cannot be read ({exc})"
        raise AudioReadError(f"the project's audio {path} {state}: relink it first (the editor's File > Relink "
                             "Audio), or write landmarks or frames only")
    if (settings.output or settings.frames_dir) and (changed := project.audio_source.changed(project.fps)):
        # another file put at the audio's path (a new take) would be laid under the old lip sync
        raise AudioReadError(f"the audio at {path} is not the recording this project was animated to ({changed}): "
                             "put that recording back, or open the project in the editor to animate this one")


def _refuse_writing_over_sources(project: "Project", settings: RenderSettings) -> None:
    """`render dub.talkline -o take.mp4` replaced the dub's own source video with the dub."""
    from engine.errors import UsageError
    from engine.export.atomic import same_file_as_any

    for out in (settings.output, settings.pose_video, settings.landmarks):
        if same_file_as_any(out, (project.source.path, project.audio_source.path)):
            raise UsageError(f"{out} is one of the project's own sources: write the render to another file")


class RenderJob:
    def __init__(self, source: FaceSource, motion: Motion | MotionChunks, audio: AudioClip | None,
                 settings: RenderSettings, audio_offset: float = 0.0, whole: bool = True):
        if not (settings.output or settings.frames_dir or settings.landmarks or settings.pose_video):
            raise ValueError("a render job needs at least one output")
        self.source = source.resized(settings.size) if settings.size else source
        chunks = MotionChunks.of(motion)
        self.motion = chunks.resampled(settings.fps) if settings.fps else chunks
        self.audio = audio
        self.settings = settings
        self.renderer = settings.renderer or default_choice(RENDERERS)
        # what the renderer is given: the motion with turns it cannot show soft-limited (the exports keep them)
        self.shown, self._turned, self._limited_fps, self._limit = self.motion, {}, chunks.fps, None
        if settings.wants_frames():
            RENDERERS.require(self.renderer.name, self.renderer.config)  # fail now, not on the render thread
            self._limit = RENDERERS.get(self.renderer.name).capabilities.turn_limit
            if self._limit is not None:
                shown = chunks.turn_limited(self._limit, self.source, self._turned)
                self.shown = shown.resampled(settings.fps) if settings.fps else shown
        self._check_memory()
        self.audio_offset = audio_offset
        self.whole = whole  # the whole clip, not a range of it (an image sequence then replaces a longer one)
        self.outputs: list[str] = []
        self._cancel = threading.Event()

    @classmethod
    def for_project(cls, project: "Project", settings: RenderSettings, start: int = 0,
                    stop: int | None = None) -> "RenderJob":
        """Frames [start, stop) of the project with all its edits as they are now (later edits don't leak in),
        evaluated chunk by chunk as the render reaches them, with the project's renderer unless the settings
        name another."""
        _check_project_audio(project, settings)
        _refuse_writing_over_sources(project, settings)
        if settings.renderer is None:
            settings.renderer = project.renderer
        whole = start <= 0 and (stop is None or stop >= project.frame_count)
        return cls(project.source.from_frame(start), MotionChunks.of_project(project, start, stop), project.audio,
                   settings, audio_offset=project.time_of(max(0, start)), whole=whole)

    def _check_memory(self) -> None:
        """Refuses a render the machine cannot hold, before any work, naming the frame size that fits."""
        from engine.errors import MemoryLimitError
        from engine.limits import (LANDMARK_EXPORT_BYTES_PER_FRAME, MIN_SIZE, RENDER_BYTES_PER_PIXEL,
                                   memory_shortfall)

        w, h = self.source.reference.width, self.source.reference.height
        export = LANDMARK_EXPORT_BYTES_PER_FRAME * self.motion.frame_count if self.settings.landmarks else 0
        frames = RENDER_BYTES_PER_PIXEL * w * h if self.settings.wants_frames() else 0
        limit = memory_shortfall(export + frames)
        if limit is None:
            return
        gb = 2**30
        if frames and limit > export:
            fit = int(max(w, h) * math.sqrt((limit - export) / frames)) // 2 * 2
            if fit >= MIN_SIZE:
                raise MemoryLimitError(
                    f"this render needs about {(export + frames) / gb:.1f} GB of memory for {w}x{h} frames, more "
                    f"than the {limit / gb:.1f} GB free: render at a size of {fit} px or less (--size)")
        raise MemoryLimitError(
            f"this render needs about {(export + frames) / gb:.1f} GB of memory, more than the {limit / gb:.1f} GB "
            f"free: render a shorter range (--range) or close other programs")

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _check(self) -> None:
        if self._cancel.is_set():
            raise RenderCancelled("render cancelled")

    def run(self) -> Iterator[Progress]:
        with blas_threads(RENDER_BLAS_THREADS):
            yield from self._run()

    def _run(self) -> Iterator[Progress]:
        from engine.export.frames import PngSequenceWriter
        from engine.export.grid import side_by_side
        from engine.export.landmarks import save_landmarks_npz
        from engine.export.video import VideoWriter

        ref, s, motion = self.source.reference, self.settings, self.motion
        w, h = ref.width, ref.height
        total = motion.frame_count
        landmarks = LandmarkSequence(motion, ref.transform, w, h)
        ref_pose_panel = pose_image_rgb(ref.landmarks_px, w, h) if s.side_by_side else None

        writers = []
        writer_thread: _WriterThread | None = None
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
                frames = PngSequenceWriter(s.frames_dir, motion.fps, audio=self.audio, audio_offset=self.audio_offset,
                                           whole=self.whole)
                writers.append(frames)

            def write(i: int, frame: np.ndarray | None) -> None:
                pose_panel = pose_image_rgb(landmarks[i], w, h) if (pose_video or s.side_by_side) else None
                if frames:
                    frames.write(frame)
                if video:
                    video.write(side_by_side(ref.image, pose_panel, frame) if s.side_by_side else frame)
                if pose_video:
                    pose_video.write(pose_panel)

            if s.wants_frames():
                renderer = RENDERERS.get(self.renderer.name)(self.source, self.renderer.config)
                shown = landmarks if self.shown is motion else LandmarkSequence(self.shown, ref.transform, w, h)
                rendered = render_clip(self.source, renderer, shown, cancel=self._cancel.is_set)
            else:
                rendered = (None for _ in range(total))
            export = _LandmarkExport(total) if s.landmarks else None
            writer_thread = _WriterThread(write) if writers else None
            start = time.perf_counter()
            for i, frame in enumerate(rendered):
                self._check()
                if export is not None:
                    export.add(landmarks, i)
                if writer_thread is not None:
                    writer_thread.put(i, frame, self._cancel.is_set)
                elapsed = time.perf_counter() - start
                eta = elapsed / (i + 1) * (total - i - 1)
                yield Progress(i + 1, total, elapsed, eta, f"frame {i + 1}/{total}")
            self._check()
            if writer_thread is not None:
                writer_thread.finish()
            # Everything that can fail (finishing each video, the landmark file) before any output replaces a
            # file: a full disk then leaves the previous files, all of them, as they were.
            for writer in writers:
                writer.finish()
            if export is not None:
                save_landmarks_npz(s.landmarks, *export.arrays(), motion.fps, (w, h))
            for writer in writers:
                self.outputs.extend(writer.close())
            if export is not None:
                self.outputs.append(s.landmarks)
            self._warn_turns_past_limit()
        except BaseException:
            if writer_thread is not None:
                writer_thread.stop()
            for writer in writers:
                writer.abort()
            raise

    def _warn_turns_past_limit(self) -> None:
        """Says where the head turned further than the renderer shows (once per render, with its furthest turn)."""
        if not self._turned:
            return
        import warnings

        frames = sorted(self._turned)
        most = np.asarray(self._limit.most)
        furthest = max((self._turned[f] for f in frames), key=lambda turn: float(np.linalg.norm(turn / most)))
        t0, t1 = (self.audio_offset + f / self._limited_fps for f in (frames[0], frames[-1] + 1))
        # named by its output: the editor shows it in whichever project is open when the render ends
        output = os.path.basename(os.path.normpath(self.settings.output or self.settings.frames_dir or ""))
        turn = ", ".join(f"{name} {deg:.0f}" for name, deg in zip(AXES, furthest) if deg >= 0.5)
        warnings.warn(f"{output}: the head turns further than the {self.renderer.name} renderer can show between "
                      f"{t0:.1f} and {t1:.1f} s ({turn} degrees at most, from the picture's own pose): shown turned "
                      f"less (it shows up to {most[1]:.0f} degrees of turn or {most[0]:.0f} of nod alone, less of "
                      "them together)", stacklevel=2)


class _LandmarkExport:
    """The landmark .npz's arrays (float32, as saved), filled a chunk at a time as the render passes them: the
    arrays themselves are all it holds (no parts to concatenate at the end)."""

    def __init__(self, frame_count: int):
        self._arrays = (np.zeros((frame_count, 468, 2), np.float32), np.zeros((frame_count, 468, 3), np.float32),
                        np.zeros((frame_count, 6), np.float32))
        self._next = self._filled = 0

    def add(self, landmarks: LandmarkSequence, i: int) -> None:
        if i < self._next:
            return
        k = i // landmarks.chunk_frames
        motion, lm = landmarks.chunk(k)
        a = k * landmarks.chunk_frames
        for out, part in zip(self._arrays, (lm, motion.mesh, motion.pose)):
            out[a:a + len(part)] = part
        self._filled = a + len(lm)
        self._next = a + landmarks.chunk_frames

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The frames passed so far (a render that stopped short saves what it rendered, not rows of zeros)."""
        return tuple(out[:self._filled] for out in self._arrays)


def landmark_arrays(project: "Project") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The project's (T, 468, 2) landmarks, (T, 468, 3) mesh and (T, 6) pose as the landmark .npz holds them,
    evaluated a chunk at a time (a whole-length evaluate_motion held ~12 float64 copies: 1.4 GB for 6 min)."""
    ref = project.reference
    landmarks = LandmarkSequence(MotionChunks.of_project(project), ref.transform, ref.width, ref.height)
    export = _LandmarkExport(len(landmarks))
    for i in range(0, len(landmarks), landmarks.chunk_frames):
        export.add(landmarks, i)
    return export.arrays()
