"""Per-frame masks of a whole clip, kept compressed (issue 16).

A tracked mask is one byte per pixel per frame: a third of the clip itself, which is
what a long clip cannot hold. Masks are mostly flat regions, so each frame's mask is
kept compressed and decompressed when read; exact for any values. A 0/255 mask (what
tracking makes) is first packed to one bit per pixel: zlib alone cannot shrink a 1080p
frame of zeros below ~9 KB (its ratio tops out near 1000:1) nor a 0/255 object mask below
~11 KB; as bits that mask takes 2.7 KB (an empty frame: one byte),
and on a 4,800-frame clip that difference is the growth a flat run must not have.
Indexing mirrors a ``[T, H, W]`` uint8 array for the per-frame reads and writes that
tracking and compositing do.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

_EMPTY, _BITS, _BYTES = b"0", b"b", b"z"  # the tag in front of each stored frame: all zero, 0/255 bits, or every byte


def pack_bits(on: np.ndarray) -> bytes:
    """A bool mask as zlib-compressed bits (no tag: the reader knows it is bits)."""
    return zlib.compress(np.packbits(np.asarray(on, bool), axis=None).tobytes(), 1)


def unpack_bits(data: bytes, hw: tuple[int, int]) -> np.ndarray:
    """The ``[H, W]`` bool mask ``pack_bits`` stored."""
    bits = np.frombuffer(zlib.decompress(data), np.uint8)
    return np.unpackbits(bits, count=hw[0] * hw[1]).reshape(hw).astype(bool)


def pack_mask(mask: np.ndarray) -> bytes:
    """``mask`` (uint8, any values) as tagged zlib bytes (level 1: about a millisecond at 1080p)."""
    mask = np.ascontiguousarray(mask, np.uint8)
    on = mask == 255
    nonzero = np.count_nonzero(mask)
    if nonzero == 0:
        return _EMPTY
    if np.count_nonzero(on) == nonzero:  # only 0 and 255
        return _BITS + pack_bits(on)
    return _BYTES + zlib.compress(mask.tobytes(), 1)


def unpack_mask(data: bytes, hw: tuple[int, int]) -> np.ndarray:
    """The ``[H, W]`` uint8 mask ``pack_mask`` stored (a new, writable array)."""
    if data == _EMPTY:
        return np.zeros(hw, np.uint8)
    if data[:1] == _BITS:
        return unpack_bits(data[1:], hw).view(np.uint8) * np.uint8(255)
    return np.frombuffer(zlib.decompress(data[1:]), np.uint8).reshape(hw).copy()


class PackedMasks:
    """``[T, H, W]`` uint8 masks, all zero at first, stored one compressed frame each."""

    dtype = np.dtype(np.uint8)
    ndim = 3

    def __init__(self, length: int, height: int, width: int) -> None:
        self._hw = (int(height), int(width))
        self._frames: list[bytes] = [_EMPTY] * int(length)

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
        return unpack_mask(self._frames[self._index(index)], self._hw)

    def __setitem__(self, index: Any, mask: np.ndarray) -> None:
        mask = np.asarray(mask)
        if mask.shape != self._hw:
            raise ValueError(f"mask is {mask.shape}, expected {self._hw}")
        self._frames[self._index(index)] = pack_mask(mask)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.stack([self[i] for i in range(len(self))]) if len(self) else np.zeros(self.shape, np.uint8)
        return out if dtype is None else out.astype(dtype)
