"""Finding a lost object again by its appearance (after a shot cut or a full occlusion).

The object's last confident appearance (pixels inside its mask) is searched for in the
new frame at a few scales with masked normalised cross-correlation, at a reduced
resolution. Only a clear match counts (a high score that also stands out from the
second-best place), because painting an edit onto the wrong thing is worse than
stopping: an object that is not found stays lost.
"""

from __future__ import annotations

import cv2
import numpy as np

SCALES = (0.8, 0.9, 1.0, 1.12, 1.25)
MIN_SCORE = 0.8
"""Masked correlation a match must reach (1 = identical up to gain and offset)."""
WORK_SIDE = 320


def find_object(
    ref_frame: np.ndarray, ref_mask: np.ndarray, frame: np.ndarray, min_score: float = MIN_SCORE
) -> np.ndarray | None:
    """``[H, W]`` bool mask of the object of ``ref_frame``/``ref_mask`` in ``frame``, or None."""
    ys, xs = np.nonzero(ref_mask)
    if len(xs) < 16:
        return None
    h, w = frame.shape[:2]
    s0 = min(1.0, WORK_SIDE / max(h, w))
    grey = cv2.cvtColor(cv2.resize(frame, None, fx=s0, fy=s0, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    patch = cv2.cvtColor(ref_frame[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    pmask = ref_mask[y0:y1, x0:x1].astype(np.uint8) * 255
    best: tuple[float, float, tuple[int, int], float] | None = None  # score, second, location, scale
    for scale in SCALES:
        s = s0 * scale
        tw, th = int(round((x1 - x0) * s)), int(round((y1 - y0) * s))
        if tw < 6 or th < 6 or tw >= grey.shape[1] or th >= grey.shape[0]:
            continue
        tmpl = cv2.resize(patch, (tw, th), interpolation=cv2.INTER_AREA)
        tm = (cv2.resize(pmask, (tw, th), interpolation=cv2.INTER_NEAREST) > 127).astype(np.uint8)
        if tm.sum() < 16:
            continue
        res = cv2.matchTemplate(grey, tmpl, cv2.TM_CCOEFF_NORMED, mask=tm)
        res = np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0)
        _, top, _, loc = cv2.minMaxLoc(res)
        # Second-best score away from the best place: a match must be unique.
        blocked = res.copy()
        cv2.rectangle(blocked, (loc[0] - tw // 2, loc[1] - th // 2), (loc[0] + tw // 2, loc[1] + th // 2), -1.0, -1)
        second = float(blocked.max()) if blocked.size else -1.0
        if best is None or top > best[0]:
            best = (float(top), second, loc, scale)
    if best is None or best[0] < min_score or best[0] - best[1] < 0.1:
        return None
    _, _, (lx, ly), scale = best
    s = s0 * scale
    m = np.array([[scale, 0, lx / s0 - x0 * scale], [0, scale, ly / s0 - y0 * scale]], np.float64)
    placed = cv2.warpAffine(ref_mask.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR) > 0.5
    return placed if placed.any() else None
