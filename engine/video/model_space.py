"""The reversible map between a clip's own geometry/timing and what a model needs.

Diffusion models want sizes in multiples of 64 at a chosen long side and a fixed frame
rate; editors want results back at the source's exact size and frame rate. A
``ModelSpace`` is computed once from the source and does both directions: resize with
the aspect kept, pad (reflect) up to the multiple, and exactly undo it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ModelSpace:
    """Geometry of the map. ``content_*`` is the resized image before padding."""

    source_width: int
    source_height: int
    content_width: int
    content_height: int
    model_width: int
    model_height: int
    pad_left: int
    pad_top: int

    @classmethod
    def fit(cls, source_size: tuple[int, int], long_side: int = 512, multiple: int = 64) -> ModelSpace:
        """Scale so the long side is ``long_side``; pad each side up to ``multiple``."""
        w, h = source_size
        if w <= 0 or h <= 0:
            raise ValueError(f"source size must be positive, got {w}x{h}")
        if long_side <= 0 or multiple <= 0 or long_side % multiple:
            raise ValueError(f"long_side ({long_side}) must be a positive multiple of {multiple}")
        scale = long_side / max(w, h)
        cw, ch = max(1, round(w * scale)), max(1, round(h * scale))
        mw, mh = -(-cw // multiple) * multiple, -(-ch // multiple) * multiple
        return cls(w, h, cw, ch, mw, mh, (mw - cw) // 2, (mh - ch) // 2)

    @property
    def model_size(self) -> tuple[int, int]:
        return self.model_width, self.model_height

    @property
    def is_identity(self) -> bool:
        return (self.source_width, self.source_height) == (self.model_width, self.model_height)

    def _interp(self, shrinking: bool, mask: bool) -> int:
        if mask:
            return cv2.INTER_NEAREST
        return cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC

    def to_model(self, image: np.ndarray, *, mask: bool = False) -> np.ndarray:
        """``[H, W(, C)]`` at source size -> model size (reflect-padded; masks zero-padded)."""
        self._check(image, (self.source_width, self.source_height), "to_model")
        content = image
        if (self.content_width, self.content_height) != (self.source_width, self.source_height):
            shrinking = self.content_width < self.source_width
            content = cv2.resize(image, (self.content_width, self.content_height), interpolation=self._interp(shrinking, mask))
        right = self.model_width - self.content_width - self.pad_left
        bottom = self.model_height - self.content_height - self.pad_top
        border = cv2.BORDER_CONSTANT if mask else cv2.BORDER_REFLECT_101
        if min(self.content_width, self.content_height) < 2:
            border = cv2.BORDER_REPLICATE if not mask else border
        return cv2.copyMakeBorder(content, self.pad_top, bottom, self.pad_left, right, border, value=0)

    def from_model(self, image: np.ndarray, *, mask: bool = False) -> np.ndarray:
        """Model-size output -> source size: crop the padding, resize back."""
        self._check(image, (self.model_width, self.model_height), "from_model")
        content = image[self.pad_top : self.pad_top + self.content_height, self.pad_left : self.pad_left + self.content_width]
        if (self.content_width, self.content_height) == (self.source_width, self.source_height):
            return np.ascontiguousarray(content)
        shrinking = self.source_width < self.content_width
        return cv2.resize(content, (self.source_width, self.source_height), interpolation=self._interp(shrinking, mask))

    def valid_region(self) -> np.ndarray:
        """``[model_h, model_w]`` uint8 mask of pixels that carry source content."""
        region = np.zeros((self.model_height, self.model_width), np.uint8)
        region[self.pad_top : self.pad_top + self.content_height, self.pad_left : self.pad_left + self.content_width] = 255
        return region

    @staticmethod
    def _check(image: np.ndarray, size: tuple[int, int], where: str) -> None:
        if (image.shape[1], image.shape[0]) != size:
            raise ValueError(f"{where}: image is {image.shape[1]}x{image.shape[0]}, expected {size[0]}x{size[1]}")


@dataclass(frozen=True)
class TimeMap:
    """Which source frames a model at ``model_fps`` sees, and how to map results back."""

    source_count: int
    source_fps: float
    model_fps: float

    def model_indices(self) -> list[int]:
        """Source frame index for every model frame (nearest in time, frame 0 kept)."""
        if self.model_fps >= self.source_fps:
            return list(range(self.source_count))
        duration = self.source_count / self.source_fps
        count = max(1, int(np.floor(duration * self.model_fps + 1e-9)))
        idx = [min(self.source_count - 1, int(round(i * self.source_fps / self.model_fps))) for i in range(count)]
        return sorted(set(idx))

    def source_to_model(self) -> list[int]:
        """For every source frame, the model frame nearest in time (to map results back)."""
        picks = np.asarray(self.model_indices())
        return [int(np.abs(picks - i).argmin()) for i in range(self.source_count)]
