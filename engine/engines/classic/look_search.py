"""Finding a fast small object near where its motion predicts it, by its look on the run's first frame.

Dense flow loses an object that moves about its own size per frame (a swinging bottle):
its mask stays behind on whatever lies there (a coin on the table), and a correction on a
keyframe holds only a few frames. The look a run starts from (frame 1's, or a keyframe's
correction) is a drift-free template of the object: every frame it is searched for by
masked normalised cross-correlation (colour) in a window around a constant-velocity
prediction from the last confident frames. A clear match (high, unique in the window, and close in
colour, not only correlated)
that the flow track does not hold (or holds inside a much larger region) replaces it: the start mask moved there, so the
mask keeps the correction's shape. A match the flow track agrees with only confirms the
object's position (the velocity). An object that changed its look (turned, deformed,
partly hidden) matches below the bar, and the flow track stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_SCORE = 0.85
"""Masked colour correlation a match must reach (1 = identical up to gain and offset per channel)."""
MAX_RMS = 20.0
"""Largest RMS colour difference (0..255) of a match from the look (a lighting change beyond it is left to the flow)."""
UNIQUE_MARGIN = 0.1
"""How far the best match must stand above the best one elsewhere in the window."""
AGREEMENT = 0.6
"""Share of the placed look inside the flow track above which the flow track is kept (it has the finer shape,
and may have grown past a start mask that showed only part of the object)."""
GROWTH = 1.3
"""Largest area of a flow track that holds the placed look, against the larger of the look's and the object's
first area (its whole extent when the run kept an earlier look): past it the track has taken in something else."""
FIRST_RADIUS = 3.5
"""Search radius, in object sizes, before a velocity is known (the run's first frames)."""
MAX_RADIUS = 4.0
"""Largest search radius, in object sizes (a wider window only adds chances of a false match)."""
MATCH_SIDE = 48
"""Longer side (px) an object is searched at; a larger one is searched at a reduced size first (cost)."""
MAX_SIDE = 96
"""Largest side (px) of an object this search is for: bigger objects are slow relative to their size."""


@dataclass
class Placement:
    """The run's start mask moved to where its look matched in a frame."""

    mask: np.ndarray  # [H, W] bool
    shift: tuple[float, float]  # (dx, dy) full px from the run's first frame
    score: float
    rms: float  # RMS colour difference from the look, 0..255


def _centre(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()], np.float64)


class LookSearch:
    """The look of an object on a run's first frame, searched for near a constant-velocity prediction."""

    def __init__(self, frame: np.ndarray, mask: np.ndarray) -> None:
        ys, xs = np.nonzero(mask)
        self.y0, self.x0 = int(ys.min()), int(xs.min())
        y1, x1 = int(ys.max()) + 1, int(xs.max()) + 1
        self.mask = mask.copy()
        self.template = frame[self.y0 : y1, self.x0 : x1].astype(np.float32)
        self.tmask = mask[self.y0 : y1, self.x0 : x1].astype(np.float32)
        self.tmask3 = np.repeat(self.tmask[..., None], 3, axis=2)
        self.size = float(max(y1 - self.y0, x1 - self.x0))  # the longer side: how far "its own size" is
        self.offset = _centre(mask) - (self.x0, self.y0)  # the centre inside the template
        self.coarse_scale = min(1.0, MATCH_SIDE / self.size)
        if self.coarse_scale < 1.0:
            small = (
                max(3, round(self.tmask.shape[1] * self.coarse_scale)),
                max(3, round(self.tmask.shape[0] * self.coarse_scale)),
            )
            self.small_template = cv2.resize(self.template, small, interpolation=cv2.INTER_AREA)
            tm = (cv2.resize(self.tmask, small, interpolation=cv2.INTER_AREA) > 0.5).astype(np.float32)
            self.small_tmask3 = np.repeat(tm[..., None], 3, axis=2)
        self.history: list[tuple[int, np.ndarray]] = [(0, _centre(mask))]

    @staticmethod
    def applies(mask: np.ndarray) -> bool:
        """Whether an object this shape is searched for (small enough to outrun the flow, big enough to match)."""
        ys, xs = np.nonzero(mask)
        if len(xs) < 64:
            return False
        return max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 <= MAX_SIDE

    def predict(self, t: int) -> tuple[np.ndarray, float]:
        """(expected centre at frame ``t``, search radius in px) from the last confirmed positions."""
        t1, c1 = self.history[-1]
        if len(self.history) >= 2:
            t2, c2 = self.history[-2]
            v = (c1 - c2) / (t1 - t2)
            gap = t - t1
            # One step of slack past the object's size: a swinging path leaves the straight line by up to about that.
            return c1 + v * gap, self.size + 1.0 * float(np.linalg.norm(v)) * gap + 4.0 * (gap - 1)
        return c1, FIRST_RADIUS * self.size * (t - t1)

    def confirm(self, t: int, mask: np.ndarray) -> None:
        """Record where the object is on frame ``t`` (a confident frame: it feeds the velocity)."""
        if mask.any():
            self.history = [*self.history[-2:], (t, _centre(mask))]

    def search(self, frame: np.ndarray, t: int, track: np.ndarray | None = None) -> Placement | None:
        """The start mask placed where the look matches clearly on frame ``t``, or None.

        Searched near the constant-velocity prediction and, when that finds nothing, near the
        flow ``track``'s mask (the prediction misses where the path curves, the flow may not)."""
        found = self._search_near(frame, *self.predict(t))
        if found is None and track is not None and track.any():
            found = self._search_near(frame, _centre(track), 0.5 * self.size)
        return found

    def _search_near(self, frame: np.ndarray, centre: np.ndarray, radius: float) -> Placement | None:
        h, w = frame.shape[:2]
        th, tw = self.tmask.shape
        # The template's top-left corner for the given centre, and the window of corners searched.
        cx, cy = centre - self.offset
        r = int(np.ceil(min(radius, MAX_RADIUS * self.size)))
        wx0, wy0 = max(0, int(cx) - r), max(0, int(cy) - r)
        wx1, wy1 = min(w, int(cx) + r + tw + 1), min(h, int(cy) + r + th + 1)
        if wx1 - wx0 < tw + 2 or wy1 - wy0 < th + 2:
            return None
        window = frame[wy0:wy1, wx0:wx1].astype(np.float32)
        scale = self.coarse_scale
        if scale < 1.0:  # a larger object: searched at a reduced size, then placed to the pixel at full size
            small = cv2.resize(window, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if small.shape[0] < self.small_template.shape[0] or small.shape[1] < self.small_template.shape[1]:
                return None
            res = _ncc(small, self.small_template, self.small_tmask3)
        else:
            res = _ncc(window, self.template, self.tmask3)
        _, top, _, (lx, ly) = cv2.minMaxLoc(res)
        if top < MIN_SCORE - (0.05 if scale < 1.0 else 0.0):
            return None
        bw, bh = max(1, int(tw * scale) // 2), max(1, int(th * scale) // 2)
        blocked = res.copy()
        cv2.rectangle(blocked, (lx - bw, ly - bh), (lx + bw, ly + bh), -1.0, -1)
        if float(blocked.max()) > top - UNIQUE_MARGIN:
            return None
        if scale < 1.0:
            lx, ly = int(round(lx / scale)), int(round(ly / scale))
            pad = int(np.ceil(1.0 / scale)) + 1
            rx0, ry0 = max(0, lx - pad), max(0, ly - pad)
            rx1, ry1 = min(window.shape[1], lx + pad + tw + 1), min(window.shape[0], ly + pad + th + 1)
            if rx1 - rx0 < tw or ry1 - ry0 < th:
                return None
            _, top, _, (fx, fy) = cv2.minMaxLoc(_ncc(window[ry0:ry1, rx0:rx1], self.template, self.tmask3))
            if top < MIN_SCORE:
                return None
            lx, ly = rx0 + fx, ry0 + fy
        # Correlation forgives gain and offset, so a smooth ramp matches a shifted ramp: the colours must match too.
        patch = window[ly : ly + th, lx : lx + tw]
        rms = float(np.sqrt(np.sum((patch - self.template) ** 2 * self.tmask3) / max(1.0, 3.0 * float(self.tmask.sum()))))
        if rms > MAX_RMS:
            return None
        dx, dy = wx0 + lx - self.x0, wy0 + ly - self.y0
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        placed = cv2.warpAffine(self.mask.astype(np.uint8), shift, (w, h), flags=cv2.INTER_NEAREST) > 0
        if not placed.any():
            return None
        return Placement(placed, (float(dx), float(dy)), float(top), rms)


def _ncc(image: np.ndarray, template: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Masked normalised cross-correlation of ``template`` over ``image`` (NaN where flat: -1)."""
    res = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED, mask=mask)
    return np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0)


def covered(placed: np.ndarray, track: np.ndarray) -> float:
    """Share of ``placed`` that ``track`` holds (a track grown past a partial start mask still agrees)."""
    area = placed.sum()
    return float(np.logical_and(placed, track).sum() / area) if area else 1.0
