"""Outpainting: fill a wider canvas from the edited first frame and from other frames.

The camera motion is a global homography per frame (frame t -> frame 0), chained from
RANSAC fits on consistent neighbour flow. Each frame's new canvas area takes, in order
of nearness in time, pixels from other frames moved by that motion (and the edited
first frame, which covers the whole canvas); sources are feathered into each other so
the seams between them blend.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from engine.engines.classic.flow import fb_consistent
from engine.engines.classic.motion import FlowCache, fit_homography, sample_points


def camera_homographies(flows: FlowCache, tick: Callable[[], None] = lambda: None) -> list[np.ndarray]:
    """Full-resolution homographies ``G_t`` mapping frame-t pixels to frame-0 pixels."""
    sx, sy = flows.scale
    to_full = np.array([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], np.float64)
    to_small = np.linalg.inv(to_full)
    chain = [np.eye(3)]
    tick()
    for t in range(1, len(flows)):
        back, fwd = flows.flow(t, t - 1), flows.flow(t - 1, t)
        ok = fb_consistent(back, fwd)
        pts = sample_points(ok, 800)
        step = None
        if len(pts) >= 8:
            dst = pts + back[pts[:, 1].astype(int), pts[:, 0].astype(int)]
            step = fit_homography(pts, dst, threshold=1.0)
        if step is None:
            step = np.eye(3)
        chain.append(chain[-1] @ step)
        tick()
    return [to_full @ g @ to_small for g in chain]


def _shift(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


def fill_canvas(
    t: int,
    frames: np.ndarray,
    edited_canvas: np.ndarray,
    offset: tuple[int, int],
    cams: list[np.ndarray],
    offsets_in_time: tuple[int, ...] = (1, 2, 4, 8, 16, 32),
    feather_px: int = 8,
) -> np.ndarray:
    """Canvas ``[H', W', 3]`` for frame ``t``: the frame at ``offset``, new area filled."""
    ch, cw = edited_canvas.shape[:2]
    h, w = frames.shape[1:3]
    ox, oy = offset
    if t == 0:
        return edited_canvas.copy()
    # canvas_t -> frame_t -> frame_0 -> canvas_0
    canvas_t_to_frame_t = _shift(-ox, -oy)
    candidates = sorted({s for d in offsets_in_time for s in (t - d, t + d) if 0 < s < len(frames)}, key=lambda s: abs(s - t))
    order = [(abs(s - t), s) for s in candidates] + [(t, 0)]
    order.sort(key=lambda x: x[0])
    acc = np.zeros((ch, cw, 3), np.float32)
    remaining = np.ones((ch, cw), np.float32)
    k = 2 * feather_px + 1
    for _, s in order:
        if s == 0:
            m = _shift(ox, oy) @ cams[t] @ canvas_t_to_frame_t
            src, valid_src = edited_canvas, np.ones((ch, cw), np.uint8)
        else:
            m = np.linalg.inv(cams[s]) @ cams[t] @ canvas_t_to_frame_t
            src, valid_src = frames[s], np.ones((h, w), np.uint8)
        out_wh = (cw, ch)
        inv = np.linalg.inv(m)  # warpPerspective maps source -> destination
        warped = cv2.warpPerspective(src, inv, out_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid = cv2.warpPerspective(valid_src, inv, out_wh, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
        if s != 0:
            valid = cv2.erode(valid, np.ones((3, 3), np.uint8))
        soft = cv2.GaussianBlur(valid.astype(np.float32), (k, k), 0) * valid if s != 0 else valid.astype(np.float32)
        take = remaining * soft
        acc += warped.astype(np.float32) * take[..., None]
        remaining -= take
        if remaining.max() <= 1e-3:
            break
    canvas = np.clip(np.rint(acc / np.maximum(1.0 - remaining, 1e-6)[..., None]), 0, 255).astype(np.uint8)
    canvas[oy : oy + h, ox : ox + w] = frames[t]
    return canvas
