"""Typed change notifications of the document: what changed, and for channel edits which channels."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ChangeKind(Enum):
    CHANNELS = "channels"  # keyframe curves of `Change.channels`
    GAINS = "gains"
    BASE = "base"  # the Audio2Lmk base layer and the backend choice it was predicted with
    RENDERER = "renderer"  # the default renderer or its config
    SOURCES = "sources"  # a source was relinked
    FACE = "face"  # another face source (a replaced portrait): the picture, the reference mesh and the rig
    IN_OUT = "in_out"
    FPS = "fps"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    channels: tuple[str, ...] = ()  # for CHANNELS: every channel of one edit (one notification per edit)

    @classmethod
    def of_channels(cls, names) -> "Change":
        return cls(ChangeKind.CHANNELS, tuple(names))
