"""The base layer: what an Audio2Lmk backend predicts, and what the editor's keyframes refine."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Segment:
    """A labelled time span in seconds (a phoneme, a viseme, a word or a blink)."""

    start: float
    end: float
    label: str


SEGMENT_KINDS = ("phonemes", "visemes", "blinks", "words")
# A word label longer than this is cut (a project file's labels hold 64 characters; a typed or recognised token
# can be longer, and espeak-ng takes a run of Chinese or Japanese characters without spaces as one word).
MAX_WORD_CHARS = 32


@dataclass
class BaseLayer:
    fps: float
    offsets: np.ndarray  # (T, 468, 3) float32, cm, added to the reference canonical mesh
    pose: np.ndarray  # (T, 6) float64 relative pose [rx, ry, rz deg, tx, ty, tz cm]
    # What a backend can give beyond offsets and pose (empty where it cannot: see A2LCapabilities).
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # rig control -> (T,) track
    phonemes: list[Segment] = field(default_factory=list)
    visemes: list[Segment] = field(default_factory=list)
    blinks: list[Segment] = field(default_factory=list)
    # The words spoken (an aligned transcript's, or the recognised English words; empty where the phones were
    # recognised without words, in another language, or come from the sound alone): the editor's word lane.
    words: list[Segment] = field(default_factory=list)

    def __post_init__(self):
        if any(len(w.label) > MAX_WORD_CHARS for w in self.words):
            self.words = [Segment(w.start, w.end, w.label[:MAX_WORD_CHARS]) for w in self.words]
        t = self.offsets.shape[0]
        if self.offsets.shape[1:] != (468, 3) or self.pose.shape != (t, 6):
            raise ValueError(f"base layer shapes disagree: offsets {self.offsets.shape}, pose {self.pose.shape}")
        for name, track in self.weights.items():
            if track.shape != (t,):
                raise ValueError(f"weight track {name!r} has shape {track.shape}, expected ({t},)")

    @property
    def frame_count(self) -> int:
        return int(self.offsets.shape[0])

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps

    def to_arrays(self, prefix: str = "base/") -> dict[str, np.ndarray]:
        """Flat arrays for an npz member (no pickling: segments become parallel arrays)."""
        out = {
            f"{prefix}fps": np.asarray(self.fps, dtype=np.float64),
            f"{prefix}offsets": self.offsets.astype(np.float32),
            f"{prefix}pose": self.pose.astype(np.float64),
            f"{prefix}weight_names": np.asarray(sorted(self.weights), dtype=str),
        }
        for i, name in enumerate(sorted(self.weights)):
            out[f"{prefix}weight/{i}"] = self.weights[name].astype(np.float32)
        for kind in SEGMENT_KINDS:
            segs: list[Segment] = getattr(self, kind)
            out[f"{prefix}{kind}/times"] = np.asarray([[s.start, s.end] for s in segs], dtype=np.float64).reshape(-1, 2)
            out[f"{prefix}{kind}/labels"] = np.asarray([s.label for s in segs], dtype=str)
        return out

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "base/") -> "BaseLayer":
        names = [str(n) for n in arrays[f"{prefix}weight_names"]]
        weights = {n: np.asarray(arrays[f"{prefix}weight/{i}"], dtype=np.float32) for i, n in enumerate(names)}

        def segments(kind: str) -> list[Segment]:
            if f"{prefix}{kind}/times" not in arrays:  # files written before the base layer kept its words
                return []
            times = np.asarray(arrays[f"{prefix}{kind}/times"]).reshape(-1, 2)
            labels = [str(x) for x in arrays[f"{prefix}{kind}/labels"]]
            return [Segment(float(a), float(b), lab) for (a, b), lab in zip(times, labels)]

        return cls(
            fps=float(arrays[f"{prefix}fps"]),
            offsets=np.asarray(arrays[f"{prefix}offsets"], dtype=np.float32),
            pose=np.asarray(arrays[f"{prefix}pose"], dtype=np.float64),
            weights=weights,
            phonemes=segments("phonemes"),
            visemes=segments("visemes"),
            blinks=segments("blinks"),
            words=segments("words"),
        )

    def resampled(self, fps: float, frames: int) -> "BaseLayer":
        """The base layer at another frame rate (linear in time; segments are in seconds already)."""
        from engine.timing import resample_frames

        def lerp(a: np.ndarray) -> np.ndarray:
            return resample_frames(a, self.fps, fps, frames)

        return BaseLayer(fps=fps, offsets=lerp(self.offsets), pose=lerp(self.pose),
                         weights={k: lerp(v) for k, v in self.weights.items()},
                         phonemes=list(self.phonemes), visemes=list(self.visemes), blinks=list(self.blinks),
                         words=list(self.words))
