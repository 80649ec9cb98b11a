"""Per-frame colour transforms of track and recolour operations.

The classic engine re-applies the *same* transform the user made on frame 1 to every
later frame, inside that frame's tracked mask: ``apply_recolour`` with the op's params
for recolour, the flat colour fill at the op's opacity for track.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.edit import EditKind, EditOperation
from engine.edits.recolour import apply_recolour

FrameTransform = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(frame [H,W,3] uint8, mask [H,W] uint8 0/255) -> frame``; pixels outside the mask unchanged."""


def _track_fill(colour: list[int], opacity: float) -> FrameTransform:
    rgb = np.array(colour, np.float32)

    def fill(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = frame.copy()
        inside = mask > 0
        mixed = frame[inside].astype(np.float32) * (1 - opacity) + rgb * opacity
        out[inside] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        return out

    return fill


def frame_transform(op: EditOperation) -> FrameTransform:
    """The transform that reproduces ``op`` on any frame, given that frame's mask."""
    if op.kind == EditKind.RECOLOUR:
        params = dict(op.params)
        return lambda frame, mask: apply_recolour(frame, mask, params)
    if op.kind == EditKind.TRACK:
        colour = op.params.get("colour")
        opacity = op.params.get("opacity", 1.0)
        if not (isinstance(colour, (list, tuple)) and len(colour) == 3):
            raise ValueError(f"track op params need colour=[r, g, b], got {colour!r}")
        if not 0.0 <= float(opacity) <= 1.0:
            raise ValueError(f"track op opacity must be in [0, 1], got {opacity!r}")
        return _track_fill([int(c) for c in colour], float(opacity))
    raise ValueError(f"no colour transform for a {op.kind.value!r} operation")
