"""A clip seen as a read-only ``[T, H, W, 3]`` array that decodes on demand (issue 16).

Code written for an in-memory clip (``frames[t]``, ``frames[a:b]``, ``frames.shape``) can
run on a :class:`~engine.video.source.FrameSource` of any length without reading it
whole: each index is one read from the source (its own bounded cache serves repeats).
Whole-array operations (``np.asarray``, ``.copy()``) are not offered: they are what a
long clip cannot afford, so they fail loudly instead of filling memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.video.source import FrameSource


class SourceFrames:
    """Frames ``start .. stop-1`` of ``source`` indexed from 0, read when asked for."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, source: FrameSource, start: int = 0, stop: int | None = None) -> None:
        n = len(source)
        stop = n if stop is None else stop
        if not 0 <= start <= stop <= n:
            raise ValueError(f"frame range {start}..{stop} is outside a clip of {n} frames")
        self._source, self._start, self._stop = source, start, stop
        w, h = source.size
        self._hw = (int(h), int(w))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self._stop - self._start, *self._hw, 3)

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise IndexError("SourceFrames slices must be contiguous")
            return SourceFrames(self._source, self._start + start, self._start + max(start, stop))
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"frame {index} out of range: {len(self)} frames")
        frame = np.asarray(self._source[self._start + i])
        if frame.shape != (*self._hw, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame {self._start + i} is {frame.shape} {frame.dtype}, expected {(*self._hw, 3)} uint8")
        return frame

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError("SourceFrames decodes frames on demand; read them by index (the whole clip may not fit in memory)")
