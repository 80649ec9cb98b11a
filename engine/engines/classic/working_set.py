"""The classic engine's bounded working set on long clips (issue 16).

A streamed run keeps its clip and each operation's output in frame spools on disk
(``engine.video.frame_spool``) and its masks packed (``engine.engines.packed_masks``).
What it holds in memory at once does not grow with the clip:

- removal (``remove.fill_frames``) runs two sweeps over a shot, each holding one frame's
  state: the backward one from the shot's end leaves each frame's masks (packed) and the
  sparse correspondences of its hole pixels in a record spool on disk
  (``engine.video.frame_spool.RecordSpool``); the forward one then makes each output frame
  as soon as it reaches it, reading colours from the frames at most ``temporal_reach`` away
  (only the band of rows they touch, ``FrameSpool.rows``) and carrying never-seen pixels
  from the frame made before it. The in-memory path runs the same code with the records in
  memory, so the streamed output equals it by construction;
- outpaint reads the frames within its reach of the current one through a :class:`FrameWindow`;
- the flow cache keeps at most 512 neighbour flows and greys at working size
  (``engine.engines.classic.motion.FlowCache``, about 150 MB at any frame size).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np


class FrameMasks:
    """Masks ``start..stop-1`` of ``masks`` (an array or ``PackedMasks``) as bool frames, indexed from 0.

    ``keep``: the most recently read frames held (a packed mask is decompressed once for repeated reads).
    """

    def __init__(self, masks: Any, start: int, stop: int, keep: int = 0) -> None:
        if not 0 <= start < stop <= len(masks):
            raise ValueError(f"mask range {start}..{stop} is outside {len(masks)} masks")
        self._masks, self._start, self._stop, self._keep = masks, int(start), int(stop), int(keep)
        self._recent: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, index: int) -> np.ndarray:
        i = int(index)
        if not 0 <= i < len(self):
            raise IndexError(f"mask {index} out of range: {len(self)} frames")
        got = self._recent.get(i)
        if got is None:
            got = np.asarray(self._masks[self._start + i]) > 0
            if self._keep:
                self._recent[i] = got
                while len(self._recent) > self._keep:
                    self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(i)
        return got


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


class LatestFrame:
    """``[T, H, W]`` uint8 zeros written and read one frame at a time; only the newest frame is held.

    For per-frame diagnostics a streamed step writes for frame ``t`` and its caller reads right
    after (removal's ``fill_frames(sources_out=...)``): ``[t]`` is frame ``t``'s array, new and
    zero when ``t`` was not the last frame asked for.
    """

    def __init__(self, hw: tuple[int, int]) -> None:
        self._hw = (int(hw[0]), int(hw[1]))
        self._t: int | None = None
        self._frame = np.zeros(self._hw, np.uint8)

    def __getitem__(self, index: int) -> np.ndarray:
        t = int(index)
        if t != self._t:
            self._t, self._frame = t, np.zeros(self._hw, np.uint8)
        return self._frame


class InOrderFrames:
    """The frames of the run's last operation, made as they are read, in order (a removal streamed straight
    to the sink: no output spool, so a 1080p clip needs ``T * 6 MB`` less disk and one pass less).

    ``frames`` yields frame 0, 1, ... ``len - 1``; ``[t]`` must ask for them in that order, each once.
    ``close`` stops the producer (its record spool is closed) when the run ends early."""

    def __init__(self, frames: Iterator[np.ndarray], length: int, frame_shape: tuple[int, ...]) -> None:
        self._frames, self._length, self._frame_shape = frames, int(length), tuple(frame_shape)
        self._next = 0

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._length, *self._frame_shape)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> np.ndarray:
        t = int(index)
        if t != self._next:
            raise IndexError(f"frame {t} asked for, but these frames are made in order: frame {self._next} is next")
        frame = next(self._frames)
        self._next += 1
        return frame

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()
