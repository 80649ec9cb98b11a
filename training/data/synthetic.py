"""The paper's synthetic edits. Each takes clean frames + an object mask and returns
``(augmented frames [T, H, W, 3] uint8, edit mask [T, H, W] bool)``.

- Copy-and-Paste: ``V_aug = (1 - M2) V1 + M2 V2`` with a second clip's object.
- Mask-and-Fill: the object's box grown by ``pad`` px, filled with the mean colour of a
  ring around it, or inpainted with OpenCV's Telea.
- Color Fill: the object painted a flat colour (red), optionally a second one in another.
"""

from __future__ import annotations

import cv2
import numpy as np


def copy_paste(base: np.ndarray, donor: np.ndarray, donor_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paste ``donor``'s pixels where ``donor_mask`` ([T, H, W] or [H, W], broadcast over time) is set."""
    mask = np.broadcast_to(np.asarray(donor_mask, bool), base.shape[:3])
    if donor.shape != base.shape:
        raise ValueError(f"donor frames {donor.shape} must match base frames {base.shape}")
    out = np.where(mask[..., None], donor, base)
    return out.astype(np.uint8), mask.copy()


def bbox(mask: np.ndarray, pad: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1), exclusive, of ``mask`` grown by ``pad`` and clipped; None when empty."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    h, w = mask.shape
    return max(0, xs.min() - pad), max(0, ys.min() - pad), min(w, xs.max() + 1 + pad), min(h, ys.max() + 1 + pad)


def _ring_mean(frame: np.ndarray, box: tuple[int, int, int, int], width: int) -> np.ndarray:
    """Mean colour of a ``width``-px ring around ``box`` (the whole frame if the ring is empty)."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box
    outer = np.zeros((h, w), bool)
    outer[max(0, y0 - width) : min(h, y1 + width), max(0, x0 - width) : min(w, x1 + width)] = True
    outer[y0:y1, x0:x1] = False
    pixels = frame[outer] if outer.any() else frame.reshape(-1, 3)
    return pixels.reshape(-1, 3).mean(0)


def mask_and_fill(
    frames: np.ndarray, mask: np.ndarray, pad: int = 5, telea: bool = False, radius: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Hide the object's box (+``pad`` px) per frame by a mean-colour fill or Telea inpainting."""
    out = frames.copy()
    edit = np.zeros(mask.shape, bool)
    for t in range(len(frames)):
        box = bbox(mask[t], pad)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        edit[t, y0:y1, x0:x1] = True
        if telea:
            out[t] = cv2.inpaint(np.ascontiguousarray(frames[t]), edit[t].astype(np.uint8) * 255, radius, cv2.INPAINT_TELEA)
        else:
            out[t, y0:y1, x0:x1] = np.round(_ring_mean(frames[t], box, max(pad, 4))).astype(np.uint8)
    return out, edit


def color_fill(
    frames: np.ndarray,
    mask: np.ndarray,
    color: tuple[int, int, int] = (255, 0, 0),
    second_mask: np.ndarray | None = None,
    second_color: tuple[int, int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Paint ``mask`` in ``color`` (and ``second_mask`` in ``second_color``) on every frame."""
    out = frames.copy()
    m = np.asarray(mask, bool)
    out[m] = np.asarray(color, np.uint8)
    edit = m.copy()
    if second_mask is not None:
        m2 = np.asarray(second_mask, bool) & ~m
        out[m2] = np.asarray(second_color if second_color is not None else color, np.uint8)
        edit |= m2
    return out, edit
