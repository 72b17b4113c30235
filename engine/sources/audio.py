"""The audio source: the track the animation speaks to."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from engine.audio.decode import AudioClip


@dataclass
class AudioSource:
    """The audio track: its path and the decoded clip (None while the file is missing: relink it)."""

    kind: ClassVar[str] = "audio"
    path: str
    clip: AudioClip | None
