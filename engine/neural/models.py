"""`talkline models check`: the command's logic (torch-free until it runs; engine.neural.check does the work)."""
from __future__ import annotations

import json
from pathlib import Path

from engine.errors import BackendError


def models_check(folder: str | None, *, describe: bool = False, as_json: bool = False) -> tuple[str, bool]:
    """(text to print, everything fine). A folder that does not exist is a BackendError (one line)."""
    from engine.neural import layout

    if folder is None and not describe:
        raise BackendError("models check needs a weights folder (or --describe for the full-size architectures)")
    if folder is not None and not Path(folder).expanduser().is_dir():
        raise BackendError(f"{layout.no_folder(folder)}; {layout.LAYOUT_TEXT}")
    problem = layout.packages_problem()
    if problem:
        raise BackendError(problem)
    from engine.neural.check import format_report, run

    report = run(folder, want_describe=describe)
    return (json.dumps(report, indent=2) if as_json else format_report(report)), bool(report["ok"])
