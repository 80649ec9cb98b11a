"""Keep-original compositing: outside the (feathered) edit mask, output == source, bit for bit."""

from __future__ import annotations

import cv2
import numpy as np


def feather_mask(mask: np.ndarray, feather: int, threshold: float = 0.5) -> np.ndarray:
    """``[H, W]`` soft mask in [0, 1]: the binarised mask grown by ``feather`` px, then softened.

    The mask only grows (the edited region stays fully generated); exactly 0 where the
    source is to be kept.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be [H, W], got shape {mask.shape}")
    if feather < 0:
        raise ValueError(f"feather must be >= 0 pixels, got {feather}")
    m = mask.astype(np.float32)
    if mask.dtype == np.uint8:
        m /= 255.0
    binary = (m >= threshold).astype(np.float32)
    if feather == 0:
        return binary
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * feather + 1, 2 * feather + 1))
    grown = cv2.dilate(binary, kernel)
    soft = cv2.GaussianBlur(grown, (0, 0), sigmaX=feather / 2.0)
    soft = np.maximum(soft, binary)  # never soften the inside of the edit
    soft[soft < 1.0 / 255.0] = 0.0
    return soft


def keep_original(source: np.ndarray, generated: np.ndarray, soft_mask: np.ndarray) -> np.ndarray:
    """Blend ``generated`` into ``source`` with ``soft_mask`` ([H, W] in [0, 1]).

    Where the mask is 0 the result is the source's pixels unchanged (not re-rounded).
    """
    if source.shape != generated.shape or source.dtype != np.uint8 or generated.dtype != np.uint8:
        raise ValueError(
            f"source {source.shape} {source.dtype} and generated {generated.shape} {generated.dtype} "
            "must be the same shape and uint8"
        )
    if soft_mask.shape != source.shape[:2]:
        raise ValueError(f"mask {soft_mask.shape} does not match frames {source.shape[:2]}")
    m = soft_mask[..., None].astype(np.float32)
    mixed = np.clip(np.rint(source * (1.0 - m) + generated * m), 0, 255).astype(np.uint8)
    return np.where(m > 0, mixed, source)
