"""A still portrait as the face source: analysed once (face found, framed, mesh and transform derived)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.face.reference import ReferenceFace, analyze_portrait
from engine.sources.base import FittedFace


@dataclass(frozen=True)
class Framing:
    """How a portrait is framed: a square face crop of `size` px, or the whole image with its longer side `size`."""

    size: int = 512
    full_frame: bool = False
    face_index: int | None = None  # which face when the image has several (0 = leftmost)

    def to_json(self) -> dict:
        return {"size": self.size, "full_frame": self.full_frame, "face_index": self.face_index}

    @classmethod
    def from_json(cls, d: dict) -> "Framing":
        size, full, index = d.get("size", 512), d.get("full_frame", False), d.get("face_index")
        if not isinstance(size, int) or isinstance(size, bool) or size < 2 or not isinstance(full, bool) \
                or not (index is None or (isinstance(index, int) and not isinstance(index, bool) and index >= 0)):
            raise ValueError(f"invalid portrait framing {d!r}")
        return cls(size, full, index)


class PortraitSource:
    kind: ClassVar[str] = "portrait"

    def __init__(self, path: str, reference: ReferenceFace, framing: Framing = Framing(),
                 fitted: FittedFace | None = None):
        self.path = path
        self.reference = reference
        self.framing = framing
        self.fitted = fitted or FittedFace(reference.mesh)

    @classmethod
    def analyze(cls, image: str | os.PathLike | np.ndarray, framing: Framing = Framing(),
                name: str | None = None) -> "PortraitSource":
        """Finds the face in `image` (a path or an RGB array) and frames it; `name` labels an array source."""
        reference = analyze_portrait(image, size=framing.size, crop=not framing.full_frame,
                                     face_index=framing.face_index)
        path = os.fspath(image) if not isinstance(image, np.ndarray) else (name or "<image>")
        return cls(path, reference, framing)

    @property
    def frame_count(self) -> int | None:
        return None

    def frame(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.reference.image, self.reference.landmarks_px

    def animate(self, base):
        """A still takes the whole predicted motion."""
        return base

    def geometry(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A still: the rest mesh at every frame, no head motion of its own."""
        return np.broadcast_to(self.fitted.rest_mesh, (max(0, stop - start), 468, 3)), None

    def from_frame(self, start: int) -> "PortraitSource":
        return self  # a still looks the same at every frame

    def resized(self, size: int) -> "PortraitSource":
        reference = self.reference.resized(size)
        if reference is self.reference:
            return self
        return PortraitSource(self.path, reference, self.framing, self.fitted)
