"""Lazy frame views the diffusion engines (GenProp on SVD, GenProp-Wan) read their windows through.

Neither view holds the clip: each frame is read, placed and mapped when a window asks for it,
so memory does not grow with the clip (issue 16).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from engine.edit import FirstFrameEdit
from engine.video.model_space import ModelSpace
from engine.video.source import FrameSource


class SourceOnCanvas:
    """Source frames placed on the edited canvas (bigger after an outpaint; edges replicated)."""

    def __init__(self, clip: FrameSource, edit: FirstFrameEdit) -> None:
        self.clip = clip
        w, h = clip.size
        cw, ch = edit.canvas_size
        x, y = edit.canvas_offset
        self.pad = (y, ch - h - y, x, cw - w - x)  # top, bottom, left, right
        if min(self.pad) < 0:
            raise ValueError(f"edited canvas {cw}x{ch} at offset {edit.canvas_offset} does not contain the {w}x{h} clip")

    def __len__(self) -> int:
        return len(self.clip)

    def __getitem__(self, index: int) -> np.ndarray:
        frame = self.clip[index]
        if not any(self.pad):
            return frame
        return cv2.copyMakeBorder(frame, *self.pad, cv2.BORDER_REPLICATE)


class InModelSpace:
    """Canvas-size frames (or masks, ``mask=True``) mapped to model space one at a time."""

    def __init__(self, frames: Sequence[np.ndarray] | SourceOnCanvas, space: ModelSpace, mask: bool = False) -> None:
        self.frames, self.space, self.mask = frames, space, mask

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.space.to_model(self.frames[index], mask=self.mask)
