"""The animation document: sources, the Audio2Lmk base layer, additive keyframed edit channels and gains.

Per frame: mesh = the source's rest mesh + base offsets (lip/blink gains, smoothing) + rig.offsets(edit values);
pose = the source's own head pose (a video's) + base pose * head gain (smoothed) + pose channel values;
landmarks = projection of both.
Everything that does not depend on the frame (scaled/smoothed base arrays, curves sampled at every frame)
is computed once per change and cached, so evaluate(frame) is a few small numpy operations.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import astuple, dataclass, field
from typing import ClassVar

import numpy as np
from psygnal import Signal

from engine.a2l.base_layer import BaseLayer
from engine.audio.decode import AudioClip
from engine.document.changes import Change, ChangeKind
from engine.document.curves import Curve
from engine.face.reference import ReferenceFace
from engine.limits import MAX_GAIN, MAX_SMOOTHING_S, check_number
from engine.motion import Motion
from engine.plugins import A2L_BACKENDS, RENDERERS, Choice, default_choice
from engine.sources.base import FaceSource
from engine.sources.audio import AudioSource
from engine.timing import frames_covering

POSE_CHANNELS = ("rx", "ry", "rz", "tx", "ty", "tz")  # degrees, cm; ADDED to the base pose
BLINK_CONTROLS = ("eyeBlinkLeft", "eyeBlinkRight")  # base tracks scaled by Gains.blink instead of Gains.lip


@dataclass
class Gains:
    VERSION: ClassVar[int] = 1
    lip: float = 1.0  # scales the base layer's expression/mouth offsets
    head: float = 1.0  # scales the base pose
    smoothing: float = 0.0  # seconds (Gaussian sigma) of temporal smoothing of the base layer, blinks excepted
    blink: float = 1.0  # scales the base layer's blink tracks

    def validate(self) -> None:
        for name in ("lip", "head", "blink"):
            check_number(getattr(self, name), f"the {name} gain", 0.0, MAX_GAIN)
        check_number(self.smoothing, "smoothing", 0.0, MAX_SMOOTHING_S, " s")


@dataclass
class FrameState:
    mesh: np.ndarray  # (468, 3) canonical cm
    pose: np.ndarray  # (6,) relative pose
    landmarks_px: np.ndarray  # (468, 2) pixels of the reference frame
    values: dict[str, float]  # every edit channel's value at this frame (0.0 where not animated)
    base_values: dict[str, float] = field(default_factory=dict)  # base layer's control weights at this frame


SMOOTHING_TRUNCATE = 4.0  # the smoothing kernel reaches 4 sigma (scipy's default): beyond it weights are < 3e-4


def _smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    if sigma_frames <= 0 or x.shape[0] < 2:
        return x
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(x, sigma_frames, axis=0, mode="nearest", truncate=SMOOTHING_TRUNCATE)


def _smoothing_margin(sigma_frames: float) -> int:
    """Frames on either side that a smoothed frame depends on (scipy's kernel radius)."""
    return int(SMOOTHING_TRUNCATE * sigma_frames + 0.5) if sigma_frames > 0 else 0


def _base_parts(base: BaseLayer, face_rig, sigma_frames: float, start: int, stop: int):
    """Frames [start, stop) of: the smoothed expression offsets, the blink offsets (None without blink tracks)
    and the smoothed pose, in float64. Computed from the base layer's frames within the smoothing's reach only,
    so a window costs its length and equals the same frames of the whole (mode "nearest" applies at the true
    ends, which a window shares)."""
    from engine.rig import load_rig

    m = _smoothing_margin(sigma_frames)
    lo, hi = max(0, start - m), min(base.frame_count, stop + m)
    keep = slice(start - lo, stop - lo)
    blink_tracks = {n: base.weights[n][lo:hi] for n in BLINK_CONTROLS if n in base.weights}
    # The base layer's blinks were made with the canonical rig; swap in this face's lids.
    canonical_blinks = load_rig().offsets(blink_tracks).astype(np.float64) if blink_tracks else 0.0
    blinks = face_rig.offsets(blink_tracks).astype(np.float64)[keep] if blink_tracks else None
    expr = base.offsets[lo:hi].astype(np.float64) - canonical_blinks
    # Blinks are left out of the smoothing: they are brief on purpose, not jitter.
    return (_smooth(expr, sigma_frames)[keep], blinks,
            _smooth(base.pose[lo:hi].astype(np.float64), sigma_frames)[keep])


def _with_gains(parts, gains: "Gains") -> tuple[np.ndarray, np.ndarray]:
    expr, blinks, pose = parts
    offsets = gains.lip * expr if blinks is None else gains.lip * expr + gains.blink * blinks
    return offsets, gains.head * pose


def evaluate_base(base: BaseLayer, face_rig, fps: float, gains: "Gains", start: int, stop: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(n, 468, 3) base offsets and (n, 6) base pose of frames [start, stop) after gains and smoothing: what
    Project.base_arrays() holds for those frames, without holding every frame (renders use it chunk by chunk)."""
    return _with_gains(_base_parts(base, face_rig, gains.smoothing * fps, start, stop), gains)


class Project:
    """The document the editor edits. Mutate through the methods (they notify with a Change), or change curves
    in place and call notify(Change.of_channels(names)); caches also compare curve revisions and gain values."""

    changed = Signal(Change)

    def __init__(
        self,
        source: FaceSource,
        audio: AudioSource,
        fps: float,
        base: BaseLayer,
        *,
        a2l: Choice | None = None,
        renderer: Choice | None = None,
        pose_template: np.ndarray | None = None,
        channels: dict[str, Curve] | None = None,
        gains: Gains | None = None,
        in_out: tuple[float, float] | None = None,
        path: str | None = None,
    ):
        self.source = source
        self.rig = source.fitted.rig  # fitted to this face: its blinks close these eyes
        self.channel_names: tuple[str, ...] = POSE_CHANNELS + tuple(self.rig.controls)
        unknown = set(channels or {}) - set(self.channel_names)
        if unknown:
            raise ValueError(f"unknown channel(s) {sorted(unknown)}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.audio_source = audio
        self.fps = float(fps)
        self.base = base
        self.a2l = a2l or default_choice(A2L_BACKENDS)
        self.renderer = renderer or default_choice(RENDERERS)
        self.pose_template = pose_template  # (N, 6) at 30 fps: drives the head instead of the predicted pose
        self.channels: dict[str, Curve] = {n: (channels or {}).get(n) or Curve() for n in self.channel_names}
        self.gains = gains or Gains()
        self.in_out = in_out
        self.path = path
        self._base_cache: tuple[tuple, np.ndarray, np.ndarray] | None = None
        self._parts_cache: tuple[tuple, tuple] | None = None
        self._sample_keys: dict[str, tuple] = {}
        self._samples: np.ndarray | None = None  # (T, C) channel values at every frame

    @property
    def reference(self) -> ReferenceFace:
        return self.source.reference

    @property
    def audio(self) -> AudioClip | None:
        return self.audio_source.clip

    # --- time ------------------------------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        return self.base.frame_count

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps

    def time_of(self, frame: int) -> float:
        return frame / self.fps

    def frame_of(self, time: float) -> int:
        """The frame showing at `time` (frame f covers [f/fps, (f+1)/fps)), clamped to the project."""
        return int(min(max(math.floor(time * self.fps + 1e-6), 0), self.frame_count - 1))

    # --- change notification and mutators ----------------------------------------------------------
    def notify(self, change: Change) -> None:
        if change.kind is ChangeKind.CHANNELS:
            for name in change.channels:
                self._sample_keys.pop(name, None)
        elif change.kind in (ChangeKind.GAINS, ChangeKind.BASE, ChangeKind.FPS, ChangeKind.FACE):
            self._base_cache = None
            if change.kind is not ChangeKind.GAINS:
                self._parts_cache = None
                self._sample_keys.clear()
        self.changed.emit(change)

    def set_channel(self, name: str, curve: Curve) -> None:
        self.set_channels({name: curve})

    def set_channels(self, curves: Mapping[str, Curve]) -> None:
        """Replaces the curves of several channels and notifies once (one CHANNELS change naming them all), so the
        views refresh once per edit rather than once per channel. Nothing changes if any name is unknown."""
        for name in curves:
            if name not in self.channels:
                raise KeyError(f"unknown channel {name!r}")
        if not curves:
            return
        self.channels.update(curves)
        self.notify(Change.of_channels(curves))

    def set_gains(self, gains: Gains) -> None:
        self.gains = gains
        self.notify(Change(ChangeKind.GAINS))

    def set_in_out(self, in_out: tuple[float, float] | None) -> None:
        if in_out is not None:
            a, b = float(in_out[0]), float(in_out[1])
            if not 0.0 <= a < b:
                raise ValueError(f"in/out range must satisfy 0 <= in < out, got {in_out}")
            in_out = (a, b)
        self.in_out = in_out
        self.notify(Change(ChangeKind.IN_OUT))

    def in_out_range(self) -> tuple[float, float] | None:
        """The in/out range as far as it lies within the animation, or None where none of it does (a shorter take
        animated after the range was marked leaves it past the end: a render of it gave the last frame alone)."""
        if self.in_out is None or self.in_out[0] >= self.duration:
            return None
        return self.in_out[0], min(self.in_out[1], self.duration)

    def set_fps(self, fps: float) -> None:
        """Changes the frame rate; keys are in seconds and stay put, the base layer is resampled."""
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        frames = self.audio.frame_count(fps) if self.audio is not None else frames_covering(self.duration, fps)
        self.base = self.base.resampled(float(fps), frames)
        self.fps = float(fps)
        self.notify(Change(ChangeKind.FPS))

    def set_base(self, base: BaseLayer, a2l: Choice) -> None:
        """Swaps in a base layer and the Audio2Lmk choice it was predicted with; channels and gains are kept."""
        self.base = base
        self.a2l = a2l
        self.notify(Change(ChangeKind.BASE))

    def set_source(self, source: FaceSource) -> None:
        """Swaps in another face source of the same kind (a replaced portrait): the motion, keys and gains stay
        and now move that face; the rig is the new face's (its blinks close those eyes)."""
        if source.kind != self.source.kind:
            raise ValueError(f"a {self.source.kind} project cannot take a {source.kind} as its face")
        if tuple(source.fitted.rig.controls) != tuple(self.rig.controls):
            raise ValueError("the new face's rig has other controls than the project's channels")
        self.source = source
        self.rig = source.fitted.rig
        self.notify(Change(ChangeKind.FACE))

    def set_renderer(self, renderer: Choice) -> None:
        self.renderer = renderer
        self.notify(Change(ChangeKind.RENDERER))

    # --- evaluation ------------------------------------------------------------------------------
    def _cached_base_parts(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """_base_parts of every frame, cached apart from the gains so that a gain slider only rescales."""
        key = (id(self.base), self.fps, self.gains.smoothing)
        if self._parts_cache is None or self._parts_cache[0] != key:
            parts = _base_parts(self.base, self.rig, self.gains.smoothing * self.fps, 0, self.frame_count)
            self._parts_cache = (key, parts)
        return self._parts_cache[1]

    def base_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(T, 468, 3) base offsets and (T, 6) base pose after gains and smoothing (cached)."""
        key = (id(self.base), self.fps, astuple(self.gains))
        if self._base_cache is None or self._base_cache[0] != key:
            self._base_cache = (key, *_with_gains(self._cached_base_parts(), self.gains))
        return self._base_cache[1], self._base_cache[2]

    def channel_samples(self) -> np.ndarray:
        """(T, C) value of every channel (order: channel_names) at every frame time (cached per curve)."""
        t = np.arange(self.frame_count) / self.fps
        if self._samples is None or self._samples.shape[0] != t.shape[0]:
            self._samples = np.zeros((t.shape[0], len(self.channel_names)))
            self._sample_keys.clear()
        for j, name in enumerate(self.channel_names):
            curve = self.channels[name]
            key = (id(curve), curve.revision, self.fps)
            if self._sample_keys.get(name) != key:
                self._samples[:, j] = curve.evaluate(t) if len(curve) else 0.0
                self._sample_keys[name] = key
        return self._samples

    def evaluate_motion(self, start: int = 0, stop: int | None = None) -> Motion:
        """The edited motion of frames [start, stop), vectorised (rendering, export and evaluate alike)."""
        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        start = max(0, start)
        offsets, base_pose = self.base_arrays()
        samples = self.channel_samples()[start:stop]
        n_pose = len(POSE_CHANNELS)
        rest, source_pose = self.source.geometry(start, stop)
        mesh = rest + offsets[start:stop]
        controls = samples[:, n_pose:]
        if np.any(controls):
            mesh = mesh + self.rig.offsets(controls)
        pose = base_pose[start:stop] + samples[:, :n_pose]
        return Motion(self.fps, mesh, pose if source_pose is None else pose + source_pose)

    def evaluate(self, frame: int) -> FrameState:
        """One frame of evaluate_motion, with the channel values the views show."""
        frame = int(min(max(frame, 0), self.frame_count - 1))
        motion = self.evaluate_motion(frame, frame + 1)
        ref = self.reference
        return FrameState(
            mesh=motion.mesh[0],
            pose=motion.pose[0],
            landmarks_px=motion.landmarks_px(ref.transform, ref.width, ref.height)[0],
            values=dict(zip(self.channel_names, self.channel_samples()[frame].tolist())),
            base_values={n: float(w[frame]) for n, w in self.base.weights.items()},
        )
