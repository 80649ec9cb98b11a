"""Insert: place an RGBA layer (a PNG cut-out or an object cut from another frame)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.edit import EditKind, EditOperation
from engine.edits import specs
from engine.edits.layers import Placement, check_layer, composite, place_layer
from engine.edits.masks import check_frame


def insert(
    frame: np.ndarray,
    layer: np.ndarray,
    *,
    x: float | None = None,
    y: float | None = None,
    scale: float = 1.0,
    rotation: float = 0.0,
    flip_h: bool = False,
    flip_v: bool = False,
    opacity: float = 1.0,
    feather: float = 0.0,
) -> tuple[np.ndarray, EditOperation]:
    """Composite ``layer`` (``[h, w, 4]`` uint8 straight alpha) onto ``frame``.

    See :class:`~engine.edits.layers.Placement` for the placement arguments.

    Returns:
        The new frame and an ``EditOperation`` with ``layer_rgba`` = the placed layer at
        canvas size and ``mask`` = where its alpha is above zero.
    """
    check_frame(frame)
    check_layer(layer)
    placement = Placement(x, y, scale, rotation, flip_h, flip_v, opacity, feather).resolved(frame.shape[:2])
    placed = place_layer(layer, frame.shape[:2], placement)
    mask = np.where(placed[..., 3] > 0, np.uint8(255), np.uint8(0))
    if not mask.any():
        raise ValueError(
            f"the layer lands entirely outside the {frame.shape[1]}x{frame.shape[0]} canvas "
            f"(centre {placement.x:.1f}, {placement.y:.1f}, scale {placement.scale})"
        )
    params = placement.to_params() | {"layer_size": [int(layer.shape[1]), int(layer.shape[0])]}
    return composite(frame, placed), EditOperation(EditKind.INSERT, mask=mask, params=params, layer_rgba=placed)


@specs.register_spec
@dataclass
class InsertSpec:
    """Spec of :func:`insert` (``layer`` is an RGBA PNG asset in files)."""

    op: ClassVar[str] = "insert"
    ASSETS: ClassVar[dict[str, str]] = {"layer": "RGBA"}

    layer: np.ndarray
    x: float | None = None
    y: float | None = None
    scale: float = 1.0
    rotation: float = 0.0
    flip_h: bool = False
    flip_v: bool = False
    opacity: float = 1.0
    feather: float = 0.0

    def __post_init__(self) -> None:
        self.layer = check_layer(specs.array("layer", self.layer, channels=4))
        Placement(self.x, self.y, self.scale, self.rotation, self.flip_h, self.flip_v, self.opacity, self.feather)

    def apply(self, canvas: np.ndarray) -> tuple[np.ndarray, EditOperation]:
        return insert(
            canvas,
            self.layer,
            x=self.x,
            y=self.y,
            scale=self.scale,
            rotation=self.rotation,
            flip_h=self.flip_h,
            flip_v=self.flip_v,
            opacity=self.opacity,
            feather=self.feather,
        )
