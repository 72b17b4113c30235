"""Undo commands. Each one holds before/after snapshots and applies them through the model, which notifies
the views. Drags share a merge id so one drag is one undo step; undo never touches zoom or view state."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.a2l.base_layer import BaseLayer
from engine.document.changes import Change, ChangeKind
from engine.document.project_io import set_audio_source
from engine.document.curves import Curve
from engine.document.project import Gains, Project
from engine.plugins import Choice
from engine.sources.audio import AudioSource
from engine.sources.base import FaceSource

_MERGEABLE = 1001  # QUndoCommand.id() for commands that may merge (same class and same merge id)


class _Mergeable(QUndoCommand):
    def __init__(self, text: str, merge_id: object | None):
        super().__init__(text)
        self.merge_id = merge_id

    def id(self) -> int:
        return _MERGEABLE if self.merge_id is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if type(other) is not type(self) or other.merge_id != self.merge_id:
            return False
        self._absorb(other)
        return True

    def _absorb(self, other) -> None:
        """Takes over the later command's end state (the earlier one keeps its start state)."""
        self.after = other.after


class CurvesCommand(_Mergeable):
    """Replace the keys of some channels (keys, handles, interpolation, deletes, pastes all go through here).
    With `select` (a callable taking a key selection), undo and redo also restore the key selection."""

    def __init__(self, project: Project, before: dict[str, Curve], after: dict[str, Curve], text: str,
                 merge_id: object | None = None, select: Callable | None = None,
                 selection: tuple[frozenset, frozenset] | None = None):
        super().__init__(text, merge_id)
        self.project, self.before, self.after = project, before, after
        self.select, self.selection = select, selection

    def redo(self) -> None:
        self._apply(self.after)
        if self.select is not None and self.selection is not None:
            self.select(self.selection[1])

    def undo(self) -> None:
        self._apply(self.before)
        if self.select is not None and self.selection is not None:
            self.select(self.selection[0])

    def _apply(self, curves: dict[str, Curve]) -> None:
        self.project.set_channels({name: curve.copy() for name, curve in curves.items()})  # views refresh once

    def _absorb(self, other: "CurvesCommand") -> None:
        for name, curve in other.before.items():
            self.before.setdefault(name, curve)
        self.after.update(other.after)
        if self.selection is not None and other.selection is not None:
            self.selection = (self.selection[0], other.selection[1])
        self.setText(other.text())


def edit_curves(stack: QUndoStack, project: Project, names, edit: Callable[[str, Curve], None], text: str,
                merge_id: object | None = None) -> None:
    """Apply `edit(name, curve)` to copies of the named channels and push it as one undoable step."""
    before = {n: project.channels[n].copy() for n in names}
    after = {n: c.copy() for n, c in before.items()}
    for name, curve in after.items():
        edit(name, curve)
    stack.push(CurvesCommand(project, before, after, text, merge_id))


class GainsCommand(_Mergeable):
    def __init__(self, project: Project, after: Gains, merge_id: object | None = None):
        super().__init__("Change gains", merge_id)
        self.project = project
        self.before = dataclasses.replace(project.gains)
        self.after = dataclasses.replace(after)

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        self._apply(self.before)

    def _apply(self, gains: Gains) -> None:
        self.project.set_gains(dataclasses.replace(gains))


class InOutCommand(QUndoCommand):
    def __init__(self, project: Project, after: tuple[float, float] | None):
        super().__init__("Set in/out range" if after else "Clear in/out range")
        self.project, self.before, self.after = project, project.in_out, after

    def redo(self) -> None:
        self.project.set_in_out(self.after)

    def undo(self) -> None:
        self.project.set_in_out(self.before)


class RegenerateCommand(QUndoCommand):
    """Swap in a re-predicted base layer (computed on a worker) with the Audio2Lmk choice it came from; the edit
    layers are untouched."""

    def __init__(self, project: Project, base: BaseLayer, a2l: Choice):
        super().__init__("Regenerate base layer")
        self.project = project
        self.before = (project.base, project.a2l)
        self.after = (base, a2l)

    def redo(self) -> None:
        self._apply(*self.after)

    def undo(self) -> None:
        self._apply(*self.before)

    def _apply(self, base: BaseLayer, a2l: Choice) -> None:
        self.project.set_base(base, a2l)


class AudioSourceCommand(QUndoCommand):
    """Point the project at another audio file (relinked or replaced); undo points it back."""

    def __init__(self, project: Project, after: AudioSource):
        super().__init__(f"Relink audio: {Path(after.path).name}")
        self.project, self.before, self.after = project, project.audio_source, after

    def redo(self) -> None:
        set_audio_source(self.project, self.after)

    def undo(self) -> None:
        set_audio_source(self.project, self.before)


class VideoRelinkCommand(QUndoCommand):
    """A dub's video found elsewhere (already relinked and checked to be the tracked video when pushed); undo
    points the project back at the old path."""

    def __init__(self, project: Project, before: str):
        super().__init__(f"Relink video: {Path(project.source.path).name}")
        self.project, self.before, self.after = project, before, project.source.path

    def _point(self, path: str) -> None:
        if self.project.source.path != path:
            self.project.source.relink(path, check=False)  # the old path may be gone: checked when read
        self.project.notify(Change(ChangeKind.SOURCES))

    def redo(self) -> None:
        self._point(self.after)

    def undo(self) -> None:
        self._point(self.before)


class FaceSourceCommand(QUndoCommand):
    """Give the project another face (a replaced portrait): the motion, keys and gains stay; undo gives the old
    face back."""

    def __init__(self, project: Project, after: FaceSource):
        super().__init__(f"Replace portrait: {Path(after.path).name}")
        self.project, self.before, self.after = project, project.source, after

    def redo(self) -> None:
        self.project.set_source(self.after)

    def undo(self) -> None:
        self.project.set_source(self.before)


class RendererCommand(QUndoCommand):
    """Make a renderer choice (with its config) the project's default."""

    def __init__(self, project: Project, after: Choice, title: str):
        super().__init__(f"Set default renderer: {title}")
        self.project, self.before, self.after = project, project.renderer, after

    def redo(self) -> None:
        self.project.set_renderer(self.after)

    def undo(self) -> None:
        self.project.set_renderer(self.before)


def lane_edits_since_prediction(stack: QUndoStack) -> int:
    """How many lip-sync edits (lane drags, relabels, re-aligned stretches) the current base layer has had since
    it was predicted (as far as this session's undo history goes)."""
    count = 0
    for i in range(stack.index() - 1, -1, -1):
        command = stack.command(i)
        if isinstance(command, RegenerateCommand):
            break
        count += isinstance(command, BaseEditCommand)
    return count


class BaseEditCommand(QUndoCommand):
    """Swap in an edited base layer (a lip-sync lane edit, a re-aligned stretch); the Audio2Lmk choice and the
    edit layers stay."""

    def __init__(self, project: Project, base: BaseLayer, text: str):
        super().__init__(text)
        self.project, self.before, self.after = project, project.base, base

    def redo(self) -> None:
        self.project.set_base(self.after, self.project.a2l)

    def undo(self) -> None:
        self.project.set_base(self.before, self.project.a2l)
