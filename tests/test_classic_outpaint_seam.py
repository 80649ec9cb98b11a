"""The outpaint seam blend (gradient domain) on hand-made canvases: the step goes, detail stays, no black is made."""

from __future__ import annotations

import numpy as np

from engine.engines.classic.outpaint import blend_seam
from engine.metrics import black_fraction, seam_ratio


def _canvas(seed: int = 0) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w, m = 48, 64, 16
    texture = rng.normal(0, 6, (h, w + 2 * m, 3))
    canvas = np.clip(120 + texture, 0, 255)
    canvas[:, :m] += 50  # the fill came from a brighter frame: a step at the left seam
    canvas[:, m + w :] -= 50  # and a darker one on the right
    margins = np.ones((h, w + 2 * m), bool)
    margins[:, m : m + w] = False
    return np.clip(canvas, 0, 255).astype(np.uint8), (m, 0), (w, h), margins


def test_blend_removes_the_step_and_keeps_the_source_and_the_fills_detail() -> None:
    canvas, offset, size, margins = _canvas()
    assert seam_ratio(canvas[None], offset, size) > 4
    out = blend_seam(canvas, offset, size)
    assert seam_ratio(out[None], offset, size) < 1.5
    m, w = offset[0], size[0]
    assert np.array_equal(out[:, m : m + w], canvas[:, m : m + w])  # the source area is untouched
    # Far from the seam (past the 12 px fade) the fill is unchanged, texture and all.
    assert np.array_equal(out[:, :2], canvas[:, :2]) and np.array_equal(out[:, -2:], canvas[:, -2:])


def test_a_black_border_does_not_blacken_the_fill() -> None:
    canvas, offset, size, margins = _canvas(1)
    m = offset[0]
    canvas[10:30, m : m + 8] = 0  # a crushed-black coat at the source's left border
    canvas[10:30, :m] = 25  # next to a dark fill
    out = blend_seam(canvas, offset, size)
    truth = np.full_like(canvas, 120)
    assert black_fraction(out[None], margins[None], truth[None]) == 0.0
    assert (out[10:30, : m - 1].max(axis=-1) > 0).all()  # darkened toward the coat, never driven to pure black
