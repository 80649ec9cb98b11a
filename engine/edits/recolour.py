"""Recolour: change an object's colour while keeping its shading and texture.

Two modes:

- ``adjust``: rotate hue by ``hue_shift`` degrees (in CIELAB's a-b plane), multiply
  chroma by ``saturation`` and lightness by ``brightness``.
- ``target``: map the selection's mean colour onto ``target_rgb`` in CIELAB. Lightness
  goes through one linear map that sends the reference mean to the target (compressing
  towards black when darkening, towards white when brightening, so it never clips);
  chroma keeps each pixel's deviation from the mean. Shading and texture survive because
  both are linear in the original pixel values.

:func:`apply_recolour` is the pure transform the classical propagation engine re-applies
to every later frame with that frame's tracked mask; its ``params`` are exactly the
``EditOperation.params`` of a recolour op. In ``target`` mode the params carry the
reference mean colour measured on frame 1 (``reference_lab``), so every frame gets the
same colour map and the result does not flicker as the object's visible part changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from engine.edit import EditKind, EditOperation
from engine.edits import specs
from engine.edits.masks import check_frame, check_mask, feather

MODES = {"adjust", "target"}


def _bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)


def _to_lab(rgb_u8: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb_u8.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def mean_lab(frame: np.ndarray, mask: np.ndarray) -> list[float]:
    """Mean CIELAB colour (L 0..100, a, b) of the selected pixels."""
    check_frame(frame)
    return _mean_lab_float(frame.astype(np.float32) / 255.0, mask)


def _mean_lab_float(frame: np.ndarray, mask: np.ndarray) -> list[float]:
    m = check_mask(mask, frame.shape[:2]) > 0
    if not m.any():
        raise ValueError("mask is empty: select the object to recolour first")
    lab = cv2.cvtColor(np.ascontiguousarray(frame[m][None], dtype=np.float32), cv2.COLOR_RGB2Lab)[0]
    return [float(v) for v in lab.mean(axis=0)]


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    """Validate recolour params and fill defaults; raises naming the bad key."""
    if not isinstance(params, dict):
        raise ValueError(f"recolour params must be a dict, got {type(params).__name__}")
    p = {
        "mode": "adjust",
        "hue_shift": 0.0,
        "saturation": 1.0,
        "brightness": 1.0,
        "target_rgb": None,
        "strength": 1.0,
        "feather": 2.0,
        "reference_lab": None,
    } | params
    unknown = sorted(
        set(p) - {"mode", "hue_shift", "saturation", "brightness", "target_rgb", "strength", "feather", "reference_lab"}
    )
    if unknown:
        raise ValueError(f"unknown recolour parameter(s) {unknown}")
    specs.choice("mode", p["mode"], MODES)
    p["hue_shift"] = specs.number("hue_shift", p["hue_shift"], low=-specs.MAX_ANGLE, high=specs.MAX_ANGLE)
    p["saturation"] = specs.number("saturation", p["saturation"], low=0, high=specs.MAX_COLOUR_FACTOR)
    p["brightness"] = specs.number("brightness", p["brightness"], low=0, high=specs.MAX_COLOUR_FACTOR)
    p["strength"] = specs.number("strength", p["strength"], low=0, high=1)
    p["feather"] = specs.number("feather", p["feather"], low=0, high=specs.MAX_DISTANCE)
    if p["mode"] == "target":
        if p["target_rgb"] is None:
            raise ValueError("mode 'target' needs target_rgb=[r, g, b]")
        p["target_rgb"] = list(specs.rgb("target_rgb", p["target_rgb"]))
    elif p["target_rgb"] is not None:
        p["target_rgb"] = list(specs.rgb("target_rgb", p["target_rgb"]))
    if p["reference_lab"] is not None:
        ref = p["reference_lab"]
        if not isinstance(ref, (list, tuple)) or len(ref) != 3:
            raise ValueError(f"reference_lab must be [L, a, b], got {ref!r}")
        p["reference_lab"] = [specs.number(f"reference_lab[{i}]", v) for i, v in enumerate(ref)]
    return p


def _adjust(rgb: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    # In CIELAB's LCh form hue and chroma are separate from lightness, so rotating the
    # hue keeps every pixel's lightness (HSV would turn shading into brightness jumps:
    # a red-to-green shift there makes the object much lighter).
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    theta = np.deg2rad(p["hue_shift"])
    c, s = np.cos(theta) * p["saturation"], np.sin(theta) * p["saturation"]
    a, b = lab[..., 1].copy(), lab[..., 2].copy()
    lab[..., 1] = a * c - b * s
    lab[..., 2] = a * s + b * c
    lab[..., 0] = np.clip(lab[..., 0] * p["brightness"], 0.0, 100.0)
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)


def _target(rgb: np.ndarray, p: dict[str, Any], ref: list[float]) -> np.ndarray:
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    tgt = _to_lab(np.array([[p["target_rgb"]]], dtype=np.uint8))[0, 0]
    ref_l, tgt_l = float(np.clip(ref[0], 1e-3, 100 - 1e-3)), float(tgt[0])
    gain = min(1.0, tgt_l / ref_l, (100.0 - tgt_l) / (100.0 - ref_l))
    lab[..., 0] = np.clip(tgt_l + (lab[..., 0] - ref_l) * gain, 0.0, 100.0)
    lab[..., 1] = tgt[1] + (lab[..., 1] - ref[1])
    lab[..., 2] = tgt[2] + (lab[..., 2] - ref[2])
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)


def apply_recolour(frame: np.ndarray, mask: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Recolour the masked region of ``frame`` with the op's ``params``.

    Args:
        frame: ``[H, W, 3]`` uint8 RGB (any frame of the clip).
        mask: ``[H, W]`` uint8/bool hard selection of the object in this frame; the
            soft edge (``params["feather"]`` pixels, inside the mask) is made here.
        params: ``EditOperation.params`` of a recolour op (see :func:`check_params`).

    Returns:
        A new ``[H, W, 3]`` uint8 frame; pixels outside ``mask`` are exactly the input's.
    """
    check_frame(frame)
    m = check_mask(mask, frame.shape[:2])
    p = check_params(params)
    out = frame.copy()
    box = _bbox(m)
    if box is None:
        return out
    ref = p["reference_lab"] if p["reference_lab"] is not None or p["mode"] != "target" else mean_lab(frame, m)
    blended = _recoloured_crop(frame[box].astype(np.float32) / 255.0, m[box], p, ref)
    inside = m[box] > 0
    region = out[box]
    region[inside] = np.clip(np.rint(blended[inside] * 255.0), 0, 255).astype(np.uint8)
    return out


def apply_recolour_float(frame: np.ndarray, mask: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """:func:`apply_recolour` on float RGB 0..1 of any bit depth (full-depth exports).

    The same transform, without rounding to 8 bits: a 10- or 16-bit source recoloured
    here keeps its smooth gradients. ``frame`` is ``[H, W, 3]`` float32; returns a new one.
    """
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.float32):
        raise ValueError(f"frame must be [H, W, 3] float32, got {getattr(frame, 'shape', None)} {getattr(frame, 'dtype', None)}")
    m = check_mask(mask, frame.shape[:2])
    p = check_params(params)
    out = frame.copy()
    box = _bbox(m)
    if box is None:
        return out
    ref = p["reference_lab"] if p["reference_lab"] is not None or p["mode"] != "target" else _mean_lab_float(frame, m)
    blended = _recoloured_crop(np.ascontiguousarray(frame[box]), m[box], p, ref)
    inside = m[box] > 0
    region = out[box]
    region[inside] = np.clip(blended[inside], 0.0, 1.0)
    return out


def _recoloured_crop(crop: np.ndarray, mask_crop: np.ndarray, p: dict[str, Any], ref: list[float] | None) -> np.ndarray:
    """The recoloured, feather-blended float crop (0..1); the one definition of the transform."""
    new = _adjust(crop, p) if p["mode"] == "adjust" else _target(crop, p, ref)  # type: ignore[arg-type]
    alpha = feather(mask_crop, p["feather"]).astype(np.float32)[..., None] * (p["strength"] / 255.0)
    return crop + (np.clip(new, 0.0, 1.0) - crop) * alpha


def recolour(
    frame: np.ndarray,
    mask: np.ndarray,
    *,
    mode: str = "adjust",
    hue_shift: float = 0.0,
    saturation: float = 1.0,
    brightness: float = 1.0,
    target_rgb: tuple[int, int, int] | list[int] | None = None,
    strength: float = 1.0,
    feather: float = 2.0,
) -> tuple[np.ndarray, EditOperation]:
    """Recolour the selection of frame 1; see the module docstring for the modes.

    Returns:
        The new frame and an ``EditOperation`` with ``mask`` = ``source_mask`` = the
        selection and ``params`` ready for :func:`apply_recolour` on later frames.
    """
    check_frame(frame)
    m = check_mask(mask, frame.shape[:2])
    if not m.any():
        raise ValueError("mask is empty: select the object to recolour first")
    params = check_params(
        {
            "mode": mode,
            "hue_shift": hue_shift,
            "saturation": saturation,
            "brightness": brightness,
            "target_rgb": None if target_rgb is None else list(target_rgb),
            "strength": strength,
            "feather": feather,
        }
    )
    if params["mode"] == "target":
        params["reference_lab"] = mean_lab(frame, m)
    out = apply_recolour(frame, m, params)
    return out, EditOperation(EditKind.RECOLOUR, mask=m, params=params, source_mask=m)


@specs.register_spec
@dataclass
class RecolourSpec:
    """Spec of :func:`recolour` (``mask`` is a PNG asset in files)."""

    op: ClassVar[str] = "recolour"
    ASSETS: ClassVar[dict[str, str]] = {"mask": "L"}

    mask: np.ndarray
    mode: str = "adjust"
    hue_shift: float = 0.0
    saturation: float = 1.0
    brightness: float = 1.0
    target_rgb: list[int] | None = None
    strength: float = 1.0
    feather: float = 2.0

    def __post_init__(self) -> None:
        self.mask = specs.array("mask", self.mask, channels=None)
        check_params(
            {
                "mode": self.mode,
                "hue_shift": self.hue_shift,
                "saturation": self.saturation,
                "brightness": self.brightness,
                "target_rgb": self.target_rgb,
                "strength": self.strength,
                "feather": self.feather,
            }
        )
        if self.target_rgb is not None:
            self.target_rgb = list(self.target_rgb)

    def apply(self, canvas: np.ndarray) -> tuple[np.ndarray, EditOperation]:
        return recolour(
            canvas,
            self.mask,
            mode=self.mode,
            hue_shift=self.hue_shift,
            saturation=self.saturation,
            brightness=self.brightness,
            target_rgb=self.target_rgb,
            strength=self.strength,
            feather=self.feather,
        )
