"""The audio source: the track the animation speaks to, and the print that tells it from another recording."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from engine.audio.decode import AudioClip

# A recording's print: its length and the level of each of PRINT_PARTS equal parts of it (dB). Another file put
# at a project's path (a new take of the same line, another language's dub) differs in length or in where its
# loud and quiet stretches fall; a re-encoded or re-normalised copy of the same take does neither.
PRINT_PARTS = 16
# Parts' levels after removing the copy's overall gain (the median difference): a re-encode moves them by well
# under 1 dB; speech of another take moves its pauses, several dB in most parts.
SAME_LEVELS_DB = 2.0
LEVEL_FLOOR_DB = -100.0


@dataclass(frozen=True)
class AudioPrint:
    duration: float  # seconds
    levels: tuple[float, ...]  # dB of each part's RMS

    @classmethod
    def of(cls, clip: AudioClip) -> "AudioPrint":
        # views of the samples (a float64 copy of a 2-hour clip would be ~1 GB at every autosave)
        parts = np.array_split(clip.mono16k, PRINT_PARTS)  # (empty parts of a clip under 16 samples: the floor)
        levels = [max(10.0 * math.log10(float(np.dot(p, p)) / len(p) + 1e-20), LEVEL_FLOOR_DB) if len(p) else
                  LEVEL_FLOOR_DB for p in parts]
        return cls(round(clip.duration, 6), tuple(round(v, 2) for v in levels))

    def to_json(self) -> dict:
        return {"duration": self.duration, "levels": list(self.levels)}

    @classmethod
    def from_json(cls, doc) -> "AudioPrint":
        """ValueError where the entry is not a print (a project file validated before use)."""
        if not isinstance(doc, dict) or set(doc) != {"duration", "levels"}:
            raise ValueError("the audio's print must hold duration and levels")
        duration, levels = doc["duration"], doc["levels"]
        numbers = [duration, *levels] if isinstance(levels, list) else []
        if len(numbers) != PRINT_PARTS + 1 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers):
            raise ValueError(f"the audio's print must be a duration and {PRINT_PARTS} finite levels")
        return cls(float(duration), tuple(float(v) for v in levels))

    def differs(self, other: "AudioPrint", fps: float) -> str | None:
        """How `other` differs from this recording (one phrase), or None when it is the same take."""
        if abs(other.duration - self.duration) >= 1.0 / fps:
            return f"{other.duration:.2f} s long where the animated recording was {self.duration:.2f} s"
        d = np.subtract(other.levels, self.levels)
        if float(np.mean(np.abs(d - np.median(d)))) > SAME_LEVELS_DB:
            return f"another recording of the same length ({self.duration:.2f} s): its loud and quiet parts differ"
        return None


@dataclass
class AudioSource:
    """The audio track: its path and the decoded clip (None while the file is missing: relink it), and the print
    of the recording the project was animated to, as saved (None: a new source, or a project saved before prints)."""

    kind: ClassVar[str] = "audio"
    path: str
    clip: AudioClip | None
    animated: AudioPrint | None = field(default=None, compare=False)

    @functools.cached_property
    def _clip_print(self) -> AudioPrint | None:
        """The loaded clip's print, read once (every save, autosave and render asks; the clip never changes)."""
        return AudioPrint.of(self.clip) if self.clip is not None else None

    def print(self) -> AudioPrint | None:
        """The print a saved project keeps: the animated recording's while the file is missing, else the file's."""
        return self._clip_print if self.clip is not None else self.animated

    def changed(self, fps: float) -> str | None:
        """How the file at the path differs from the recording the project was animated to, or None."""
        if self.clip is None or self.animated is None:
            return None
        return self.animated.differs(self._clip_print, fps)
