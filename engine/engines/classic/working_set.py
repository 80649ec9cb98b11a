"""The classic engine's bounded working set on long clips (issue 16).

A streamed run keeps its clip and each operation's output in frame spools on disk
(``engine.video.frame_spool``) and its masks packed (``engine.engines.packed_masks``);
what it holds in memory at once is a *chunk*: the frames one step of removal or outpaint
needs to make a stretch of output frames. Both steps only look ``reach`` frames away
(their ``window``), so a chunk of outputs ``c0..c1-1`` is made from frames
``c0 - reach - 1 .. c1 + reach - 1`` of the same shot and equals what the whole shot gives:

- removal's backward sweep reaches frame ``t`` from frames up to ``t + reach`` only;
- its forward sweep from frames down to ``t - reach``; one frame more is read before, as
  the first frame of a chunk has no predecessor to judge its moving pixels against;
- the never-seen pixels carried from the previous output are seeded with the previous
  chunk's last output frame (``fill_holes(previous_output=...)``).

The chunk length comes from a memory budget (``ClassicOptions.working_set_mb``), never
below what the two reaches need plus :data:`MIN_OUTPUTS` frames; a shot that fits the
budget is filled whole, as the in-memory path does (no overlap is computed twice).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

MIN_OUTPUTS = 16
"""Fewest output frames a chunk makes (below that the overlap costs more than the chunk)."""
BYTES_PER_PIXEL = 12
"""What removal holds per pixel of a chunk frame: the frame and its output copy (3 + 3), the hole,
the unknown and moving masks (1 + 1 + 1), and about 3 for the sparse correspondences of a hole."""


def chunk_frames(width: int, height: int, reach: int, budget_mb: int) -> int:
    """Frames a chunk may hold (its outputs and their context) for ``width`` x ``height`` within ``budget_mb`` MB."""
    per_frame = max(1, int(width) * int(height) * BYTES_PER_PIXEL)
    return max(MIN_OUTPUTS + 2 * int(reach) + 1, int(budget_mb) * 2**20 // per_frame)


def chunks(a: int, b: int, e: int, reach: int, frames: int | None) -> Iterator[tuple[int, int, int, int]]:
    """``(c0, c1, lo, hi)``: outputs ``c0..c1-1`` of ``a..b-1``, made from frames ``lo..hi-1`` of ``a..e-1``.

    ``frames``: at most that many per chunk (:func:`chunk_frames`); None, or a stretch that fits: one chunk.
    """
    if frames is None or e - a <= frames:
        yield a, b, a, e
        return
    outputs = max(1, frames - (2 * int(reach) + 1))
    for c0 in range(a, b, outputs):
        c1 = min(b, c0 + outputs)
        yield c0, c1, max(a, c0 - reach - 1), min(e, c1 + reach)


def load(frames: Any, lo: int, hi: int) -> np.ndarray:
    """Frames ``lo..hi-1`` of an array or a spool as one array (a view when it already is one)."""
    if isinstance(frames, np.ndarray):
        return frames[lo:hi]
    return np.stack([frames[t] for t in range(lo, hi)]) if hi > lo else np.zeros((0, *frames.shape[1:]), np.uint8)


class FrameWindow:
    """Read access to ``frames`` (a spool) keeping the ``keep`` most recently read frames in memory.

    Outpaint reads the frames within ``reach`` of the current one for every frame; this
    keeps those (``2 * reach + 2``) and nothing older. Indexing and ``shape`` mirror an array.
    """

    def __init__(self, frames: Any, keep: int) -> None:
        self._frames, self._keep = frames, max(1, int(keep))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.shape, self.ndim, self.dtype = tuple(frames.shape), 4, np.dtype(np.uint8)

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, index: int) -> np.ndarray:
        i = int(index)
        frame = self._cache.get(i)
        if frame is None:
            frame = self._cache[i] = self._frames[i]
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(i)
        return frame
