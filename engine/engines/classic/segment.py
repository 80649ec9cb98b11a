"""Per-frame evidence that snaps a propagated mask to the object: colour, texture, edges.

A warped mask is only as good as the flow under it: flow bleeds across object
boundaries and is guesswork where pixels are occluded, uncovered or enter the frame.
These pieces turn the warped mask into a *prior* and correct it with what frame ``t``
itself shows:

- :class:`ColourModel`: object vs surroundings colour histograms learned on frame 1
  and updated from confident pixels, always half anchored to frame 1 so the model
  cannot drift with the mask;
- :func:`texture_weight`: how far flow can be trusted locally (flat areas carry
  interpolated, not measured, motion);
- :func:`guided_filter`: edge-aware smoothing of the fg probability with the frame as
  guide (He et al. 2010), so the thresholded mask follows image edges.
"""

from __future__ import annotations

import cv2
import numpy as np

BINS = 16
_SHIFT = 8 - int(np.log2(BINS))


def colour_index(rgb: np.ndarray) -> np.ndarray:
    """Histogram bin of each pixel of an ``[..., 3]`` uint8 RGB array (``BINS``^3 bins)."""
    q = (rgb >> _SHIFT).astype(np.int32)
    return (q[..., 0] * BINS + q[..., 1]) * BINS + q[..., 2]


class ColourModel:
    """Object/background colour histograms; ``llr`` = log-likelihood ratio object vs background.

    Args:
        anchor: weight of the frame-1 histograms in every later model (0..1).
        rate: how fast the running histograms follow confident pixels of new frames.
    """

    def __init__(self, anchor: float = 0.5, rate: float = 0.15, prior_count: float = 1.0) -> None:
        self.anchor, self.rate, self.prior_count = float(anchor), float(rate), float(prior_count)
        n = BINS**3
        self._fg0 = np.zeros(n, np.float64)
        self._bg0 = np.zeros(n, np.float64)
        self._fg = np.zeros(n, np.float64)
        self._bg = np.zeros(n, np.float64)
        self._table = np.zeros(n, np.float32)

    @staticmethod
    def _hist(idx: np.ndarray) -> np.ndarray:
        h = np.bincount(idx.ravel(), minlength=BINS**3).astype(np.float64)
        return h / max(1.0, h.sum())

    def fit(self, frame: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> None:
        """Learn both models from frame 1's object (``fg``) and surroundings (``bg``) masks."""
        idx = colour_index(frame)
        self._fg0, self._bg0 = self._hist(idx[fg]), self._hist(idx[bg])
        self._fg, self._bg = self._fg0.copy(), self._bg0.copy()
        self._refresh()

    def update(self, frame: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> None:
        """Move the running models toward the confident ``fg``/``bg`` pixels of ``frame``."""
        idx = colour_index(frame)
        if fg.sum() > 20:
            self._fg = (1 - self.rate) * self._fg + self.rate * self._hist(idx[fg])
        if bg.sum() > 20:
            self._bg = (1 - self.rate) * self._bg + self.rate * self._hist(idx[bg])
        self._refresh()

    def _refresh(self) -> None:
        fg = self.anchor * self._fg0 + (1 - self.anchor) * self._fg
        bg = self.anchor * self._bg0 + (1 - self.anchor) * self._bg
        # Smooth over neighbouring bins (a colour seen as 120 may come back as 127).
        fg = cv2.GaussianBlur(fg.reshape(BINS, BINS * BINS).astype(np.float32), (3, 3), 0).ravel()
        bg = cv2.GaussianBlur(bg.reshape(BINS, BINS * BINS).astype(np.float32), (3, 3), 0).ravel()
        eps = self.prior_count / BINS**3
        self._table = np.log((fg + eps) / (bg + eps)).astype(np.float32)

    def llr(self, frame: np.ndarray) -> np.ndarray:
        """``[h, w]`` float32 log-likelihood ratio (object vs surroundings) of each pixel."""
        return self._table[colour_index(frame)]


def texture_weight(grey: np.ndarray, scale: float = 6.0) -> np.ndarray:
    """``[h, w]`` in 0..1: local gradient strength (structure-tensor minimum eigenvalue, smoothed)."""
    g = grey.astype(np.float32)
    eig = cv2.cornerMinEigenVal(g, 5, 3)
    return np.clip(np.sqrt(np.maximum(eig, 0)) / scale, 0, 1)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``src`` with the grey ``guide`` (both ``[h, w]`` float32, guide in 0..1)."""
    k = (2 * radius + 1, 2 * radius + 1)
    box = lambda x: cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mean_i, mean_p = box(guide), box(src)
    cov_ip = box(guide * src) - mean_i * mean_p
    var_i = box(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)
