"""Lift a painted shadow instead of painting over it.

A cast shadow hides nothing: the ground under it is all there, only darker (a shadow
multiplies the light, per colour channel). Painting it over with an inpainting smears
the texture away (grass becomes a green blob, a tripod's legs are dragged across it),
and the propagation engine then carries that blob wherever the ground is never seen
unshadowed. Lifting divides each shadow pixel by the shadow's gain instead: the local
mean of the shadowed pixels over the local mean of the inpainted fill (which holds the
surrounding, unshadowed colour), so the texture stays and only the darkening goes.

Only painted extras that actually darken the ground are lifted (a painted reflection or
a highlight keeps the inpainting), and never next to the object itself.
"""

from __future__ import annotations

import cv2
import numpy as np

OBJECT_GAP_PX = 2
"""Pixels next to the object that keep the inpainting (its anti-aliased edge, the contact shadow)."""
FEATHER_PX = 2.0
"""Width of the blend from the inpainting into the lifted shadow at the shadow's edge."""
MAX_SHADOW_GAIN = 0.93
"""A painted region whose typical gain is above this does not darken the ground: no lift."""
MIN_GAIN = 0.15
"""Darker than this is not a shadow that can be lifted (noise would be multiplied by > 6)."""
MAX_CHANNEL_SPREAD = 0.3
"""Largest difference of the three channels' typical gains (a shadow tints a little, paint a lot)."""


def gain_sigma(size_hw: tuple[int, int]) -> float:
    """Scale (px) of the local means: a shadow's gain varies over a few pixels of a 480-px frame."""
    return max(2.0, 0.01 * max(size_hw))


def lift_shadow(frame: np.ndarray, filled: np.ndarray, shadow: np.ndarray, obj: np.ndarray) -> tuple[np.ndarray, bool]:
    """(``filled`` with the ``shadow`` pixels lifted from ``frame``, whether it lifted).

    ``frame``: the original ``[H, W, 3]`` uint8; ``filled``: the same frame inpainted
    over the object and the shadow; ``shadow``: the painted extras (non-zero inside);
    ``obj``: the object's selection. Returns ``filled`` unchanged (and False) when the
    painted region does not look like a shadow.
    """
    gap = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * OBJECT_GAP_PX + 1,) * 2)
    near_object = cv2.dilate((obj > 0).astype(np.uint8), gap) > 0
    lit = (shadow > 0) & ~near_object
    if lit.sum() < 16:
        return filled, False
    ys, xs = np.nonzero(lit)
    sigma = gain_sigma(frame.shape[:2])
    pad = int(4 * sigma + FEATHER_PX + 2)
    h, w = lit.shape
    box = (slice(max(0, ys.min() - pad), min(h, ys.max() + pad + 1)), slice(max(0, xs.min() - pad), min(w, xs.max() + pad + 1)))
    m = lit[box]
    weight = m.astype(np.float32)
    seen = frame[box].astype(np.float32) + 1.0
    fill = filled[box].astype(np.float32) + 1.0
    den = cv2.GaussianBlur(fill * weight[..., None], (0, 0), sigma)
    gain = cv2.GaussianBlur(seen * weight[..., None], (0, 0), sigma) / np.maximum(den, 1e-3)
    typical = np.median(gain[m], axis=0)
    if not (MIN_GAIN <= typical.mean() <= MAX_SHADOW_GAIN) or np.ptp(typical) > MAX_CHANNEL_SPREAD:
        return filled, False
    gain = np.clip(gain, MIN_GAIN, 1.0)
    relit = seen / gain - 1.0
    inside = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 3)
    alpha = np.clip(inside / FEATHER_PX, 0.0, 1.0)[..., None]
    blended = fill - 1.0 + alpha * (relit - (fill - 1.0))
    out = filled.copy()
    sub = out[box]
    sub[m] = np.clip(np.rint(blended[m]), 0, 255).astype(np.uint8)
    return out, True
