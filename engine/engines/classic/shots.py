"""Shot-cut detection: where the clip jumps to unrelated content, so no edit crosses it.

Two tests, both cheap and local in time (frame ``t`` needs only frames ``t-1`` and
``t``, so they work on a sliding window):

1. colour histogram change: the Bhattacharyya distance between the HSV histograms of
   frames ``t-1`` and ``t`` (working size); a cut changes the colours of the whole
   frame at once, a pan or a walking subject does not;
2. flow failure: the share of pixels whose neighbour flow fails the forward-backward
   check, and the grey-level error left after warping ``t-1`` onto ``t``. Within a
   shot flow explains most of the frame; across a cut it explains almost nothing.

A cut is declared when the histogram changed a lot *and* flow failed, or when either
is overwhelming on its own (a cut between two shots of similar colours still breaks
the flow; a cut to a frame with the same layout but new colours breaks the histogram).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.engines.classic.flow import fb_consistent, warp


@dataclass(frozen=True)
class CutTest:
    """The evidence at one frame boundary (``t-1`` -> ``t``)."""

    frame: int
    histogram: float  # Bhattacharyya distance, 0 (same) .. 1
    flow_failure: float  # share of pixels failing the forward-backward check
    warp_error: float  # mean |grey_t - warp(grey_{t-1})| over the frame (0..255)

    @property
    def is_cut(self) -> bool:
        if self.histogram > 0.55 or (self.flow_failure > 0.85 and self.warp_error > 25.0):
            return True
        return self.histogram > 0.25 and self.flow_failure > 0.5 and self.warp_error > 12.0


def colour_histogram(frame_small: np.ndarray) -> np.ndarray:
    """Normalised HSV histogram (16 hue x 4 saturation x 4 value bins) of an RGB frame."""
    hsv = cv2.cvtColor(frame_small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [16, 4, 4], [0, 180, 0, 256, 0, 256])
    return cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1).astype(np.float32)


def cut_test(
    frame: int,
    hist_prev: np.ndarray,
    hist_cur: np.ndarray,
    grey_prev: np.ndarray,
    grey_cur: np.ndarray,
    back: np.ndarray,
    fwd: np.ndarray,
) -> CutTest:
    """Evidence for a cut before ``frame`` from its histograms, greys and the two neighbour flows.

    ``back`` is the flow ``frame -> frame-1``, ``fwd`` the flow ``frame-1 -> frame``
    (working size, as ``FlowCache.flow`` returns them).
    """
    hist = float(cv2.compareHist(hist_prev, hist_cur, cv2.HISTCMP_BHATTACHARYYA))
    ok = fb_consistent(back, fwd)
    warped = warp(grey_prev.astype(np.float32), back)
    err = float(np.abs(grey_cur.astype(np.float32) - warped).mean())
    return CutTest(frame, hist, float(1.0 - ok.mean()), err)


def shot_ranges(cuts: list[int], count: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` half-open frame ranges of the shots between ``cuts``."""
    bounds = [0, *sorted(c for c in cuts if 0 < c < count), count]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


HISTOGRAM_CANDIDATE = 0.1
"""Below this histogram change no flow test is run: the frames are in the same shot."""


def detect_cuts(flows, tick=lambda: None) -> list[int]:  # noqa: ANN001 - FlowCache (import cycle)
    """Frame indices of ``flows.frames`` where a new shot starts (``tick`` once per frame).

    The histogram test runs on every frame; the flow tests only where the histogram
    changed enough to make a cut possible, so a clip without cuts costs almost nothing
    beyond the neighbour flows the tracker computes anyway.
    """
    frames = flows.frames
    prev_hist = None
    cuts: list[int] = []
    for t in range(len(frames)):
        small = cv2.resize(frames[t], flows.size, interpolation=cv2.INTER_AREA)
        hist = colour_histogram(small)
        if prev_hist is not None:
            h = float(cv2.compareHist(prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA))
            if h > HISTOGRAM_CANDIDATE:
                test = cut_test(t, prev_hist, hist, flows.gray(t - 1), flows.gray(t), flows.flow(t, t - 1), flows.flow(t - 1, t))
                if test.is_cut:
                    cuts.append(t)
        prev_hist = hist
        tick()
    return cuts
