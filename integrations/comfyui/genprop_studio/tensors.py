"""ComfyUI's tensor conventions <-> the engine's arrays.

ComfyUI passes images as ``IMAGE``: a float32 tensor ``[B, H, W, C]`` in 0..1 (B frames,
channels last, C = 3) and masks as ``MASK``: float32 ``[B, H, W]`` in 0..1 (1 = selected).
The engine works on ``[H, W, 3]`` uint8 frames and ``[H, W]`` uint8 (0/255) masks, so a
clip goes through 8 bits here (rounded, not truncated).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _as_numpy(tensor: Any) -> np.ndarray:
    if hasattr(tensor, "detach"):  # torch
        tensor = tensor.detach().to("cpu").float().numpy()
    return np.asarray(tensor, dtype=np.float32)


def images_to_frames(image: Any) -> np.ndarray:
    """An ``IMAGE`` (``[B, H, W, C]`` or one ``[H, W, C]``, C = 1, 3 or 4; alpha dropped) as ``[B, H, W, 3]`` uint8."""
    array = _as_numpy(image)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4) or array.shape[0] == 0:
        raise ValueError(f"expected an IMAGE tensor [frames, height, width, 3], got shape {tuple(array.shape)}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return np.rint(np.clip(array[..., :3], 0.0, 1.0) * 255.0).astype(np.uint8)


def frames_to_images(frames: np.ndarray) -> Any:
    """``[T, H, W, 3]`` uint8 (or uint16) frames as an ``IMAGE`` tensor."""
    import torch

    frames = np.asarray(frames)
    scale = 65535.0 if frames.dtype == np.uint16 else 255.0
    return torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32) / scale)


def masks_to_tensor(masks: np.ndarray) -> Any:
    """``[T, H, W]`` uint8 masks (0..255) as a ``MASK`` tensor in 0..1."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(masks, dtype=np.float32) / 255.0)


def mask_from_tensor(mask: Any) -> np.ndarray:
    """The first mask of a ``MASK`` (``[B, H, W]`` or ``[H, W]``) as ``[H, W]`` uint8 0/255 (selected: >= 0.5)."""
    array = _as_numpy(mask)
    if array.ndim == 3:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected a MASK tensor [frames, height, width], got shape {tuple(array.shape)}")
    return np.where(array >= 0.5, 255, 0).astype(np.uint8)
