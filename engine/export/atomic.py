"""Atomic file output: write beside the target, then rename over it, so that a crash or a cancel never
leaves a half-written file at the path the user asked for (and never destroys the file already there)."""
from __future__ import annotations

import contextlib
import os
import uuid
from typing import Iterator, TypeVar

from engine.errors import ExportError

_Writer = TypeVar("_Writer", bound="CommitOnExit")


def prepare_target(path: str | os.PathLike) -> str:
    """Absolute target path; creates its folder. Raises ExportError if the folder cannot be made."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        raise ExportError(f"cannot write {path}: it is a folder")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the output folder {os.path.dirname(path)}: {exc.strerror or exc}") from None
    return path


def temp_sibling(path: str) -> str:
    """A hidden, unique temporary name in the target's folder (same file system, so os.replace is atomic).
    The target's extension is kept last so that writers that guess the format from the name still work."""
    folder, name = os.path.split(path)
    ext = os.path.splitext(name)[1]
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.part{ext}")


def remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[str]:
    """Yields a temporary path to write; on success it replaces `path`, on any exception it is removed."""
    target = prepare_target(path)
    tmp = temp_sibling(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        remove_quietly(tmp)
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        remove_quietly(tmp)
        raise


class CommitOnExit:
    """The writers' protocol: write(frame) as frames come, close() -> list of the paths written (the output
    appears only then), abort() removes what was staged and leaves the target as it was. Used as
    `with writer:`, the block's success commits (close) and any exception aborts."""

    def __enter__(self: _Writer) -> _Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
