"""Key-selection edits shared by the dope sheet, the graph editor and the Edit menu: each one is a single undo
step named after what it did ("Move 3 keys"), which also restores the key selection on undo and redo."""
from __future__ import annotations

from engine.document.curves import Curve, Interpolation
from engine.document import edits

from editor.commands import CurvesCommand
from editor.session import EditorSession


def _keys(n: int) -> str:
    return f"{n} key{'s' if n != 1 else ''}"


def push(session: EditorSession, after: dict[str, Curve], text: str, selection=None, merge_id=None) -> None:
    project = session.project
    if not after:
        return
    before = {n: project.channels[n].copy() for n in after}
    sel = None if selection is None else (session.key_selection, frozenset(selection))
    session.undo_stack.push(CurvesCommand(project, before, after, text, merge_id, session.set_key_selection, sel))


def move(session: EditorSession, dt: float, origin: dict[str, Curve] | None = None, selection=None,
         merge_id=None) -> None:
    """Retime the selected keys by dt (snapped to frames); `origin`/`selection`: the curves and selection when a
    drag began (each drag step moves from there, and merges into one undo step)."""
    project = session.project
    selection = session.key_selection if selection is None else selection
    curves = origin if origin is not None else project.channels
    after, moved = edits.move_keys(curves, selection, dt, project.fps, project.time_of(project.frame_count - 1))
    push(session, {n: c for n, c in after.items()}, f"Move {_keys(len(selection))}", moved, merge_id)


def scale(session: EditorSession, factor: float, origin=None, selection=None, merge_id=None) -> None:
    """Scale the selected keys' times around the playhead."""
    project = session.project
    selection = session.key_selection if selection is None else selection
    curves = origin if origin is not None else project.channels
    after, moved = edits.scale_keys(curves, selection, session.time, factor, project.fps,
                                    project.time_of(project.frame_count - 1))
    push(session, after, f"Scale {_keys(len(selection))}", moved, merge_id)


def delete(session: EditorSession) -> None:
    selection = session.key_selection
    if selection:
        push(session, edits.delete_keys(session.project.channels, selection), f"Delete {_keys(len(selection))}",
             frozenset())


def copy(session: EditorSession) -> int:
    session.clipboard = edits.copy_keys(session.project.channels, session.key_selection)
    return len(session.clipboard)


def paste(session: EditorSession) -> None:
    """Paste the copied keys so that the earliest lands on the playhead."""
    if session.clipboard:
        project = session.project
        after, pasted = edits.paste_keys(project.channels, session.clipboard, session.time, project.fps,
                                         project.time_of(project.frame_count - 1))
        push(session, after, f"Paste {_keys(len(session.clipboard))}", pasted)


def set_interpolation(session: EditorSession, interp: Interpolation) -> None:
    selection = session.key_selection
    if selection:
        push(session, edits.set_interpolation(session.project.channels, selection, interp),
             f"Interpolation {interp.value.replace('_', ' ')} ({_keys(len(selection))})", selection)
