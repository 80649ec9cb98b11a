"""Decoding frames off the GUI thread: the newest request wins, neighbours are prefetched.

Scrubbing fires many requests per second; decoding each on the GUI thread would freeze
the window. ``LatestRequestPool`` is the one pattern for it (the clip's ``FrameLoader``
and the Review tab's renderer both use it): worker threads serve only the most recent
request (stale ones are dropped, as napari's slicer does), an answer older than one
already delivered is dropped too, and while no request waits the workers run the
prefetch jobs the last request asked for (decoding ahead into a cache).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QImage

from engine.video import Reader, VideoError
from ui.image import qimage_from_rgb

log = logging.getLogger(__name__)

Work = Callable[[Any], Any]
Prefetch = Callable[[Any], Iterable[Callable[[], object]]]


class _Worker(QThread):
    def __init__(self, pool: LatestRequestPool, name: str) -> None:
        super().__init__()
        self._pool = pool
        self.setObjectName(name)

    def run(self) -> None:
        self._pool._serve()


class LatestRequestPool(QObject):
    """``request(r)``; ``ready(r, value)`` arrives on the GUI thread with ``work(r)``'s value.

    Only the newest waiting request is started (a request that was replaced before a
    worker took it never runs); answers arrive in request order or not at all (one older
    than an answer already delivered is dropped). ``prefetch(r)`` lists jobs run while
    nothing newer waits (dropped as soon as a new request comes). ``errors``: exceptions
    that become ``failed(r, message)``; any other is logged and reported the same way.
    """

    ready = Signal(object, object)  # request, value
    failed = Signal(object, str)  # request, message
    _answer = Signal(int, object, object, object)  # seq, request, value, error message (worker -> GUI thread)

    def __init__(
        self,
        work: Work,
        *,
        threads: int = 1,
        prefetch: Prefetch | None = None,
        name: str = "frames",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._work, self._prefetch = work, prefetch
        self._cond = threading.Condition()
        self._wanted: tuple[int, Any] | None = None
        self._jobs: deque[Callable[[], object]] = deque()
        self._seq = 0
        self._delivered = 0  # the newest sequence number handed to the GUI
        self._running = 0  # requests being worked on now
        self._stop = False
        self._answer.connect(self._deliver)
        self._workers = [_Worker(self, f"{name}-{k}") for k in range(max(1, threads))]
        for worker in self._workers:
            worker.start()

    @property
    def threads(self) -> list[QThread]:
        return list(self._workers)

    @property
    def busy(self) -> bool:
        """A request waits or is being worked on (its answer has not been delivered yet)."""
        with self._cond:
            return self._wanted is not None or self._running > 0

    def request(self, request: Any) -> None:
        with self._cond:
            self._seq += 1
            self._wanted = (self._seq, request)
            self._jobs.clear()  # prefetching for an older request is not wanted any more
            self._cond.notify()

    def drop_and_wait(self, timeout: float = 10.0) -> None:
        """Forget waiting requests and prefetch jobs and wait for the running ones (before what they read closes)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._wanted = None
            self._jobs.clear()
            self._seq += 1  # a request finishing now queues no prefetch for what is going away
            while self._running > 0 and time.monotonic() < deadline:
                self._cond.wait(0.05)

    def shutdown(self) -> None:
        """Stop the workers and wait for them: no thread outlives what it reads."""
        with self._cond:
            self._stop = True
            self._wanted = None
            self._jobs.clear()
            self._cond.notify_all()
        for worker in self._workers:
            worker.wait(10000)

    def _serve(self) -> None:
        while True:
            with self._cond:
                while self._wanted is None and not self._jobs and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                job = None
                if self._wanted is not None:
                    (seq, request), self._wanted = self._wanted, None
                    self._running += 1
                else:
                    job = self._jobs.popleft()
            if job is not None:
                try:
                    job()
                except Exception:  # noqa: BLE001 - a failed prefetch is retried by the request that needs it
                    log.debug("prefetch failed", exc_info=True)
                continue
            value, error = None, None
            try:
                value = self._work(request)
            except (VideoError, IndexError, ValueError, OSError) as exc:
                error = str(exc) or type(exc).__name__
            except Exception as exc:  # noqa: BLE001 - reported through failed, never lost in a thread
                log.exception("decoding failed")
                error = f"unexpected error ({type(exc).__name__}): {exc}"
            jobs: list[Callable[[], object]] = []
            if self._prefetch is not None and error is None:
                try:
                    jobs = list(self._prefetch(request))
                except Exception:  # noqa: BLE001 - no prefetch then; the request itself was answered
                    log.debug("planning the prefetch failed", exc_info=True)
            with self._cond:
                self._running -= 1
                if self._wanted is None and seq == self._seq:
                    self._jobs.extend(jobs)
                self._cond.notify_all()
            self._answer.emit(seq, request, value, error)

    def _deliver(self, seq: int, request: Any, value: Any, error: Any) -> None:
        if seq <= self._delivered or self._stop:
            return  # a newer answer was shown already
        self._delivered = seq
        if error is not None:
            self.failed.emit(request, str(error))
        else:
            self.ready.emit(request, value)


class DecodedCache:
    """The last decoded images, by key, within ``budget`` bytes (thread-safe; LRU).

    ``get(key, decode)`` decodes at most once per key while it stays cached; two threads
    asking for one key at once may both decode it (cheaper than making one wait)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, decode: Callable[[], np.ndarray]) -> np.ndarray:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                return item
        item = decode()  # outside the lock: the other workers decode meanwhile
        with self._lock:
            if key not in self._items:
                self._items[key] = item
                self._bytes += item.nbytes
                while self._bytes > self.budget and len(self._items) > 1:
                    _, old = self._items.popitem(last=False)
                    self._bytes -= old.nbytes
        return item

    def has(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


class FrameLoader(QObject):
    """Ask for clip frames by index; receive ``frame_ready(index, QImage)`` on the GUI thread."""

    frame_ready = Signal(int, QImage)
    failed = Signal(int, str)

    def __init__(self, reader: Reader, prefetch: int = 8, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._reader = reader

        def ahead(index: int) -> list[Callable[[], object]]:  # into the reader's own cache
            end = min(index + 1 + prefetch, len(reader))
            return [lambda k=k: reader[k] for k in range(index + 1, end)]

        self._pool = LatestRequestPool(lambda i: qimage_from_rgb(reader[i]), prefetch=ahead, name="clip-frames", parent=self)
        self._pool.ready.connect(lambda index, image: self.frame_ready.emit(index, image))
        self._pool.failed.connect(lambda index, message: self.failed.emit(index, message))

    @property
    def threads(self) -> list[QThread]:
        return self._pool.threads

    def request(self, index: int) -> None:
        self._pool.request(index)

    def shutdown(self) -> None:
        """Stop the worker and wait for it: no thread outlives its clip."""
        self._pool.shutdown()


def frame_array(image: QImage) -> np.ndarray:
    """QImage (RGB888) -> ``[H, W, 3]`` uint8, for tests and exports of what is shown."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits(), np.uint8, count=stride * h).reshape(h, stride)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()
