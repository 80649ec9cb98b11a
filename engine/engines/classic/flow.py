"""Dense optical flow (OpenCV DIS) at a reduced working resolution, and warping.

Flow is computed on grey images downscaled so the longer side is at most
``max_side`` pixels: DIS cost grows with pixel count while the motion of objects large
enough to edit survives the downscale, so this is the main speed knob of the classic
engine. Flows are returned at working resolution in working-pixel units; helpers
resample them to any other size.

Convention: ``flow[y, x] = (dx, dy)`` maps pixel ``(x, y)`` of the *first* image to
``(x + dx, y + dy)`` in the second; sampling the second image there (backward warping)
aligns it to the first.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from engine.engines.classic.options import FLOW_PRESETS

PRESETS = dict(
    zip(
        FLOW_PRESETS,
        (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, cv2.DISOPTICAL_FLOW_PRESET_FAST, cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
        strict=True,
    )
)
"""The options' preset names (fastest first) -> OpenCV's DIS presets."""


def working_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(w, h) with the longer side at most ``max_side``, aspect ratio kept."""
    if max_side < 16:
        raise ValueError(f"max_side must be >= 16, got {max_side}")
    s = min(1.0, max_side / max(width, height))
    return max(8, int(round(width * s))), max(8, int(round(height * s)))


def to_gray(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB ``[H, W, 3]`` uint8 -> grey ``[h, w]`` uint8 at ``size`` = (w, h)."""
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if (g.shape[1], g.shape[0]) != size:
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    return g


class FlowEstimator:
    """DIS flow between grey images of one fixed size.

    One DIS instance per size: OpenCV 4.14's DIS crashes when an instance is reused at
    another resolution, so the size is fixed at construction and checked.
    """

    def __init__(self, size: tuple[int, int], preset: str = "medium") -> None:
        if preset not in PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; choose one of {sorted(PRESETS)}")
        self.size = (int(size[0]), int(size[1]))
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])
        self._lock = threading.Lock()

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``[h, w, 2]`` float32 flow from grey ``a`` to grey ``b``."""
        if a.shape != b.shape or (a.shape[1], a.shape[0]) != self.size:
            raise ValueError(f"flow inputs must both be {self.size[0]}x{self.size[1]}, got {a.shape} and {b.shape}")
        with self._lock:
            return self._dis.calc(a, b, None)


def base_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinate grids ``(xs, ys)``, ``[h, w]`` float32 each."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR, border_value: float = 0) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)`` (backward warp); flow and image same size."""
    h, w = flow.shape[:2]
    xs, ys = base_grid(h, w)
    return cv2.remap(
        image, xs + flow[..., 0], ys + flow[..., 1], interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=border_value
    )


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a flow field to ``size`` = (w, h), scaling the vectors to match."""
    h, w = flow.shape[:2]
    if (w, h) == tuple(size):
        return flow
    out = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= size[0] / w
    out[..., 1] *= size[1] / h
    return out


def compose(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Flow A->C from A->B (``first``) and B->C (``second``): f1 + f2(x + f1(x))."""
    return first + warp(second, first, border_value=0)


def fb_consistent(forward: np.ndarray, backward: np.ndarray, rel: float = 0.05, abs_px: float = 0.7) -> np.ndarray:
    """``[h, w]`` bool: where the forward flow is confirmed by the backward flow.

    The round trip ``f(x) + b(x + f(x))`` must be short relative to the motion
    (Sundaram et al. 2010); failures mark occlusions and unreliable matches. Points
    that leave the image count as inconsistent.
    """
    h, w = forward.shape[:2]
    xs, ys = base_grid(h, w)
    tx, ty = xs + forward[..., 0], ys + forward[..., 1]
    back = cv2.remap(backward, tx, ty, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err = np.sum((forward + back) ** 2, axis=-1)
    mag = np.sum(forward**2, axis=-1) + np.sum(back**2, axis=-1)
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return (err <= rel * mag + abs_px**2) & inside
