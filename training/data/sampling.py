"""Clip sampling: which frames (count and rate), which resolution bucket, crop and flip.

All randomness comes from the ``numpy.random.Generator`` passed in, so a sample is a pure
function of (seed, sample id).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def frame_indices(
    available: int, source_fps: float, num_frames: int, target_fps: float, rng: np.random.Generator
) -> tuple[list[int], float]:
    """``num_frames`` indices at about ``target_fps`` from ``available`` frames at ``source_fps``.

    The stride is ``round(source_fps / target_fps)``, lowered until the window fits; a clip
    shorter than ``num_frames`` repeats its last frame. Returns (indices, effective fps).
    """
    if available < 1:
        raise ValueError("a clip needs at least one annotated frame")
    stride = max(1, int(round(source_fps / target_fps)))
    while stride > 1 and (num_frames - 1) * stride >= available:
        stride -= 1
    span = (num_frames - 1) * stride + 1
    start = int(rng.integers(0, max(1, available - span + 1)))
    idx = [min(start + i * stride, available - 1) for i in range(num_frames)]
    return idx, source_fps / stride


def choose_bucket(width: int, height: int, buckets: Sequence[Sequence[int]]) -> tuple[int, int]:
    """The bucket ``(w, h)`` whose aspect ratio is closest (in log space) to the clip's."""
    aspect = np.log(width / height)
    best = min(buckets, key=lambda b: abs(np.log(b[0] / b[1]) - aspect))
    return int(best[0]), int(best[1])


def crop_box(width: int, height: int, bucket: tuple[int, int], rng: np.random.Generator) -> tuple[float, int, int]:
    """Scale so the clip covers the bucket, then a random crop offset. Returns (scale, x0, y0)."""
    bw, bh = bucket
    scale = max(bw / width, bh / height)
    sw, sh = max(bw, int(round(width * scale))), max(bh, int(round(height * scale)))
    return scale, int(rng.integers(0, sw - bw + 1)), int(rng.integers(0, sh - bh + 1))


def _resized_size(width: int, height: int, bucket: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(bucket[0], int(round(width * scale))), max(bucket[1], int(round(height * scale)))


def apply_spatial(
    frames: np.ndarray, ids: np.ndarray, bucket: tuple[int, int], scale: float, x0: int, y0: int, flip: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Resize (area for frames, nearest for ids), crop to the bucket and optionally flip."""
    h, w = frames.shape[1:3]
    size = _resized_size(w, h, bucket, scale)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    bw, bh = bucket
    out_f = np.empty((len(frames), bh, bw, 3), np.uint8)
    out_m = np.empty((len(ids), bh, bw), np.int32)
    for t in range(len(frames)):
        f = cv2.resize(frames[t], size, interpolation=interp)[y0 : y0 + bh, x0 : x0 + bw]
        m = cv2.resize(ids[t].astype(np.int32), size, interpolation=cv2.INTER_NEAREST)[y0 : y0 + bh, x0 : x0 + bw]
        out_f[t], out_m[t] = (f[:, ::-1], m[:, ::-1]) if flip else (f, m)
    return out_f, out_m
