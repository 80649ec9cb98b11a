"""Outpaint quality without a model: undefined (black) pixels and the step across the seam.

``black_fraction``: the share of new-canvas pixels that came out pure black (0, 0, 0)
in all-black 3x3 patches where the truth is not dark: what an engine leaves when no
frame covers a pixel (a stray dark pixel of real content placed a pixel off is not an
undefined fill and is not counted). One exception, measured apart by
``source_black_fraction``: pure black that *continues the source's own pure-black
pixels* across the seam (a crushed-black coat at the frame's border, carried a few
pixels outward by a seam blend) at most :data:`SOURCE_BLACK_DEPTH` px deep. Deeper than
that it counts again: a black border of the source (a letterbox) mirrored or smeared
across the margin is not a plausible fill where the truth is not black.
``seam_ratio``: the mean absolute step between the two pixel rows/columns that meet at
the border of the source area, divided by the image's own step between neighbouring
rows/columns just inside it. A seamless fill scores about 1 (the truth scores ~1); a
visible seam scores several times that.
"""

from __future__ import annotations

import cv2
import numpy as np

BLACK_LEVEL = 0
"""A pixel is black when no channel exceeds this (pure black)."""
DARK_TRUTH = 24
"""...and counts as a defect only where the truth has a channel above this."""


SOURCE_BLACK_DEPTH = 12
"""How deep (px from the source area) pure black continuing the source's own may reach and not count."""


def _black_parts(output: np.ndarray, margins: np.ndarray, truth: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(``[T, H, W]`` undefined black margin pixels, ``[T, H, W]`` margin pixels continuing the source's black)."""
    out = np.asarray(output)
    m = np.asarray(margins) > 0
    if out.shape[:3] != m.shape:
        raise ValueError(f"margins {m.shape} do not match output {out.shape[:3]}")
    black = out.max(axis=-1) <= BLACK_LEVEL
    # Part of an all-black 3x3 patch: what an uncovered area looks like (a stray black
    # pixel of real content, placed a pixel off, is not an undefined fill).
    kernel = np.ones((3, 3), np.uint8)
    patch = np.stack([cv2.morphologyEx(b.astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0 for b in black])
    if truth is not None:
        patch &= np.asarray(truth).max(axis=-1) > DARK_TRUTH
    patch &= m
    continued = np.zeros_like(patch)
    for t in range(len(out)):
        if not patch[t].any():
            continue
        # Black pixels joined (8-connected, through black) to the source area's own black.
        _, labels = cv2.connectedComponents(black[t].astype(np.uint8), connectivity=8)
        from_source = np.unique(labels[black[t] & ~m[t]])
        depth = cv2.distanceTransform(m[t].astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        continued[t] = patch[t] & np.isin(labels, from_source[from_source > 0]) & (depth <= SOURCE_BLACK_DEPTH)
    return patch & ~continued, continued


def black_fractions(output: np.ndarray, margins: np.ndarray, truth: np.ndarray | None = None) -> tuple[float, float]:
    """(fraction of ``margins`` pixels (``[T, H, W]``) of ``output`` that are black and should not be, fraction
    that are pure black continuing the source's own black, not counted in the first); NaN without margins."""
    m = np.asarray(margins) > 0
    if not m.any():
        return float("nan"), float("nan")
    undefined, continued = _black_parts(output, m, truth)
    return float(undefined.sum() / m.sum()), float(continued.sum() / m.sum())


def black_fraction(output: np.ndarray, margins: np.ndarray, truth: np.ndarray | None = None) -> float:
    """The first of :func:`black_fractions`: black margin pixels that should not be."""
    return black_fractions(output, margins, truth)[0]


def source_black_fraction(output: np.ndarray, margins: np.ndarray, truth: np.ndarray | None = None) -> float:
    """The second of :func:`black_fractions`: black continuing the source's own black."""
    return black_fractions(output, margins, truth)[1]


def _steps(frame: np.ndarray, offset: tuple[int, int], size: tuple[int, int], inner: int) -> tuple[list[float], list[float]]:
    """(seam steps, natural steps) of one canvas frame, one entry per seam side."""
    f = frame.astype(np.float32)
    ox, oy = offset
    w, h = size
    ch, cw = f.shape[:2]
    seams, natural = [], []
    rows, cols = slice(oy, oy + h), slice(ox, ox + w)
    if ox > 0:  # left seam: columns ox-1 | ox
        seams.append(float(np.abs(f[rows, ox] - f[rows, ox - 1]).mean()))
        natural.append(float(np.abs(np.diff(f[rows, ox : ox + inner + 1], axis=1)).mean()))
    if ox + w < cw:  # right seam
        seams.append(float(np.abs(f[rows, ox + w] - f[rows, ox + w - 1]).mean()))
        natural.append(float(np.abs(np.diff(f[rows, ox + w - inner - 1 : ox + w], axis=1)).mean()))
    if oy > 0:
        seams.append(float(np.abs(f[oy, cols] - f[oy - 1, cols]).mean()))
        natural.append(float(np.abs(np.diff(f[oy : oy + inner + 1, cols], axis=0)).mean()))
    if oy + h < ch:
        seams.append(float(np.abs(f[oy + h, cols] - f[oy + h - 1, cols]).mean()))
        natural.append(float(np.abs(np.diff(f[oy + h - inner - 1 : oy + h, cols], axis=0)).mean()))
    return seams, natural


def seam_ratio(output: np.ndarray, offset: tuple[int, int], size: tuple[int, int], inner: int = 6) -> float:
    """Mean over frames and seam sides of (step across the seam) / (natural step inside).

    ``offset``: (x, y) of the source area in the canvas; ``size``: its (w, h); the
    natural step is the mean neighbour difference over the ``inner`` rows/columns
    next to the seam.
    """
    ratios = []
    for frame in np.asarray(output):
        seams, natural = _steps(frame, offset, size, inner)
        ratios += [s / max(n, 1e-3) for s, n in zip(seams, natural, strict=True)]
    return float(np.mean(ratios)) if ratios else float("nan")
