"""The flow tracker's look search (``engine.engines.classic.look_search``): a small object that moves about its
own size per frame, on a path that curves, is lost by the flow alone and held by the search; a keyframe
correction on such a clip holds after it; an object that is not there is never placed."""

from __future__ import annotations

import cv2
import numpy as np

from engine.edit import Keyframe
from engine.edits import RecolourSpec, compose
from engine.engines.classic.look_search import LookSearch
from engine.engines.classic.tracker import FlowMaskTracker
from engine.engines.mask_track import track_operation_masks
from engine.metrics import j_and_f
from engine.video.source import ArrayClip

W, H, T = 240, 160, 16


def swinging_clip() -> tuple[np.ndarray, np.ndarray]:
    """A 36x14 px textured green bar swinging round an ellipse (up to 49 px a frame) past a dark blob, on a flat table."""
    rng = np.random.default_rng(3)
    table = cv2.GaussianBlur(rng.integers(150, 200, (H, W, 3)).astype(np.uint8), (0, 0), 4.0)
    skin = cv2.GaussianBlur(rng.integers(0, 255, (40, 20, 3)).astype(np.uint8), (0, 0), 1.0) // 3 + np.uint8([20, 120, 40])
    frames, truth = [], []
    for t in range(T):
        a = np.deg2rad(200 + 35 * t)
        cx, cy = int(120 + 80 * np.cos(a)), int(80 + 45 * np.sin(a))
        f = table.copy()
        cv2.circle(f, (170, 60), 14, (90, 60, 40), -1)  # a coin the flow leaves the mask on
        m = np.zeros((H, W), bool)
        m[cy - 18 : cy + 18, cx - 7 : cx + 7] = True
        f[m] = skin[2:38, 3:17].reshape(-1, 3)
        frames.append(f)
        truth.append(m)
    return np.stack(frames), np.stack(truth)


def _track(frames: np.ndarray, truth: np.ndarray, look_search: bool) -> float:
    tracker = FlowMaskTracker(look_search=look_search)
    masks = [m[0] > 0 for _, m in tracker.track(frames, [truth[0].astype(np.uint8) * 255])]
    return j_and_f(np.stack(masks[1:]), truth[1:]).j_mean


def test_the_look_search_holds_a_fast_small_object_the_flow_loses() -> None:
    frames, truth = swinging_clip()
    j_flow, j_search = _track(frames, truth, False), _track(frames, truth, True)
    assert j_flow < 0.6 and j_search > 0.9, (j_flow, j_search)


def test_a_correction_on_a_fast_small_object_holds_after_it() -> None:
    frames, truth = swinging_clip()
    k = 5
    ops = [RecolourSpec(mask=truth[0].astype(np.uint8) * 255, hue_shift=90.0)]
    edit = compose(frames[0], ops, keyframes=[Keyframe(k, {0: truth[k].astype(np.uint8) * 255})])
    masks = {t: m[0] > 0 for t, m in track_operation_masks(ArrayClip(frames), edit, {"tracker": "flow"})}
    assert np.array_equal(masks[k], truth[k])
    j_after = j_and_f(np.stack([masks[t] for t in range(k + 1, T)]), truth[k + 1 :]).j_mean
    assert j_after > 0.9, j_after


def test_the_search_predicts_with_constant_velocity_and_places_nothing_when_the_object_is_gone() -> None:
    frames, truth = swinging_clip()
    look = LookSearch(frames[0], truth[0])
    look.confirm(1, truth[1])
    centre, radius = look.predict(2)
    c0, c1 = (np.argwhere(truth[i]).mean(axis=0)[::-1] for i in (0, 1))
    assert np.allclose(centre, 2 * c1 - c0) and radius < LookSearch(frames[0], truth[0]).predict(1)[1]  # tighter once moving
    found = look.search(frames[2], 2)
    assert found is not None and np.array_equal(found.mask, truth[2]), found
    empty = frames[2].copy()
    empty[truth[2]] = frames[0][~truth[0]][: int(truth[2].sum())]  # the bar painted out
    assert look.search(empty, 2) is None
    assert not LookSearch.applies(np.ones((H, W), bool))  # a large object is left to the flow


def test_a_look_that_is_mostly_a_smooth_ramp_is_not_placed_on_correlation_alone(monkeypatch) -> None:  # noqa: ANN001
    """A selection of mostly background ramp with a corner of a moving square: the square's corner correlates
    where the square went, but the ramp's colours there differ, so nothing is placed."""
    yy, xx = np.mgrid[0:H, 0:W]
    ramp = np.stack([np.clip(3 * xx, 0, 255), np.clip(3 * yy, 0, 255), np.full_like(xx, 90)], -1).astype(np.uint8)
    first, later = ramp.copy(), ramp.copy()
    first[30:46, 30:46] = (250, 40, 40)
    later[36:52, 44:60] = (250, 40, 40)  # moved by (14, 6)
    mask = np.zeros((H, W), bool)
    mask[40:60, 40:60] = True
    assert LookSearch(first, mask).search(later, 1) is None
    import engine.engines.classic.look_search as look_search

    monkeypatch.setattr(look_search, "MAX_RMS", 1e9)
    found = LookSearch(first, mask).search(later, 1)
    assert found is not None and found.shift == (14.0, 6.0)  # what correlation alone would do
