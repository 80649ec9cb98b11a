"""Remove: erase an object (plus user-painted shadow/reflection) and fill the hole."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from engine.edit import EditKind, EditOperation
from engine.edits import specs
from engine.edits.inpaint import available_methods, inpaint, resolve_method
from engine.edits.masks import check_frame, check_mask, grow, union
from engine.edits.shadow_lift import lift_shadow


def removal_region(
    mask: np.ndarray, extras_mask: np.ndarray | None, size_hw: tuple[int, int], dilate: float
) -> tuple[np.ndarray, np.ndarray]:
    """(source selection = object + extras, region to fill = selection grown by ``dilate``).

    Growing by a few pixels swallows the object's anti-aliased edge, which would
    otherwise leave a faint outline in the fill.
    """
    source = check_mask(mask, size_hw, name="mask")
    if extras_mask is not None:
        source = union(source, check_mask(extras_mask, size_hw, name="extras_mask"))
    return source, grow(source, dilate)


def extras_alone(mask: np.ndarray, extras_mask: np.ndarray | None, size_hw: tuple[int, int]) -> np.ndarray | None:
    """The painted extras outside the object (0/255), or None when there are none."""
    if extras_mask is None:
        return None
    extras = np.where((check_mask(extras_mask, size_hw, name="extras_mask") > 0) & (check_mask(mask, size_hw) == 0), 255, 0)
    return extras.astype(np.uint8) if extras.any() else None


def remove(
    frame: np.ndarray,
    mask: np.ndarray,
    *,
    method: str = "auto",
    extras_mask: np.ndarray | None = None,
    dilate: float = 3.0,
    radius: float = 5.0,
    options: dict[str, Any] | None = None,
) -> tuple[np.ndarray, EditOperation]:
    """Remove the selected object from ``frame``.

    Args:
        frame: ``[H, W, 3]`` uint8 RGB.
        mask: ``[H, W]`` object selection (non-zero inside).
        method: inpainting method (``auto``, ``telea``, ``ns``, ``diffusers``).
        extras_mask: ``[H, W]`` extra painted regions removed with the object (its
            shadow, reflection). Where they darken the ground like a shadow they are
            lifted (the texture stays, the darkening goes); otherwise inpainted.
        dilate: pixels the fill region extends past the selection.
        radius: OpenCV inpainting neighbourhood radius in pixels.
        options: backend options (``model``, ``prompt``, ``seed``, ``steps`` for diffusers).

    Returns:
        The new frame and an ``EditOperation`` whose ``mask`` is the filled region,
        ``source_mask`` the object + extras and ``extras_mask`` the extras alone.
    """
    check_frame(frame)
    dilate = specs.number("dilate", dilate, low=0, high=specs.MAX_DISTANCE)
    radius = specs.number("radius", radius, low=0, low_open=True, high=specs.MAX_INPAINT_RADIUS)
    opts = specs.json_options("options", options or {})
    concrete = resolve_method(method)
    source, region = removal_region(mask, extras_mask, frame.shape[:2], dilate)
    if not source.any():
        raise ValueError("mask is empty: select the object to remove first")
    out = inpaint(frame, region, concrete, radius=radius, **opts)
    params = {"method": concrete, "dilate": dilate, "radius": radius, "options": opts}
    extras = extras_alone(mask, extras_mask, frame.shape[:2])
    if extras is not None:  # a painted shadow keeps its ground: lifted, not painted over (shadow_lift)
        out, lifted = lift_shadow(frame, out, extras, check_mask(mask, frame.shape[:2]))
        params["shadow"] = "lifted" if lifted else "inpainted"
    return out, EditOperation(EditKind.REMOVE, mask=region, params=params, source_mask=source, extras_mask=extras)


@specs.register_spec
@dataclass
class RemoveSpec:
    """Spec of :func:`remove` (``mask`` and ``extras_mask`` are PNG assets in files)."""

    op: ClassVar[str] = "remove"
    ASSETS: ClassVar[dict[str, str]] = {"mask": "L", "extras_mask": "L"}

    mask: np.ndarray
    extras_mask: np.ndarray | None = None
    method: str = "auto"
    dilate: float = 3.0
    radius: float = 5.0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mask = specs.array("mask", self.mask, channels=None)
        if self.extras_mask is not None:
            self.extras_mask = specs.array("extras_mask", self.extras_mask, channels=None)
        specs.choice("method", self.method, available_methods())
        self.dilate = specs.number("dilate", self.dilate, low=0, high=specs.MAX_DISTANCE)
        self.radius = specs.number("radius", self.radius, low=0, low_open=True, high=specs.MAX_INPAINT_RADIUS)
        self.options = specs.json_options("options", self.options)

    def apply(self, canvas: np.ndarray) -> tuple[np.ndarray, EditOperation]:
        return remove(
            canvas,
            self.mask,
            method=self.method,
            extras_mask=self.extras_mask,
            dilate=self.dilate,
            radius=self.radius,
            options=self.options,
        )
