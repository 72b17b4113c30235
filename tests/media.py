"""Paths of the shared real test media (../shared/media beside the repository; CI has it too), and speech
synthesized for a test."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def media(rel: str) -> str:
    path = MEDIA / rel
    assert path.exists(), f"shared test media missing: {path}"
    return str(path)


PORTRAITS = sorted(str(p) for p in (MEDIA / "portraits").glob("*"))


def espeak_wav(text: str, path: str | Path, *options: str) -> Path:
    """espeak-ng's default voice speaking `text` (with extra command-line `options`) into the WAV `path`; skips
    the test where espeak-ng is not installed."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    subprocess.run(["espeak-ng", *options, "-w", str(path), text], check=True, capture_output=True)
    return Path(path)
