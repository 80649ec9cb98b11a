"""Parametric motion of a tracked region and of the camera, from flow and sparse matches.

- :func:`region_motion`: the affine motion of a region between neighbour frames, from
  the dense flow at points inside it that pass a forward-backward check (RANSAC), so
  untextured parts attached to an object (a shadow, a plain panel) move with it;
- :func:`camera_motion`: the homography of everything outside the tracked regions;
- :func:`refine_to_reference`: re-anchoring: match reference points of frame 1
  directly into frame ``t`` (pyramidal Lucas-Kanade from a predicted position,
  checked backwards) and refit, so chained estimates do not drift.

All work at the flow's working resolution, in its pixel units. Matrices are 3x3.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.engines.classic.motion import fit_homography, flow_at, sample_points


def to3(m: np.ndarray) -> np.ndarray:
    """A 2x3 affine as a 3x3 matrix."""
    return np.vstack([m, [0.0, 0.0, 1.0]]) if m.shape == (2, 3) else m


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``[N, 2]`` points moved by a 3x3 matrix (affine or projective)."""
    if len(pts) == 0:
        return pts.astype(np.float32)
    p = np.c_[pts.astype(np.float64), np.ones(len(pts))] @ m.T
    return (p[:, :2] / p[:, 2:]).astype(np.float32)


def consistent_matches(points: np.ndarray, fwd: np.ndarray, back: np.ndarray, tol: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(points, their matches) for the points whose forward flow the backward flow confirms."""
    if len(points) == 0:
        return points, points
    moved = points + flow_at(fwd, points)
    round_trip = moved + flow_at(back, moved) - points
    err = np.sum(round_trip**2, axis=1)
    mag = np.sum((moved - points) ** 2, axis=1)
    good = err <= tol**2 + 0.01 * mag
    return points[good], moved[good]


def region_motion(mask_small: np.ndarray, fwd: np.ndarray, back: np.ndarray, max_points: int = 400) -> tuple[np.ndarray, float]:
    """(3x3 affine frame t-1 -> t of the region, share of its points the fit explains).

    Falls back to the median consistent translation (share 0 when nothing matched).
    """
    core = cv2.erode(mask_small.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    pts = sample_points(core if core.sum() >= 12 else mask_small, max_points)
    src, dst = consistent_matches(pts, fwd, back)
    if len(src) >= 6:
        m, inl = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0, maxIters=300)
        if m is not None and inl is not None and inl.sum() >= 6:
            return to3(m), float(inl.sum()) / max(1, len(pts))
    if len(src):
        d = np.median(dst - src, axis=0)
        return np.array([[1, 0, d[0]], [0, 1, d[1]], [0, 0, 1]], np.float64), 0.0
    if len(pts):
        d = np.median(flow_at(fwd, pts), axis=0)
        return np.array([[1, 0, d[0]], [0, 1, d[1]], [0, 0, 1]], np.float64), 0.0
    return np.eye(3), 0.0


def camera_motion(back: np.ndarray, exclude_small: np.ndarray | None, ok: np.ndarray) -> np.ndarray:
    """Homography frame t -> t-1 of the background (flow outside ``exclude_small``, consistent pixels)."""
    region = ok.copy()
    if exclude_small is not None:
        region &= ~exclude_small
    pts = sample_points(region, 500)
    if len(pts) < 8:
        return np.eye(3)
    dst = pts + flow_at(back, pts)
    h = fit_homography(pts, dst, threshold=1.0)
    return np.eye(3) if h is None else h


def reference_points(grey: np.ndarray, mask: np.ndarray, max_points: int = 150) -> np.ndarray:
    """Corner-like points inside ``mask`` (plus a sparse grid so plain regions get some)."""
    m = mask.astype(np.uint8)
    feats = cv2.goodFeaturesToTrack(grey, max_points, 0.01, 3, mask=m, blockSize=5)
    pts = feats.reshape(-1, 2) if feats is not None else np.zeros((0, 2), np.float32)
    grid = sample_points(cv2.erode(m, np.ones((3, 3), np.uint8)) > 0, max_points // 3)
    return np.concatenate([pts, grid]).astype(np.float32)


_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)


def refine_to_reference(
    grey_ref: np.ndarray,
    grey_t: np.ndarray,
    pts_ref: np.ndarray,
    guess: np.ndarray,
    model: str = "affine",
    window: int = 15,
) -> tuple[np.ndarray | None, float]:
    """(matrix reference -> t refitted on direct matches, share of points that matched).

    Points are searched near ``guess`` (their predicted positions) and kept only if
    tracking back lands within a pixel of where they started.
    """
    if len(pts_ref) < 6:
        return None, 0.0
    h, w = grey_t.shape[:2]
    pred = apply(guess, pts_ref)
    inside = (pred[:, 0] >= 0) & (pred[:, 0] < w) & (pred[:, 1] >= 0) & (pred[:, 1] < h)
    if inside.sum() < 6:
        return None, 0.0
    p0, p1 = pts_ref[inside].reshape(-1, 1, 2), pred[inside].reshape(-1, 1, 2).copy()
    lk = dict(winSize=(window, window), maxLevel=2, criteria=_CRITERIA, flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(grey_ref, grey_t, p0, p1, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(grey_t, grey_ref, p1, p0.copy(), **lk)
    good = (st1[:, 0] == 1) & (st2[:, 0] == 1) & (np.sum((back - p0)[:, 0] ** 2, axis=1) < 1.0)
    src, dst = p0[good, 0], p1[good, 0]
    share = float(good.sum()) / max(1, len(pts_ref))
    if len(src) < 6:
        return None, share
    if model == "homography":
        m = fit_homography(src, dst, threshold=1.0)
        return m, share
    m, inl = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0, maxIters=300)
    if m is None or inl is None or inl.sum() < 6:
        return None, share
    return to3(m), float(inl.sum()) / max(1, len(pts_ref))
