"""The tracked masks drawn over the clip while scrubbing (the mask preview, issue 19): a colour per edit."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem

#: Overlay colour of each operation's tracked mask (cycled), RGB.
OP_COLOURS = ((0, 200, 255), (255, 80, 200), (120, 230, 60), (255, 170, 0), (160, 120, 255), (255, 255, 90))
OVERLAY_OPACITY = 0.4


def overlay_image(masks: list[np.ndarray | None]) -> QImage:
    """Masks on the original frame -> one translucent RGBA image, a colour per operation, outlined.

    Runs on a worker (a 1080p frame is tens of milliseconds); only each mask's bounding box is
    painted, so a small object costs little on a large frame."""
    import cv2

    shape = next(m.shape for m in masks if m is not None)
    rgba = np.zeros((*shape, 4), np.uint8)
    for i, mask in enumerate(masks):
        if mask is None:
            continue
        points = cv2.findNonZero((mask > 127).astype(np.uint8))
        if points is None:
            continue
        x, y, w, h = cv2.boundingRect(points)
        x0, y0, x1, y1 = max(0, x - 1), max(0, y - 1), min(shape[1], x + w + 1), min(shape[0], y + h + 1)
        on = mask[y0:y1, x0:x1] > 127
        box = rgba[y0:y1, x0:x1]
        colour = OP_COLOURS[i % len(OP_COLOURS)]
        box[on, :3] = colour
        box[on, 3] = int(255 * OVERLAY_OPACITY)
        edge = cv2.morphologyEx(on.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        box[edge, :3] = colour
        box[edge, 3] = 255
    h, w = shape
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


class MaskOverlay(QGraphicsPixmapItem):
    """A scene item over a ``FrameView``'s frame (same pixel coordinates) showing the masks of one frame."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(1)

    def show_image(self, image: QImage) -> None:
        """An ``overlay_image`` made on a worker."""
        self.setPixmap(QPixmap.fromImage(image))

    def clear(self) -> None:
        self.setPixmap(QPixmap())
