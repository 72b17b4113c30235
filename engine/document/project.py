"""The animation document: sources, the Audio2Lmk base layer, additive keyframed edit channels and gains.

Per frame: mesh = reference rest mesh + base offsets (lip/blink gains, smoothing) + rig.offsets(edit values);
pose = base pose * head gain (smoothed) + pose channel values; landmarks = projection of both.
Everything that does not depend on the frame (scaled/smoothed base arrays, curves sampled at every frame)
is computed once per change and cached, so evaluate(frame) is a few small numpy operations.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import astuple, dataclass, field, fields
from typing import Callable

import numpy as np
from psygnal import Signal

from engine.a2l.base_layer import BaseLayer
from engine.audio.decode import AudioClip
from engine.document.curves import Curve
from engine.face.reference import ReferenceFace
from engine.geometry import project
from engine.motion import Motion

POSE_CHANNELS = ("rx", "ry", "rz", "tx", "ty", "tz")  # degrees, cm; ADDED to the base pose
BLINK_CONTROLS = ("eyeBlinkLeft", "eyeBlinkRight")  # base tracks scaled by Gains.blink instead of Gains.lip


@dataclass
class Gains:
    lip: float = 1.0  # scales the base layer's expression/mouth offsets
    head: float = 1.0  # scales the base pose
    smoothing: float = 0.0  # seconds (Gaussian sigma) of temporal smoothing of the base layer, blinks excepted
    blink: float = 1.0  # scales the base layer's blink tracks

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, d: dict) -> "Gains":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown gain(s) {sorted(unknown)}")
        gains = cls(**{k: float(v) for k, v in d.items()})
        if not all(math.isfinite(v) for v in astuple(gains)) or gains.smoothing < 0:
            raise ValueError(f"invalid gains {gains}")
        return gains


@dataclass
class Sources:
    portrait: str
    audio: str
    transcript: str | None = None


@dataclass
class FrameState:
    mesh: np.ndarray  # (468, 3) canonical cm
    pose: np.ndarray  # (6,) relative pose
    landmarks_px: np.ndarray  # (468, 2) pixels of the reference frame
    values: dict[str, float]  # every edit channel's value at this frame (0.0 where not animated)
    base_values: dict[str, float] = field(default_factory=dict)  # base layer's control weights at this frame


def _smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    if sigma_frames <= 0 or x.shape[0] < 2:
        return x
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(x, sigma_frames, axis=0, mode="nearest")


def resample_base(base: BaseLayer, fps: float, frames: int) -> BaseLayer:
    """The base layer at another frame rate (linear in time; segments are in seconds already)."""
    src = np.clip(np.arange(frames) * (base.fps / fps), 0, base.frame_count - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, base.frame_count - 1)
    w = (src - i0)[:, None]

    def lerp(a: np.ndarray) -> np.ndarray:
        flat = a.reshape(a.shape[0], -1)
        return ((1 - w) * flat[i0] + w * flat[i1]).reshape((frames,) + a.shape[1:]).astype(a.dtype)

    return BaseLayer(
        fps=fps,
        offsets=lerp(base.offsets),
        pose=lerp(base.pose),
        weights={k: lerp(v) for k, v in base.weights.items()},
        phonemes=list(base.phonemes),
        visemes=list(base.visemes),
        blinks=list(base.blinks),
        backend=base.backend,
    )


class Project:
    """The document the editor edits. Mutate through the methods (they notify) or change curves in
    place and call notify("channel:<name>"); caches also compare curve revisions and gain values."""

    # "channel:<name>[,<name>...]" (one notification for every channel of one edit), "gains", "base",
    # "sources", "in_out", "fps"
    changed = Signal(str)

    def __init__(
        self,
        sources: Sources,
        fps: float,
        reference: ReferenceFace,
        audio: AudioClip | None,
        base: BaseLayer,
        *,
        channels: dict[str, Curve] | None = None,
        gains: Gains | None = None,
        in_out: tuple[float, float] | None = None,
        a2l_settings=None,
        path: str | None = None,
    ):
        self.rig = reference.rig  # fitted to this face: its blinks close these eyes
        self.channel_names: tuple[str, ...] = POSE_CHANNELS + tuple(self.rig.controls)
        unknown = set(channels or {}) - set(self.channel_names)
        if unknown:
            raise ValueError(f"unknown channel(s) {sorted(unknown)}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.sources = sources
        self.fps = float(fps)
        self.reference = reference
        self.audio = audio
        self.base = base
        self.channels: dict[str, Curve] = {n: (channels or {}).get(n) or Curve() for n in self.channel_names}
        self.gains = gains or Gains()
        self.in_out = in_out
        if a2l_settings is None:
            from engine.a2l.embedded import A2LSettings

            a2l_settings = A2LSettings()
        self.a2l_settings = a2l_settings
        self.path = path
        self._base_cache: tuple[tuple, np.ndarray, np.ndarray] | None = None
        self._parts_cache: tuple[tuple, tuple] | None = None
        self._sample_keys: dict[str, tuple] = {}
        self._samples: np.ndarray | None = None  # (T, C) channel values at every frame

    # --- construction ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        portrait: str,
        audio: str,
        *,
        fps: float = 30.0,
        size: int = 512,
        settings=None,
        progress: Callable[[float], None] | None = None,
    ) -> "Project":
        """Analyses the portrait, decodes the audio and predicts the base layer (embedded Audio2Lmk)."""
        from engine.a2l.embedded import A2LSettings, predict_embedded
        from engine.audio.decode import load_audio
        from engine.face.reference import analyze_portrait

        settings = settings or A2LSettings()
        reference = analyze_portrait(str(portrait), size=size)
        clip = load_audio(str(audio))
        base = predict_embedded(clip, fps, settings, progress)
        sources = Sources(str(portrait), str(audio), settings.transcript)
        return cls(sources, fps, reference, clip, base, a2l_settings=settings)

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
    def notify(self, what: str) -> None:
        if what.startswith("channel:"):
            for name in what.split(":", 1)[1].split(","):
                self._sample_keys.pop(name, None)
        elif what in ("gains", "base", "fps"):
            self._base_cache = None
            if what != "gains":
                self._parts_cache = None
                self._sample_keys.clear()
        self.changed.emit(what)

    def set_channel(self, name: str, curve: Curve) -> None:
        self.set_channels({name: curve})

    def set_channels(self, curves: Mapping[str, Curve]) -> None:
        """Replaces the curves of several channels and notifies once ("channel:<a>,<b>,..."), so the views
        refresh once per edit rather than once per channel. Nothing changes if any name is unknown."""
        for name in curves:
            if name not in self.channels:
                raise KeyError(f"unknown channel {name!r}")
        if not curves:
            return
        self.channels.update(curves)
        self.notify("channel:" + ",".join(curves))

    def set_gains(self, gains: Gains) -> None:
        self.gains = gains
        self.notify("gains")

    def set_in_out(self, in_out: tuple[float, float] | None) -> None:
        if in_out is not None:
            a, b = float(in_out[0]), float(in_out[1])
            if not 0.0 <= a < b:
                raise ValueError(f"in/out range must satisfy 0 <= in < out, got {in_out}")
            in_out = (a, b)
        self.in_out = in_out
        self.notify("in_out")

    def set_fps(self, fps: float) -> None:
        """Changes the frame rate; keys are in seconds and stay put, the base layer is resampled."""
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        frames = self.audio.frame_count(fps) if self.audio is not None else max(1, math.ceil(self.duration * fps - 1e-9))
        self.base = resample_base(self.base, float(fps), frames)
        self.fps = float(fps)
        self.notify("fps")

    def regenerate(self, settings=None, progress: Callable[[float], None] | None = None) -> None:
        """Re-predicts the base layer from the audio; channels and gains are kept."""
        from engine.a2l.embedded import predict_embedded
        from engine.errors import AudioReadError

        if self.audio is None:
            raise AudioReadError(f"the audio source {self.sources.audio} is missing: relink it before regenerating")
        settings = settings or self.a2l_settings
        self.set_base(predict_embedded(self.audio, self.fps, settings, progress), settings)

    def set_base(self, base: BaseLayer, settings) -> None:
        """Swaps in a base layer and the A2L settings it was predicted with (the settings' transcript becomes
        the sources' transcript); channels and gains are kept."""
        self.base = base
        self.a2l_settings = settings
        self.sources.transcript = settings.transcript
        self.notify("base")

    # --- evaluation ------------------------------------------------------------------------------
    def _base_parts(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Smoothed expression offsets, blink offsets (None without blink tracks) and smoothed pose;
        cached apart from the gains so that a gain slider only rescales."""
        key = (id(self.base), self.fps, self.gains.smoothing)
        if self._parts_cache is None or self._parts_cache[0] != key:
            base = self.base
            sigma = self.gains.smoothing * self.fps
            blink_tracks = {n: base.weights[n] for n in BLINK_CONTROLS if n in base.weights}
            # The base layer's blinks were made with the canonical rig; swap in this face's lids.
            from engine.a2l.rig import load_rig

            canonical_blinks = load_rig().offsets(blink_tracks).astype(np.float64) if blink_tracks else 0.0
            blinks = self.rig.offsets(blink_tracks).astype(np.float64) if blink_tracks else None
            expr = base.offsets.astype(np.float64) - canonical_blinks
            # Blinks are left out of the smoothing: they are brief on purpose, not jitter.
            self._parts_cache = (key, (_smooth(expr, sigma), blinks, _smooth(base.pose.astype(np.float64), sigma)))
        return self._parts_cache[1]

    def base_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(T, 468, 3) base offsets and (T, 6) base pose after gains and smoothing (cached)."""
        g = self.gains
        key = (id(self.base), self.fps, astuple(g))
        if self._base_cache is None or self._base_cache[0] != key:
            expr, blinks, pose = self._base_parts()
            offsets = g.lip * expr if blinks is None else g.lip * expr + g.blink * blinks
            self._base_cache = (key, offsets, g.head * pose)
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

    def evaluate(self, frame: int) -> FrameState:
        frame = int(min(max(frame, 0), self.frame_count - 1))
        offsets, base_pose = self.base_arrays()
        row = self.channel_samples()[frame]
        n_pose = len(POSE_CHANNELS)
        mesh = self.reference.rest_mesh + offsets[frame]
        edits = {n: v for n, v in zip(self.channel_names[n_pose:], row[n_pose:].tolist()) if v != 0.0}
        if edits:
            mesh = mesh + self.rig.offsets_frame(edits)
        pose = base_pose[frame] + row[:n_pose]
        ref = self.reference
        landmarks = project(mesh, ref.transform, pose, ref.width, ref.height)
        return FrameState(
            mesh=mesh,
            pose=pose,
            landmarks_px=landmarks,
            values=dict(zip(self.channel_names, row.tolist())),
            base_values={n: float(w[frame]) for n, w in self.base.weights.items()},
        )

    def evaluate_motion(self, start: int = 0, stop: int | None = None) -> Motion:
        """The edited motion of frames [start, stop), vectorised (for rendering and export)."""
        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        start = max(0, start)
        offsets, base_pose = self.base_arrays()
        samples = self.channel_samples()[start:stop]
        n_pose = len(POSE_CHANNELS)
        mesh = self.reference.rest_mesh + offsets[start:stop]
        controls = samples[:, n_pose:]
        if np.any(controls):
            mesh = mesh + self.rig.offsets(controls)
        return Motion(self.fps, mesh, base_pose[start:stop] + samples[:, :n_pose])
