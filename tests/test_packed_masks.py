"""PackedMasks: exact for any mask, and small for the 0/255 masks tracking makes (issue 16)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.engines.packed_masks import PackedMasks, pack_bits, pack_mask, unpack_bits, unpack_mask


def _ellipse(h: int = 1080, w: int = 1920) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (w // 2, h // 2), (w // 10, h // 7), 0, 0, 360, 255, -1)
    return m


@pytest.mark.parametrize(
    "mask",
    [
        np.zeros((9, 13), np.uint8),
        _ellipse(90, 130),
        (np.arange(9 * 13) % 7).astype(np.uint8).reshape(9, 13),  # soft values: kept byte for byte
        np.full((9, 13), 255, np.uint8),
    ],
)
def test_round_trip_is_exact_and_writable(mask: np.ndarray) -> None:
    out = unpack_mask(pack_mask(mask), mask.shape)
    assert out.dtype == np.uint8 and np.array_equal(out, mask)
    out[0, 0] = 1  # a new array, not a view of the stored bytes
    packed = PackedMasks(3, *mask.shape)
    packed[1] = mask
    assert np.array_equal(packed[1], mask) and not packed[0].any() and not packed[-1].any()


def test_a_long_clips_masks_cost_bits_not_bytes() -> None:
    """At 1080p zlib alone keeps ~11 KB for an object mask and ~9 KB for an empty one: a 4,800-frame
    clip would grow by ~50 MB per mask set. As bits: under 4 KB, and one byte when empty."""
    mask = _ellipse()
    assert len(pack_mask(mask)) < 4096
    assert len(pack_mask(np.zeros_like(mask))) == 1
    packed = PackedMasks(100, *mask.shape)
    for t in range(100):
        packed[t] = np.roll(mask, 3 * t, axis=1)
    assert packed.nbytes_stored < 100 * 4096
    assert np.array_equal(np.asarray(packed)[57], np.roll(mask, 171, axis=1))


def test_bits_round_trip() -> None:
    on = _ellipse(31, 47) > 0
    assert np.array_equal(unpack_bits(pack_bits(on), on.shape), on)


def test_wrong_size_and_index_are_refused() -> None:
    packed = PackedMasks(2, 4, 5)
    with pytest.raises(ValueError, match="expected"):
        packed[0] = np.zeros((5, 4), np.uint8)
    with pytest.raises(IndexError):
        packed[2]
