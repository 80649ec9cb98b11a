"""A bounded frame cache, sized in bytes, so scrubbing a 4K clip cannot eat the RAM."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


class FrameCache:
    """Least-recently-used cache of decoded frames keyed by index."""

    def __init__(self, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, index: int) -> np.ndarray | None:
        with self._lock:
            frame = self._frames.get(index)
            if frame is not None:
                self._frames.move_to_end(index)
            return frame

    def put(self, index: int, frame: np.ndarray) -> None:
        with self._lock:
            if index in self._frames:
                self._frames.move_to_end(index)
                return
            frame.setflags(write=False)
            self._frames[index] = frame
            self._bytes += frame.nbytes
            while self._bytes > self.max_bytes and len(self._frames) > 1:
                _, old = self._frames.popitem(last=False)
                self._bytes -= old.nbytes

    def __contains__(self, index: int) -> bool:
        with self._lock:
            return index in self._frames

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._bytes = 0
