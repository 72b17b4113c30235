"""Test seams: a synthetic reference face (no MediaPipe), and a fake Audio2Lmk backend and a fake renderer that
tests register in the engine's registries, so the plumbing (pipeline, document, jobs, CLI, editor) is tested
in isolation and fast."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.a2l.backend import A2LCapabilities, stage_reporter
from engine.a2l.base_layer import BaseLayer
from engine.errors import RenderCancelled
from engine.face.canonical import load_canonical_model
from engine.face.reference import ReferenceFace
from engine.geometry import project
from engine.render.renderer import RendererCapabilities
from engine.sources.audio import AudioSource
from engine.sources.portrait import Framing, PortraitSource

FACE_DEPTH_CM = 30.0  # the face spans ~40 % of a square frame under MediaPipe's 63 degree camera


def synthetic_reference(size: int = 256) -> ReferenceFace:
    """MediaPipe's canonical face, frontal, in front of the camera, over a grey-gradient image."""
    mesh = load_canonical_model().vertices.astype(np.float64)
    transform = np.eye(4)
    transform[2, 3] = -FACE_DEPTH_CM
    px = project(mesh, transform, None, size, size)
    irises = np.concatenate([np.repeat(px[[33, 133]].mean(0, keepdims=True), 5, 0),
                             np.repeat(px[[362, 263]].mean(0, keepdims=True), 5, 0)])
    px = np.concatenate([px, irises])
    landmarks = np.concatenate([px / size, np.zeros((478, 1))], axis=1)
    ramp = np.linspace(60, 200, size, dtype=np.float64)
    image = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], np.full((size, size), 128.0)), axis=-1)
    return ReferenceFace(image=image.astype(np.uint8), landmarks=landmarks, mesh=mesh, transform=transform)


def synthetic_source(size: int = 256) -> PortraitSource:
    return PortraitSource("synthetic.png", synthetic_reference(size), Framing(size))


@dataclass
class FakeConfig:
    VERSION: ClassVar[int] = 1
    amplitude: float = 0.5  # jaw opening at the sine's crest
    period_s: float = 0.4
    weights: str | None = None


class FakeA2L:
    """jawOpen follows a sine; the head nods with it. Gives rig weights, no phonemes, no blinks."""

    name: ClassVar[str] = "fake"
    title: ClassVar[str] = "Fake (tests)"
    Config: ClassVar[type] = FakeConfig
    capabilities: ClassVar[A2LCapabilities] = A2LCapabilities(rig_weights=True)
    calls: ClassVar[int] = 0

    @classmethod
    def available(cls, config: FakeConfig) -> tuple[bool, str]:
        return True, ""

    def predict(self, audio, fps, config, *, progress=None, cancel=None) -> BaseLayer:
        from engine.rig import load_rig

        type(self).calls += 1
        report = stage_reporter(progress, cancel)
        n = audio.frame_count(fps)
        report(0.5)
        jaw = (config.amplitude * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / fps / config.period_s)))
        weights = {"jawOpen": jaw.astype(np.float32)}
        pose = np.zeros((n, 6))
        pose[:, 0] = 3.0 * jaw
        report(1.0)
        return BaseLayer(fps=float(fps), offsets=load_rig().offsets(weights).astype(np.float32), pose=pose,
                         weights=weights)


class NeedsWeightsA2L(FakeA2L):
    """Registered but not runnable without a weights folder (as the neural backends)."""

    name: ClassVar[str] = "needs_weights"
    capabilities: ClassVar[A2LCapabilities] = A2LCapabilities(needs_weights=True, needs_gpu=True)

    @classmethod
    def available(cls, config: FakeConfig) -> tuple[bool, str]:
        if not config.weights:
            return False, "needs a weights folder (--weights DIR)"
        return True, ""


@dataclass
class FlatConfig:
    VERSION: ClassVar[int] = 1
    window: int = 4  # frames per batch, like a diffusion renderer's context window
    weights: str | None = None


class FakeRenderer:
    """Frames in batches of `window`: each frame is the source image with the landmarks drawn white."""

    name: ClassVar[str] = "flat"
    title: ClassVar[str] = "Flat (tests)"
    Config: ClassVar[type] = FlatConfig
    capabilities: ClassVar[RendererCapabilities] = RendererCapabilities()

    @classmethod
    def available(cls, config: FlatConfig) -> tuple[bool, str]:
        return True, ""

    def __init__(self, source, config: FlatConfig | None = None):
        self.source, self.config = source, config or FlatConfig()

    def preview(self, landmarks: np.ndarray, index: int = 0) -> np.ndarray:
        frame = self.source.reference.image.copy()
        h, w = frame.shape[:2]
        xy = np.clip(np.round(landmarks).astype(int), 0, [w - 1, h - 1])
        frame[xy[:, 1], xy[:, 0]] = 255
        return frame

    def frames(self, landmarks, *, progress=None, cancel=None):
        for start in range(0, len(landmarks), self.config.window):
            if cancel is not None and cancel():
                raise RenderCancelled("render cancelled")
            batch = [self.preview(lm, start + i) for i, lm in enumerate(landmarks[start:start + self.config.window])]
            if progress is not None:
                progress(min(1.0, (start + len(batch)) / len(landmarks)))
            yield from batch


def silent_audio(seconds: float = 1.0, rate: int = 16000):
    from engine.audio.decode import AudioClip

    t = np.arange(int(seconds * rate)) / rate
    return AudioClip(samples=(0.1 * np.sin(2 * np.pi * 220 * t))[:, None].astype(np.float32), rate=rate)


__all__ = ["AudioSource", "FakeA2L", "FakeRenderer", "NeedsWeightsA2L", "silent_audio", "synthetic_reference",
           "synthetic_source"]
