"""The demo project: scikit-image's astronaut speaking an espeak-ng sentence (no downloads)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.document.project import Project
from engine.speech_synth import DEMO_SENTENCE, synthesize_speech


def write_demo_sources(folder: str | Path, text: str = DEMO_SENTENCE) -> tuple[Path, Path]:
    """Writes astronaut.png and speech.wav into `folder` (the project keeps referring to them)."""
    import cv2
    from skimage.data import astronaut

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    portrait = folder / "astronaut.png"
    cv2.imwrite(str(portrait), astronaut()[..., ::-1])
    return portrait, synthesize_speech(text, folder / "speech.wav")


def build_demo_project(folder: str | Path, text: str = DEMO_SENTENCE, *, fps: float = 30.0, size: int = 512,
                       progress: Callable[[float], None] | None = None) -> Project:
    portrait, audio = write_demo_sources(folder, text)
    return Project.create(str(portrait), str(audio), fps=fps, size=size, progress=progress)
