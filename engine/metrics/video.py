"""Clip-level metrics: PSNRm/SSIM outside the edit, PSNR inside against ground truth,
and temporal consistency (flow-warped error between consecutive output frames).
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.engines.classic.flow import FlowEstimator, fb_consistent, to_gray, warp, working_size
from engine.metrics.image import psnr, ssim, ssim_map


def _check_clips(a: np.ndarray, b: np.ndarray, masks: np.ndarray | None) -> None:
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"clips must both be [T, H, W, 3], got {a.shape} and {b.shape}")
    if masks is not None and np.asarray(masks).shape != a.shape[:3]:
        raise ValueError(f"masks are {np.asarray(masks).shape}, expected {a.shape[:3]}")


def _nanmean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def psnr_outside(output: np.ndarray, original: np.ndarray, edit_masks: np.ndarray) -> float:
    """PSNRm: mean over frames of PSNR outside the edit mask (``[T, H, W]``, >0 = edited)."""
    _check_clips(output, original, edit_masks)
    return _nanmean([psnr(o, r, np.asarray(m) == 0) for o, r, m in zip(output, original, edit_masks, strict=False)])


def ssim_outside(output: np.ndarray, original: np.ndarray, edit_masks: np.ndarray) -> float:
    """Mean over frames of SSIM outside the edit mask."""
    _check_clips(output, original, edit_masks)
    return _nanmean([ssim(o, r, np.asarray(m) == 0) for o, r, m in zip(output, original, edit_masks, strict=False)])


def psnr_inside(output: np.ndarray, ground_truth: np.ndarray, masks: np.ndarray) -> float:
    """PSNR inside ``masks`` against a ground truth, pooled over all masked pixels.

    Pooling (one MSE over every masked pixel of the clip) avoids frames with a few
    masked pixels dominating the mean.
    """
    _check_clips(output, ground_truth, masks)
    m = np.asarray(masks) > 0
    if not m.any():
        return float("nan")
    return psnr(output[m][None], ground_truth[m][None])


def ssim_inside(output: np.ndarray, ground_truth: np.ndarray, masks: np.ndarray) -> float:
    """Mean over frames (with a region) of the SSIM map averaged inside ``masks``."""
    _check_clips(output, ground_truth, masks)
    vals = [float(ssim_map(o, g)[m > 0].mean()) for o, g, m in zip(output, ground_truth, masks, strict=True) if (m > 0).any()]
    return float(np.mean(vals)) if vals else float("nan")


def flicker(output: np.ndarray, ground_truth: np.ndarray, masks: np.ndarray) -> float:
    """Mean |output's frame-to-frame change - the truth's| inside the region (0..255, lower is steadier).

    For each consecutive pair ``(t-1, t)`` the region is ``masks[t]``; camera motion
    cancels where the output matches the truth, so this isolates temporal artefacts
    (boiling fills, a stuck blob, a strobing trail) from the clip's own change.
    """
    _check_clips(output, ground_truth, masks)
    o, g = output.astype(np.float32), ground_truth.astype(np.float32)
    vals = []
    for t in range(1, len(o)):
        m = np.asarray(masks[t]) > 0
        if m.any():
            vals.append(float(np.abs((o[t] - o[t - 1]) - (g[t] - g[t - 1]))[m].mean()))
    return float(np.mean(vals)) if vals else float("nan")


def temporal_consistency(frames: np.ndarray, reference: np.ndarray | None = None, max_side: int = 480) -> float:
    """Mean absolute flow-warped error between consecutive frames, in 0..255 units.

    For each ``t``, frame ``t`` is warped onto frame ``t+1`` with the flow of
    ``reference`` (the source clip, so output motion is judged against true motion)
    or of ``frames`` themselves when no reference is given; only pixels passing a
    forward-backward check count (occlusions are excluded). Lower is steadier.
    """
    if frames.ndim != 4 or len(frames) < 2:
        raise ValueError(f"temporal_consistency needs [T>=2, H, W, 3] frames, got {frames.shape}")
    ref = frames if reference is None else reference
    if ref.shape != frames.shape:
        raise ValueError(f"reference {ref.shape} does not match frames {frames.shape}")
    h, w = frames.shape[1:3]
    size = working_size(w, h, max_side)
    est = FlowEstimator(size)
    sx, sy = w / size[0], h / size[1]
    errors = []
    prev = to_gray(ref[0], size)
    for t in range(1, len(frames)):
        cur = to_gray(ref[t], size)
        fwd, bwd = est(cur, prev), est(prev, cur)  # t -> t-1 and back
        ok = fb_consistent(fwd, bwd)
        big = cv2.resize(fwd, (w, h), interpolation=cv2.INTER_LINEAR)
        big[..., 0] *= sx
        big[..., 1] *= sy
        ok_big = cv2.resize(ok.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        warped = warp(frames[t - 1], big)
        diff = np.abs(frames[t].astype(np.float32) - warped.astype(np.float32)).mean(-1)
        if ok_big.any():
            errors.append(float(diff[ok_big].mean()))
        prev = cur
    return float(np.mean(errors)) if errors else float("nan")
