"""First-frame edit pieces shared by the classic engine's streaming tests: an object's frame-1 mask
from a procedural clip, and a yellow card layer to insert."""

from __future__ import annotations

from typing import Any

import numpy as np

STREAMING_OPTIONS = {"tracker": "flow", "temporal_reach": 4}
"""Flow tracking and a reach of 4, so a streamed run's frame window is far shorter than the test clips."""


def object_mask(clip: Any, k: int = 1) -> np.ndarray:
    """Object ``k``'s frame-1 mask of a ``generate_clip`` clip, 0/255."""
    return clip.object_masks[k, 0].astype(np.uint8) * 255


def card_layer(h: int, w: int) -> np.ndarray:
    """An ``[h, w, 4]`` RGBA layer: a yellow card near the top-left corner, transparent elsewhere."""
    layer = np.zeros((h, w, 4), np.uint8)
    layer[8:28, 10:40] = (250, 240, 30, 255)
    return layer
