"""How long the editor's autosave holds its window on a long clip, against a full save, measured in one run.

An autosave runs on the editor's thread while the user works (every minute, and 5 s after an edit), so its time is
a freeze; a save (Ctrl+S) is asked for. A project of MINUTES of speech (the speech clips of ../shared/media one
after another, hallo__6 at 256 px) is built once, then each is timed REPEATS times (median).

    .venv/bin/python bench/bench_autosave.py [MINUTES]
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio.decode import load_audio  # noqa: E402
from engine.document.project_io import discard_autosave, save_project, write_autosave  # noqa: E402

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
REPEATS = 3


def long_project(minutes: float, folder: Path):
    import soundfile

    from engine.pipeline import ProjectRequest, create_project
    from engine.sources.portrait import Framing

    clips = [load_audio(p).mono16k for p in sorted((MEDIA / "speech").glob("*.*"))]
    n = int(minutes * 60 * 16000)
    audio = np.tile(np.concatenate(clips), n // sum(len(c) for c in clips) + 1)[:n]
    soundfile.write(folder / "speech.wav", audio, 16000)
    return create_project(ProjectRequest(portrait=str(MEDIA / "portraits" / "hallo__6.jpg"),
                                         audio=str(folder / "speech.wav"), framing=Framing(size=256)))


def timed(fn) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        project = long_project(minutes, folder)
        path = folder / "long.talkline"
        save = timed(lambda: save_project(project, path))
        autosaved = []
        auto = timed(lambda: autosaved.append(write_autosave(project)))
        sizes = path.stat().st_size / 1e6, autosaved[-1].stat().st_size / 1e6
        discard_autosave(autosaved[-1])
    print(f"{minutes:g} min project ({project.frame_count} frames): save {save:.2f} s ({sizes[0]:.0f} MB), autosave "
          f"{auto:.2f} s ({sizes[1]:.0f} MB): the autosave holds the window {save / auto:.1f}x shorter than a save")


if __name__ == "__main__":
    main()
