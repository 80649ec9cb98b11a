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

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from engine.engines.classic.flow import fb_consistent
from engine.engines.classic.motion import FlowCache, fit_homography, flow_at, sample_at, sample_points
from engine.engines.classic.object_motion import apply, camera_motion
from engine.engines.packed_masks import pack_bits, unpack_bits
from engine.video.frame_spool import RecordSpool

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
) -> Iterator[tuple[int, _Sources]]:
    """``(t, sources)`` of every hole pixel reachable along the completed flow in one time direction, frame by
    frame in ``order``: only the previous frame's lookup is held, so a sweep costs the same on any length.

    ``holes`` here are the pixels whose content is unknown: the removed region plus
    whatever moves unlike the background near it; ``safe`` the same, grown by the
    safety margin (a landing pixel there is not a source). Both are read frame by frame
    (``[t]``), as is ``small_holes``.
    """
    h, w = frames_hw
    sx_s, sy_s = flows.scale
    dense: _Dense | None = None
    for t in order:
        hole = holes[t]
        prev = t - step
        if not hole.any() or not (0 <= prev < len(holes)):
            found = _Sources.empty()
            dense = _Dense(found, (h, w)) if hole.any() else None
            tick()
            yield t, found
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
        found = _Sources(ys, xs, idx, sx, sy, age, px.astype(np.float32), py.astype(np.float32))
        dense = _Dense(found, (h, w))
        tick()
        yield t, found


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
    flows: FlowCache,
    t: int,
    small_holes: Sequence[np.ndarray] | Mapping[int, np.ndarray],
    hw: tuple[int, int],
    band: int | None = None,
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


def _rows(frames: Any, s: int, y0: int, y1: int) -> np.ndarray:
    """Rows ``y0..y1-1`` of frame ``s``: read alone from a spool (``FrameSpool.rows``), a view of an array."""
    rows = getattr(frames, "rows", None)
    return rows(s, y0, y1) if rows is not None else frames[s][y0:y1]


def _sample(frames: Any, idx: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``[N, 3]`` float32 bilinear colours of ``frames[idx]`` at ``(x, y)``.

    Only the band of rows the points touch is read (at 1080p a hole's band, not the frame: a
    streamed fill holds no window of frames). The same colours as from the whole frame: the band
    keeps one row of margin, or the frame's own edge, on each side, and shifting ``y`` by whole rows
    is exact in float32 and in remap's 1/32-pixel fixed point.
    """
    out = np.zeros((len(idx), 3), np.float32)
    h = frames.shape[1]
    for s in np.unique(idx):
        sel = idx == s
        ys = y[sel]
        if np.isfinite(ys).all():
            y0 = int(np.clip(np.floor(ys.min()) - 1, 0, h - 1))
            y1 = int(np.clip(np.floor(ys.max()) + 3, y0 + 1, h))
        else:  # (remap's own handling of a point at infinity: the whole frame)
            y0, y1 = 0, h
        out[sel] = sample_at(_rows(frames, int(s), y0, y1), x[sel], ys - np.float32(y0))
    return out


class _Seq:
    """A read-only sequence of ``n`` frames' masks made on demand by ``get(t)`` (what the sweeps index)."""

    def __init__(self, n: int, get: Callable[[int], np.ndarray]) -> None:
        self._n, self._get = n, get

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, t: int) -> np.ndarray:
        return self._get(int(t))


_FIELDS = (("idx", np.int32), ("sx", np.float32), ("sy", np.float32), ("age", np.int32))
"""What the colour step reads of the backward sweep's sources (in the hole's ``np.nonzero`` order)."""


class _FillState:
    """The per-frame masks of one fill, each made once, and what the backward pass leaves for the forward one.

    Per frame ``t``: the hole (full size), ``small`` (the hole at the flow's working size, grown,
    with the pixels moving unlike the background near it) and ``unknown`` (the hole and those
    pixels, grown by the safety margin). Only the last few frames' masks are held; the backward
    pass stores each frame's masks (packed) and its sources of the hole pixels in a
    :class:`RecordSpool` (on disk when streaming) and the forward pass takes them back frame by
    frame, so nothing held grows with the shot.
    """

    KEEP = 3
    """Frames whose masks are held (the sweeps and the colour step read ``t`` and its neighbour)."""

    def __init__(
        self,
        holes: Sequence[np.ndarray],
        flows: FlowCache,
        hw: tuple[int, int],
        moving_check: bool,
        safety_px: int,
        first_exact: bool,
        spool: RecordSpool,
    ) -> None:
        self._holes, self._flows, self._hw = holes, flows, hw
        self._moving_check, self._first_exact = moving_check, first_exact
        self._grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self._safety = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * safety_px + 1,) * 2)
        self._recent: OrderedDict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()
        self._spool = spool

    def sequences(self) -> tuple[_Seq, _Seq, _Seq]:
        """``(holes, small, unknown)`` as sequences indexed by frame (what the sweeps read).

        Made for the caller, not kept on ``self``: kept, they would close a reference cycle
        (state -> sequence -> state) that held the flow cache and the frame spools after the fill
        until the garbage collector happened to run (150 MB at 1080p, and a 30 GB unlinked spool
        file still open)."""
        n = len(self._holes)
        return (
            _Seq(n, lambda t: self.get(t)[0]),
            _Seq(n, lambda t: self.get(t)[1]),
            _Seq(n, lambda t: self.get(t)[2]),
        )

    def get(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(hole, small, unknown)`` of frame ``t``."""
        got = self._recent.get(t)
        if got is not None:
            self._recent.move_to_end(t)
            return got
        if ("masks", t) in self._spool:
            data = self._spool.pop(("masks", t))
            head = np.frombuffer(data[:16], np.int64)
            hole_len, small_len = int(head[0]), int(head[1])
            gw, gh = self._flows.size
            got = (
                unpack_bits(data[16 : 16 + hole_len], self._hw),
                unpack_bits(data[16 + hole_len : 16 + hole_len + small_len], (gh, gw)),
                unpack_bits(data[16 + hole_len + small_len :], self._hw),
            )
        else:
            got = self._make(t)
        self._recent[t] = got
        while len(self._recent) > self.KEEP:
            self._recent.popitem(last=False)
        return got

    def _make(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        flows, (h, w) = self._flows, self._hw
        gw, gh = flows.size
        hole = np.asarray(self._holes[t]) > 0
        small = cv2.resize(hole.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) > 0
        small = cv2.dilate(small.astype(np.uint8), self._grow) > 0 if small.any() else small
        unknown = hole.copy()
        moving = np.zeros_like(hole)
        if self._moving_check:
            found = _moving_near(flows, t, {t: small}, (h, w))
            if found is not None:
                moving = found
                unknown |= found
                small |= cv2.resize(found.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) > 0
        # The safety margin is part of what is unknown: a chain may pass through it (so it has
        # sources of its own), a source may not lie in it.
        unknown = cv2.dilate(unknown.astype(np.uint8), self._safety) > 0 if unknown.any() else unknown
        if t == 0 and self._first_exact:
            # Frame 0's hole is the user's own fill region, already grown past the object's edge
            # (the remove tool's ``dilate``): the ground right next to it is seen, and a source.
            unknown = hole | moving
        return hole, small, unknown

    def keep_backward(self, t: int, sources: _Sources) -> None:
        """Store frame ``t``'s masks and the backward sweep's sources of its hole pixels for the forward pass."""
        hole, small, unknown = self.get(t)
        packed = [pack_bits(hole), pack_bits(small), pack_bits(unknown)]
        self._spool.put(("masks", t), np.array([len(packed[0]), len(packed[1])], np.int64).tobytes() + b"".join(packed))
        mine = sources.where(hole)
        if len(mine.idx):
            self._spool.put(("backward", t), b"".join(np.ascontiguousarray(getattr(mine, f), d).tobytes() for f, d in _FIELDS))

    def backward(self, t: int, n: int) -> _Sources:
        """The backward sweep's sources of frame ``t``'s ``n`` hole pixels (empty when it found none); read once."""
        if ("backward", t) not in self._spool:
            return _Sources.empty()
        data = np.frombuffer(self._spool.pop(("backward", t)), np.uint8)
        cols = {f: data[4 * n * k : 4 * n * (k + 1)].view(d) for k, (f, d) in enumerate(_FIELDS)}
        none = np.zeros(0, np.float32)
        return _Sources(none, none, cols["idx"], cols["sx"], cols["sy"], cols["age"], none, none)


def fill_frames(
    frames: Any,
    holes: Sequence[np.ndarray],
    first_filled: np.ndarray | None,
    flows: FlowCache,
    tick: Callable[[], None] = lambda: None,
    window: int = 60,
    both_directions: bool = True,
    safety_px: int = 2,
    moving_check: bool = True,
    sources_out: np.ndarray | None = None,
    first_hole_grown: bool = False,
    outputs: int | None = None,
    on_disk: bool = False,
) -> Iterator[np.ndarray]:
    """Fill ``holes`` of ``frames``, yielding the output frames ``0..outputs-1`` in order, each as soon as it is made.

    ``frames``: ``[T, H, W, 3]``, read frame by frame (an array, or a ``FrameSpool``: colours are
    copied from frames at most ``window`` away, reading only the rows they touch);
    ``holes``: ``T`` bool masks ``[H, W]`` read by index (an array or a lazy sequence);
    ``outputs``: how many frames are made (all ``T`` when None; the later frames still give
    the backward sweep what they reveal). ``first_filled`` is frame 0 with its hole already
    filled (the user's edit), or None (frame 0's hole is then filled like any other frame's).
    ``tick`` is called once per frame of each sweep (progress and cancellation). ``window``: how
    many frames away a source may be. ``moving_check``: pixels near the hole that move unlike
    the background (a passer-by) are never copied; chains pass through them instead.
    ``sources_out``: an optional ``[T, H, W]`` uint8 array that receives, per hole pixel,
    where its content came from (:data:`FROM_FRAMES`, :data:`FROM_PREVIOUS_OUTPUT`,
    :data:`FROM_INPAINTING`), for tests and diagnostics. ``first_hole_grown``: frame 0's
    hole already reaches ``safety_px`` past the object (the remove tool grows it), so the
    ground just outside it is a source there.

    Two passes, neither holding more than a frame's state: the backward sweep runs from the
    last frame to the first and leaves each frame's masks and sources in a record spool (on
    disk with ``on_disk``, else in memory: the result is the same); the forward sweep then runs
    from the first frame, and each frame is made from both as soon as the forward sweep reaches
    it, its never-seen pixels carried from the frame made before it. Nothing held grows with the
    shot: a frame's sweep state, the last frames' masks, the output frame before.
    """
    t_len = len(holes)
    h, w = frames.shape[1:3]
    hi = t_len if outputs is None else int(outputs)
    if not 0 < hi <= t_len:
        raise ValueError(f"{hi} output frames asked of the {t_len} frames given")
    spool = RecordSpool(on_disk)
    state = _FillState(
        holes, flows, (h, w), moving_check and t_len > 1, safety_px, first_filled is not None and first_hole_grown, spool
    )
    holes, small_holes, unknown = state.sequences()
    safe = unknown
    try:
        if both_directions and t_len > 1:
            # The backward sweep reaches frame t from later frames only, the forward one (below) from earlier ones.
            for t, found in _sweep((h, w), unknown, safe, flows, small_holes, range(t_len - 1, -1, -1), -1, window, tick):
                state.keep_backward(t, found)
        previous: np.ndarray | None = None  # the output frame before t: the never-seen pixels' seed
        for t, found in _sweep((h, w), unknown, safe, flows, small_holes, range(hi), 1, window, tick):
            hole = holes[t]
            n = int(np.count_nonzero(hole))
            b = state.backward(t, n)
            if t == 0 and first_filled is not None:
                previous = first_filled
                yield previous
                continue
            if not hole.any():
                previous = frames[t]
                yield previous
                continue
            f = found.where(hole)
            ys, xs = np.nonzero(hole)
            colour, have = _real_colours(frames, f, b, n)
            frame = np.array(frames[t])
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
                        carried = sample_at(previous, px[prev_ok], py[prev_ok])
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
            previous = frame
            yield frame
    finally:
        spool.close()


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
) -> np.ndarray:
    """Fill ``holes`` ``[T, H, W]`` bool of ``frames`` ``[T, H, W, 3]``; returns new frames (:func:`fill_frames`, whole)."""
    return np.stack(
        list(
            fill_frames(
                frames,
                holes,
                first_filled,
                flows,
                tick,
                window=window,
                both_directions=both_directions,
                safety_px=safety_px,
                moving_check=moving_check,
                sources_out=sources_out,
                first_hole_grown=first_hole_grown,
            )
        )
    )
