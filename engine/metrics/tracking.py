"""Mask-tracking metrics: IoU and the DAVIS region (J) and boundary (F) measures.

J is the Jaccard index of a frame's masks. F is the F-measure of boundary pixels matched
within a tolerance of ``bound_th`` times the image diagonal (DAVIS uses 0.008), so a
contour a pixel or two off still counts as right at DAVIS resolutions.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, g = np.asarray(pred) > 0, np.asarray(gt) > 0
    if p.shape != g.shape:
        raise ValueError(f"masks differ in shape: {p.shape} vs {g.shape}")
    return p, g


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of two masks of any shape; 1.0 when both are empty."""
    p, g = _pair(pred, gt)
    union = np.logical_or(p, g).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(p, g).sum() / union)


def _boundary(mask: np.ndarray) -> np.ndarray:
    """One-pixel inner boundary of a ``[H, W]`` bool mask."""
    m = mask.astype(np.uint8)
    eroded = cv2.erode(m, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return (m - eroded) > 0


def boundary_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """DAVIS boundary F-measure of two ``[H, W]`` masks; 1.0 when both are empty."""
    p, g = _pair(pred, gt)
    if p.ndim != 2:
        raise ValueError(f"boundary_f takes [H, W] masks, got {p.shape}")
    h, w = p.shape
    radius = max(1, int(np.ceil(bound_th * np.hypot(h, w)))) if bound_th < 1 else int(bound_th)
    bp, bg = _boundary(p), _boundary(g)
    n_p, n_g = int(bp.sum()), int(bg.sum())
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    g_dil = cv2.dilate(bg.astype(np.uint8), disk) > 0
    p_dil = cv2.dilate(bp.astype(np.uint8), disk) > 0
    precision = (bp & g_dil).sum() / n_p
    recall = (bg & p_dil).sum() / n_g
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


@dataclass(frozen=True)
class JFScore:
    """DAVIS scores of one tracked sequence (means over the scored frames)."""

    j_mean: float
    f_mean: float
    per_frame_j: tuple[float, ...]
    per_frame_f: tuple[float, ...]

    @property
    def jf_mean(self) -> float:
        return (self.j_mean + self.f_mean) / 2.0


def j_and_f(pred: np.ndarray, gt: np.ndarray, skip_first: bool = True, bound_th: float = 0.008) -> JFScore:
    """DAVIS J&F of ``[T, H, W]`` predicted vs ground-truth masks.

    ``skip_first`` leaves out frame 0, which is given to the tracker (as DAVIS does).
    """
    p, g = _pair(pred, gt)
    if p.ndim != 3:
        raise ValueError(f"j_and_f takes [T, H, W] masks, got {p.shape}")
    start = 1 if skip_first and len(p) > 1 else 0
    js = tuple(iou(p[t], g[t]) for t in range(start, len(p)))
    fs = tuple(boundary_f(p[t], g[t], bound_th) for t in range(start, len(p)))
    return JFScore(float(np.mean(js)), float(np.mean(fs)), js, fs)
