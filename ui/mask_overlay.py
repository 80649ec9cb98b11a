"""The tracked masks drawn over the clip while scrubbing (the mask preview, issue 19): a colour per edit."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem

#: Overlay colour of each operation's tracked mask (cycled), RGB.
OP_COLOURS = ((0, 200, 255), (255, 80, 200), (120, 230, 60), (255, 170, 0), (160, 120, 255), (255, 255, 90))
OVERLAY_OPACITY = 0.4


def overlay_image(masks: list[np.ndarray | None]) -> QImage:
    """Masks on the original frame -> one translucent RGBA image, a colour per operation, outlined."""
    import cv2

    shape = next(m.shape for m in masks if m is not None)
    rgba = np.zeros((*shape, 4), np.uint8)
    for i, mask in enumerate(masks):
        if mask is None:
            continue
        on = mask > 127
        colour = OP_COLOURS[i % len(OP_COLOURS)]
        rgba[on, :3] = colour
        rgba[on, 3] = int(255 * OVERLAY_OPACITY)
        edge = cv2.morphologyEx(on.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        rgba[edge, :3] = colour
        rgba[edge, 3] = 255
    h, w = shape
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


class MaskOverlay(QGraphicsPixmapItem):
    """A scene item over a ``FrameView``'s frame (same pixel coordinates) showing the masks of one frame."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(1)

    def show_masks(self, masks: list[np.ndarray | None]) -> None:
        """Masks on the original frame, one per edit (``None`` where an edit has none)."""
        self.setPixmap(QPixmap.fromImage(overlay_image(masks)))

    def clear(self) -> None:
        self.setPixmap(QPixmap())
