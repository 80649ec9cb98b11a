"""Save / load a diffusers-style weights folder (config.json + safetensors) with clear errors.

diffusers' own ``from_pretrained`` can silently re-initialise missing or mismatched
parameters (``low_cpu_mem_usage``/``ignore_mismatched_sizes`` paths) and may fall back to
pickle ``.bin`` files; GenProp's trained parts are small, so we load them ourselves:
safetensors only, strict keys, strict shapes, finite values, and every refusal names
the parameter or file concerned. Configs are checked before diffusers sees them: a
``config.json`` holding a string would otherwise be taken for a hub id and fetched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.genprop.file_names import CONFIG_NAME, WEIGHTS_NAME


class GenPropWeightsError(Exception):
    """Base class for every weights problem the app should show to the user."""


class MissingWeightsError(GenPropWeightsError, FileNotFoundError):
    """A needed weights/config file does not exist where it was looked for."""


class WeightsMismatchError(GenPropWeightsError):
    """Files exist but do not fit the model (keys, shapes, backbone architecture)."""


class CorruptWeightsError(GenPropWeightsError):
    """A file exists but cannot be parsed (truncated download, wrong format)."""


M = TypeVar("M", bound=torch.nn.Module)


def save_weights(model: torch.nn.Module, folder: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` (via ``model.save_config``) and the safetensors state dict."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_config(folder)  # type: ignore[attr-defined]
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
    return folder


def required_files(folder: str | os.PathLike[str]) -> list[Path]:
    folder = Path(folder)
    return [folder / CONFIG_NAME, folder / WEIGHTS_NAME]


#: A diffusers config is a few KB; anything near this is not one.
MAX_CONFIG_BYTES = 1024 * 1024


def check_config_file(path: str | os.PathLike[str]) -> dict:
    """A config JSON file as a dict of plain values, or :class:`CorruptWeightsError`.

    Refuses what diffusers would misuse: a non-object (a string is taken for a hub id
    and fetched from the network), non-regular files, huge or deeply nested files,
    non-finite numbers.
    """
    from engine.safe_paths import load_json

    path = Path(path)
    if not path.exists():
        raise MissingWeightsError(f"{path} not found.")
    doc = load_json(path, "weights config", max_bytes=MAX_CONFIG_BYTES, error=CorruptWeightsError)
    if not isinstance(doc, dict):
        raise CorruptWeightsError(f"{path} must hold a JSON object (a config), got {type(doc).__name__}; refused.")
    return doc


def read_config(folder: str | os.PathLike[str]) -> dict:
    """Parse ``config.json``; missing, unreadable or malformed files raise our error types."""
    _check_files_exist(folder)
    return check_config_file(Path(folder) / CONFIG_NAME)


def check_finite(tensors: dict[str, torch.Tensor], source: str | os.PathLike[str]) -> None:
    """Refuse NaN or Inf in floating-point tensors (a broken training run or a damaged file)."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and tensor.numel() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise CorruptWeightsError(f"{source}: parameter '{name}' holds {bad} NaN/Inf value(s); refused.")


def check_module_finite(module: torch.nn.Module, source: str | os.PathLike[str]) -> None:
    """:func:`check_finite` over a loaded module's parameters and buffers."""
    check_finite(dict(module.state_dict()), source)


def load_weights_into(model: M, folder: str | os.PathLike[str]) -> M:
    """Load ``folder``'s safetensors into ``model`` exactly, or refuse with the reason."""
    _check_files_exist(folder)
    path = Path(folder) / WEIGHTS_NAME
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CorruptWeightsError(
            f"{path} could not be read as safetensors ({exc}); the file is damaged or not a "
            f"safetensors file. Re-save or re-download it."
        ) from exc
    check_finite(state, path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing parameters {_preview(missing)}")
        if unexpected:
            parts.append(f"unexpected parameters {_preview(unexpected)}")
        raise WeightsMismatchError(f"{path} does not fit {type(model).__name__}: " + "; ".join(parts) + ".")
    for name, wanted in expected.items():  # model order: the first mismatch reported is stable
        if tuple(state[name].shape) != tuple(wanted.shape):
            raise WeightsMismatchError(
                f"{path}: parameter '{name}' has shape {tuple(state[name].shape)}, but the model expects "
                f"{tuple(wanted.shape)} (was it saved for a different backbone or config?)."
            )
    model.load_state_dict(state, strict=True)
    return model


def _check_files_exist(folder: str | os.PathLike[str]) -> None:
    absent = [p for p in required_files(folder) if not p.is_file()]
    if absent:
        needed = " and ".join(p.name for p in required_files(folder))
        raise MissingWeightsError(
            f"GenProp weights not found: need {needed} in {Path(folder).resolve()} "
            f"(missing: {', '.join(p.name for p in absent)})."
        )


def _preview(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
