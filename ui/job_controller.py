"""Running the window's jobs: one visible job at a time, progress, cancel, errors, a clean stop.

Every long piece of work (propagate, export, save/open a project, attention recording)
goes through ``JobController.start``: the job runs on a ``JobWorker`` thread, the job
bar shows it, errors reach ``show_error``, and ``finished(outcome)`` fires once the
thread has really ended. Background writes the user need not watch (the recovery
copy's results) use ``run_quietly``: no bar, one at a time in order, errors only logged.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMainWindow

from app.engine_cache import EngineCache
from ui.errors import show_error
from ui.job_panel import JobPanel
from ui.workers import Job, JobWorker, LatestOnlyRunner

log = logging.getLogger(__name__)


class JobController(QObject):
    """Starts, tracks, cancels and joins the window's job threads."""

    finished = Signal(str)  # "succeeded" | "failed" | "cancelled"
    busy_changed = Signal(bool)
    progressed = Signal(object)  # every Progress of the running job (the bar shows them too)

    #: Python's GIL switch interval while the window runs. The GUI thread gives the GIL up around
    #: every Qt call (PySide releases it) and waits up to this long to get it back from a worker
    #: running Python; at the default 5 ms, a handler making a dozen Qt calls while a job runs
    #: took tens of ms (docs/bench_sections/gui_stall.md).
    SWITCH_INTERVAL_S = 0.001

    def __init__(self, panel: JobPanel, window: QMainWindow) -> None:
        super().__init__(window)
        sys.setswitchinterval(min(sys.getswitchinterval(), self.SWITCH_INTERVAL_S))
        self.panel, self.window = panel, window
        self.workers: list[JobWorker] = []
        self.background = LatestOnlyRunner("background-writes")
        self.background.error.connect(lambda tag, msg: log.warning("background write %s failed: %s", tag, msg))
        self.background.done.connect(self._background_done)
        self._background_callbacks: dict[object, Callable[[Any], None]] = {}
        self.engines = EngineCache()  # loaded models outlive a job (app/engine_cache.py)

    @property
    def busy(self) -> bool:
        return bool(self.workers)

    @property
    def running_titles(self) -> list[str]:
        return [w.title for w in self.workers]  # type: ignore[attr-defined]

    def start(
        self,
        job: Job,
        name: str,
        title: str,
        on_success: Callable[[Any], None],
        on_failure: Callable[[str], None] | None = None,
    ) -> bool:
        """Run ``job``; False (and a status line) when another job is running."""
        if self.busy:
            self.window.statusBar().showMessage(f"{self.running_titles[0]} is running; {title} waits until it has finished", 6000)
            return False
        worker = JobWorker(job, name)
        worker.title = title  # type: ignore[attr-defined]
        outcome = {"value": "failed"}
        self.workers.append(worker)
        self.panel.track(worker, title)  # connected first: the bar is idle before finished fires

        def succeeded(value: object) -> None:
            outcome["value"] = "succeeded"
            on_success(value)

        def cancelled() -> None:
            outcome["value"] = "cancelled"
            self.window.statusBar().showMessage(f"{title} cancelled", 5000)

        def failed(message: str, details: str) -> None:
            show_error(self.window, f"{title} failed", message, details)
            if on_failure is not None:
                on_failure(message)

        worker.progressed.connect(self.progressed)
        worker.succeeded.connect(succeeded)
        worker.failed.connect(failed)
        worker.cancelled.connect(cancelled)
        worker.finished.connect(lambda: self._done(worker, outcome["value"]))
        worker.start()
        self.busy_changed.emit(True)
        return True

    def _done(self, worker: JobWorker, outcome: str) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        worker.wait()  # finished is emitted from the thread's last moments: join it for real
        worker.deleteLater()
        self.busy_changed.emit(self.busy)
        self.finished.emit(outcome)

    def run_quietly(self, tag: str, work: Callable[[], Any], on_done: Callable[[Any], None]) -> None:
        """Background work in submission order (distinct ``tag`` values never replace each other)."""
        self._background_callbacks[tag] = on_done
        self.background.submit(tag, work)

    def _background_done(self, tag: object, value: object) -> None:
        callback = self._background_callbacks.pop(tag, None)
        if callback is not None:
            callback(value)

    def cancel_all(self) -> None:
        for worker in list(self.workers):
            worker.cancel()
        self.panel.show_cancelling()

    def stop_all(self) -> None:
        """Cancel every job and wait for its thread to end (engines stop within a step or a few seconds)."""
        for worker in list(self.workers):
            worker.cancel()
        for worker in list(self.workers):
            worker.wait()
        self.background.shutdown()
        self.engines.release_all()
