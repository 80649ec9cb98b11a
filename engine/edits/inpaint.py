"""Inpainting backends that fill a masked region of one frame.

Remove and outpaint both need "fill this region plausibly". OpenCV's two classical
methods are always available; a diffusers inpainting pipeline is used only when the user
names one (a local folder or a hub id already in the local cache), because it is large
and slow on a CPU. Backends live in a registry (name -> function) so new ones do not grow
an if/elif chain.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.edits.masks import check_frame, check_mask

InpaintFn = Callable[[np.ndarray, np.ndarray, dict[str, Any]], np.ndarray]

#: Method ``auto`` resolves to this: Telea's fast-marching method keeps edges sharper
#: than Navier-Stokes on the large holes object removal makes, at the same speed.
DEFAULT_METHOD = "telea"


class InpaintUnavailableError(RuntimeError):
    """The requested inpainting backend cannot run here (missing model or package)."""


@dataclass(frozen=True)
class _Registered:
    fn: InpaintFn
    description: str


_REGISTRY: dict[str, _Registered] = {}


def register_inpainter(name: str, fn: InpaintFn, description: str) -> None:
    """Add a backend; ``fn(frame_rgb, mask_0_255, options) -> filled frame``."""
    _REGISTRY[name] = _Registered(fn, description)


def available_methods() -> dict[str, str]:
    """Method name -> one-line description, for the GUI's drop-down and ``--help``."""
    return {"auto": f"best available classical method ({DEFAULT_METHOD})"} | {k: v.description for k, v in _REGISTRY.items()}


def resolve_method(method: str) -> str:
    """Map ``auto`` to a concrete method and reject unknown names."""
    if method == "auto":
        return DEFAULT_METHOD
    if method not in _REGISTRY:
        raise ValueError(f"unknown inpainting method {method!r}; choose one of {sorted(available_methods())}")
    return method


def inpaint(frame: np.ndarray, mask: np.ndarray, method: str = "auto", **options: Any) -> np.ndarray:
    """Fill ``mask`` (non-zero = fill) of ``frame`` and return a new frame.

    Pixels outside the mask are copied exactly from the input whatever the backend does,
    so the "edit mask = the region that changed" contract holds for every backend.

    Args:
        frame: ``[H, W, 3]`` uint8 RGB.
        mask: ``[H, W]`` uint8/bool, non-zero where to fill.
        method: a name from :func:`available_methods`.
        options: backend options (``radius`` for OpenCV; ``model``, ``prompt``,
            ``steps``, ``seed`` for diffusers).
    """
    check_frame(frame)
    m = check_mask(mask, frame.shape[:2])
    name = resolve_method(method)
    if not m.any():
        return frame.copy()
    filled = _REGISTRY[name].fn(frame, m, dict(options))
    if filled.shape != frame.shape or filled.dtype != np.uint8:
        raise RuntimeError(f"inpainting backend {name!r} returned {filled.shape} {filled.dtype}")
    out = frame.copy()
    inside = m > 0
    out[inside] = filled[inside]
    return out


def _opencv(flag: int) -> InpaintFn:
    def run(frame: np.ndarray, mask: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        radius = options.get("radius", 5)
        if not isinstance(radius, (int, float)) or isinstance(radius, bool) or radius <= 0:
            raise ValueError(f"inpaint radius must be a positive number, got {radius!r}")
        return cv2.inpaint(frame, mask, float(radius), flag)

    return run


register_inpainter("telea", _opencv(cv2.INPAINT_TELEA), "OpenCV fast marching (Telea 2004)")
register_inpainter("ns", _opencv(cv2.INPAINT_NS), "OpenCV Navier-Stokes (Bertalmio 2001)")


def _in_hub_cache(model: str) -> bool:
    """Whether ``model`` is a hub id whose pipeline index is already in the local cache."""
    if model.count("/") != 1:
        return False
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        found = try_to_load_from_cache(model, "model_index.json")
    except ValueError:  # not a valid repo id
        return False
    return isinstance(found, str)


@functools.lru_cache(maxsize=2)
def _load_diffusers_pipeline(model: str, device: str) -> Any:
    """Load (once) a diffusers inpainting pipeline from a local folder or cached hub id."""
    if not Path(model).expanduser().is_dir() and not _in_hub_cache(model):
        # Checked before importing diffusers (seconds): a typo fails at once.
        raise InpaintUnavailableError(
            f"diffusers inpainting model {model!r} is neither a local folder nor a downloaded hub id; "
            "give the folder of a saved inpainting pipeline, or use method 'telea'"
        )
    folder = Path(model).expanduser()
    if folder.is_dir():
        from engine.safe_paths import load_json

        index = load_json(
            folder / "model_index.json", "inpainting pipeline index", max_bytes=1 << 20, error=InpaintUnavailableError
        )
        if not isinstance(index, dict):
            raise InpaintUnavailableError(f"{folder / 'model_index.json'} must hold a JSON object; refused")
    try:
        from diffusers import AutoPipelineForInpainting
    except ImportError as exc:  # pragma: no cover - diffusers is a declared dependency
        raise InpaintUnavailableError(f"diffusers is not installed: {exc}") from exc
    try:
        # safetensors only: a pickled .bin in a folder someone sent must never be unpickled
        pipe = AutoPipelineForInpainting.from_pretrained(
            str(Path(model).expanduser()) if Path(model).expanduser().is_dir() else model,
            local_files_only=True,
            use_safetensors=True,
        )
    except Exception as exc:  # diffusers raises OSError/ValueError/EnvironmentError variants
        raise InpaintUnavailableError(
            f"cannot load the diffusers inpainting model {model!r} from disk ({exc}); "
            "give a local folder or a hub id that is already downloaded, or use method 'telea'"
        ) from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def _diffusers(frame: np.ndarray, mask: np.ndarray, options: dict[str, Any]) -> np.ndarray:
    model = options.get("model")
    if not isinstance(model, str) or not model:
        raise InpaintUnavailableError("method 'diffusers' needs option model=<local folder or hub id of an inpainting pipeline>")
    pipe = _load_diffusers_pipeline(model, str(options.get("device", "cpu")))
    import torch
    from PIL import Image

    h, w = frame.shape[:2]
    # Diffusion UNets need sides divisible by 8; work at the nearest such size.
    wh = (max(8, int(round(w / 8)) * 8), max(8, int(round(h / 8)) * 8))
    image = Image.fromarray(frame).resize(wh, Image.Resampling.LANCZOS)
    mask_img = Image.fromarray(mask).resize(wh, Image.Resampling.NEAREST)
    generator = torch.Generator("cpu").manual_seed(int(options.get("seed", 0)))
    result = pipe(
        prompt=str(options.get("prompt", "")),
        image=image,
        mask_image=mask_img,
        height=wh[1],
        width=wh[0],
        num_inference_steps=int(options.get("steps", 25)),
        generator=generator,
    ).images[0]
    return np.asarray(result.convert("RGB").resize((w, h), Image.Resampling.LANCZOS), dtype=np.uint8)


register_inpainter("diffusers", _diffusers, "a diffusers inpainting pipeline (option model=...)")
