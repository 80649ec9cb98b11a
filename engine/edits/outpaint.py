"""Outpaint: extend the canvas by margins or to an aspect ratio and fill the new area.

The original frame is placed unchanged at ``(left, top)`` of the new canvas; the edit
mask is exactly the new area. Fill methods: ``reflect`` (mirror the frame outward,
blurred with distance so mirrored detail fades), the inpainting backends (``telea``,
``ns``, ``diffusers``; ``auto`` = the default classical one) or ``image`` (a user image
scaled to cover the canvas).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

import cv2
import numpy as np

from engine.edit import EditKind, EditOperation
from engine.edits import specs
from engine.edits.inpaint import available_methods, inpaint, resolve_method
from engine.edits.masks import check_frame

FILL_METHODS = {"reflect", "image"} | set(available_methods())
ANCHORS = {"center", "left", "right", "top", "bottom"}


#: Wider or taller than this is no picture format (32:9 is 3.6).
MAX_ASPECT = 20.0


def parse_aspect(aspect: str | float) -> float:
    """``"16:9"``, ``"16/9"``, ``"1.778"`` or a number -> width / height."""
    if isinstance(aspect, bool):
        raise ValueError(f"aspect must be like '16:9' or a positive number, got {aspect!r}")
    if isinstance(aspect, (int, float)):
        value = float(aspect)
    elif isinstance(aspect, str):
        text = aspect.strip().replace("/", ":")
        try:
            if ":" in text:
                w, h = text.split(":", 1)
                value = float(Fraction(w.strip()) / Fraction(h.strip()))
            else:
                value = float(text)
        except (ValueError, ZeroDivisionError, OverflowError):
            raise ValueError(f"aspect must be like '16:9' or a positive number, got {aspect!r}") from None
    else:
        raise ValueError(f"aspect must be like '16:9' or a positive number, got {aspect!r}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"aspect must be positive, got {aspect!r}")
    if not 1 / MAX_ASPECT <= value <= MAX_ASPECT:
        raise ValueError(f"aspect must be between 1:{MAX_ASPECT:g} and {MAX_ASPECT:g}:1, got {aspect!r}")
    return value


def margins_for_aspect(size_wh: tuple[int, int], aspect: str | float, anchor: str = "center") -> tuple[int, int, int, int]:
    """Smallest (left, top, right, bottom) margins giving ``aspect`` without cropping.

    ``anchor`` says where the original sits: ``center`` splits the margins (the odd
    pixel goes right/bottom), ``left`` keeps it at the left edge, and so on.
    """
    specs.choice("anchor", anchor, ANCHORS)
    w, h = size_wh
    target = parse_aspect(aspect)
    if target >= w / h:
        extra_w, extra_h = max(0, int(round(h * target)) - w), 0
    else:
        extra_w, extra_h = 0, max(0, int(round(w / target)) - h)
    left = {"left": 0, "right": extra_w}.get(anchor, extra_w // 2)
    top = {"top": 0, "bottom": extra_h}.get(anchor, extra_h // 2)
    return left, top, extra_w - left, extra_h - top


def _reflect_fill(frame: np.ndarray, margins: tuple[int, int, int, int]) -> np.ndarray:
    left, top, right, bottom = margins
    h, w = frame.shape[:2]
    canvas = frame
    # copyMakeBorder's reflection needs margins smaller than the frame; reflect in steps.
    remaining = [left, top, right, bottom]
    while any(remaining):
        ch, cw = canvas.shape[:2]
        step = [min(remaining[0], cw - 1), min(remaining[1], ch - 1), min(remaining[2], cw - 1), min(remaining[3], ch - 1)]
        canvas = cv2.copyMakeBorder(canvas, step[1], step[3], step[0], step[2], cv2.BORDER_REFLECT_101)
        remaining = [r - s for r, s in zip(remaining, step, strict=True)]
    # Blur grows with distance from the original so the mirror seam is not a sharp copy.
    inside = np.zeros(canvas.shape[:2], np.uint8)
    inside[top : top + h, left : left + w] = 255
    dist = cv2.distanceTransform(255 - inside, cv2.DIST_L2, 3)
    sigma = max(2.0, 0.02 * max(canvas.shape[:2]))
    # A wide blur is cheap at quarter resolution and looks the same once upsampled.
    small = cv2.resize(canvas, (max(1, canvas.shape[1] // 4), max(1, canvas.shape[0] // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 4)
    blurred = cv2.resize(small, (canvas.shape[1], canvas.shape[0]), interpolation=cv2.INTER_LINEAR)
    t = np.clip(dist / max(1.0, 0.15 * max(canvas.shape[:2])), 0, 1)[..., None]
    return np.clip(np.rint(canvas * (1 - t) + blurred * t), 0, 255).astype(np.uint8)


def _image_fill(image: np.ndarray, canvas_hw: tuple[int, int]) -> np.ndarray:
    """Scale ``image`` to cover the canvas (keeping its aspect) and centre-crop."""
    ch, cw = canvas_hw
    ih, iw = image.shape[:2]
    s = max(cw / iw, ch / ih)
    nw, nh = max(cw, int(np.ceil(iw * s))), max(ch, int(np.ceil(ih * s)))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    x0, y0 = (nw - cw) // 2, (nh - ch) // 2
    return resized[y0 : y0 + ch, x0 : x0 + cw].copy()


def outpaint(
    frame: np.ndarray,
    *,
    left: int = 0,
    top: int = 0,
    right: int = 0,
    bottom: int = 0,
    aspect: str | float | None = None,
    anchor: str = "center",
    method: str = "auto",
    fill_image: np.ndarray | None = None,
    radius: float = 5.0,
    options: dict[str, Any] | None = None,
) -> tuple[np.ndarray, EditOperation]:
    """Extend ``frame`` and fill the new area.

    Args:
        frame: ``[H, W, 3]`` uint8 RGB.
        left, top, right, bottom: margins in pixels (ignored when ``aspect`` is given).
        aspect: target width:height such as ``"16:9"``; margins are computed to reach it.
        anchor: where the original sits when ``aspect`` is used.
        method: ``reflect``, ``image`` (needs ``fill_image``) or an inpainting method.
        fill_image: ``[h, w, 3]`` uint8 RGB used by ``image``.
        radius: OpenCV inpainting radius.
        options: inpainting backend options (diffusers ``model``, ``prompt``...).

    Returns:
        The ``[H+top+bottom, W+left+right, 3]`` canvas and an ``EditOperation`` whose
        ``mask`` is the new area and ``params`` hold the margins.
    """
    check_frame(frame)
    h, w = frame.shape[:2]
    if aspect is not None:
        left, top, right, bottom = margins_for_aspect((w, h), aspect, anchor)
    margins = tuple(
        specs.integer(n, v, high=specs.MAX_CANVAS_SIDE)
        for n, v in zip(("left", "top", "right", "bottom"), (left, top, right, bottom), strict=True)
    )
    if not any(margins):
        raise ValueError(f"outpaint needs at least one non-zero margin (frame is {w}x{h}, aspect {aspect!r})")
    specs.choice("method", method, FILL_METHODS)
    radius = specs.number("radius", radius, low=0, low_open=True, high=specs.MAX_INPAINT_RADIUS)
    opts = specs.json_options("options", options or {})
    left, top, right, bottom = margins
    cw, ch = w + left + right, h + top + bottom
    specs.check_canvas(cw, ch, f"outpaint margins ({left}, {top}, {right}, {bottom}) on a {w}x{h} frame")
    mask = np.full((ch, cw), 255, np.uint8)
    mask[top : top + h, left : left + w] = 0
    if method == "reflect":
        canvas = _reflect_fill(frame, margins)
        concrete = "reflect"
    elif method == "image":
        if fill_image is None:
            raise ValueError("method 'image' needs fill_image ([h, w, 3] uint8 RGB)")
        check_frame(fill_image, "fill_image")
        canvas = _image_fill(fill_image, (ch, cw))
        concrete = "image"
    else:
        concrete = resolve_method(method)
        # Seed the new area with the reflection so backends that look at masked pixels
        # (diffusion) start from something coherent; OpenCV ignores them.
        canvas = inpaint(_reflect_fill(frame, margins), mask, concrete, radius=radius, **opts)
    canvas = canvas.copy()
    canvas[top : top + h, left : left + w] = frame  # the original is placed exactly
    params = {
        "left": left,
        "top": top,
        "right": right,
        "bottom": bottom,
        "method": concrete,
        "radius": radius,
        "options": opts,
        "aspect": None if aspect is None else str(aspect),
        "anchor": anchor,
    }
    return canvas, EditOperation(EditKind.OUTPAINT, mask=mask, params=params)


@specs.register_spec
@dataclass
class OutpaintSpec:
    """Spec of :func:`outpaint` (``fill_image`` is an RGB PNG asset in files)."""

    op: ClassVar[str] = "outpaint"
    ASSETS: ClassVar[dict[str, str]] = {"fill_image": "RGB"}

    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0
    aspect: str | float | None = None
    anchor: str = "center"
    method: str = "auto"
    fill_image: np.ndarray | None = None
    radius: float = 5.0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("left", "top", "right", "bottom"):
            setattr(self, name, specs.integer(name, getattr(self, name), high=specs.MAX_CANVAS_SIDE))
        if self.aspect is not None:
            parse_aspect(self.aspect)
        specs.choice("anchor", self.anchor, ANCHORS)
        specs.choice("method", self.method, FILL_METHODS)
        if self.fill_image is not None:
            self.fill_image = specs.array("fill_image", self.fill_image, channels=3)
        elif self.method == "image":
            raise ValueError("method 'image' needs fill_image")
        specs.number("radius", self.radius, low=0, low_open=True, high=specs.MAX_INPAINT_RADIUS)
        self.options = specs.json_options("options", self.options)

    def apply(self, canvas: np.ndarray) -> tuple[np.ndarray, EditOperation]:
        return outpaint(
            canvas,
            left=self.left,
            top=self.top,
            right=self.right,
            bottom=self.bottom,
            aspect=self.aspect,
            anchor=self.anchor,
            method=self.method,
            fill_image=self.fill_image,
            radius=self.radius,
            options=self.options,
        )
