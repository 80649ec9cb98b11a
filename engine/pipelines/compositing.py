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
    out = np.zeros_like(binary)
    # Worked out only around the mask (a 1080p frame with an object: a few ms, not ~60): the growth and
    # the blur reach at most ``feather + 4 sigma + 1`` px, and zeros beyond that reflect as zeros, so the
    # crop gives the whole frame's values exactly.
    box = mask_box(binary > 0, feather + 2 * feather + 3)
    if box is None:
        return out
    y0, y1, x0, x1 = box
    part = binary[y0:y1, x0:x1]
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * feather + 1, 2 * feather + 1))
    grown = cv2.dilate(part, kernel)
    soft = cv2.GaussianBlur(grown, (0, 0), sigmaX=feather / 2.0)
    soft = np.maximum(soft, part)  # never soften the inside of the edit
    soft[soft < 1.0 / 255.0] = 0.0
    out[y0:y1, x0:x1] = soft
    return out


def mask_box(on: np.ndarray, pad: int) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of ``on``'s bounding box grown by ``pad`` and clipped to the frame; None if empty."""
    x, y, w, h = cv2.boundingRect(on.view(np.uint8))
    if w == 0 or h == 0:
        return None
    return max(0, y - pad), min(on.shape[0], y + h + pad), max(0, x - pad), min(on.shape[1], x + w + pad)


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
    out = source.copy()
    box = mask_box(soft_mask > 0, 0)  # outside the mask's box the source is kept as it is
    if box is None:
        return out
    y0, y1, x0, x1 = box
    s, g = source[y0:y1, x0:x1], generated[y0:y1, x0:x1]
    m = soft_mask[y0:y1, x0:x1, None].astype(np.float32)
    mixed = np.clip(np.rint(s * (1.0 - m) + g * m), 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1] = np.where(m > 0, mixed, s)
    return out
