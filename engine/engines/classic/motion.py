"""Shared motion estimates for one run: grey frames and neighbour flows, computed once.

Several operations of one edit (track a recoloured object, fill a removed one, move an
inserted layer) need the same frame-to-frame flows; computing them once per run is the
largest saving of the classic engine. Neighbour flows are kept as float16 at working
resolution (about 0.23 MB per flow at 320x180) so long clips fit in memory.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.engines.classic.flow import FlowEstimator, to_gray, working_size


class FlowCache:
    """Lazily computed grey frames and flows of a clip ``[T, H, W, 3]`` at working size.

    At most ``max_cached`` neighbour flows and as many greys are kept (the oldest go
    first), so memory stays bounded on any clip length; every stage reads flows within
    a bounded window of frames, so an evicted flow is rarely asked for again.
    """

    def __init__(self, frames: np.ndarray, max_side: int = 320, preset: str = "medium", max_cached: int = 512) -> None:
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be [T, H, W, 3], got {frames.shape}")
        self.frames = frames
        self.full_size = (int(frames.shape[2]), int(frames.shape[1]))
        self.size = working_size(*self.full_size, max_side)
        self._estimator = FlowEstimator(self.size, preset)
        self._gray: dict[int, np.ndarray] = {}
        self._flows: dict[tuple[int, int], np.ndarray] = {}
        self.max_cached = int(max_cached)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def scale(self) -> tuple[float, float]:
        """Full-resolution pixels per working pixel, (sx, sy)."""
        return self.full_size[0] / self.size[0], self.full_size[1] / self.size[1]

    def gray(self, t: int) -> np.ndarray:
        """Grey frame ``t`` at working size."""
        g = self._gray.get(t)
        if g is None:
            g = self._gray[t] = to_gray(self.frames[t], self.size)
            _bound(self._gray, self.max_cached)
        return g

    def flow(self, a: int, b: int) -> np.ndarray:
        """Working-size float32 flow from frame ``a`` to frame ``b`` (neighbours cached)."""
        key = (a, b)
        cached = self._flows.get(key)
        if cached is not None:
            return cached.astype(np.float32)
        f = self._estimator(self.gray(a), self.gray(b))
        if abs(a - b) == 1:
            # Stored as float16; handed back rounded the same way the first time too, so a
            # result never depends on whether a flow was cached (keyframe re-tracks reuse runs).
            self._flows[key] = f.astype(np.float16)
            _bound(self._flows, self.max_cached)
            return self._flows[key].astype(np.float32)
        return f

    def to_full(self, flow: np.ndarray) -> np.ndarray:
        """Upsample a working-size flow to full resolution (vectors rescaled)."""
        w, h = self.full_size
        out = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        sx, sy = self.scale
        out[..., 0] *= sx
        out[..., 1] *= sy
        return out

    def mask_to_working(self, mask: np.ndarray) -> np.ndarray:
        """Full-size mask -> working-size float32 coverage in 0..1."""
        return cv2.resize((mask > 0).astype(np.float32), self.size, interpolation=cv2.INTER_AREA)

    def view(self, start: int, end: int) -> FlowView:
        """The frames ``start..end-1`` as a cache of their own (one shot), sharing computed flows."""
        return FlowView(self, start, end)


def _bound(cache: dict, size: int) -> None:
    """Drop the oldest entries of an insertion-ordered cache beyond ``size``."""
    while len(cache) > size:
        cache.pop(next(iter(cache)))


class FlowView(FlowCache):
    """A contiguous range of a :class:`FlowCache`'s frames, indexed from 0 (one shot of a clip).

    Flows and greys are read from (and stored in) the parent, so stages working shot by
    shot compute nothing twice; ``frames`` is one fixed slice object, so a tracker given
    ``view.frames`` recognises the view as the cache of those frames.
    """

    def __init__(self, parent: FlowCache, start: int, end: int) -> None:  # noqa: D107 - no FlowCache.__init__
        if not 0 <= start < end <= len(parent):
            raise ValueError(f"frame range {start}..{end} is outside a clip of {len(parent)} frames")
        self.parent, self.start = parent, start
        self.frames = parent.frames[start:end]
        self.full_size, self.size = parent.full_size, parent.size

    def gray(self, t: int) -> np.ndarray:
        return self.parent.gray(self.start + t)

    def flow(self, a: int, b: int) -> np.ndarray:
        return self.parent.flow(self.start + a, self.start + b)


def fit_homography(src: np.ndarray, dst: np.ndarray, threshold: float = 1.5) -> np.ndarray | None:
    """Robust (RANSAC) 3x3 homography mapping ``src`` to ``dst`` points ``[N, 2]``.

    Falls back to a similarity transform when the points are too few or too close to
    collinear for a full homography; ``None`` when even that fails.
    """
    if len(src) < 4:
        return None
    src32, dst32 = src.astype(np.float32), dst.astype(np.float32)
    if len(src) >= 8:
        h, inl = cv2.findHomography(src32, dst32, cv2.RANSAC, threshold, maxIters=500, confidence=0.99)
        if h is not None and inl is not None and inl.sum() >= max(8, 0.3 * len(src)) and np.isfinite(h).all():
            return h
    a, inl = cv2.estimateAffinePartial2D(src32, dst32, method=cv2.RANSAC, ransacReprojThreshold=threshold)
    if a is None:
        return None
    return np.vstack([a, [0.0, 0.0, 1.0]])


def sample_points(mask: np.ndarray, max_points: int = 600) -> np.ndarray:
    """Up to ``max_points`` grid-spaced ``(x, y)`` float32 points inside ``mask``."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.zeros((0, 2), np.float32)
    step = max(1, int(len(xs) // max_points))
    return np.stack([xs[::step], ys[::step]], axis=1).astype(np.float32)


def sample_at(
    image: np.ndarray, x: np.ndarray, y: np.ndarray, interpolation: int = cv2.INTER_LINEAR, border: int = cv2.BORDER_REPLICATE
) -> np.ndarray:
    """``image`` sampled at float points ``(x[i], y[i])``: ``[N]`` or ``[N, C]``.

    The points are laid out as rows of a map (OpenCV's remap takes at most 32767 columns).
    """
    n = len(x)
    if n == 0:
        return np.zeros((0, *image.shape[2:]), image.dtype)
    cols = min(n, 8192)
    rows = -(-n // cols)
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n], my[:n] = x, y
    out = cv2.remap(image, mx.reshape(rows, cols), my.reshape(rows, cols), interpolation, borderMode=border)
    return out.reshape(rows * cols, *image.shape[2:])[:n]


def flow_at(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear flow vectors ``[N, 2]`` at float ``points`` ``[N, 2]`` (x, y)."""
    if len(points) == 0:
        return np.zeros((0, 2), np.float32)
    return sample_at(flow, points[:, 0], points[:, 1])
