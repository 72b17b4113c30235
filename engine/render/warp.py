"""The `warp` Lmk2Video backend: a CPU, real-time, landmark-driven warp of one portrait.

Per frame: a dense backward map from the target landmarks (engine.render.warp_field), one cv2.remap of
the source frame, then eyelids that cover the eye (engine.render.eyes) and a synthesised mouth interior
where the target opens the mouth wider than the source (engine.render.mouth). The same object powers
the editor's live preview and the final render.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.errors import RenderCancelled
from engine.face.reference import ReferenceFace
from engine.render.eyes import paint_eyes, seal_lids
from engine.render.mouth import MouthStyle, paint_mouth, seal_lips
from engine.render.person_mask import person_mask
from engine.render.renderer import Cancel, Progress, Region, RendererCapabilities
from engine.render.turn_limit import TurnLimit
from engine.render.warp_field import WarpField
from engine.sources.base import FaceSource

DEFAULT_GRID_STEP = 4  # px between nodes of the displacement grid
# Lips and eyelids the target closes are re-sampled this many grid steps either side of the lip or lid line: the
# bilinear map between grid nodes smears a squeezed mouth's interior (or eyeball) over up to a step each side.
SEAL_REACH_STEPS = 1.5
# The turns a warp of one picture shows without folding, from renders of turns ramped to 90 degrees (hallo__6,
# s12, the statue, Moore 4, Eric Bana): yaw alone is clean at 30 degrees, squeezes the near cheek at 40 and breaks
# the face's edge into grid steps at 50; a nod folds sooner (the chin 30 degrees down, the nostrils 30 up), and a
# tilt past 25 detaches the face from the hair, which does not turn with it; a turn and a nod together fold the
# nose over the cheek sooner than either alone (hence one length over the axes). The knee (0.6 of the most: 24
# degrees of yaw alone, 15 of a nod) leaves speech's own motion (within 10 degrees) and typed poses up to it
# exactly as animated.
WARP_TURN_LIMIT = TurnLimit(most=(25.0, 40.0, 25.0), knee=0.6)


def _landmarks(px, name: str) -> np.ndarray:
    arr = np.asarray(px, dtype=np.float64)
    if arr.ndim != 2 or arr.shape not in ((468, 2), (478, 2)):
        raise ValueError(f"{name} must have shape (468, 2) or (478, 2) in pixels, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    return arr


class WarpRenderer:
    """Renders target landmarks (pixels of the reference frame) as frames of the reference's size."""

    def __init__(self, reference: ReferenceFace, grid_step: int = DEFAULT_GRID_STEP, still_background: bool = True):
        """`still_background`: the background beyond the person's silhouette (engine.render.person_mask) stays
        still; False: the field fades out with the distance from the face alone."""
        self.reference = reference
        self.grid_step = grid_step
        self._image = np.ascontiguousarray(reference.image[..., :3])
        self._px = _landmarks(reference.landmarks_px, "reference landmarks")
        person = person_mask(self._image, self._px) if still_background else None
        self._field = WarpField(self._px, reference.width, reference.height, grid_step, person=person)
        self._mouth = MouthStyle.of(self._image, self._px)

    def render(self, target_px: np.ndarray, source: np.ndarray | None = None,
               source_px: np.ndarray | None = None) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame with the face moved onto `target_px` ((468|478, 2) pixels).

        `source`/`source_px` warp another frame with its own landmarks instead of the reference
        (e.g. a video frame for dubbing); its geometry is then built on the fly (slower)."""
        return self.render_warm(target_px, None, source, source_px)[0]

    def render_warm(self, target_px: np.ndarray, start: np.ndarray | None, source: np.ndarray | None = None,
                    source_px: np.ndarray | None = None,
                    region: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """render() for the next frame of a sequence: the backward map is warm-started from `start`, the
        previous frame's grid (None for the first). Returns (frame, this frame's grid).

        `region` (x0, y0, x1, y1), with a source frame only: just that part of the frame is warped (the rest is
        the source frame as it is), at a cost in proportion to its area; None: all of it."""
        import cv2

        target = _landmarks(target_px, "target landmarks")
        if source is None:
            if region is not None:
                raise ValueError("a region is rendered over a source frame only")
            image, px, field, mouth = self._image, self._px, self._field, self._mouth
        else:
            if source_px is None:
                raise ValueError("source_px is required with a source frame")
            image = np.ascontiguousarray(np.asarray(source)[..., :3])
            if image.ndim != 3 or image.dtype != np.uint8:
                raise ValueError(f"source must be an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
            px = _landmarks(source_px, "source landmarks")
            if region is not None:  # the caller's region and the two grid steps the map interpolates over
                x0, y0, x1, y1 = region
                m = 2 * self.grid_step
                region = (max(x0 - m, 0), max(y0 - m, 0), min(x1 + m, image.shape[1]), min(y1 + m, image.shape[0]))
            field = WarpField(px, image.shape[1], image.shape[0], self.grid_step, region)
            mouth = MouthStyle.of(image, px, self._mouth.look)  # a video's frames share its look
        grid = field.backward_grid(target, start)
        warped = cv2.remap(image, field.map_of_grid(grid), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        if region is None:
            out = warped
        else:
            x0, y0, x1, y1 = field.region
            out = image.copy()
            out[y0:y1, x0:x1] = warped
        head = field.rigid_matrix(target)
        seal_lips(out, image, px, target, head, SEAL_REACH_STEPS * self.grid_step, moving_source=source is not None)
        seal_lids(out, image, px, target, head, SEAL_REACH_STEPS * self.grid_step)
        paint_eyes(out, image, px, target)
        paint_mouth(out, target, mouth, head, moving_source=source is not None)
        return out, grid


@dataclass
class WarpConfig:
    VERSION: ClassVar[int] = 1
    grid_step: int = DEFAULT_GRID_STEP
    # Keep the background beyond the person's silhouette still (a GrabCut segmentation of the portrait); off: the
    # warp fades out with the distance from the face, so a wall or door frame near the head bends with it.
    still_background: bool = dataclasses.field(default=True, metadata={
        "help": "keep the background beyond the person still (turn off if the hair's edge stretches)"})

    def validate(self) -> None:
        if not 1 <= self.grid_step <= 32:
            raise ValueError(f"grid_step must be 1..32 px, got {self.grid_step}")


class WarpBackend:
    """The clip-level renderer over WarpRenderer: a still source's geometry is built once, and each frame is
    one warp; a source with frames of its own warps frame i with its own landmarks."""

    name: ClassVar[str] = "warp"
    title: ClassVar[str] = "Warp (CPU, real time)"
    Config: ClassVar[type] = WarpConfig
    capabilities: ClassVar[RendererCapabilities] = RendererCapabilities(realtime_preview=True, regions=True,
                                                                                 turn_limit=WARP_TURN_LIMIT)

    @classmethod
    def available(cls, config: WarpConfig) -> tuple[bool, str]:
        return True, ""

    def __init__(self, source: FaceSource, config: WarpConfig | None = None):
        self.source = source
        self.config = config or WarpConfig()
        # a still's background is kept still (a source with frames of its own warps each frame with its own field)
        self._warp = WarpRenderer(source.reference, self.config.grid_step,
                                  self.config.still_background and source.frame_count is None)

    def preview(self, landmarks: np.ndarray, index: int = 0, region: Region | None = None) -> np.ndarray:
        if self.source.frame_count is None:
            return self._warp.render(landmarks)
        image, px = self.source.frame(index)
        return self._warp.render_warm(landmarks, None, image, px, region)[0]

    def frames(self, landmarks, *, progress: Progress | None = None, cancel: Cancel | None = None,
               regions: Sequence[Region | None] | None = None) -> Iterator[np.ndarray]:
        """Frames in order; each frame's backward map is warm-started from the previous one's (over a source's
        own frames with `regions`, each frame is solved from scratch: its grid covers another region)."""
        total = len(landmarks)
        grid = None
        for i, target in enumerate(landmarks):
            if cancel is not None and cancel():
                raise RenderCancelled("render cancelled")
            if self.source.frame_count is None:
                frame, grid = self._warp.render_warm(target, grid)
            elif regions is not None:
                image, px = self.source.frame(i)
                frame = self._warp.render_warm(target, None, image, px, regions[i])[0]
            else:
                image, px = self.source.frame(i)
                frame, grid = self._warp.render_warm(target, grid, image, px)
            yield frame
            if progress is not None:
                progress((i + 1) / total)
