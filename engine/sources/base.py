"""The face-source protocol: the frames a renderer warps and the face the animation is built on."""
from __future__ import annotations

from functools import cached_property
from typing import ClassVar, Protocol

import numpy as np

from engine.face.reference import ReferenceFace


class FittedFace:
    """The rest mesh and the rig fitted to one face's neutral mesh (computed once, shared by resized copies)."""

    def __init__(self, mesh: np.ndarray):
        self.mesh = mesh

    @cached_property
    def rest_mesh(self) -> np.ndarray:
        """The mesh motion is added to: `mesh` with parted lips closed (see engine.rig.rest_pose)."""
        from engine.rig import load_rig
        from engine.rig.rest_pose import mouth_rest_offsets

        return self.mesh + mouth_rest_offsets(self.mesh, load_rig())

    @cached_property
    def rig(self):
        """The expression rig fitted to this face (its blinks close these eyes exactly)."""
        from engine.rig import fit_to_face

        return fit_to_face(self.rest_mesh)


class FaceSource(Protocol):
    kind: ClassVar[str]
    path: str
    reference: ReferenceFace  # the frame motion is projected into (a video's first tracked frame)
    fitted: FittedFace

    @property
    def frame_count(self) -> int | None: ...  # None for a still

    def frame(self, index: int) -> tuple[np.ndarray, np.ndarray]: ...  # (H, W, 3) RGB, (478, 2) landmarks px

    def geometry(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Per frame of [start, stop): the rest mesh motion is added to (n, 468, 3), and the source's own head
        pose (n, 6) or None for a still."""
        ...

    def animate(self, base): ...  # the part of a predicted BaseLayer this source takes (a dub: the lower face)

    def resized(self, size: int) -> "FaceSource": ...

    def from_frame(self, start: int) -> "FaceSource": ...  # for a render: output frame `start` as frame 0
