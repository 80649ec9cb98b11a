"""Inserted layers: follow the surface under the layer and composite it every frame.

Points on and around the layer's footprint in frame 0 are carried forward by the flow
of the original clip (dropping points that fail a forward-backward check, i.e. get
occluded); a RANSAC homography from their frame-0 to their frame-t positions moves the
layer. When too many points are lost, new ones are seeded in the current footprint and
mapped back to frame 0 through the current homography, so tracking survives long clips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2
import numpy as np

from engine.engines.classic.motion import FlowCache, fit_homography, flow_at, sample_points


def layer_homographies(
    layer_alpha: np.ndarray, flows: FlowCache, margin: float = 0.15, tick: Callable[[], None] = lambda: None
) -> Iterator[np.ndarray]:
    """Yield, per frame, the full-resolution 3x3 homography frame 0 -> frame t of the layer.

    ``layer_alpha`` is the ``[H, W]`` alpha of the placed layer; the tracked region is
    its footprint grown by ``margin`` times its size (the surface around it).
    """
    gw, gh = flows.size
    sx, sy = flows.scale
    to_full = np.array([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], np.float64)
    to_small = np.linalg.inv(to_full)
    foot = cv2.resize((layer_alpha > 0).astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST)
    ys, xs = np.nonzero(foot)
    if len(xs) == 0:
        raise ValueError("insert layer has no visible pixel at the working resolution")
    r = max(2, int(margin * max(np.ptp(xs) + 1, np.ptp(ys) + 1)))
    region0 = cv2.dilate(foot, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0
    p0 = sample_points(region0, 500)
    pt = p0.copy()
    n_seed = len(p0)
    hom = np.eye(3)
    yield hom.copy()
    tick()
    for t in range(1, len(flows)):
        fwd, back = flows.flow(t - 1, t), flows.flow(t, t - 1)
        moved = pt + flow_at(fwd, pt)
        round_trip = moved + flow_at(back, moved) - pt
        keep = (
            (np.sum(round_trip**2, axis=1) < 1.0)
            & (moved[:, 0] >= 0)
            & (moved[:, 0] < gw)
            & (moved[:, 1] >= 0)
            & (moved[:, 1] < gh)
        )
        p0, pt = p0[keep], moved[keep]
        fitted = fit_homography(p0, pt, threshold=1.0)
        if fitted is not None:
            hom = fitted
        if len(pt) < 0.4 * n_seed:  # reseed in the current footprint
            region_t = cv2.warpPerspective(region0.astype(np.uint8), hom, (gw, gh), flags=cv2.INTER_NEAREST) > 0
            fresh = sample_points(region_t, 500)
            if len(fresh):
                back0 = cv2.perspectiveTransform(fresh[None].astype(np.float64), np.linalg.inv(hom))[0]
                p0, pt = back0.astype(np.float32), fresh
                n_seed = len(p0)
        yield to_full @ hom @ to_small
        tick()


def composite_layer(frame: np.ndarray, layer_rgba: np.ndarray, hom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``layer_rgba`` by ``hom`` and composite it; returns (frame, mask 0/255).

    Pixels where the warped alpha is zero are the input's exactly.
    """
    h, w = frame.shape[:2]
    alpha = layer_rgba[..., 3:4].astype(np.float32) / 255.0
    premult = np.concatenate([layer_rgba[..., :3].astype(np.float32) * alpha, alpha], axis=-1)
    warped = cv2.warpPerspective(premult, hom, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    a = warped[..., 3:4]
    mask = a[..., 0] > 0.5 / 255.0
    comp = frame.astype(np.float32) * (1.0 - a) + warped[..., :3]
    out = frame.copy()
    out[mask] = np.clip(np.rint(comp[mask]), 0, 255).astype(np.uint8)
    return out, np.where(mask, np.uint8(255), np.uint8(0))
