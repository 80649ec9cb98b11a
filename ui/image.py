"""numpy RGB frames -> QImage without surprises (stride, lifetime)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def qimage_from_rgb(frame: np.ndarray) -> QImage:
    """``[H, W, 3]`` uint8 RGB -> an owning QImage (copied: the array may go away)."""
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
