"""The demo: scikit-image's astronaut speaking an espeak-ng sentence (no downloads). The CLI's `demo` and the
editor's File > Open Demo build the same request, so both animate the sentence the same way (its text is the
transcript: forced alignment)."""
from __future__ import annotations

import warnings
from pathlib import Path

from engine.plugins import A2L_BACKENDS, default_choice
from engine.speech_synth import DEMO_SENTENCE, synthesize_speech


def write_demo_portrait(folder: str | Path) -> Path:
    import cv2
    from skimage.data import astronaut

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    portrait = folder / "astronaut.png"
    cv2.imwrite(str(portrait), astronaut()[..., ::-1])
    return portrait


def demo_request(folder: str | Path, text: str | None = None, *, audio: str | Path | None = None,
                 fps: float = 30.0, size: int = 512, seed: int = 0):
    """Writes astronaut.png (and speech.wav unless `audio` is given) into `folder`; the project refers to them."""
    from engine.pipeline import ProjectRequest
    from engine.sources.portrait import Framing

    portrait = write_demo_portrait(folder)
    transcript = None
    if audio is None:
        transcript = text or DEMO_SENTENCE
        audio = synthesize_speech(transcript, Path(folder) / "speech.wav")
    a2l = default_choice(A2L_BACKENDS, "embedded").replace(transcript=transcript, seed=seed)
    return ProjectRequest(portrait=str(portrait), audio=str(audio), fps=fps, framing=Framing(size=size), a2l=a2l)


def create_demo_project(request, *, progress=None, cancel=None):
    """The project of a demo_request. The astronaut's face is ~190 px of the 512 px picture, so a 512 px demo
    upscales it: expected here, and a warning that names a temporary file only puzzles a first run."""
    from engine.pipeline import create_project

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*astronaut\.png gives .* upscaled")
        return create_project(request, progress=progress, cancel=cancel)


def build_demo_project(folder: str | Path, text: str | None = None, *, fps: float = 30.0, size: int = 512,
                       progress=None, cancel=None):
    return create_demo_project(demo_request(folder, text, fps=fps, size=size), progress=progress, cancel=cancel)
