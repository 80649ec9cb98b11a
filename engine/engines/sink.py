"""Where an engine puts finished frames: the streaming contract of issue 16.

An engine that streams hands each output frame to a :class:`FrameSink` as soon as the
frame is final, in order (frame 0, 1, 2 ...), then calls ``finish`` with what it knows
about the run; ``finish`` returns the :class:`PropagationResult`. With a
:class:`MemorySink` that result holds arrays (tests, short clips, the old behaviour);
with ``engine.result_store.ResultWriter`` it is read from disk, so the run's memory does
not grow with the clip. ``Engine.propagate_to`` is the entry point; engines that do not
stream still work through it (their arrays are handed over at the end).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine.engines.base import PropagationResult


@runtime_checkable
class FrameSink(Protocol):
    """Receives a run's frames in order and returns the finished result."""

    def put(self, frame: np.ndarray, mask: np.ndarray, operation_masks: Sequence[np.ndarray] | None = None) -> None:
        """Frame ``k`` (the k-th call): ``[H, W, 3]`` uint8, its ``[H, W]`` 0/255 edit mask, each operation's mask."""
        ...

    def finish(
        self, engine: str, mode: str = "", extras: dict[str, Any] | None = None, timings: dict[str, float] | None = None
    ) -> PropagationResult:
        """All frames were put: the result (``extras`` as the engine made them)."""
        ...


class MemorySink:
    """Collects the frames into arrays (preallocated when the length and size are known)."""

    def __init__(self, fps: float, length: int | None = None, size: tuple[int, int] | None = None) -> None:
        self.fps = float(fps)
        self._frames: list[np.ndarray] | np.ndarray = []
        self._masks: list[np.ndarray] | np.ndarray = []
        self._ops: list[list[np.ndarray]] = []
        self._count = 0
        if length is not None and size is not None:
            w, h = size
            self._frames = np.empty((length, h, w, 3), np.uint8)
            self._masks = np.empty((length, h, w), np.uint8)

    def put(self, frame: np.ndarray, mask: np.ndarray, operation_masks: Sequence[np.ndarray] | None = None) -> None:
        k = self._count
        if isinstance(self._frames, np.ndarray):
            if k >= len(self._frames):
                raise ValueError(f"the sink was sized for {len(self._frames)} frames; frame {k} is one too many")
            self._frames[k] = frame
            self._masks[k] = mask
        else:
            self._frames.append(np.asarray(frame, np.uint8))
            self._masks.append(np.asarray(mask, np.uint8))
        if operation_masks is not None:
            if not self._ops:
                self._ops = [[] for _ in operation_masks]
            for store, m in zip(self._ops, operation_masks, strict=True):
                store.append(np.asarray(m))
        self._count += 1

    def finish(
        self, engine: str, mode: str = "", extras: dict[str, Any] | None = None, timings: dict[str, float] | None = None
    ) -> PropagationResult:
        n = self._count
        if n < 1:
            raise ValueError("no frames were produced")
        frames = self._frames[:n] if isinstance(self._frames, np.ndarray) else np.stack(self._frames)
        masks = self._masks[:n] if isinstance(self._masks, np.ndarray) else np.stack(self._masks)
        extras = dict(extras or {})
        if self._ops:
            extras["operation_masks"] = [np.stack(m) for m in self._ops]
        return PropagationResult(frames, masks, self.fps, engine, mode, extras, dict(timings or {}))


def hand_over(result: PropagationResult, sink: FrameSink) -> PropagationResult:
    """Put an in-memory result into ``sink`` frame by frame (engines that do not stream)."""
    ops = result.extras.get("operation_masks")
    shape = tuple(result.masks.shape)
    ops = ops if isinstance(ops, (list, tuple)) and ops and all(tuple(np.shape(m)) == shape for m in ops) else None
    for t in range(len(result.frames)):
        sink.put(result.frames[t], result.masks[t], [m[t] for m in ops] if ops else None)
    extras = {k: v for k, v in result.extras.items() if k != "operation_masks"}
    return sink.finish(result.engine, result.mode, extras, result.timings)
