"""Running app jobs on worker threads: progress, cancel, errors reach the GUI as signals.

Every model call and every export runs here, never on the GUI thread (napari's
thread_worker idea on a plain QThread). Errors become (message, details) pairs that the
window shows with ``ui.errors.show_error``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal

from engine.engines.base import CancelToken, EngineUnavailableError, Progress, PropagationCancelled
from engine.video import VideoError

log = logging.getLogger(__name__)

Job = Callable[[Callable[[Progress], None], CancelToken], Any]

#: Errors whose message is already written for users (no "unexpected" prefix).
USER_ERRORS: tuple[type[BaseException], ...] = (
    VideoError,
    EngineUnavailableError,
    ValueError,
    FileNotFoundError,
    PermissionError,
)


def user_message(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "Out of memory. Try a shorter clip, a smaller processing size, or a leaner memory mode."
    if isinstance(exc, USER_ERRORS):
        return str(exc)
    return f"Unexpected error ({type(exc).__name__}): {exc}. Details are in the log file."


class JobWorker(QThread):
    """Runs one job. Signals arrive on the GUI thread (queued connections)."""

    progressed = Signal(object)  # Progress
    succeeded = Signal(object)  # the job's return value
    failed = Signal(str, str)  # user message, details
    cancelled = Signal()

    def __init__(self, job: Job, name: str = "job") -> None:
        super().__init__()
        self.job = job
        self.name = name
        self.token = CancelToken()
        self.setObjectName(name)

    def cancel(self) -> None:
        self.token.cancel()

    def run(self) -> None:
        try:
            result = self.job(self.progressed.emit, self.token)
        except PropagationCancelled:
            log.info("%s cancelled", self.name)
            self.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user, none may kill the app
            log.exception("%s failed", self.name)
            self.failed.emit(user_message(exc), traceback.format_exc())
        else:
            if self.token.cancelled:
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)


class LatestOnlyRunner(QThread):
    """A worker for interactive requests (selection, previews): only the newest counts.

    Requests of one kind (the tag, or its first item for tuple tags) replace each
    other while waiting, so stale ones are never started; different kinds all run, in
    the order first asked. Results arrive as ``done(tag, value)`` on the GUI thread.
    """

    done = Signal(object, object)
    error = Signal(object, str)

    def __init__(self, name: str = "interactive") -> None:
        super().__init__()
        import threading

        self.setObjectName(name)
        self._cond = threading.Condition()
        self._pending: dict[object, tuple[object, Callable[[], Any]]] = {}
        self._stop = False
        self._busy = False

    def submit(self, tag: object, fn: Callable[[], Any]) -> None:
        """Queue ``fn``; the thread starts with the first request (an idle runner holds no thread)."""
        kind = tag[0] if isinstance(tag, tuple) else tag
        with self._cond:
            if self._stop:
                return
            self._pending[kind] = (tag, fn)
            self._cond.notify()
        if not self.isRunning() and not self.isFinished():
            self.start()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._pending and not self._busy

    def shutdown(self) -> None:
        """Drop waiting requests and join the thread (the request running now finishes first)."""
        with self._cond:
            self._stop = True
            self._pending.clear()
            self._cond.notify()
        self.wait()

    def run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                kind = next(iter(self._pending))
                tag, fn = self._pending.pop(kind)
                self._busy = True
            try:
                value = fn()
            except Exception as exc:  # noqa: BLE001 - reported to the user via the error signal
                log.exception("%s request failed", self.objectName())
                self.error.emit(tag, user_message(exc))
            else:
                self.done.emit(tag, value)
            finally:
                with self._cond:
                    self._busy = False
