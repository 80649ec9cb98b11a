"""Edited keyframes in the classic engine (issue 19): the user's own version of a later frame takes over the edit.

- recolour / track: the colour change is re-learned on the keyframe (an affine RGB map
  from the frame as it was to the user's version, inside the operation's mask there) and
  used from that frame on; over the ``BLEND_FRAMES`` frames before it the old and the
  new transform are cross-faded, so the colour turns smoothly into the keyframe's;
- insert / replace: the layer is re-placed from the keyframe (its pixels inside the
  operation's keyframe mask, or where the keyframe differs from the frame) and moved by
  its surface from there; the switch is at the keyframe itself (a cross-fade between two
  placements would show the object twice).

Removal and outpaint take their look from an edited keyframe too (``engine._look_segments``): the
hole's fill, the new margins are the user's from that frame on, continued like frame 1's.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from engine.edit import EditKind, FirstFrameEdit
from engine.engines.classic.colour import FrameTransform
from engine.engines.classic.keyframe_track import BLEND_FRAMES

MIN_PIXELS = 50
"""Pixels a keyframe's region needs before a colour map is learned from it."""
DIFF_LEVEL = 24
"""Largest per-channel difference between the keyframe and the frame still counted as unchanged."""


def _offset_at(edit: FirstFrameEdit, index: int) -> tuple[int, int]:
    """(x, y) of operation ``index``'s canvas inside the final edited canvas."""
    # Operation ``index`` works on the canvas left by the operations up to it (an outpaint: after itself);
    # only the outpaints after it move that canvas inside the final one.
    x = y = 0
    for op in edit.operations[index + 1 :]:
        if op.kind is EditKind.OUTPAINT:
            x, y = x + int(op.params.get("left", 0)), y + int(op.params.get("top", 0))
    return x, y


def edited_frame_at(edit: FirstFrameEdit, index: int, hw: tuple[int, int]) -> np.ndarray | None:
    """The user's edited frame 1 cropped to operation ``index``'s canvas ``hw`` (None when it does not cover it).

    The edited frame is on the final canvas: an operation followed by an outpaint sees it larger than its own
    frames, and its part of it sits at the later outpaints' margins."""
    x, y = _offset_at(edit, index)
    h, w = hw
    crop = edit.edited_frame[y : y + h, x : x + w]
    return np.ascontiguousarray(crop) if crop.shape[:2] == (h, w) else None


def edited_keyframes(edit: FirstFrameEdit, index: int, hw: tuple[int, int]) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
    """(frame, the user's frame cropped to operation ``index``'s canvas ``hw``, its keyframe mask or None)."""
    x, y = _offset_at(edit, index)
    h, w = hw
    out = []
    for k in edit.keyframes:
        if k.edited_frame is None:
            continue
        crop = np.ascontiguousarray(k.edited_frame[y : y + h, x : x + w])
        if crop.shape[:2] != (h, w):
            continue
        out.append((k.frame, crop, k.masks.get(index)))
    return out


def _soft(mask: np.ndarray, feather: float) -> np.ndarray:
    inside = (mask > 0).astype(np.uint8)
    if feather <= 0:
        return inside.astype(np.float32)
    return np.clip(cv2.distanceTransform(inside, cv2.DIST_L2, 3) / float(feather), 0.0, 1.0).astype(np.float32)


def learned_colour_transform(
    before: np.ndarray, after: np.ndarray, mask: np.ndarray, feather: float = 2.0
) -> FrameTransform | None:
    """An affine RGB map fitted from ``before`` to ``after`` inside ``mask`` (``None``: too few pixels)."""
    inside = mask > 0
    if inside.sum() < MIN_PIXELS:
        return None
    src = before[inside].astype(np.float64)
    dst = after[inside].astype(np.float64)
    design = np.hstack([src, np.ones((len(src), 1))])
    ridge = 1e-3 * len(src) * np.diag([1.0, 1.0, 1.0, 0.0])
    coef = np.linalg.solve(design.T @ design + ridge, design.T @ dst)  # [4, 3]

    def transform(frame: np.ndarray, region: np.ndarray) -> np.ndarray:
        out = frame.copy()
        sel = region > 0
        if not sel.any():
            return out
        alpha = _soft(region, feather)[sel][:, None]
        pix = frame[sel].astype(np.float64)
        mapped = np.hstack([pix, np.ones((len(pix), 1))]) @ coef
        out[sel] = np.clip(np.rint(pix * (1 - alpha) + mapped * alpha), 0, 255).astype(np.uint8)
        return out

    return transform


class KeyframedTransform:
    """Per frame: the transform of the last anchor at or before it, cross-faded into the next one's before it."""

    def __init__(self, anchors: list[tuple[int, FrameTransform]], band: int = BLEND_FRAMES) -> None:
        self.anchors = sorted(anchors, key=lambda a: a[0])
        self.band = band

    def __call__(self, t: int, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        current = [a for a in self.anchors if a[0] <= t]
        later = [a for a in self.anchors if a[0] > t]
        base = (current[-1] if current else self.anchors[0])[1](frame, mask)
        if not later or not current or self.band <= 0:
            return base
        k, nxt = later[0]
        start = max(current[-1][0] + 1, k - self.band)
        if t < start:
            return base
        w = (t - start + 1) / (k - start + 1)
        return np.clip(np.rint(base * (1.0 - w) + nxt(frame, mask) * w), 0, 255).astype(np.uint8)


def keyframe_layer(before: np.ndarray, after: np.ndarray, footprint: np.ndarray | None) -> np.ndarray | None:
    """The re-placed layer of an edited keyframe, ``[H, W, 4]`` RGBA: the keyframe's pixels on the footprint.

    ``footprint``: the operation's keyframe mask; ``None``: where the keyframe differs from the frame.
    """
    if footprint is None:
        diff = np.abs(after.astype(np.int16) - before.astype(np.int16)).max(axis=2) > DIFF_LEVEL
        diff = cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
        footprint = diff
    alpha = np.where(np.asarray(footprint) > 0, np.uint8(255), np.uint8(0))
    if not alpha.any():
        return None
    return np.dstack([after, alpha])


def colour_anchors(
    base: FrameTransform,
    keyframes: list[tuple[int, np.ndarray, np.ndarray | None]],
    work: np.ndarray,
    masks: np.ndarray,
    feather: float,
    warn: Callable[[str], None],
) -> KeyframedTransform:
    """``base`` from frame 0, then the colour map learned on each edited keyframe (on its tracked mask)."""
    anchors: list[tuple[int, FrameTransform]] = [(0, base)]
    for k, after, _ in keyframes:
        learned = learned_colour_transform(work[k], after, masks[k], feather)
        if learned is None:
            warn(f"keyframe on frame {k + 1}: the operation's region there is too small to learn its colours from")
            continue
        anchors.append((k, learned))
    return KeyframedTransform(anchors)
