"""Track: mark an object with a flat colour so the engine follows it (GenProp's tracking).

The paper tracks an object by colour-filling it on frame 1 and letting the model
propagate the fill; this op makes that first-frame fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.edit import EditKind, EditOperation
from engine.edits import specs
from engine.edits.masks import check_frame, check_mask


def track(
    frame: np.ndarray, mask: np.ndarray, *, colour: tuple[int, int, int] | list[int] = (255, 0, 255), opacity: float = 1.0
) -> tuple[np.ndarray, EditOperation]:
    """Fill the selection with ``colour`` at ``opacity``.

    Returns:
        The new frame and an ``EditOperation`` with ``mask`` = ``source_mask`` = selection.
    """
    check_frame(frame)
    m = check_mask(mask, frame.shape[:2])
    if not m.any():
        raise ValueError("mask is empty: select the object to track first")
    rgb = specs.rgb("colour", colour)
    a = specs.number("opacity", opacity, low=0, high=1)
    out = frame.copy()
    inside = m > 0
    mixed = frame[inside].astype(np.float32) * (1 - a) + np.array(rgb, np.float32) * a
    out[inside] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    params = {"colour": list(rgb), "opacity": a}
    return out, EditOperation(EditKind.TRACK, mask=m, params=params, source_mask=m)


@specs.register_spec
@dataclass
class TrackSpec:
    """Spec of :func:`track` (``mask`` is a PNG asset in files)."""

    op: ClassVar[str] = "track"
    ASSETS: ClassVar[dict[str, str]] = {"mask": "L"}

    mask: np.ndarray
    colour: list[int] | tuple[int, int, int] = (255, 0, 255)
    opacity: float = 1.0

    def __post_init__(self) -> None:
        self.mask = specs.array("mask", self.mask, channels=None)
        self.colour = list(specs.rgb("colour", self.colour))
        specs.number("opacity", self.opacity, low=0, high=1)

    def apply(self, canvas: np.ndarray) -> tuple[np.ndarray, EditOperation]:
        return track(canvas, self.mask, colour=self.colour, opacity=self.opacity)
