"""Per-frame masks of a whole clip, kept compressed (issue 16).

A tracked mask is one byte per pixel per frame: a third of the clip itself, which is
what a long clip cannot hold. Masks are mostly flat regions, so each frame's mask is
kept zlib-compressed (level 1: about a millisecond at 1080p) and decompressed when read;
exact for any values. Indexing mirrors a ``[T, H, W]`` uint8 array for the per-frame
reads and writes that tracking and compositing do.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np


class PackedMasks:
    """``[T, H, W]`` uint8 masks, all zero at first, stored one compressed frame each."""

    dtype = np.dtype(np.uint8)
    ndim = 3

    def __init__(self, length: int, height: int, width: int) -> None:
        self._hw = (int(height), int(width))
        zero = zlib.compress(np.zeros(self._hw, np.uint8).tobytes(), 1)
        self._frames: list[bytes] = [zero] * int(length)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self._frames), *self._hw)

    @property
    def nbytes_stored(self) -> int:
        return sum(len(b) for b in self._frames)

    def __len__(self) -> int:
        return len(self._frames)

    def _index(self, index: Any) -> int:
        i = int(index)
        if i < 0:
            i += len(self._frames)
        if not 0 <= i < len(self._frames):
            raise IndexError(f"mask {index} out of range: {len(self._frames)} frames")
        return i

    def __getitem__(self, index: Any) -> np.ndarray:
        raw = zlib.decompress(self._frames[self._index(index)])
        return np.frombuffer(raw, np.uint8).reshape(self._hw).copy()

    def __setitem__(self, index: Any, mask: np.ndarray) -> None:
        mask = np.asarray(mask)
        if mask.shape != self._hw:
            raise ValueError(f"mask is {mask.shape}, expected {self._hw}")
        self._frames[self._index(index)] = zlib.compress(np.ascontiguousarray(mask, np.uint8).tobytes(), 1)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.stack([self[i] for i in range(len(self))]) if len(self) else np.zeros(self.shape, np.uint8)
        return out if dtype is None else out.astype(dtype)
