"""Where an inserted layer ended up: its corners, recovered from the output frames.

The corner error of an insert is measured from what the user sees, so it applies to
any engine: the layer's appearance on the edited first frame (inside its footprint) is
registered onto every output frame with ECC (intensity-based, a homography,
coarse-to-fine), frame by frame from the previous estimate, and the frame-0 corners are
moved by it. On the exact ground truth this recovers the corners to a few hundredths of
a pixel; a frame where the layer cannot be found scores ``inf`` (lost).
"""

from __future__ import annotations

import cv2
import numpy as np


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY).astype(np.float32)


def _scale(hom: np.ndarray, s: float) -> np.ndarray:
    d = np.diag([s, s, 1.0])
    return d @ hom @ np.linalg.inv(d)


def _ecc(template: np.ndarray, image: np.ndarray, mask: np.ndarray, guess: np.ndarray, iterations: int) -> np.ndarray | None:
    """Homography ``H`` (template coords -> image coords) with ``template(x) ~ image(H x)``."""
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-7)
    try:
        _, warp = cv2.findTransformECCWithMask(
            template,
            image,
            mask,
            np.full(image.shape, 255, np.uint8),
            guess.astype(np.float32),
            cv2.MOTION_HOMOGRAPHY,
            criteria,
            3,
        )
    except cv2.error:
        return None
    hom = warp.astype(np.float64)
    return hom / hom[2, 2] if np.isfinite(hom).all() and abs(hom[2, 2]) > 1e-9 else None


def layer_homographies(
    frames: np.ndarray, first: np.ndarray, footprint: np.ndarray, iterations: int = 100
) -> list[np.ndarray | None]:
    """Per frame, the homography moving the layer from ``first`` (frame 0, with the layer) into ``frames[t]``.

    ``footprint``: ``[H, W]`` mask of the layer on ``first``. ``None`` where lost.
    """
    fp = (np.asarray(footprint) > 0).astype(np.uint8)
    if not fp.any():
        raise ValueError("the layer footprint is empty")
    # Crop the template to the footprint (ECC's cost is the template's size); H maps crop -> image.
    ys, xs = np.nonzero(fp)
    x0, y0 = max(0, xs.min() - 6), max(0, ys.min() - 6)
    x1, y1 = min(fp.shape[1], xs.max() + 7), min(fp.shape[0], ys.max() + 7)
    template = _grey(first)[y0:y1, x0:x1].copy()
    fp = fp[y0:y1, x0:x1].copy()
    crop = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    levels = [(0.5, cv2.resize(template, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)), (1.0, template)]
    masks = {
        s: (cv2.resize(fp, (t.shape[1], t.shape[0]), interpolation=cv2.INTER_NEAREST) if s != 1.0 else fp) for s, t in levels
    }
    out: list[np.ndarray | None] = [np.eye(3)]
    prev = crop.copy()
    for t in range(1, len(frames)):
        image = _grey(frames[t])
        hom: np.ndarray | None = prev
        for s, tmpl in levels:
            img = image if s == 1.0 else cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            hom = _ecc(tmpl, img, masks[s], _scale(hom, s), iterations)
            if hom is None:
                break
            hom = _scale(hom, 1.0 / s)
        if hom is None:
            out.append(None)
            continue
        prev = hom
        full = hom @ np.linalg.inv(crop)
        out.append(full / full[2, 2])
    return out


def apply_homography(hom: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``[N, 2]`` points moved by a 3x3 homography."""
    p = np.c_[np.asarray(points, np.float64), np.ones(len(points))] @ hom.T
    return p[:, :2] / p[:, 2:]


def corner_errors(frames: np.ndarray, first: np.ndarray, footprint: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """``[T]`` mean distance (px) between the true corners and where the output shows them.

    ``corners``: ``[T, 4, 2]`` true corner positions (``corners[0]`` where the layer was
    placed on ``first``); ``inf`` where the layer was not found.
    """
    corners = np.asarray(corners, np.float64)
    out = np.full(len(corners), np.inf)
    for t, hom in enumerate(layer_homographies(frames, first, footprint)):
        if hom is not None:
            out[t] = float(np.linalg.norm(apply_homography(hom, corners[0]) - corners[t], axis=1).mean())
    return out
