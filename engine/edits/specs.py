"""Operation specs: the user's instruction for one edit, before it is applied.

A spec holds exactly what an edit file stores: scalar parameters plus image assets
(masks, RGBA layers, fill images) as arrays. ``spec.apply(canvas)`` runs the pure
operation. Specs are registered by their ``op`` name so :func:`spec_from_dict` (used by
``compose`` and the edit-file loader) needs no if/elif chain over kinds.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from engine.edit import EditOperation


@runtime_checkable
class OpSpec(Protocol):
    """What every operation spec provides."""

    op: ClassVar[str]
    #: field name -> PNG mode of that asset ("L" mask, "RGB" image, "RGBA" layer)
    ASSETS: ClassVar[dict[str, str]]

    def apply(self, canvas: np.ndarray) -> tuple[np.ndarray, EditOperation]: ...


_SPECS: dict[str, type] = {}


def register_spec(cls: type) -> type:
    """Class decorator: make a spec class loadable by its ``op`` name."""
    _SPECS[cls.op] = cls
    return cls


def spec_classes() -> dict[str, type]:
    """op name -> spec class (a copy)."""
    return dict(_SPECS)


def spec_from_dict(data: dict[str, Any]) -> OpSpec:
    """Build a spec from ``{"op": name, **fields}`` (asset fields already as arrays).

    Raises:
        ValueError: unknown op, unknown or missing field, or a bad value (the message
            names it).
    """
    if not isinstance(data, dict):
        raise ValueError(f"an operation must be an object, got {type(data).__name__}")
    name = data.get("op")
    if name not in _SPECS:
        raise ValueError(f"unknown op {name!r}; expected one of {sorted(_SPECS)}")
    cls = _SPECS[name]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names - {"op"})
    if unknown:
        raise ValueError(f"op {name!r} has unknown field(s) {unknown}; allowed: {sorted(names)}")
    required = [
        f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [r for r in required if data.get(r) is None]
    if missing:
        raise ValueError(f"op {name!r} is missing required field(s) {missing}")
    return cls(**{k: v for k, v in data.items() if k != "op"})


def spec_to_dict(spec: OpSpec) -> dict[str, Any]:
    """``{"op": name, **fields}`` with asset fields still as arrays (or ``None``)."""
    if not dataclasses.is_dataclass(spec):
        raise TypeError(f"expected an operation spec dataclass, got {type(spec).__name__}")
    return {"op": spec.op} | {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}


# --- limits: values beyond these are mistakes (or attacks), never useful edits -------

#: The largest canvas an edit may make: 4x a 4K UHD frame (readers deliver at most 4K).
MAX_CANVAS_SIDE = 16384
MAX_CANVAS_PIXELS = 64 * 1024 * 1024
#: Distances in pixels (dilate, feather, positions' reach) cannot usefully exceed a canvas side.
MAX_DISTANCE = float(MAX_CANVAS_SIDE)
#: OpenCV inpainting's cost grows with the radius squared; real use is 3..15.
MAX_INPAINT_RADIUS = 100.0
#: Chroma / lightness factors: 10x already saturates every colour.
MAX_COLOUR_FACTOR = 10.0
MAX_LAYER_SCALE = 100.0
MAX_ANGLE = 3600.0


def check_canvas(width: int, height: int, what: str) -> None:
    """Refuse a canvas larger than ``MAX_CANVAS_*`` before it is allocated."""
    if width > MAX_CANVAS_SIDE or height > MAX_CANVAS_SIDE or width * height > MAX_CANVAS_PIXELS:
        raise ValueError(
            f"{what} would make a {width}x{height} canvas; the largest allowed is {MAX_CANVAS_SIDE} pixels a side "
            f"and {MAX_CANVAS_PIXELS // (1024 * 1024)} megapixels"
        )


# --- validators shared by the spec classes (each names the bad field and value) -----


def number(name: str, value: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False) -> float:
    """A finite real number within [low, high] (``low_open`` excludes ``low``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return float(value)


def integer(name: str, value: Any, *, low: int = 0, high: int | None = None) -> int:
    """An int in [low, high] (bools refused; whole floats such as 3.0 from JSON accepted)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return value


def boolean(name: str, value: Any) -> bool:
    """A real bool (not 0/1 or "false")."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def choice(name: str, value: Any, allowed: set[str] | dict[str, Any]) -> str:
    """One of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


def rgb(name: str, value: Any) -> tuple[int, int, int]:
    """An (r, g, b) triple of ints in 0..255."""
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValueError(f"{name} must be [r, g, b], got {value!r}")
    out = tuple(integer(f"{name}[{i}]", v) for i, v in enumerate(value))
    if any(v > 255 for v in out):
        raise ValueError(f"{name} must hold three integers in 0..255, got {value!r}")
    return out  # type: ignore[return-value]


def json_options(name: str, value: Any) -> dict[str, Any]:
    """A dict that survives a JSON round trip unchanged (backend options)."""
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object, got {value!r}")
    try:
        if json.loads(json.dumps(value)) != value:
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold only JSON values (strings, numbers, lists, objects), got {value!r}") from None
    return dict(value)


def array(name: str, value: Any, *, channels: int | None) -> np.ndarray:
    """A uint8 image array: ``[H, W]`` when ``channels`` is None else ``[H, W, channels]``."""
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(value).__name__}")
    if value.dtype == np.bool_ and channels is None:
        value = value.astype(np.uint8) * 255
    if value.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {value.dtype}")
    shape_ok = value.ndim == 2 if channels is None else (value.ndim == 3 and value.shape[2] == channels)
    if not shape_ok:
        want = "[H, W]" if channels is None else f"[H, W, {channels}]"
        raise ValueError(f"{name} must be {want}, got shape {value.shape}")
    if value.shape[0] == 0 or value.shape[1] == 0:
        raise ValueError(f"{name} is empty ({value.shape})")
    return value
