"""Procedural clips: deterministic, exact masks and exact ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from engine.procedural import SHADOW_DARKENING, generate_clip


@pytest.fixture(scope="module")
def clip():
    return generate_clip(width=96, height=64, num_frames=10, num_objects=3, seed=7)


def test_shapes_and_dtypes(clip) -> None:
    assert clip.frames.shape == (10, 64, 96, 3) and clip.frames.dtype == np.uint8
    assert clip.object_masks.shape == (3, 10, 64, 96) and clip.object_masks.dtype == bool
    assert clip.shadow_masks.shape == clip.object_masks.shape
    assert clip.background.shape == clip.frames.shape
    assert clip.size == (96, 64) and clip.num_frames == 10 and clip.num_objects == 3


def test_deterministic_from_seed() -> None:
    a = generate_clip(64, 48, 5, 2, seed=3)
    b = generate_clip(64, 48, 5, 2, seed=3)
    c = generate_clip(64, 48, 5, 2, seed=4)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.object_masks, b.object_masks)
    assert not np.array_equal(a.frames, c.frames)


def test_visible_masks_are_disjoint_and_objects_move(clip) -> None:
    assert (clip.object_masks.sum(axis=0) <= 1).all()
    for k in range(clip.num_objects):
        assert not (clip.object_masks[k] & clip.shadow_masks[k]).any()
    moved = [not np.array_equal(o.positions[0], o.positions[-1]) for o in clip.objects]
    assert all(moved)


def test_removal_ground_truth_changes_only_object_and_shadow(clip) -> None:
    for k in range(clip.num_objects):
        clean = clip.render(exclude=[k])
        changed = (clean != clip.frames).any(-1)
        assert not (changed & ~clip.removal_mask(k)).any()
        assert changed.any()


def test_shadow_darkens_background(clip) -> None:
    k = 0
    only_bg = clip.shadow_masks[k] & ~clip.object_masks.any(0) & ~clip.shadow_masks[1:].any(0)
    assert only_bg.sum() > 20
    ratio = clip.frames[only_bg].astype(float).sum() / clip.background[only_bg].astype(float).sum()
    assert abs(ratio - (1 - SHADOW_DARKENING)) < 0.02


def test_no_objects_is_background() -> None:
    c = generate_clip(48, 32, 4, 0, seed=1)
    assert np.array_equal(c.frames, c.background)


def test_recoloured_only_inside_object(clip) -> None:
    out = clip.recoloured(1, lambda f, m: 255 - f)
    changed = (out != clip.frames).any(-1)
    assert not (changed & ~clip.object_masks[1]).any()
    assert np.array_equal(out[clip.object_masks[1]], 255 - clip.frames[clip.object_masks[1]])


def test_layer_follows_background_pan(clip) -> None:
    layer = np.zeros((64, 96, 4), np.uint8)
    layer[20:30, 40:50] = (255, 0, 0, 255)
    frames, alpha, offsets = clip.with_layer(layer)
    assert np.allclose(offsets, -(clip.camera - clip.camera[0]))
    for t in range(clip.num_frames):
        cx = (alpha[t] * np.arange(96)[None]).sum() / alpha[t].sum()
        assert abs(cx - (44.5 + offsets[t, 0])) < 0.05
    assert not ((frames != clip.frames).any(-1) & (alpha == 0)).any()


def test_layer_follows_object(clip) -> None:
    layer = np.zeros((64, 96, 4), np.uint8)
    layer[10:14, 10:14] = (0, 255, 0, 255)
    _, _, offsets = clip.with_layer(layer, anchor=2)
    pos = clip.objects[2].positions
    assert np.array_equal(offsets, pos - pos[0])


def test_padded_render_contains_original_view(clip) -> None:
    wide = clip.render(pad=(8, 4, 6, 2))
    assert wide.shape == (10, 70, 110, 3)
    assert np.array_equal(wide[:, 4:68, 8:104], clip.frames)


def test_bad_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="num_frames"):
        generate_clip(num_frames=0)
    with pytest.raises(ValueError, match="10x64"):
        generate_clip(width=10, height=64)
    c = generate_clip(32, 32, 2, 1)
    with pytest.raises(IndexError, match="object 3"):
        c.render(exclude=[3])


def test_fast_at_benchmark_size() -> None:
    import time

    t0 = time.perf_counter()
    generate_clip(640, 360, 20, 3, seed=0)
    assert time.perf_counter() - t0 < 3.0
