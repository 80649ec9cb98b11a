"""Mask-only tracking with keyframes (issue 19): a correction re-anchors the track, touches only the frames
from it to the next keyframe, and a re-track with a cache costs only those frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.edit import Keyframe
from engine.edits import RecolourSpec, compose
from engine.edits.insert import InsertSpec
from engine.engines.base import CancelToken, PropagationCancelled
from engine.engines.classic.keyframe_track import BLEND_FRAMES, band_mask, blend_masks
from engine.engines.mask_track import TrackCache, retrack_range, track_operation_masks
from engine.metrics import j_and_f
from engine.video.source import ArrayClip

W, H, T, JUMP = 160, 96, 24, 12


def jump_clip() -> tuple[np.ndarray, np.ndarray]:
    """A textured disc moving right that jumps 70 px at frame JUMP (no flow can follow), on a textured plate."""
    rng = np.random.default_rng(0)
    plate = cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3)).astype(np.uint8), (0, 0), 2.0)
    skin = cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3)).astype(np.uint8), (0, 0), 1.0) // 2 + np.uint8([120, 20, 10])
    frames, truth = [], []
    for t in range(T):
        x = 30 + 2 * t + (70 if t >= JUMP else 0)
        m = np.zeros((H, W), np.uint8)
        cv2.circle(m, (x, 48), 16, 255, -1)
        f = plate.copy()
        f[m > 0] = np.roll(skin, 2 * t, axis=1)[m > 0]
        frames.append(f)
        truth.append(m > 0)
    return np.stack(frames), np.stack(truth)


def _edit(frames, truth, keyframes=()):  # noqa: ANN001, ANN202
    return compose(frames[0], [RecolourSpec(mask=truth[0].astype(np.uint8) * 255, hue_shift=90.0)], keyframes=list(keyframes))


def _masks(clip, edit, **kw):  # noqa: ANN001, ANN003, ANN202
    return {t: m[0] for t, m in track_operation_masks(clip, edit, {"tracker": "flow"}, **kw)}


def test_a_keyframe_fixes_the_frames_after_it() -> None:
    frames, truth = jump_clip()
    clip = ArrayClip(frames)
    plain = _masks(clip, _edit(frames, truth))
    after = range(JUMP, T)
    j_plain = j_and_f(np.stack([plain[t] > 0 for t in after]), truth[JUMP:]).j_mean
    fixed = _masks(clip, _edit(frames, truth, [Keyframe(JUMP, {0: truth[JUMP].astype(np.uint8) * 255})]))
    j_fixed = j_and_f(np.stack([fixed[t] > 0 for t in after]), truth[JUMP:]).j_mean
    assert j_plain < 0.3 and j_fixed > 0.85, (j_plain, j_fixed)
    # Frames before the blend band are untouched by the keyframe.
    for t in range(JUMP - BLEND_FRAMES):
        assert np.array_equal(plain[t], fixed[t]), t
    assert np.array_equal(fixed[JUMP] > 0, truth[JUMP])


def test_retrack_range_and_partial_runs_match_the_full_track() -> None:
    frames, truth = jump_clip()
    clip = ArrayClip(frames)
    k = Keyframe(JUMP, {0: truth[JUMP].astype(np.uint8) * 255})
    edit = _edit(frames, truth, [k, Keyframe(20, {0: truth[20].astype(np.uint8) * 255})])
    assert retrack_range(edit, JUMP, T) == (JUMP - BLEND_FRAMES, 20)
    assert retrack_range(edit, 20, T) == (JUMP + 1, T)
    assert retrack_range(edit, 5, T) == (1, JUMP)  # a keyframe being added at 5
    full = _masks(clip, edit)
    part = _masks(clip, edit, start=JUMP - BLEND_FRAMES, stop=20)
    assert list(part) == list(range(JUMP - BLEND_FRAMES, 20))
    assert all(np.array_equal(part[t], full[t]) for t in part)


def test_a_cached_retrack_tracks_only_the_affected_frames() -> None:
    frames, truth = jump_clip()
    clip = ArrayClip(frames)
    cache = TrackCache()
    before = _masks(clip, _edit(frames, truth), cache=cache)
    tracked = sum(r.done for r in cache.runs[0].values())
    assert tracked == T
    edit = _edit(frames, truth, [Keyframe(JUMP, {0: truth[JUMP].astype(np.uint8) * 255})])
    a, b = retrack_range(edit, JUMP, T)
    again = _masks(clip, edit, start=a, stop=b, cache=cache)
    new_steps = sum(r.done for r in cache.runs[0].values()) - tracked
    assert new_steps == (b - JUMP) + (BLEND_FRAMES + 1), new_steps  # forward from the keyframe + the backward band
    fresh = _masks(clip, edit)
    assert all(np.array_equal(again[t], fresh[t]) for t in again)
    assert all(np.array_equal(before[t], fresh[t]) for t in range(a))
    # A second, earlier correction: re-tracked up to the first one, still equal to a fresh full track
    # (results never depend on what the cache held: flows are handed back rounded as they are stored).
    edit2 = _edit(frames, truth, [*edit.keyframes, Keyframe(6, {0: truth[6].astype(np.uint8) * 255})])
    a2, b2 = retrack_range(edit2, 6, T)
    assert (a2, b2) == (1, JUMP)
    again2 = _masks(clip, edit2, start=a2, stop=b2, cache=cache)
    fresh2 = _masks(clip, edit2)
    assert all(np.array_equal(again2[t], fresh2[t]) for t in again2)


def test_untracked_operations_give_none_and_cancel_stops() -> None:
    frames, truth = jump_clip()
    layer = np.zeros((20, 20, 4), np.uint8)
    layer[..., 3] = 255
    edit = compose(frames[0], [RecolourSpec(mask=truth[0].astype(np.uint8) * 255), InsertSpec(layer=layer, x=20, y=20)])
    got = list(track_operation_masks(ArrayClip(frames), edit, {"tracker": "flow"}, stop=3))
    assert [t for t, _ in got] == [0, 1, 2] and all(m[1] is None and m[0].shape == (H, W) for _, m in got)
    token = CancelToken()
    gen = track_operation_masks(ArrayClip(frames), edit, {"tracker": "flow"})
    next(gen)
    token.cancel()
    gen2 = track_operation_masks(ArrayClip(frames), edit, {"tracker": "flow"}, cancel=token)
    with pytest.raises(PropagationCancelled):
        next(gen2)
    with pytest.raises(ValueError, match="outside a clip"):
        next(track_operation_masks(ArrayClip(frames), edit, start=5, stop=99))


def test_blend_masks_morphs_between_shapes() -> None:
    a = np.zeros((40, 80), np.uint8)
    b = a.copy()
    a[10:30, 10:30] = 255
    b[10:30, 40:60] = 255
    assert np.array_equal(blend_masks(a, b, 0.0), a) and np.array_equal(blend_masks(a, b, 1.0), b)
    assert np.array_equal(blend_masks(np.zeros_like(a), b, 0.2), b)  # an empty side gives way
    mid = blend_masks(a, a.copy(), 0.5)
    assert np.array_equal(mid, a)
    # Before a keyframe: disjoint tracks are not morphed (the forward one stays), close ones are.
    assert np.array_equal(band_mask(a, b, 0.9), a)
    c = np.roll(a, 2, axis=1)
    assert np.array_equal(band_mask(a, c, 0.9), blend_masks(a, c, 0.9)) and not np.array_equal(band_mask(a, c, 0.9), a)
    assert np.array_equal(band_mask(np.zeros_like(a), b, 0.1), b)


def test_a_cancelled_retrack_leaves_the_cache_usable() -> None:
    frames, truth = jump_clip()
    clip = ArrayClip(frames)
    edit = _edit(frames, truth, [Keyframe(JUMP, {0: truth[JUMP].astype(np.uint8) * 255})])
    cache, token = TrackCache(), CancelToken()

    def stop_soon(p) -> None:  # noqa: ANN001
        if p.done == 5:
            token.cancel()

    with pytest.raises(PropagationCancelled):
        for _ in track_operation_masks(clip, edit, {"tracker": "flow"}, progress=stop_soon, cancel=token, cache=cache):
            pass
    again = _masks(clip, edit, cache=cache)
    fresh = _masks(clip, edit)
    assert all(np.array_equal(again[t], fresh[t]) for t in range(T))
