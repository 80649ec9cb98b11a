"""Object removal: fill a tracked hole with background seen in other frames.

Flow-guided propagation (the classical recipe of FGVC/ProPainter-style methods, written
for the CPU), within a window of ``window`` frames each way:

1. complete the flow inside each hole: the hidden background moves like the ring
   around it (a robust homography fitted a few pixels away from the hole, where the
   object's own motion does not bleed into the flow);
2. two sweeps carry *correspondences*, not colours, through the holes: forward from
   earlier frames and backward from later ones. A hole pixel of frame ``t`` follows
   the completed flow to ``t-1`` (``t+1``); where it lands on visible background (clear
   of that frame's hole by a safety margin, so the object's edge is never copied as a
   ghost) that is its source, otherwise it inherits the source of the pixel it landed
   on. Colours are then sampled once from the source frame, so a fill stays sharp
   however far it travelled;
3. each hole pixel blends its two sources weighted by nearness in time, so
   early frames use background revealed later (the backward pass) and late frames
   background revealed earlier;
4. pixels no frame in the window shows are taken from the previous *output* frame
   along the completed flow, so whatever fills them (the user's frame-1 fill, then a
   spatial inpainting where a new never-seen area opens) moves with the background
   instead of boiling; only pixels with no earlier output are inpainted (Telea).

Memory holds the hole pixels' correspondences only (sparse), so cost and memory grow
with the hole, not the clip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from engine.engines.classic.flow import fb_consistent
from engine.engines.classic.motion import FlowCache, fit_homography, flow_at, sample_at, sample_points
from engine.engines.classic.object_motion import apply, camera_motion

NO_SOURCE = -1
FROM_FRAMES, FROM_PREVIOUS_OUTPUT, FROM_INPAINTING = 1, 2, 3
"""Values of ``fill_holes(sources_out=...)``: where a filled pixel's content came from."""


def complete_flow(flow: np.ndarray, hole: np.ndarray, gap_px: int = 3, ring_px: int = 12) -> np.ndarray:
    """Replace ``flow`` inside ``hole`` (working-size bool) by the surrounding background's homography motion."""
    if not hole.any():
        return flow
    ell = lambda r: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))  # noqa: E731
    near = cv2.dilate(hole.astype(np.uint8), ell(gap_px)) > 0
    ring = (cv2.dilate(hole.astype(np.uint8), ell(gap_px + ring_px)) > 0) & ~near
    out = flow.copy()
    ys, xs = np.nonzero(hole)
    pts = sample_points(ring, 500)
    if len(pts) < 8:
        rest = ~near
        out[hole] = np.median(flow[rest], axis=0) if rest.any() else 0.0
        return out
    dst = pts + flow_at(flow, pts)
    h = fit_homography(pts, dst, threshold=1.0)
    if h is None:
        out[hole] = np.median(flow[ring], axis=0)
        return out
    p = np.stack([xs, ys], 1).astype(np.float64)
    q = cv2.perspectiveTransform(p[None], h)[0]
    out[ys, xs] = (q - p).astype(np.float32)
    return out


@dataclass
class _Sources:
    """Correspondences of one frame's hole pixels (all arrays ``[N]``, in ``ys, xs`` order)."""

    ys: np.ndarray
    xs: np.ndarray
    idx: np.ndarray  # source frame, NO_SOURCE when none within the window
    sx: np.ndarray
    sy: np.ndarray
    age: np.ndarray  # frames travelled
    prev_x: np.ndarray  # where the pixel lands in the neighbour frame (for the never-seen fill)
    prev_y: np.ndarray

    def where(self, mask: np.ndarray) -> _Sources:
        """The entries of the pixels inside ``mask`` (a subset of this frame's unknown pixels)."""
        if len(self.ys) == 0:
            return self
        keep = mask[self.ys, self.xs]
        return _Sources(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))

    @classmethod
    def empty(cls) -> _Sources:
        z = np.zeros(0, np.float32)
        return cls(z.astype(np.int32), z.astype(np.int32), z.astype(np.int32), z, z, z.astype(np.int32), z, z)


class _Dense:
    """Dense lookup maps of one frame's sources (scattered from :class:`_Sources`)."""

    def __init__(self, src: _Sources, shape: tuple[int, int]) -> None:
        self.idx = np.full(shape, NO_SOURCE, np.float32)
        self.sx = np.zeros(shape, np.float32)
        self.sy = np.zeros(shape, np.float32)
        self.age = np.zeros(shape, np.float32)
        self.idx[src.ys, src.xs] = src.idx
        self.sx[src.ys, src.xs] = src.sx
        self.sy[src.ys, src.xs] = src.sy
        self.age[src.ys, src.xs] = src.age

    def _shared(self, idx: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """True where every pixel that bilinear sampling at ``(x, y)`` mixes has the source ``idx``.

        Compared pixel by pixel (OpenCV's 1/32-pixel weights; a zero-weight neighbour does not
        count). Comparing the bilinear mean of the sources with ``idx`` instead was also true by
        chance for mixed sources (14 and 16 around 15), and whether it was depended on sources
        beyond a chunk of the shot, so a chunked fill differed from the whole shot's.
        """
        h, w = self.idx.shape
        qx, qy = np.rint(x * 32).astype(np.int64), np.rint(y * 32).astype(np.int64)
        ix, iy, fx, fy = qx >> 5, qy >> 5, qx & 31, qy & 31
        x0, x1 = np.clip(ix, 0, w - 1), np.clip(ix + 1, 0, w - 1)
        y0, y1 = np.clip(iy, 0, h - 1), np.clip(iy + 1, 0, h - 1)
        src = self.idx
        ok = src[y0, x0] == idx
        ok &= (fx == 0) | (src[y0, x1] == idx)
        ok &= (fy == 0) | (src[y1, x0] == idx)
        ok &= (fx == 0) | (fy == 0) | (src[y1, x1] == idx)
        return ok

    def sample(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(idx, sx, sy, age) at float points: source index nearest, coordinates bilinear where unambiguous."""
        near = lambda a: sample_at(a, x, y, cv2.INTER_NEAREST)  # noqa: E731
        lin = lambda a: sample_at(a, x, y)  # noqa: E731
        idx = near(self.idx)
        same = self._shared(idx, x, y)
        sx = np.where(same, lin(self.sx), near(self.sx))
        sy = np.where(same, lin(self.sy), near(self.sy))
        return idx.astype(np.int32), sx, sy, near(self.age).astype(np.int32)


def _sweep(
    frames_hw: tuple[int, int],
    holes: np.ndarray,
    safe: np.ndarray,
    flows: FlowCache,
    small_holes: list[np.ndarray],
    order: range,
    step: int,
    window: int,
    tick: Callable[[], None],
) -> list[_Sources]:
    """Sources of every hole pixel reachable along the completed flow in one time direction.

    ``holes`` here are the pixels whose content is unknown: the removed region plus
    whatever moves unlike the background near it; ``safe`` the same, grown by the
    safety margin (a landing pixel there is not a source).
    """
    h, w = frames_hw
    sx_s, sy_s = flows.scale
    out: list[_Sources] = [_Sources.empty() for _ in range(len(holes))]
    dense: _Dense | None = None
    for t in order:
        hole = holes[t]
        prev = t - step
        if not hole.any() or not (0 <= prev < len(holes)):
            dense = _Dense(out[t], (h, w)) if hole.any() else None
            tick()
            continue
        ys, xs = np.nonzero(hole)
        flow = complete_flow(flows.flow(t, prev), small_holes[t])
        pts_small = np.stack([(xs + 0.5) / sx_s - 0.5, (ys + 0.5) / sy_s - 0.5], 1).astype(np.float32)
        f = flow_at(flow, pts_small)
        px, py = xs + f[:, 0] * sx_s, ys + f[:, 1] * sy_s
        inside = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
        pxi, pyi = np.clip(np.rint(px), 0, w - 1).astype(np.int64), np.clip(np.rint(py), 0, h - 1).astype(np.int64)
        in_hole = safe[prev][pyi, pxi]
        idx = np.full(len(xs), NO_SOURCE, np.int32)
        sx, sy, age = px.astype(np.float32), py.astype(np.float32), np.ones(len(xs), np.int32)
        real = inside & ~in_hole
        idx[real] = prev
        chained = inside & in_hole
        if chained.any() and dense is not None:
            ci, cx, cy, ca = dense.sample(px[chained], py[chained])
            ok = (ci != NO_SOURCE) & (ca + 1 <= window)
            idx[np.flatnonzero(chained)[ok]] = ci[ok]
            sx[chained] = np.where(ok, cx, sx[chained])
            sy[chained] = np.where(ok, cy, sy[chained])
            age[chained] = np.where(ok, ca + 1, 0)
        out[t] = _Sources(ys, xs, idx, sx, sy, age, px.astype(np.float32), py.astype(np.float32))
        dense = _Dense(out[t], (h, w))
        tick()
    return out


def _real_colours(frames: np.ndarray, f: _Sources, b: _Sources, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(``[n, 3]`` colours, ``[n]`` found) of pixels from their two sources, weighted by nearness in time."""
    colour = np.zeros((n, 3), np.float32)
    okf = f.idx != NO_SOURCE if len(f.idx) == n else np.zeros(n, bool)
    okb = b.idx != NO_SOURCE if len(b.idx) == n else np.zeros(n, bool)
    af = np.where(okf, f.age, 10**6).astype(np.float32) if len(f.idx) == n else np.full(n, 1e6, np.float32)
    ab = np.where(okb, b.age, 10**6).astype(np.float32) if len(b.idx) == n else np.full(n, 1e6, np.float32)
    # Both passes, weighted by nearness in time (the nearer dominates: ages 1 and 20 give
    # 0.95 / 0.05). A hard choice of the nearer one kept one pass's misalignment or stray
    # passer-by whole; weighting measured better on every removal case (+0.02 to +0.7 dB).
    wf = (ab / np.maximum(af + ab, 1e-6)).astype(np.float32)
    wf = np.where(okf & ~okb, 1.0, np.where(okb & ~okf, 0.0, wf))
    if okf.any():
        sel = okf & (wf > 0)
        colour[sel] += _sample(frames, f.idx[sel], f.sx[sel], f.sy[sel]) * wf[sel, None]
    if okb.any():
        sel = okb & (wf < 1)
        colour[sel] += _sample(frames, b.idx[sel], b.sx[sel], b.sy[sel]) * (1 - wf[sel, None])
    return colour, okf | okb


def _box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Bounding box of a non-empty ``mask``, grown by ``margin`` and clipped to the frame."""
    yy, xx = np.nonzero(mask)
    h, w = mask.shape
    return slice(max(0, yy.min() - margin), min(h, yy.max() + margin + 1)), slice(
        max(0, xx.min() - margin), min(w, xx.max() + margin + 1)
    )


NEAR_BAND = 24
"""Working pixels around the hole always checked for passers-by."""
WIDE_MOVING_SHARE = 0.15
"""Largest share of the frame moving unlike the camera for the check to reach the object's size around the hole."""


def _moving_near(
    flows: FlowCache, t: int, small_holes: list[np.ndarray], hw: tuple[int, int], band: int | None = None
) -> np.ndarray | None:
    """Full-size mask of pixels of frame ``t`` that move unlike the background (or None).

    ``band``: only within that many working pixels of the hole; None: the hole's own size
    (:data:`WIDE_MOVING_SHARE`), since a chain may reach that far from the hole (a static
    camera: where the object stood earlier) and must never take its colour from a
    passer-by there.
    """
    hole = small_holes[t]
    if not hole.any():
        return None
    other = t - 1 if t > 0 else t + 1
    back, fwd = flows.flow(t, other), flows.flow(other, t)
    ok = fb_consistent(back, fwd)
    cam = camera_motion(back, hole, ok)
    gh, gw = hole.shape
    xs, ys = np.meshgrid(np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32))
    pts = np.stack([xs.ravel(), ys.ravel()], 1)
    expected = (apply(cam, pts) - pts).reshape(gh, gw, 2)
    err = np.sum((back - expected) ** 2, axis=-1)
    moving = (err > 1.5**2 + 0.05 * np.sum(expected**2, axis=-1)) & ok
    if band is None:
        # As far as the object reaches (its own size around the hole) where the camera
        # model explains most of the frame; where much of it moves otherwise (a large
        # animal, parallax of a handheld shot) only next to the hole, or too little of
        # the background would be left to copy from.
        hy, hx = np.nonzero(hole)
        wide = float((moving & ~hole).mean()) <= WIDE_MOVING_SHARE
        band = int(max(np.ptp(hx), np.ptp(hy)) + 1) if wide else NEAR_BAND
    if band == NEAR_BAND:
        moving &= cv2.dilate(hole.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1,) * 2)) > 0
    elif band < max(gh, gw):  # a large reach: a distance map costs what a small kernel does
        moving &= cv2.distanceTransform(np.where(hole, 0, 255).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= band
    moving &= ~hole
    moving = cv2.dilate(moving.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if not moving.any():
        return None
    return cv2.resize(moving.astype(np.uint8), hw[::-1], interpolation=cv2.INTER_NEAREST) > 0


def _sample(frames: np.ndarray, idx: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``[N, 3]`` float32 bilinear colours of ``frames[idx]`` at ``(x, y)``."""
    out = np.zeros((len(idx), 3), np.float32)
    for s in np.unique(idx):
        sel = idx == s
        out[sel] = sample_at(frames[s], x[sel], y[sel])
    return out


def fill_holes(
    frames: np.ndarray,
    holes: np.ndarray,
    first_filled: np.ndarray | None,
    flows: FlowCache,
    tick: Callable[[], None] = lambda: None,
    window: int = 60,
    both_directions: bool = True,
    safety_px: int = 2,
    moving_check: bool = True,
    sources_out: np.ndarray | None = None,
    first_hole_grown: bool = False,
    output_range: tuple[int, int] | None = None,
    previous_output: np.ndarray | None = None,
) -> np.ndarray:
    """Fill ``holes`` ``[T, H, W]`` bool of ``frames`` ``[T, H, W, 3]``; returns new frames.

    ``first_filled`` is frame 0 with its hole already filled (the user's edit), or None
    (frame 0's hole is then filled like any other frame's). ``tick`` is called once per
    frame of each sweep (progress and cancellation). ``window``: how many frames away a
    source may be. ``moving_check``: pixels near the hole that move unlike the
    background (a passer-by) are never copied; chains pass through them instead.
    ``sources_out``: an optional ``[T, H, W]`` uint8 array that receives, per hole pixel,
    where its content came from (:data:`FROM_FRAMES`, :data:`FROM_PREVIOUS_OUTPUT`,
    :data:`FROM_INPAINTING`), for tests and diagnostics. ``first_hole_grown``: frame 0's
    hole already reaches ``safety_px`` past the object (the remove tool grows it), so the
    ground just outside it is a source there.

    ``output_range`` ``(lo, hi)``: only frames ``lo..hi-1`` are made and returned (a chunk of a
    longer shot, ``frames`` holding ``window`` frames of context each side, see
    ``engine.engines.classic.working_set``); ``previous_output`` is then the output frame
    before ``lo`` (the previous chunk's last), the seed that never-seen pixels are carried from.
    """
    t_len, h, w = holes.shape
    gw, gh = flows.size
    small_holes = [cv2.resize(m.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) > 0 for m in holes]
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    small_holes = [cv2.dilate(m.astype(np.uint8), grow) > 0 if m.any() else m for m in small_holes]
    unknown = holes.copy()
    moving = np.zeros_like(holes)
    if moving_check and t_len > 1:
        for t in range(t_len):
            found = _moving_near(flows, t, small_holes, (h, w))
            if found is not None:
                moving[t] = found
                unknown[t] |= found
                small_holes[t] |= cv2.resize(found.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) > 0
    # The safety margin is part of what is unknown: a chain may pass through it (so it has
    # sources of its own), a source may not lie in it.
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * safety_px + 1,) * 2)
    unknown = np.stack([cv2.dilate(m.astype(np.uint8), k) > 0 if m.any() else m for m in unknown])
    if first_filled is not None and first_hole_grown:
        # Frame 0's hole is the user's own fill region, already grown past the object's edge
        # (the remove tool's ``dilate``): the ground right next to it is seen, and a source.
        unknown[0] = holes[0] | moving[0]
    safe = unknown
    lo, hi = (0, t_len) if output_range is None else (int(output_range[0]), int(output_range[1]))
    if not 0 <= lo < hi <= t_len:
        raise ValueError(f"output range {lo}..{hi} is outside the {t_len} frames given")
    # The forward sweep reaches frame t from earlier frames only, the backward one from later ones.
    fwd = _sweep((h, w), unknown, safe, flows, small_holes, range(hi), 1, window, tick)
    if both_directions and t_len > 1:
        bwd = _sweep((h, w), unknown, safe, flows, small_holes, range(t_len - 1, lo - 1, -1), -1, window, tick)
    else:
        bwd = [_Sources.empty() for _ in range(t_len)]
    out = frames.copy()
    start = lo
    if first_filled is not None and lo == 0:
        out[0] = first_filled
        start = 1
    if previous_output is not None and lo > 0:
        out[lo - 1] = previous_output  # what the frame before this chunk became: the carry's seed
    for t in range(start, hi):
        hole = holes[t]
        if not hole.any():
            continue
        f, b = fwd[t].where(hole), bwd[t].where(hole)
        ys, xs = np.nonzero(hole)
        n = len(xs)
        colour, have = _real_colours(frames, f, b, n)
        frame = out[t].copy()
        frame[ys[have], xs[have]] = np.clip(np.rint(colour[have]), 0, 255).astype(np.uint8)
        unseen = ~have
        if unseen.any():
            # Carry the previous output along the flow (the user's fill, earlier inpainting).
            prev_ok = np.zeros(n, bool)
            if t > 0 and len(f.prev_x) == n:
                px, py = f.prev_x, f.prev_y
                prev_ok = unseen & (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
                # Only what was filled there (the previous hole), never what was visible (a passer-by).
                pxi = np.clip(np.rint(px), 0, w - 1).astype(np.int64)
                pyi = np.clip(np.rint(py), 0, h - 1).astype(np.int64)
                prev_ok &= holes[t - 1][pyi, pxi]
                if prev_ok.any():
                    carried = _sample(out, np.full(int(prev_ok.sum()), t - 1, np.int32), px[prev_ok], py[prev_ok])
                    frame[ys[prev_ok], xs[prev_ok]] = np.clip(np.rint(carried), 0, 255).astype(np.uint8)
            left = unseen & ~prev_ok
            if left.any():
                m = np.zeros((h, w), np.uint8)
                m[ys[left], xs[left]] = 255
                by, bx = _box(m > 0, 8)  # inpaint only around the pixels to fill
                # Something moving next to the hole (a passer-by) is not background to extend.
                m[by, bx][unknown[t][by, bx] & ~hole[by, bx]] = 255
                spatial = cv2.inpaint(frame[by, bx], m[by, bx], 5, cv2.INPAINT_TELEA)
                frame[ys[left], xs[left]] = spatial[ys[left] - by.start, xs[left] - bx.start]
            if sources_out is not None:
                sources_out[t][ys[prev_ok], xs[prev_ok]] = FROM_PREVIOUS_OUTPUT
                sources_out[t][ys[left], xs[left]] = FROM_INPAINTING
        if sources_out is not None:
            sources_out[t][ys[have], xs[have]] = FROM_FRAMES
        out[t] = frame
    return out if output_range is None else out[lo:hi]
