"""Atomic file output: write beside the target, then rename over it, so that a crash or a cancel never
leaves a half-written file at the path the user asked for (and never destroys the file already there)."""
from __future__ import annotations

import contextlib
import os
import re
import uuid
from typing import Iterator, TypeVar

from engine.errors import ExportError
from engine.limits import special_file

_Writer = TypeVar("_Writer", bound="CommitOnExit")


MAX_NAME_BYTES = 255  # a file name's limit on every common file system (ext4, APFS, NTFS)
STALE_PART_SECONDS = 24 * 3600  # temporary files older than this were left by a killed run: swept
_PART = re.compile(r"^\..+\.[0-9a-f]{8}\.part(\.[^.]*)?$|^\.talkline-frames-[0-9a-f]{8}$")


def prepare_target(path: str | os.PathLike) -> str:
    """Absolute target path; creates its folder and sweeps temporary files that killed runs left there.
    Raises ExportError if the folder cannot be made or the name is too long for the file system."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        raise ExportError(f"cannot write {path}: it is a folder")
    name = os.fsencode(os.path.basename(path))
    overhead = len(os.fsencode(os.path.basename(temp_sibling(path)))) - len(name)  # the temporary name's extra
    if len(name) + overhead > MAX_NAME_BYTES:
        raise ExportError(f"cannot write {path}: the file name is {len(name)} bytes, at most "
                          f"{MAX_NAME_BYTES - overhead} fit")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the output folder {os.path.dirname(path)}: {exc.strerror or exc}") from None
    sweep_stale_parts(os.path.dirname(path))
    return path


def same_file_as_any(output: str | os.PathLike | None, paths) -> bool:
    """`output` exists and is one of `paths` (the same file under another name, too): writing it would destroy
    an input."""
    if not output or not os.path.exists(output):
        return False
    return any(p and os.path.exists(p) and os.path.samefile(output, p) for p in paths)


def check_writable(path: str | os.PathLike, suffixes: tuple[str, ...], what: str) -> str:
    """Checks an output before any work: a known extension, a name the file system takes, a folder that can
    be written (probed by creating and removing a temporary file). Returns the absolute path."""
    given = os.fspath(path)
    if given.endswith((os.sep, "/")):  # abspath would drop the slash and write a file where a folder was meant
        raise ExportError(f"the {what} {given} names a folder: give a file name such as {given}out"
                          f"{suffixes[0]}")
    path = os.path.abspath(given)
    if not path.lower().endswith(suffixes):
        raise ExportError(f"the {what} {path} must end in {' or '.join(suffixes)}")
    if special_file(path):  # the finished file is renamed into place: a FIFO there was replaced by a plain file
        raise ExportError(f"the {what} {path} is a pipe or a device: write it to a file")
    missing = _missing_folders(os.path.dirname(path))
    prepare_target(path)
    probe = temp_sibling(path)
    try:
        with open(probe, "xb"):
            pass
    except OSError as exc:
        raise ExportError(f"cannot write the {what} {path}: {exc.strerror or exc}") from None
    finally:
        remove_quietly(probe)
        for folder in missing:  # made for the probe only: the writer makes them again, so a run that fails
            with contextlib.suppress(OSError):  # before writing leaves no empty folders behind
                os.rmdir(folder)
    return path


def _missing_folders(folder: str) -> list[str]:
    """The folders on the way to `folder` that do not exist yet, deepest first."""
    out = []
    while folder and not os.path.exists(folder):
        out.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return out


def sweep_stale_parts(folder: str) -> None:
    """Removes this program's temporary files and staging folders older than a day from `folder`."""
    import shutil
    import time

    try:
        names = [n for n in os.listdir(folder) if _PART.match(n)]
    except OSError:
        return
    cutoff = time.time() - STALE_PART_SECONDS
    for name in names:
        full = os.path.join(folder, name)
        with contextlib.suppress(OSError):
            if os.lstat(full).st_mtime < cutoff:
                shutil.rmtree(full) if os.path.isdir(full) else os.remove(full)


def temp_sibling(path: str) -> str:
    """A hidden, unique temporary name in the target's folder (same file system, so os.replace is atomic).
    The target's extension is kept last so that writers that guess the format from the name still work."""
    folder, name = os.path.split(path)
    ext = os.path.splitext(name)[1]
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.part{ext}")


def remove_quietly(path: str) -> None:
    """Best-effort cleanup: its own failure (gone already, read-only folder) must never hide the error that
    made the caller clean up."""
    with contextlib.suppress(OSError):
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

    def finish(self) -> None:
        """Completes what can still fail (a full disk) without making the output appear; close() then moves it
        into place. Writers whose staged output is complete as written have nothing to do here."""

    def __enter__(self: _Writer) -> _Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
