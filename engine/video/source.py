"""The minimal clip interface every engine consumes.

Engines never care whether frames come from a file, a frame folder or memory: they
index a ``FrameSource``. Frames are ``[height, width, 3]`` uint8 RGB arrays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class FrameSource(Protocol):
    """Random-access clip: ``len(src)`` frames, ``src[i]`` -> ``[H, W, 3]`` uint8 RGB."""

    @property
    def fps(self) -> float: ...

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray: ...


def frame_index(index: int, count: int, name: str) -> int:
    """Python-style index (negative counts from the end) checked against ``count``."""
    if index < 0:
        index += count
    if not 0 <= index < count:
        raise IndexError(f"frame {index} out of range: {name} has {count} frames")
    return index


class ArrayClip:
    """A clip held in memory (tests, engines' outputs, procedural data)."""

    def __init__(self, frames: Sequence[np.ndarray] | np.ndarray, fps: float = 24.0) -> None:
        if len(frames) == 0:
            raise ValueError("ArrayClip needs at least one frame")
        first = np.asarray(frames[0])
        if first.ndim != 3 or first.shape[2] != 3 or first.dtype != np.uint8:
            raise ValueError(f"frames must be [H, W, 3] uint8, got {first.shape} {first.dtype}")
        for i, f in enumerate(frames):
            if np.asarray(f).shape != first.shape:
                raise ValueError(f"frame {i} has shape {np.asarray(f).shape}, expected {first.shape}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self._frames = frames
        self._fps = float(fps)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        h, w = np.asarray(self._frames[0]).shape[:2]
        return int(w), int(h)

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, index: int) -> np.ndarray:
        return np.asarray(self._frames[frame_index(index, len(self), "the clip")])

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]
