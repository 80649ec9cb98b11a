"""4k+1 windows for Wan VACE and the colour-drift correction between windows (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.pipelines.vace_windows import apply_colour, colour_match, plan_vace_windows, round_up_4k1


def test_round_up_4k1() -> None:
    assert [round_up_4k1(n) for n in (1, 2, 5, 6, 9, 10)] == [1, 5, 5, 9, 9, 13]


def test_every_window_is_4k1_and_covers_the_clip_once_new() -> None:
    for n in (2, 5, 9, 17, 30, 81, 200):
        windows = plan_vace_windows(n, 17, 5)
        assert windows[0].start == 0 and windows[0].context == 0 and windows[-1].stop == n
        for prev, win in zip(windows, windows[1:], strict=False):
            assert win.model_frames % 4 == 1
            assert win.context == prev.stop - win.start >= 5
            assert win.start < prev.stop < win.stop  # each window adds new frames after fixed context
        assert all(w.model_frames % 4 == 1 and w.model_frames <= 17 for w in windows)


def test_short_clip_is_padded_last_window_extended_backwards() -> None:
    (only,) = plan_vace_windows(3, 81, 5)
    assert (only.start, only.stop, only.pad, only.model_frames) == (0, 3, 2, 5)
    windows = plan_vace_windows(20, 17, 5)
    assert [(w.start, w.stop, w.context) for w in windows] == [(0, 17, 0), (11, 20, 6)]
    with pytest.raises(ValueError, match="4k\\+1"):
        plan_vace_windows(20, 16, 5)


def test_colour_match_recovers_a_known_shift() -> None:
    rng = np.random.default_rng(0)
    ref = rng.integers(40, 200, (3, 16, 16, 3)).astype(np.uint8)
    shifted = (
        np.clip(ref.astype(np.float32) * np.array([1.1, 0.95, 1.0]) + np.array([5, -8, 12]), 0, 255).round().astype(np.uint8)
    )
    fix = colour_match(ref, shifted)
    assert fix.drift_before > 5 and fix.drift_after < 0.5
    fixed = apply_colour(shifted, fix.gain, fix.offset)
    assert np.abs(fixed.astype(int) - ref).mean() < 1.5
    same = colour_match(ref, ref)
    assert same.drift_before == 0 and np.allclose(same.gain, 1) and np.allclose(same.offset, 0, atol=1e-6)


def test_colour_gain_is_bounded_on_flat_patches() -> None:
    ref = np.full((1, 8, 8, 3), 100, np.uint8)
    ref[0, 0, 0] = 200
    flat = np.full((1, 8, 8, 3), 90, np.uint8)
    fix = colour_match(ref, flat)
    assert all(g == 1.0 for g in fix.gain)  # zero spread: gain 1, offset only
    noisy = np.random.default_rng(1).integers(0, 255, (1, 8, 8, 3)).astype(np.uint8)
    assert all(0.8 - 1e-9 <= g <= 1.25 + 1e-9 for g in colour_match(ref, noisy).gain)
