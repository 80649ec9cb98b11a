"""Painted extras of a removal (a cast shadow, a reflection) moved with their object.

A soft shadow has no texture of its own: the flow inside it is the ground's, so a
tracker that follows it as part of the object is pulled back by the still ground and
loses its far end (and, fitting object + shadow as one region, parts of the object).
Here the object is tracked alone and the extras follow the object's own motion: an
affine map from the shot's anchor frame (frame 1, or the frame the object was found
again after a cut), chained from the object's flow frame to frame and re-anchored every
frame by matching the object's anchor-frame points directly (no drift). Pixels of the
moved extras that move unlike both the object and the camera (something passing in
front) are left out, so an occluder is never erased with the shadow.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import cv2
import numpy as np

from engine.engines.classic.flow import fb_consistent
from engine.engines.classic.motion import FlowCache
from engine.engines.classic.object_motion import apply, camera_motion, reference_points, refine_to_reference, region_motion
from engine.engines.classic.working_set import FrameMasks

MIN_SHARE = 0.3
"""Share of the object's anchor points that must match for a direct re-anchoring to be considered."""
GOOD_FIT = 0.85
"""IoU of the moved anchor-frame object with its tracked mask below which the map is replaced by the box-to-box one."""


def _similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x3 scale + translation taking mask ``a``'s box onto mask ``b``'s (full size)."""
    ya, xa = np.nonzero(a)
    yb, xb = np.nonzero(b)
    s = float(np.sqrt(len(xb) / max(1, len(xa))))
    # The bottom centre stays the contact point (where a cast shadow is attached).
    ca = np.array([(xa.min() + xa.max()) / 2.0, float(ya.max())])
    cb = np.array([(xb.min() + xb.max()) / 2.0, float(yb.max())])
    return np.array([[s, 0, cb[0] - s * ca[0]], [0, s, cb[1] - s * ca[1]], [0, 0, 1]], np.float64)


def _occluders(
    flows: FlowCache, t: int, obj_small: np.ndarray, hidden_small: np.ndarray, motion: np.ndarray, sel_small: np.ndarray
) -> np.ndarray:
    """Working-size mask of ``sel_small`` pixels covered by something passing in front of the object.

    Something in front moves unlike both the object and the camera *and* hides part of the
    object (it overlaps ``hidden_small``: where the object's moved footprint is but its
    tracked mask is not). A moving thing the shadow merely falls on (a real animal in the
    plate) hides nothing of the object and keeps its shadow removed.
    """
    back, fwd = flows.flow(t, t - 1), flows.flow(t - 1, t)
    ok = fb_consistent(back, fwd)
    near = cv2.dilate((sel_small | obj_small).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    cam = camera_motion(back, obj_small | sel_small, ok)
    ys, xs = np.nonzero(near & ok & ~obj_small)
    other_mask = np.zeros(sel_small.shape, np.uint8)
    if len(xs) == 0 or not hidden_small.any():
        return other_mask > 0
    pts = np.stack([xs, ys], 1).astype(np.float64)
    flow = back[ys, xs]
    obj = apply(np.linalg.inv(motion), pts) - pts
    camf = apply(cam, pts) - pts
    tol = 1.5**2
    other = (np.sum((flow - obj) ** 2, axis=1) > tol) & (np.sum((flow - camf) ** 2, axis=1) > tol)
    other_mask[ys[other], xs[other]] = 1
    other_mask = cv2.dilate(other_mask, np.ones((3, 3), np.uint8))
    count, labels = cv2.connectedComponents(other_mask)
    if count <= 1:
        return np.zeros(sel_small.shape, bool)
    touching = np.unique(
        labels[(other_mask > 0) & cv2.dilate(hidden_small.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)]
    )
    touching = touching[touching > 0]
    return np.isin(labels, touching) & sel_small


def _at_border(mask: np.ndarray, px: int = 2) -> bool:
    """True when ``mask`` reaches within ``px`` of the frame's border."""
    return bool(mask[:px].any() or mask[-px:].any() or mask[:, :px].any() or mask[:, -px:].any())


def _overlap(mask_a: np.ndarray, m: np.ndarray, target: np.ndarray) -> float:
    """IoU of ``mask_a`` moved by ``m`` (working size) with ``target``."""
    moved = cv2.warpAffine(mask_a.astype(np.float32), m[:2], target.shape[::-1], flags=cv2.INTER_LINEAR) > 0.5
    union = (moved | target).sum()
    return float((moved & target).sum() / union) if union else 0.0


def follow_extras(
    flows: FlowCache, objects: Sequence[np.ndarray], extras: np.ndarray, anchor: int, anchor_map: np.ndarray | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """``(t, [H, W] bool)``: ``extras`` moved with the tracked object ``objects`` (``T`` bool masks read by index,
    one shot), frame by frame in order, for the frames that get extras (nothing is held for the whole shot).

    ``extras`` is given in the coordinates of frame ``anchor`` of ``flows`` when
    ``anchor_map`` is None, else in other coordinates that ``anchor_map`` (3x3, full
    size) maps onto frame ``anchor``. Frames before ``anchor`` and frames where the
    object is not in view get no extras (a lost object's shadow is not painted either).
    """
    t_len, (h, w) = len(objects), extras.shape
    obj = objects
    if not extras.any() or not obj[anchor].any():
        return
    sx, sy = flows.scale
    to_full, to_small = np.diag([sx, sy, 1.0]), np.diag([1.0 / sx, 1.0 / sy, 1.0])
    base = extras.astype(np.float32)
    if anchor_map is not None:
        base = cv2.warpAffine(base, anchor_map[:2], (w, h), flags=cv2.INTER_LINEAR)
    yield anchor, base > 0.5
    grey_a = flows.gray(anchor)
    small_a = flows.mask_to_working(obj[anchor].astype(np.uint8) * 255) > 0.5
    pts = reference_points(grey_a, small_a if small_a.any() else flows.mask_to_working(obj[anchor].astype(np.uint8) * 255) > 0)
    a_map = np.eye(3)  # anchor frame -> frame t, working size
    for t in range(anchor + 1, t_len):
        prev_small = flows.mask_to_working(obj[t - 1].astype(np.uint8) * 255) > 0.5
        if prev_small.any():
            motion, _ = region_motion(prev_small, flows.flow(t - 1, t), flows.flow(t, t - 1))
        else:
            motion = np.eye(3)
        predicted = motion @ a_map
        refit, share = refine_to_reference(grey_a, flows.gray(t), pts, predicted)
        obj_small = flows.mask_to_working(obj[t].astype(np.uint8) * 255) > 0.5
        if obj_small.any():
            # Of the chained and the directly matched map, the one that lays the anchor
            # frame's object best onto its tracked mask here; when neither fits (a wrong
            # match, a rotation misfit by the flow, which would swing the shadow's far end),
            # the object's box-to-box map.
            candidates = [predicted] + ([refit] if refit is not None and share > MIN_SHARE else [])
            scores = [_overlap(small_a, m, obj_small) for m in candidates]
            predicted = candidates[int(np.argmax(scores))]
            # (Only for an object wholly in view: one entering or leaving the frame changes its
            # box, not its size.)
            if max(scores) < GOOD_FIT and not (_at_border(obj[anchor]) or _at_border(obj[t])):
                boxed = to_small @ _similarity(obj[anchor], obj[t]) @ to_full
                if _overlap(small_a, boxed, obj_small) > max(scores):
                    predicted = boxed
        a_map = predicted
        if not obj[t].any():
            continue
        moved = cv2.warpAffine(base, (to_full @ a_map @ to_small)[:2], (w, h), flags=cv2.INTER_LINEAR) > 0.5
        if moved.any():
            sel = flows.mask_to_working(moved.astype(np.uint8) * 255) > 0.5
            footprint = cv2.warpAffine(small_a.astype(np.float32), a_map[:2], small_a.shape[::-1], flags=cv2.INTER_LINEAR) > 0.5
            hidden = footprint & ~(cv2.dilate(obj_small.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
            front = _occluders(flows, t, obj_small, hidden, motion, sel & ~obj_small)
            if front.any():
                moved &= ~(cv2.resize(front.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0)
        yield t, moved


def extras_after_cut(first_object: np.ndarray, found_object: np.ndarray) -> np.ndarray:
    """Full-size 3x3 map of frame-1 coordinates onto the frame where the object was found again (box to box)."""
    return _similarity(first_object > 0, found_object > 0)


def extras_in_shots(
    flows: FlowCache, shots: list[tuple[int, int]], objects: Any, extras: np.ndarray, first_object: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    """``(t, [H, W] bool)``: the frame-1 ``extras`` moved with the tracked ``objects`` (``[T, H, W]``, an array or
    ``PackedMasks``, read frame by frame) shot by shot, for the frames that get extras, in order.

    In the first shot they start from frame 1; in a later one from the first frame where
    the object was found again, placed by the object's box there (:func:`extras_after_cut`).
    """
    for k, (s, e) in enumerate(shots):
        shot = FrameMasks(objects, s, e, keep=3)  # follow_extras reads frames t - 1, t and the anchor
        present = next((t for t in range(e - s) if shot[t].any()), None)
        if present is None:
            continue
        a = 0 if k == 0 else present
        if k == 0 and present != 0:
            continue
        amap = None if k == 0 else extras_after_cut(first_object, shot[a])
        for t, moved in follow_extras(flows.view(s, e), shot, extras, a, amap):
            yield s + t, moved
