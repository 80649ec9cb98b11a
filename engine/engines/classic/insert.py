"""Inserted layers: follow the surface under the layer and composite it every frame.

The layer moves by the homography of the surface around it, measured against frame 1
every frame (no drift):

1. reference points: corners of frame 1 in a region around the layer's footprint,
   grown until it holds enough texture (a blank sheet of paper borrows the table
   around it);
2. prediction: the points at their previous positions, moved by the neighbour flow;
3. re-anchoring: each point is matched from frame 1 *directly* into frame ``t``
   (pyramidal Lucas-Kanade from its predicted position, checked by matching back),
   and a RANSAC homography is fitted to the matches (an affine map when too few
   points spread too little for a homography);
4. steadiness: a change smaller than a tenth of a pixel at the layer's corners is not
   applied, so a static shot gives exactly still layers and a slow drift is followed
   without shimmer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2
import numpy as np

from engine.engines.classic.motion import FlowCache, fit_homography, flow_at, sample_points
from engine.engines.classic.object_motion import apply

MIN_POINTS = 60
"""Reference points wanted around the layer before the search region stops growing."""
STILL_PX = 0.25
"""Largest corner movement (full-resolution pixels) treated as no movement."""


def _region(foot: np.ndarray, radius: int) -> np.ndarray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(foot.astype(np.uint8), k) > 0


def reference_points(grey0: np.ndarray, foot: np.ndarray, margin: float = 0.5) -> np.ndarray:
    """Corner points of frame 1 on and around the footprint, the region grown until there are enough."""
    ys, xs = np.nonzero(foot)
    size = max(np.ptp(xs) + 1, np.ptp(ys) + 1)
    radius = max(4, int(margin * size))
    limit = max(grey0.shape)
    # Texture, not sensor noise: a corner must stand well above the frame's typical one.
    eig = cv2.cornerMinEigenVal(grey0, 7, 3)
    textured = eig > max(0.01 * float(eig.max()), 5.0 * float(np.median(eig)))
    while True:
        region = _region(foot, radius) & textured
        feats = cv2.goodFeaturesToTrack(grey0, 400, 1e-4, 4, mask=region.astype(np.uint8), blockSize=7)
        pts = feats.reshape(-1, 2) if feats is not None else np.zeros((0, 2), np.float32)
        if len(pts) >= MIN_POINTS or radius >= limit:
            return pts.astype(np.float32)
        radius = int(radius * 1.6) + 1


def _lk(grey_a: np.ndarray, grey_b: np.ndarray, pa: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matches of ``pa`` from ``grey_a`` into ``grey_b`` near ``guess``; (positions, ok)."""
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
    lk = dict(winSize=(21, 21), maxLevel=3, criteria=crit, flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    p0 = pa.reshape(-1, 1, 2).astype(np.float32)
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(grey_a, grey_b, p0, guess.reshape(-1, 1, 2).astype(np.float32).copy(), **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(grey_b, grey_a, p1, p0.copy(), **lk)
    ok = (st1[:, 0] == 1) & (st2[:, 0] == 1) & (np.sum((back - p0)[:, 0] ** 2, axis=1) < 0.25)
    return p1[:, 0], ok


def _surface_template(grey0: np.ndarray, foot: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(template, its mask, crop->frame translation) of the surface around the footprint, for ECC."""
    ys, xs = np.nonzero(foot)
    size = max(np.ptp(xs) + 1, np.ptp(ys) + 1)
    r = max(12, int(max(margin, 1.0) * size))
    h, w = grey0.shape
    b = max(4, int(0.06 * max(h, w)))  # keep off the border: the camera motion moves it out of view
    x0, y0 = max(b, xs.min() - r), max(b, ys.min() - r)
    x1, y1 = min(w - b, xs.max() + r + 1), min(h - b, ys.max() + r + 1)
    if x1 - x0 < 16 or y1 - y0 < 16:
        x0, y0, x1, y1 = max(0, xs.min() - r), max(0, ys.min() - r), min(w, xs.max() + r + 1), min(h, ys.max() + r + 1)
    template = grey0[y0:y1, x0:x1].astype(np.float32)
    crop = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    return template, np.full(template.shape, 255, np.uint8), crop


def _align(
    template: np.ndarray, tmask: np.ndarray, crop: np.ndarray, grey_t: np.ndarray, guesses: list[np.ndarray]
) -> np.ndarray | None:
    """Homography frame 0 -> t maximising the correlation of the surface region (ECC), best of ``guesses``."""
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-6)
    image = grey_t.astype(np.float32)
    valid = np.full(grey_t.shape, 255, np.uint8)
    best, best_rho = None, -1.0
    for guess in guesses:
        try:
            rho, warp = cv2.findTransformECCWithMask(
                template, image, tmask, valid, (guess @ crop).astype(np.float32), cv2.MOTION_HOMOGRAPHY, crit, 5
            )
        except cv2.error:
            continue
        hom = warp.astype(np.float64) @ np.linalg.inv(crop)
        if np.isfinite(hom).all() and rho > best_rho:
            best, best_rho = hom / hom[2, 2], rho
    return best


def _fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Homography when the points constrain one, else an affine map (3x3)."""
    if len(src) >= 12 and np.linalg.matrix_rank(np.cov(src.T)) == 2:
        h = fit_homography(src, dst, threshold=0.8)
        if h is not None:
            return h
    if len(src) >= 3:
        a, _ = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=0.8)
        if a is not None:
            return np.vstack([a, [0.0, 0.0, 1.0]])
    return None


def _corner_shift(a: np.ndarray, b: np.ndarray, corners: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(apply(a, corners) - apply(b, corners), axis=1)))


def layer_homographies(
    layer_alpha: np.ndarray,
    flows: FlowCache,
    margin: float = 0.5,
    tick: Callable[[], None] = lambda: None,
    reanchor: bool = True,
) -> Iterator[np.ndarray]:
    """Yield, per frame, the full-resolution 3x3 homography frame 0 -> frame t of the layer.

    ``layer_alpha`` is the ``[H, W]`` alpha of the placed layer; the surface is tracked on
    its footprint and around it (``margin`` times its size, grown while texture is short).
    ``reanchor=False`` keeps only the chained prediction (for comparison).
    """
    gw, gh = flows.size
    sx, sy = flows.scale
    to_full = np.array([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], np.float64)
    to_small = np.linalg.inv(to_full)
    foot = cv2.resize((layer_alpha > 0).astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) > 0
    if not foot.any():
        raise ValueError("insert layer has no visible pixel at the working resolution")
    ys, xs = np.nonzero(layer_alpha > 0)
    corners = np.array([[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.max(), ys.max()], [xs.min(), ys.max()]], np.float32)
    grey0 = flows.gray(0)
    pts0 = reference_points(grey0, foot, margin)
    template, tmask, crop = _surface_template(grey0, foot, margin)
    fy, fx = np.nonzero(foot)
    near = _region(foot, max(3, int(0.15 * max(np.ptp(fx) + 1, np.ptp(fy) + 1))))
    grid0 = sample_points(near, 400)  # the surface right under the layer predicts its motion
    # Points on the layer's own surface decide when there are enough of them: a moving
    # object beside the layer may hold more texture than the surface.
    core = near[np.clip(np.rint(pts0[:, 1]).astype(int), 0, gh - 1), np.clip(np.rint(pts0[:, 0]).astype(int), 0, gw - 1)]
    hom = np.eye(3)  # working size, frame 0 -> t
    shown = np.eye(3)  # full size, what was composited last
    yield shown.copy()
    tick()
    for t in range(1, len(flows)):
        # Prediction: the surface's step from the neighbour flow on a grid over the region.
        prev_grid = apply(hom, grid0)
        step = fit_homography(prev_grid, prev_grid + flow_at(flows.flow(t - 1, t), prev_grid), threshold=1.0)
        guess = hom if step is None else step @ hom
        if not reanchor:
            fitted = None
        elif core.sum() >= 8:
            matched, ok = _lk(grey0, flows.gray(t), pts0, apply(guess, pts0))
            inside = ok & (matched[:, 0] >= 0) & (matched[:, 0] < gw) & (matched[:, 1] >= 0) & (matched[:, 1] < gh)
            use = inside & core if (inside & core).sum() >= 8 else inside
            fitted = _fit(pts0[use], matched[use]) if use.sum() >= 3 else None
        else:  # too little texture on the layer's surface for points: align the whole region, every pixel counts
            fitted = _align(template, tmask, crop, flows.gray(t), [guess, hom])
            if fitted is not None and _corner_shift(fitted, guess, apply(to_small, corners)) > 3.0:
                fitted = None  # diverged
        hom = fitted if fitted is not None else guess
        full = to_full @ hom @ to_small
        if _corner_shift(full, shown, corners) > STILL_PX:
            shown = full
        yield shown.copy()
        tick()


def composite_layer(frame: np.ndarray, layer_rgba: np.ndarray, hom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``layer_rgba`` by ``hom`` and composite it; returns (frame, mask 0/255).

    Pixels where the warped alpha is zero are the input's exactly.
    """
    h, w = frame.shape[:2]
    out = frame.copy()
    full_mask = np.zeros((h, w), np.uint8)
    ys, xs = np.nonzero(layer_rgba[..., 3])
    if len(xs) == 0:
        return out, full_mask
    # Warp only into the box the layer lands in (a sticker costs what the sticker costs).
    lx0, ly0, lx1, ly1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    corners = cv2.perspectiveTransform(np.array([[[lx0, ly0], [lx1, ly0], [lx1, ly1], [lx0, ly1]]], np.float64), hom)[0]
    if not np.isfinite(corners).all():
        return out, full_mask
    x0, y0 = (max(0, int(np.floor(v)) - 2) for v in corners.min(axis=0))
    x1, y1 = min(w, int(np.ceil(corners[:, 0].max())) + 2), min(h, int(np.ceil(corners[:, 1].max())) + 2)
    if x1 <= x0 or y1 <= y0:
        return out, full_mask
    src = layer_rgba[ly0:ly1, lx0:lx1]
    alpha = src[..., 3:4].astype(np.float32) / 255.0
    premult = np.concatenate([src[..., :3].astype(np.float32) * alpha, alpha], axis=-1)
    local = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ hom @ np.array([[1, 0, lx0], [0, 1, ly0], [0, 0, 1]])
    warped = cv2.warpPerspective(premult, local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    a = warped[..., 3:4]
    mask = a[..., 0] > 0.5 / 255.0
    roi = out[y0:y1, x0:x1]
    comp = roi.astype(np.float32) * (1.0 - a) + warped[..., :3]
    roi[mask] = np.clip(np.rint(comp[mask]), 0, 255).astype(np.uint8)
    full_mask[y0:y1, x0:x1] = np.where(mask, np.uint8(255), np.uint8(0))
    return out, full_mask
