"""Off-GUI-thread work: one long-lived render thread with a job queue, and short tasks (project creation,
regeneration, demo building) on superqt workers. Results come back to the GUI thread through signals."""
from __future__ import annotations

import itertools
import queue
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal

from engine.errors import RenderCancelled, TalklineError
from engine.jobs import RenderJob


@dataclass
class QueuedRender:
    id: int
    job: RenderJob
    label: str
    state: str = "queued"  # queued / running / done / failed / cancelled
    outputs: list[str] = field(default_factory=list)


class RenderThread(QThread):
    """Runs queued RenderJobs one after another on this single thread (the same job code as the CLI)."""

    job_started = Signal(int)
    job_progress = Signal(int, object)  # id, engine.jobs.Progress
    job_finished = Signal(int, list)  # id, output paths
    job_failed = Signal(int, str)
    job_cancelled = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._queue: queue.Queue[QueuedRender | None] = queue.Queue()
        self._ids = itertools.count(1)
        self.entries: dict[int, QueuedRender] = {}

    def submit(self, job: RenderJob, label: str) -> int:
        entry = QueuedRender(next(self._ids), job, label)
        self.entries[entry.id] = entry
        self._queue.put(entry)
        if not self.isRunning():
            self.start()
        return entry.id

    def cancel(self, job_id: int) -> None:
        """Thread-safe: a queued job is skipped, a running one stops within one frame."""
        self.entries[job_id].job.cancel()

    def stop(self) -> None:
        for entry in self.entries.values():
            if entry.state in ("queued", "running"):
                entry.job.cancel()
        self._queue.put(None)
        self.wait()

    def run(self) -> None:
        while (entry := self._queue.get()) is not None:
            if entry.job.cancelled:
                entry.state = "cancelled"
                self.job_cancelled.emit(entry.id)
                continue
            entry.state = "running"
            self.job_started.emit(entry.id)
            try:
                for progress in entry.job.run():
                    self.job_progress.emit(entry.id, progress)
            except RenderCancelled:
                entry.state = "cancelled"
                self.job_cancelled.emit(entry.id)
            except Exception as exc:  # noqa: BLE001  (reported in the dock; the thread keeps serving)
                entry.state = "failed"
                message = str(exc) if isinstance(exc, TalklineError) else traceback.format_exc(limit=3)
                self.job_failed.emit(entry.id, message)
            else:
                entry.state, entry.outputs = "done", list(entry.job.outputs)
                self.job_finished.emit(entry.id, entry.outputs)


class WarningRelay(QObject):
    """The engine's warnings (a face cut off by the picture's edge, audio with no speech), from run_task's workers
    and the GUI thread, as a signal delivered on the GUI thread, where the window shows them."""

    warned = Signal(str)


WARNINGS = WarningRelay()


def relay_warnings() -> None:
    """Routes warnings.warn to WARNINGS.warned, every time (not once per place in the code: the second project
    with the same problem is told too). The editor installs it at start; they went to a terminal nobody sees."""
    warnings.filterwarnings("always", category=UserWarning)
    warnings.showwarning = lambda message, *_args, **_kwargs: WARNINGS.warned.emit(str(message))


class _ProgressRelay(QObject):
    progressed = Signal(float)  # emitted from the worker thread, delivered queued on the GUI thread


_running = set()  # keeps task workers (and their relays) alive until they finish


def run_task(fn: Callable, *args, on_done: Callable, on_error: Callable[[BaseException], None],
             on_progress: Callable[[float], None] | None = None, **kwargs):
    """Run fn(*args, **kwargs) on a worker thread; on_done(result) / on_error(exc) run on the GUI thread.
    With on_progress, fn also receives `progress=` (a thread-safe callable reporting 0..1)."""
    from superqt.utils import create_worker  # imported on first use: it costs ~0.1 s of editor start-up

    relay = _ProgressRelay()
    if on_progress is not None:
        relay.progressed.connect(on_progress)
        kwargs["progress"] = relay.progressed.emit
    worker = create_worker(fn, *args, _start_thread=False, _ignore_errors=True, **kwargs)  # on_error handles them
    worker.returned.connect(on_done)
    worker.errored.connect(on_error)
    worker.warned.connect(lambda args: WARNINGS.warned.emit(str(args[0])))  # (superqt catches the worker's)
    entry = (worker, relay)
    _running.add(entry)
    worker.finished.connect(lambda: _running.discard(entry))
    worker.start()
    return worker
