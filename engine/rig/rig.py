"""The expression rig: named ARKit-style controls, each a linear displacement field on the canonical mesh.

offsets = weights @ basis, one float32 matmul for a whole clip. Non-linear motions (the jaw's rotation
about its hinge) are baked at weight 1, so the rig stays linear and fast, as the design requires.
Left/Right are the subject's left/right (ARKit and MediaPipe convention; +x in canonical space).
mouthClose follows ARKit: it closes the lips against an open jaw and is meant to be used with
mouthClose <= jawOpen (alone it would press the lips through each other).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import numpy as np

from engine.rig.controls import build_fields
from engine.face.canonical import load_canonical_model

CONTROLS: tuple[str, ...] = (
    "jawOpen",
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthRollLower",
    "mouthRollUpper",
    "cheekPuff",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeWideLeft",
    "eyeWideRight",
    "browInnerUp",
    "browDownLeft",
    "browDownRight",
    "browOuterUpLeft",
    "browOuterUpRight",
)

# A vertex counts as moved by a control when it travels at least this far at weight 1 (cm).
REGION_THRESHOLD_CM = 0.01


@dataclass(frozen=True)
class Rig:
    controls: tuple[str, ...]
    basis: np.ndarray  # (K, 468, 3) float32, cm displacement at weight 1
    ranges: dict[str, tuple[float, float]]

    def __post_init__(self) -> None:
        flat = np.ascontiguousarray(self.basis, dtype=np.float32).reshape(len(self.controls), -1)
        object.__setattr__(self, "_flat", flat)
        object.__setattr__(self, "_index", {name: k for k, name in enumerate(self.controls)})

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"unknown rig control {name!r}; known controls: {', '.join(self.controls)}") from None

    def weight_matrix(self, weights: Mapping[str, np.ndarray] | np.ndarray) -> np.ndarray:
        """(T, K) float32 from a (T, K) array or a dict name -> (T,) (missing controls are 0)."""
        if isinstance(weights, Mapping):
            tracks = {self.index(name): np.asarray(track, dtype=np.float32).reshape(-1) for name, track in weights.items()}
            lengths = {len(t) for t in tracks.values()}
            if len(lengths) > 1:
                raise ValueError(f"weight tracks differ in length: {sorted(lengths)}")
            w = np.zeros((lengths.pop() if lengths else 0, len(self.controls)), dtype=np.float32)
            for k, track in tracks.items():
                w[:, k] = track
            return w
        w = np.asarray(weights, dtype=np.float32)
        if w.ndim != 2 or w.shape[1] != len(self.controls):
            raise ValueError(f"weights must be (T, {len(self.controls)}), got {w.shape}")
        return w

    def offsets(self, weights: Mapping[str, np.ndarray] | np.ndarray) -> np.ndarray:
        """(T, 468, 3) float32 mesh offsets for per-frame control weights."""
        w = self.weight_matrix(weights)
        return (w @ self._flat).reshape(len(w), self.basis.shape[1], 3)

    def offsets_frame(self, values: Mapping[str, float]) -> np.ndarray:
        """(468, 3) float32 offsets for one frame's control values."""
        row = np.zeros((1, len(self.controls)), dtype=np.float32)
        for name, value in values.items():
            row[0, self.index(name)] = value
        return self.offsets(row)[0]

    def region(self, name: str) -> np.ndarray:
        """(468,) bool: the vertices this control moves."""
        return np.linalg.norm(self.basis[self.index(name)], axis=1) >= REGION_THRESHOLD_CM


@lru_cache(maxsize=1)
def load_rig() -> Rig:
    """The rig of MediaPipe's canonical face (built in a few ms from the mesh and cached)."""
    model = load_canonical_model()
    fields = build_fields(model.vertices, model.triangles)
    missing = set(CONTROLS) ^ set(fields)
    if missing:
        raise RuntimeError(f"rig controls and fields disagree: {sorted(missing)}")
    basis = np.stack([fields[name] for name in CONTROLS]).astype(np.float32)
    basis.setflags(write=False)
    return Rig(controls=CONTROLS, basis=basis, ranges={name: (0.0, 1.0) for name in CONTROLS})


@lru_cache(maxsize=1)
def _canonical_mirror() -> np.ndarray:
    """(468,) the canonical mesh's mirror map (x -> -x nearest vertex), as the rig's builder computes it."""
    from engine.rig.mesh import FaceGraph

    model = load_canonical_model()
    mirror = FaceGraph(np.asarray(model.vertices, dtype=np.float64), np.asarray(model.triangles)).mirror
    mirror.setflags(write=False)
    return mirror


def fit_to_face(mesh: np.ndarray) -> Rig:
    """The rig with its lid controls rebuilt on one face's own mesh.

    A canonical-face blink moves each lid by the canonical eye opening, which leaves wider eyes a slit
    apart; rebuilt on the face itself, eyeBlink = 1 closes that face's eyes exactly. The right eye is
    built as the left eye of the mirrored face (canonical mirror map), so asymmetric faces fit both sides.
    """
    from engine.rig.controls import ControlBuilder, mirror_field

    rig = load_rig()
    model = load_canonical_model()
    mirror = _canonical_mirror()
    mesh = np.asarray(mesh, dtype=np.float64)
    left = ControlBuilder(mesh, model.triangles).eye_blink_left()
    mirrored = mesh[mirror] * np.array([-1.0, 1.0, 1.0])
    right = mirror_field(ControlBuilder(mirrored, model.triangles).eye_blink_left(), mirror)
    basis = rig.basis.copy()
    basis[rig.index("eyeBlinkLeft")] = left
    basis[rig.index("eyeBlinkRight")] = right
    basis.setflags(write=False)
    return Rig(controls=rig.controls, basis=basis, ranges=dict(rig.ranges))
