"""RGBA layers: load a PNG cut-out, cut an object out of a frame, place it on a canvas.

Layers use straight (non-premultiplied) alpha, as PNG does. Placement warps in
premultiplied space so the transparent surroundings never bleed a dark fringe into the
object's edge when it is scaled or rotated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from engine.edits import specs
from engine.edits.masks import check_frame, check_mask, feather


def check_layer(layer: np.ndarray, name: str = "layer") -> np.ndarray:
    """Return ``layer`` if it is ``[h, w, 4]`` uint8 with some opaque pixel."""
    specs.array(name, layer, channels=4)
    if not (layer[..., 3] > 0).any():
        raise ValueError(f"{name} is fully transparent (alpha is 0 everywhere)")
    return layer


def load_layer_png(path: str | Path) -> np.ndarray:
    """Read an image as ``[h, w, 4]`` uint8 RGBA (opaque alpha added if it has none)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"), dtype=np.uint8).copy()


def cut_layer(frame: np.ndarray, mask: np.ndarray, feather_px: float = 0.0) -> tuple[np.ndarray, tuple[float, float]]:
    """Cut the selected object out of a frame as a layer cropped to its bounding box.

    Returns the layer and the (x, y) centre it had in ``frame``, so inserting it with
    that position puts it back exactly where it was.
    """
    check_frame(frame)
    m = check_mask(mask, frame.shape[:2])
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        raise ValueError("mask is empty: nothing to cut out")
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    alpha = feather(m, feather_px) if feather_px > 0 else m
    layer = np.dstack([frame[y0:y1, x0:x1], alpha[y0:y1, x0:x1]])
    layer[..., :3][layer[..., 3] == 0] = 0
    return np.ascontiguousarray(layer), ((x0 + x1) / 2.0, (y0 + y1) / 2.0)


@dataclass(frozen=True)
class Placement:
    """Where and how a layer goes on the canvas.

    ``x``/``y`` are the canvas position of the layer's centre (``None``: the canvas
    centre); ``rotation`` is in degrees, counter-clockwise; flips happen before scaling
    and rotation; ``feather`` softens the layer's alpha edge inward by that many pixels.
    """

    x: float | None = None
    y: float | None = None
    scale: float = 1.0
    rotation: float = 0.0
    flip_h: bool = False
    flip_v: bool = False
    opacity: float = 1.0
    feather: float = 0.0

    def __post_init__(self) -> None:
        for name in ("x", "y"):
            if getattr(self, name) is not None:
                specs.number(name, getattr(self, name), low=-2 * specs.MAX_DISTANCE, high=2 * specs.MAX_DISTANCE)
        specs.number("scale", self.scale, low=0, low_open=True, high=specs.MAX_LAYER_SCALE)
        specs.number("rotation", self.rotation, low=-specs.MAX_ANGLE, high=specs.MAX_ANGLE)
        specs.boolean("flip_h", self.flip_h)
        specs.boolean("flip_v", self.flip_v)
        specs.number("opacity", self.opacity, low=0, high=1)
        specs.number("feather", self.feather, low=0, high=specs.MAX_DISTANCE)

    def resolved(self, canvas_hw: tuple[int, int]) -> Placement:
        """This placement with ``None`` positions replaced by the canvas centre."""
        h, w = canvas_hw
        return Placement(
            w / 2.0 if self.x is None else self.x,
            h / 2.0 if self.y is None else self.y,
            self.scale,
            self.rotation,
            self.flip_h,
            self.flip_v,
            self.opacity,
            self.feather,
        )

    def to_params(self) -> dict[str, float | bool | None]:
        """JSON-ready dict of the fields."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _affine(layer_hw: tuple[int, int], p: Placement) -> np.ndarray:
    """2x3 matrix mapping layer pixel coordinates to canvas coordinates."""
    h, w = layer_hw
    cx, cy = w / 2.0, h / 2.0
    fx, fy = (-1.0 if p.flip_h else 1.0), (-1.0 if p.flip_v else 1.0)
    to_origin = np.array([[fx, 0, -fx * cx], [0, fy, -fy * cy], [0, 0, 1]])
    rot = cv2.getRotationMatrix2D((0.0, 0.0), p.rotation, p.scale)
    rs = np.vstack([rot, [0, 0, 1]])
    to_canvas = np.array([[1, 0, p.x], [0, 1, p.y], [0, 0, 1]], dtype=np.float64)
    return (to_canvas @ rs @ to_origin)[:2]


def place_layer(layer: np.ndarray, canvas_hw: tuple[int, int], placement: Placement) -> np.ndarray:
    """Warp ``layer`` onto a transparent canvas of ``canvas_hw``.

    Returns:
        ``[H, W, 4]`` uint8, straight alpha, RGB zero where alpha is zero.
    """
    check_layer(layer)
    p = placement.resolved(canvas_hw)
    h, w = canvas_hw
    matrix = _affine(layer.shape[:2], p)
    # Warp only into the bounding box of the placed layer: a small sticker on a large
    # canvas costs what the sticker costs.
    lh, lw = layer.shape[:2]
    corners = np.array([[0, 0, 1], [lw, 0, 1], [0, lh, 1], [lw, lh, 1]], np.float64) @ matrix.T
    x0, y0 = (max(0, int(np.floor(v)) - 2) for v in corners.min(axis=0))
    x1, y1 = min(w, int(np.ceil(corners[:, 0].max())) + 2), min(h, int(np.ceil(corners[:, 1].max())) + 2)
    out = np.zeros((h, w, 4), np.uint8)
    if x1 <= x0 or y1 <= y0:
        return out
    local = matrix.copy()
    local[:, 2] -= (x0, y0)
    a = layer[..., 3:4].astype(np.float32) / 255.0
    premult = np.concatenate([layer[..., :3].astype(np.float32) * a, a * 255.0], axis=2)
    interp = cv2.INTER_AREA if p.scale < 1 else cv2.INTER_LINEAR
    warped = cv2.warpAffine(premult, local, (x1 - x0, y1 - y0), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    alpha = np.clip(warped[..., 3], 0, 255)
    if p.feather > 0:
        alpha = alpha * (feather((alpha > 0.5).astype(np.uint8), p.feather).astype(np.float32) / 255.0)
    alpha = np.rint(alpha * p.opacity).astype(np.uint8)
    safe = np.maximum(warped[..., 3:4], 1e-3) / 255.0
    colour = np.clip(np.rint(warped[..., :3] / safe), 0, 255).astype(np.uint8)
    colour[alpha == 0] = 0
    out[y0:y1, x0:x1] = np.dstack([colour, alpha])
    return out


def composite(frame: np.ndarray, placed: np.ndarray) -> np.ndarray:
    """Alpha-blend a canvas-sized straight-alpha layer over ``frame`` (``over`` operator).

    Only pixels with alpha > 0 are written, so the rest of the frame stays exact.
    """
    check_frame(frame)
    if placed.shape != frame.shape[:2] + (4,):
        raise ValueError(f"placed layer is {placed.shape}, expected {frame.shape[:2] + (4,)}")
    out = frame.copy()
    inside = placed[..., 3] > 0
    a = placed[..., 3][inside].astype(np.float32)[:, None] / 255.0
    blended = frame[inside].astype(np.float32) * (1.0 - a) + placed[..., :3][inside].astype(np.float32) * a
    out[inside] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out
