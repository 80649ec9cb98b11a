"""The tracker's speck filter removes stray islands but keeps real object pieces."""

from __future__ import annotations

import numpy as np

from engine.engines.classic.tracker import drop_specks


def test_specks_are_dropped_and_pieces_kept() -> None:
    mask = np.zeros((100, 100), np.uint8)
    mask[10:50, 10:50] = 255  # the object (1600 px)
    mask[70:74, 70:74] = 255  # a speck (16 px, 1 %)
    mask[60:90, 10:30] = 255  # a real second piece (600 px, 37 %)
    out = drop_specks(mask, keep=1)
    assert out[72, 72] == 0 and out[20, 20] == 255 and out[70, 20] == 255
    # a frame-1 object in three pieces keeps its three largest even when one is small
    assert drop_specks(mask, keep=3)[72, 72] == 255
    empty = np.zeros((10, 10), np.uint8)
    np.testing.assert_array_equal(drop_specks(empty), empty)
