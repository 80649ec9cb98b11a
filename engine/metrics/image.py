"""Per-frame fidelity metrics (PSNR, SSIM), optionally restricted to a region.

Region-restricted scores are what the paper's PSNRm needs: an edit is judged by how
little it disturbs pixels it should not touch, so the edited region is excluded.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_PSNR = 100.0
"""PSNR reported for identical inputs (instead of infinity, so means stay finite)."""


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")


def _region(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask) > 0
    if m.shape != shape[:2]:
        raise ValueError(f"mask is {m.shape} but images are {shape[:2]}")
    return m


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, data_range: float = 255.0) -> float:
    """PSNR in dB between ``a`` and ``b`` (``[H, W]`` or ``[H, W, C]``) over ``mask > 0``.

    Returns ``nan`` for an empty region and :data:`MAX_PSNR` for identical pixels.
    """
    _check_pair(a, b)
    m = _region(mask, a.shape)
    diff = a.astype(np.float64) - b.astype(np.float64)
    sq = diff**2
    if m is not None:
        if not m.any():
            return float("nan")
        sq = sq[m]
    mse = float(sq.mean())
    if mse == 0.0:
        return MAX_PSNR
    return float(min(MAX_PSNR, 10.0 * np.log10(data_range**2 / mse)))


def ssim_map(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """``[H, W]`` SSIM map (Gaussian window, sigma 1.5, Wang et al. 2004 constants).

    Colour images are scored per channel and averaged.
    """
    _check_pair(a, b)
    x = a.astype(np.float32)
    y = b.astype(np.float32)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    blur = lambda img: cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    maps = []
    for c in range(x.shape[2]):
        xc, yc = x[..., c], y[..., c]
        mx, my = blur(xc), blur(yc)
        sxx = blur(xc * xc) - mx * mx
        syy = blur(yc * yc) - my * my
        sxy = blur(xc * yc) - mx * my
        num = (2 * mx * my + c1) * (2 * sxy + c2)
        den = (mx * mx + my * my + c1) * (sxx + syy + c2)
        maps.append(num / den)
    return np.mean(maps, axis=0)


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, data_range: float = 255.0) -> float:
    """Mean SSIM over ``mask > 0`` (whole image when ``None``); ``nan`` for an empty region."""
    smap = ssim_map(a, b, data_range)
    m = _region(mask, a.shape)
    if m is None:
        return float(smap.mean())
    return float(smap[m].mean()) if m.any() else float("nan")
