"""Removal never takes its background from a passer-by, however far from the hole it walks
(within the removed object's reach), and never mistakes the still background for one."""

from __future__ import annotations

import cv2
import numpy as np

from engine.engines.classic.motion import FlowCache
from engine.engines.classic.remove import NEAR_BAND, _moving_near

H, W, T = 180, 320, 4
HOLE = (slice(60, 120), slice(40, 100))  # a 60 px object, removed
PASSER = 30  # a 30 px textured passer-by walking 4 px per frame


def _texture(seed: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.mean()) * 4 + 128
    return np.clip(img, 0, 255).astype(np.uint8)


def _clip(passer_x: int) -> np.ndarray:
    """A still camera on a textured wall; a passer-by starting at ``passer_x``, moving right."""
    wall, walker = _texture(1, H, W), _texture(2, PASSER, PASSER)
    frames = np.repeat(wall[None], T, axis=0)
    for t in range(T):
        x = passer_x + 4 * t
        frames[t, 70 : 70 + PASSER, x : x + PASSER] = walker
    return frames


def _holes(flows: FlowCache) -> list[np.ndarray]:
    hole = np.zeros((H, W), bool)
    hole[HOLE] = True
    gw, gh = flows.size
    small = cv2.resize(hole.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) > 0
    return [small] * T


def test_passer_by_within_the_objects_reach_is_never_a_source() -> None:
    frames = _clip(passer_x=120)  # 28-58 px from the hole on frame 2: beyond the near band, within the object's size
    flows = FlowCache(frames)
    holes = _holes(flows)
    moving = _moving_near(flows, 2, holes, (H, W))
    near_only = _moving_near(flows, 2, holes, (H, W), band=NEAR_BAND)
    walker = np.zeros((H, W), bool)
    walker[72 : 68 + PASSER, 120 + 8 + 2 : 120 + 8 + PASSER - 2] = True  # its inside on frame 2
    assert moving is not None and moving[walker].mean() > 0.6, None if moving is None else moving[walker].mean()
    # The old reach (next to the hole only) would have copied it.
    assert near_only is None or near_only[walker].mean() < 0.1
    # The still wall is not taken for a passer-by.
    still = ~cv2.dilate(walker.astype(np.uint8), np.ones((21, 21), np.uint8)).astype(bool)
    still[HOLE] = False
    assert moving[still].mean() < 0.01


def test_far_passer_by_is_left_alone() -> None:
    """Beyond the object's own size from the hole nothing is checked (chains do not reach it)."""
    frames = _clip(passer_x=260)
    flows = FlowCache(frames)
    moving = _moving_near(flows, 2, _holes(flows), (H, W))
    assert moving is None or not moving[:, 240:].any()


def test_ground_seen_next_to_the_users_frame_1_fill_is_a_source() -> None:
    """Frame 1's hole is the user's fill region, already grown past the object's edge: the
    ground just outside it is seen there. It used to count as the safety margin, so a strip
    covered from frame 2 on was inpainted (a dark smear carried all clip) instead of copied."""
    from engine.engines.classic.remove import FROM_FRAMES, fill_holes

    wall = _texture(3, H, W)
    frames = np.repeat(wall[None], T, axis=0)
    holes = np.zeros((T, H, W), bool)
    holes[:, HOLE[0], HOLE[1]] = True
    holes[1:, HOLE[0], HOLE[1].stop : HOLE[1].stop + 2] = True  # from frame 2 on the hole takes 2 px more
    first = frames[0].copy()
    first[holes[0]] = 128  # the user's fill
    sources = np.zeros(holes.shape, np.uint8)
    flows = FlowCache(frames, 160)
    out = fill_holes(frames, holes, first, flows, both_directions=False, sources_out=sources, first_hole_grown=True)
    strip = (slice(HOLE[0].start + 4, HOLE[0].stop - 4), slice(HOLE[1].stop, HOLE[1].stop + 2))
    for t in range(1, T):
        assert (sources[t][strip] == FROM_FRAMES).all()
        assert np.abs(out[t][strip].astype(int) - wall[strip].astype(int)).max() <= 2
    # A mask drawn tight on the object (not grown by the remove tool) keeps the safety margin.
    fill_holes(frames, holes, first, flows, both_directions=False, sources_out=sources)
    assert not (sources[1][strip] == FROM_FRAMES).any()
