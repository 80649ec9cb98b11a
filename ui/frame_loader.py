"""Decoding frames off the GUI thread: the newest request wins, neighbours are prefetched.

Scrubbing fires many requests per second; decoding each on the GUI thread would freeze
the window. A single worker thread serves only the most recent request (stale ones are
dropped, as napari's slicer does) and then decodes ahead of it into the reader's cache.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QImage

from engine.video import Reader, VideoError
from ui.image import qimage_from_rgb

log = logging.getLogger(__name__)


class _DecodeThread(QThread):
    frame_ready = Signal(int, QImage)
    failed = Signal(int, str)

    def __init__(self, reader: Reader, prefetch: int) -> None:
        super().__init__()
        self._reader = reader
        self._prefetch = prefetch
        self._wanted: int | None = None
        self._cond = threading.Condition()
        self._stop = False

    def request(self, index: int) -> None:
        with self._cond:
            self._wanted = index
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()

    def run(self) -> None:
        while True:
            with self._cond:
                while self._wanted is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                index, self._wanted = self._wanted, None
            try:
                frame = self._reader[index]
            except (VideoError, IndexError) as err:
                self.failed.emit(index, str(err))
                continue
            self.frame_ready.emit(index, qimage_from_rgb(frame))
            self._prefetch_after(index)

    def _prefetch_after(self, index: int) -> None:
        """Fill the reader's cache ahead while no newer request is waiting."""
        for ahead in range(index + 1, min(index + 1 + self._prefetch, len(self._reader))):
            with self._cond:
                if self._wanted is not None or self._stop:
                    return
            try:
                self._reader[ahead]
            except (VideoError, IndexError):
                return


class FrameLoader(QObject):
    """Ask for frames by index; receive ``frame_ready(index, QImage)`` on the GUI thread."""

    frame_ready = Signal(int, QImage)
    failed = Signal(int, str)

    def __init__(self, reader: Reader, prefetch: int = 8, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = _DecodeThread(reader, prefetch)
        self._thread.frame_ready.connect(self.frame_ready)
        self._thread.failed.connect(self.failed)
        self._thread.start()

    def request(self, index: int) -> None:
        self._thread.request(index)

    def shutdown(self) -> None:
        """Stop the worker and wait for it: no thread outlives its clip."""
        self._thread.stop()
        self._thread.wait(5000)


def frame_array(image: QImage) -> np.ndarray:
    """QImage (RGB888) -> ``[H, W, 3]`` uint8, for tests and exports of what is shown."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits(), np.uint8, count=stride * h).reshape(h, stride)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()
