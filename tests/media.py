"""Paths of the shared real test media (../shared/media beside the repository; CI has it too)."""
from __future__ import annotations

from pathlib import Path

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def media(rel: str) -> str:
    path = MEDIA / rel
    assert path.exists(), f"shared test media missing: {path}"
    return str(path)


PORTRAITS = sorted(str(p) for p in (MEDIA / "portraits").glob("*"))
