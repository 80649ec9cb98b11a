"""Replace: remove an object and insert a layer in its place, as one edit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from engine.edit import EditKind, EditOperation
from engine.edits import specs
from engine.edits.inpaint import available_methods
from engine.edits.insert import insert
from engine.edits.layers import Placement, check_layer
from engine.edits.masks import union
from engine.edits.remove import remove


def replace(
    frame: np.ndarray,
    mask: np.ndarray,
    layer: np.ndarray,
    *,
    extras_mask: np.ndarray | None = None,
    method: str = "auto",
    dilate: float = 3.0,
    radius: float = 5.0,
    options: dict[str, Any] | None = None,
    x: float | None = None,
    y: float | None = None,
    scale: float = 1.0,
    rotation: float = 0.0,
    flip_h: bool = False,
    flip_v: bool = False,
    opacity: float = 1.0,
    feather: float = 0.0,
) -> tuple[np.ndarray, EditOperation]:
    """Remove the selected object, then insert ``layer``.

    With ``x``/``y`` left as ``None`` the layer is centred on the removed object's
    bounding box, which is where a replacement usually belongs.

    Returns:
        The new frame and an ``EditOperation`` with ``mask`` = filled region ∪ layer,
        ``source_mask`` = object + extras and ``layer_rgba`` = the placed layer.
    """
    check_layer(layer)
    removed, rm_op = remove(frame, mask, method=method, extras_mask=extras_mask, dilate=dilate, radius=radius, options=options)
    if x is None or y is None:
        ys, xs = np.nonzero(rm_op.source_mask)
        x = (xs.min() + xs.max() + 1) / 2.0 if x is None else x
        y = (ys.min() + ys.max() + 1) / 2.0 if y is None else y
    out, ins_op = insert(
        removed,
        layer,
        x=x,
        y=y,
        scale=scale,
        rotation=rotation,
        flip_h=flip_h,
        flip_v=flip_v,
        opacity=opacity,
        feather=feather,
    )
    params = {"remove": rm_op.params, "insert": ins_op.params}
    op = EditOperation(
        EditKind.REPLACE,
        mask=union(rm_op.mask, ins_op.mask),
        params=params,
        source_mask=rm_op.source_mask,
        layer_rgba=ins_op.layer_rgba,
        extras_mask=rm_op.extras_mask,
    )
    return out, op


@specs.register_spec
@dataclass
class ReplaceSpec:
    """Spec of :func:`replace` (``mask``, ``extras_mask``, ``layer`` are PNG assets)."""

    op: ClassVar[str] = "replace"
    ASSETS: ClassVar[dict[str, str]] = {"mask": "L", "extras_mask": "L", "layer": "RGBA"}

    mask: np.ndarray
    layer: np.ndarray
    extras_mask: np.ndarray | None = None
    method: str = "auto"
    dilate: float = 3.0
    radius: float = 5.0
    options: dict[str, Any] = field(default_factory=dict)
    x: float | None = None
    y: float | None = None
    scale: float = 1.0
    rotation: float = 0.0
    flip_h: bool = False
    flip_v: bool = False
    opacity: float = 1.0
    feather: float = 0.0

    def __post_init__(self) -> None:
        self.mask = specs.array("mask", self.mask, channels=None)
        if self.extras_mask is not None:
            self.extras_mask = specs.array("extras_mask", self.extras_mask, channels=None)
        self.layer = check_layer(specs.array("layer", self.layer, channels=4))
        specs.choice("method", self.method, available_methods())
        specs.number("dilate", self.dilate, low=0, high=specs.MAX_DISTANCE)
        specs.number("radius", self.radius, low=0, low_open=True, high=specs.MAX_INPAINT_RADIUS)
        self.options = specs.json_options("options", self.options)
        Placement(self.x, self.y, self.scale, self.rotation, self.flip_h, self.flip_v, self.opacity, self.feather)

    def apply(self, canvas: np.ndarray) -> tuple[np.ndarray, EditOperation]:
        return replace(
            canvas,
            self.mask,
            self.layer,
            extras_mask=self.extras_mask,
            method=self.method,
            dilate=self.dilate,
            radius=self.radius,
            options=self.options,
            x=self.x,
            y=self.y,
            scale=self.scale,
            rotation=self.rotation,
            flip_h=self.flip_h,
            flip_v=self.flip_v,
            opacity=self.opacity,
            feather=self.feather,
        )
