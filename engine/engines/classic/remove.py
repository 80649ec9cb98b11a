"""Object removal: fill a tracked hole with background seen in other frames.

Flow-guided propagation (the classical recipe of FGVC/ProPainter-style methods, written
for the CPU): flow inside each hole is completed with a robust homography fitted on
the ring around the hole (the hidden background moves like its surroundings); then
two sweeps carry known pixels through the holes along that flow, forward in time from
frame 0 (whose hole the user already filled) and backward in time from later frames.
Each hole pixel takes the candidate whose source frame is nearest in time (both,
weighted, when equal); pixels no sweep reaches are inpainted spatially (Telea) and
blended with the previous output so they do not flicker.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from engine.engines.classic.flow import base_grid
from engine.engines.classic.motion import FlowCache, fit_homography, sample_points

NO_SOURCE = np.iinfo(np.uint16).max


def complete_flow(flow: np.ndarray, hole: np.ndarray, ring_px: int = 6) -> np.ndarray:
    """Replace ``flow`` inside ``hole`` (working-size bool) by the ring's homography motion."""
    if not hole.any():
        return flow
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring_px + 1, 2 * ring_px + 1))
    ring = (cv2.dilate(hole.astype(np.uint8), k) > 0) & ~hole
    pts = sample_points(ring, 400)
    out = flow.copy()
    ys, xs = np.nonzero(hole)
    if len(pts) == 0:
        out[hole] = np.median(flow[~hole], axis=0) if (~hole).any() else 0.0
        return out
    dst = pts + flow[pts[:, 1].astype(int), pts[:, 0].astype(int)]
    h = fit_homography(pts, dst, threshold=1.0)
    if h is None:
        out[hole] = np.median(flow[ring], axis=0)
        return out
    p = np.stack([xs, ys], 1).astype(np.float64)
    q = cv2.perspectiveTransform(p[None], h)[0]
    out[ys, xs] = (q - p).astype(np.float32)
    return out


def fill_holes(
    frames: np.ndarray,
    holes: np.ndarray,
    first_filled: np.ndarray,
    flows: FlowCache,
    tick: Callable[[], None] = lambda: None,
) -> np.ndarray:
    """Fill ``holes`` ``[T, H, W]`` bool of ``frames`` ``[T, H, W, 3]``; returns new frames.

    ``first_filled`` is frame 0 with its hole already filled (the user's edit).
    ``tick`` is called once per frame of each sweep (progress and cancellation).
    """
    t_len, h, w = holes.shape
    gw, gh = flows.size
    xs, ys = base_grid(h, w)
    small_holes = [cv2.resize(m.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) > 0 for m in holes]
    # Grow the working-size hole so the ring used to complete the flow is background.
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    small_holes = [cv2.dilate(m.astype(np.uint8), grow) > 0 for m in small_holes]

    def sweep(order: range, step: int, start_img: np.ndarray, start_age: np.ndarray) -> tuple[list, list]:
        vals: list[np.ndarray | None] = [None] * t_len
        ages: list[np.ndarray | None] = [None] * t_len
        vals[order[0]], ages[order[0]] = start_img, start_age
        for t in order[1:]:
            prev = t - step
            hole = holes[t]
            img = frames[t].copy()
            age = np.zeros((h, w), np.uint16)
            if hole.any():
                flow = complete_flow(flows.flow(t, prev), small_holes[t])
                full = flows.to_full(flow)
                mx, my = xs + full[..., 0], ys + full[..., 1]
                sampled = cv2.remap(vals[prev], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                prev_age = cv2.remap(ages[prev], mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=NO_SOURCE)
                inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
                src_age = np.where(inside & (prev_age != NO_SOURCE), prev_age.astype(np.int64) + 1, NO_SOURCE)
                img[hole] = sampled[hole]
                age[hole] = np.minimum(src_age[hole], NO_SOURCE).astype(np.uint16)
            vals[t], ages[t] = img, age
            tick()
        return vals, ages

    zero_age = np.zeros((h, w), np.uint16)
    fwd_vals, fwd_ages = sweep(range(t_len), 1, first_filled, zero_age)
    last_age = np.where(holes[-1], NO_SOURCE, 0).astype(np.uint16)
    if t_len > 1:
        bwd_vals, bwd_ages = sweep(range(t_len - 1, -1, -1), -1, frames[-1], last_age)
    else:
        bwd_vals, bwd_ages = fwd_vals, fwd_ages
    out = frames.copy()
    out[0] = first_filled
    prev_out = first_filled
    for t in range(1, t_len):
        hole = holes[t]
        if not hole.any():
            prev_out = out[t]
            continue
        af, ab = fwd_ages[t].astype(np.float32), bwd_ages[t].astype(np.float32)
        okf, okb = af < NO_SOURCE, ab < NO_SOURCE
        wf = np.where(okf, 1.0 / (af + 1.0), 0.0)
        wb = np.where(okb, 1.0 / (ab + 1.0), 0.0)
        # Prefer the nearer source outright; blend only near ties (smooth hand-over).
        wf = np.where(wf >= 2 * wb, 1.0, np.where(wb >= 2 * wf, 0.0, wf / np.maximum(wf + wb, 1e-6)))
        wf = np.where(okf & ~okb, 1.0, np.where(okb & ~okf, 0.0, wf))[..., None]
        blend = fwd_vals[t].astype(np.float32) * wf + bwd_vals[t].astype(np.float32) * (1 - wf)
        filled = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
        unseen = hole & ~okf & ~okb
        if unseen.any():
            spatial = cv2.inpaint(filled, unseen.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
            steady = cv2.addWeighted(spatial, 0.6, prev_out, 0.4, 0) if prev_out.shape == spatial.shape else spatial
            filled[unseen] = steady[unseen]
        frame = frames[t].copy()
        frame[hole] = filled[hole]
        out[t] = frame
        prev_out = frame
    return out
