"""The renderer protocol (Lmk2Video): built from a face source and a config, it turns a whole landmark
sequence into frames, so a windowed diffusion renderer (frames come out in batches, after several
denoising steps) fits as well as the per-frame warp. `preview` renders one frame fast for the editor.
Renderers are registered by name in engine.plugins.RENDERERS."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from engine.render.turn_limit import TurnLimit
from engine.sources.base import FaceSource

Progress = Callable[[float], None]  # 0..1 of the renderer's own work (e.g. denoising steps)
Cancel = Callable[[], bool]
Region = tuple[int, int, int, int]  # x0, y0, x1, y1 pixels of a frame


@dataclass(frozen=True)
class RendererCapabilities:
    realtime_preview: bool = False  # preview() is fast enough to follow the playhead
    needs_weights: bool = False
    needs_gpu: bool = False
    # frames()/preview() take `regions`/`region`: the part of each frame the caller uses (a dub blends back only
    # the lower face); pixels outside it may be left as the source's
    regions: bool = False
    # how far it can turn the head away from the source picture's own pose (engine.render.turn_limit); None: any
    turn_limit: TurnLimit | None = None


class Renderer(Protocol):
    name: ClassVar[str]
    title: ClassVar[str]
    Config: ClassVar[type]
    capabilities: ClassVar[RendererCapabilities]

    @classmethod
    def available(cls, config: Any) -> tuple[bool, str]: ...

    def __init__(self, source: FaceSource, config: Any): ...

    def frames(self, landmarks: np.ndarray, *, progress: Progress | None = None,
               cancel: Cancel | None = None) -> Iterator[np.ndarray]:
        """(T, 468|478, 2) landmarks in the source frame's pixels -> T frames (H, W, 3) uint8 RGB, in order."""
        ...

    def preview(self, landmarks: np.ndarray, index: int = 0) -> np.ndarray:
        """One frame for (468|478, 2) landmarks, at source frame `index`."""
        ...
