"""The Audio2Lmk backend protocol: audio -> base layer (per-frame mesh offsets, head pose, and whatever
tracks the backend can give). Backends are registered by name in engine.plugins.A2L_BACKENDS."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from engine.a2l.base_layer import BaseLayer
from engine.audio.decode import AudioClip
from engine.errors import Cancelled

Progress = Callable[[float], None]  # 0..1
Cancel = Callable[[], bool]  # True once the user cancelled


@dataclass(frozen=True)
class A2LCapabilities:
    phonemes: bool = False  # phoneme and viseme segments (lanes, mouth cues)
    blinks: bool = False  # blink segments and eyeBlink tracks (blink gain)
    rig_weights: bool = False  # per-control weight tracks (base curves in the graph editor, inspector base values)
    transcript: bool = False  # uses a transcript for forced alignment
    needs_weights: bool = False  # needs a weights folder (--weights DIR)
    needs_gpu: bool = False


class A2LBackend(Protocol):
    name: ClassVar[str]
    title: ClassVar[str]
    Config: ClassVar[type]
    capabilities: ClassVar[A2LCapabilities]

    @classmethod
    def available(cls, config: Any) -> tuple[bool, str]: ...

    def predict(self, audio: AudioClip, fps: float, config: Any, *, progress: Progress | None = None,
                cancel: Cancel | None = None) -> BaseLayer: ...


def stage_reporter(progress: Progress | None, cancel: Cancel | None) -> Callable[[float], None]:
    """progress(f), raising Cancelled first when the user cancelled: call it between a backend's stages."""

    def report(fraction: float) -> None:
        if cancel is not None and cancel():
            raise Cancelled("prediction cancelled")
        if progress is not None:
            progress(fraction)

    return report
