"""Atomic ``checkpoint-<step>`` folders, rotation and ``latest`` lookup.

A checkpoint is written to ``checkpoint-<step>.tmp``, every file fsynced, then renamed;
``trainer_state.json`` is written last inside it. A folder only counts when its name has
no suffix and that file exists, so a crash mid-write never replaces the last good one.

Contents: ``genprop/`` (save_pretrained of the trained heads), ``ema.safetensors``,
``optimizer.pt`` and ``scheduler.pt`` (tensors + plain types, loaded with
``weights_only=True``), ``rng.json`` + ``torch_rng.safetensors``, ``trainer_state.json``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

STATE_FILE = "trainer_state.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")
_OPTIONAL_STATE = {"schedule_start"}


class CheckpointError(ValueError):
    """A checkpoint to resume from is damaged, truncated or not safe to load; the message names the file."""


@dataclass
class TrainerState:
    """What a resume needs besides tensors: the step, the sampler position and the step the
    learning-rate schedule started at (0, or where an extended run restarted it)."""

    global_step: int
    consumed_batches: int
    ema_updates: int
    seed: int
    schedule_start: int = 0


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    for d in [*sorted(p for p in folder.rglob("*") if p.is_dir()), folder]:
        _fsync_dir(d)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def rng_state() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Python + numpy states as JSON, torch (CPU and CUDA) states as tensors."""
    np_state = np.random.get_state()
    plain = {
        "python": _to_jsonable(random.getstate()),
        "numpy": [np_state[0], np_state[1].tolist(), *[_to_jsonable(v) for v in np_state[2:]]],
    }
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    return plain, tensors


def _to_jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_to_jsonable(x) for x in v]
    return v


def _to_tuple(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_to_tuple(x) for x in v)
    return v


def restore_rng(plain: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    random.setstate(_to_tuple(plain["python"]))
    n = plain["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), *n[2:]))
    torch.set_rng_state(tensors["torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("cuda."))]
        if states:
            torch.cuda.set_rng_state_all(states)


def save_checkpoint(
    output_dir: Path,
    state: TrainerState,
    heads: Any,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any,
    ema_tensors: dict[str, torch.Tensor],
    extra_state_writer: Any = None,
) -> Path:
    """Write ``checkpoint-<step>`` atomically and return it. ``extra_state_writer(folder)``
    lets DeepSpeed write its sharded optimizer state inside the temporary folder."""
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / f"checkpoint-{state.global_step}"
    tmp = output_dir / f"checkpoint-{state.global_step}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    heads.save_pretrained(tmp / "genprop")
    save_file(ema_tensors, str(tmp / "ema.safetensors"))
    if optimizer is not None:
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    plain, tensors = rng_state()
    (tmp / "rng.json").write_text(json.dumps(plain))
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / "torch_rng.safetensors"))
    if extra_state_writer is not None:
        extra_state_writer(tmp / "accelerate_state")
    (tmp / STATE_FILE).write_text(json.dumps(asdict(state), indent=2))
    _fsync_tree(tmp)
    if final.exists():  # a re-run that reached the same step: replace it atomically enough
        old = output_dir / f"checkpoint-{state.global_step}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    _fsync_dir(output_dir)
    return final


def list_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints, oldest first (``.tmp`` folders and folders without state are skipped)."""
    if not output_dir.is_dir():
        return []
    found = []
    for p in output_dir.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_dir() and (p / STATE_FILE).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(output_dir: Path) -> Path | None:
    ckpts = list_checkpoints(output_dir)
    return ckpts[-1][1] if ckpts else None


def resolve_resume(output_dir: Path, resume: str | None) -> Path | None:
    """``None`` -> fresh start; ``"latest"`` -> newest complete checkpoint (or fresh); else a path."""
    if not resume:
        return None
    if resume == "latest":
        return latest_checkpoint(output_dir)
    return require_checkpoint(Path(resume), "--resume")


def require_checkpoint(path: Path, flag: str) -> Path:
    """``path`` if it is a complete checkpoint folder, else a :class:`FileNotFoundError` naming ``flag``."""
    if not (path / STATE_FILE).is_file():
        raise FileNotFoundError(f"{flag} {path}: not a complete checkpoint (no {STATE_FILE})")
    return path


def resolve_and_verify(output_dir: Path, resume: str | None) -> Path | None:
    """:func:`resolve_resume`, then :func:`verify_checkpoint` on what it found."""
    folder = resolve_resume(output_dir, resume)
    if folder is not None:
        verify_checkpoint(folder)
    return folder


def rotate_checkpoints(output_dir: Path, total_limit: int | None) -> list[Path]:
    """Delete the oldest complete checkpoints beyond ``total_limit`` and stale ``.tmp`` folders."""
    removed = []
    for p in output_dir.glob("checkpoint-*.tmp"):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    if total_limit is not None:
        ckpts = list_checkpoints(output_dir)
        for _, p in ckpts[: max(0, len(ckpts) - total_limit)]:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def read_state(folder: Path) -> TrainerState:
    """``trainer_state.json``, checked field by field (:class:`CheckpointError` otherwise)."""
    from engine.safe_paths import load_json

    path = folder / STATE_FILE
    doc = load_json(path, "trainer state", max_bytes=1 << 20, error=CheckpointError)
    fields = set(TrainerState.__dataclass_fields__)
    required = fields - _OPTIONAL_STATE  # checkpoints written before a field existed still load
    if not isinstance(doc, dict) or not required <= set(doc) <= fields:
        raise CheckpointError(
            f"{path} must hold {sorted(required)} (and optionally {sorted(_OPTIONAL_STATE)}), "
            f"got {doc if not isinstance(doc, dict) else sorted(doc)!r}"
        )
    for key, value in doc.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckpointError(f"{path}: {key} must be a non-negative integer, got {value!r}")
    return TrainerState(**doc)


def _torch_state(path: Path) -> Any:
    """A ``torch.save``d state dict, unpickled only by torch's restricted (weights-only) loader."""
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise CheckpointError(f"{path} not found; the checkpoint is incomplete") from None
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, RuntimeError (truncated zip), EOFError...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path} cannot be loaded safely (damaged, truncated or not a plain state dict): {first}") from None


def _safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        tensors = load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path} not found; the checkpoint is incomplete") from None
    except Exception as exc:  # noqa: BLE001 - SafetensorError, OSError
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from None
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN/Inf values; refused")
    return tensors


def load_tensors(folder: Path) -> dict[str, Any]:
    """Everything in a checkpoint but the heads: optimiser, scheduler, EMA and RNG states.

    Raises:
        CheckpointError: a file is missing, truncated, malicious (a pickle that is more
            than tensors and plain types) or malformed.
    """
    from engine.safe_paths import load_json

    out: dict[str, Any] = {
        "ema": _safetensors(folder / "ema.safetensors"),
        "scheduler": _torch_state(folder / "scheduler.pt"),
        "rng_plain": load_json(folder / "rng.json", "RNG state", error=CheckpointError),
        "rng_tensors": _safetensors(folder / "torch_rng.safetensors"),
    }
    if (folder / "optimizer.pt").is_file():
        out["optimizer"] = _torch_state(folder / "optimizer.pt")
        opt = out["optimizer"]
        if not isinstance(opt, dict) or not {"state", "param_groups"} <= set(opt):
            raise CheckpointError(f"{folder / 'optimizer.pt'} is not an optimizer state dict")
    if not isinstance(out["scheduler"], dict):
        raise CheckpointError(f"{folder / 'scheduler.pt'} is not a scheduler state dict")
    rng = out["rng_plain"]
    if not isinstance(rng, dict) or not {"python", "numpy"} <= set(rng) or "torch" not in out["rng_tensors"]:
        raise CheckpointError(f"{folder}: the RNG state (rng.json, torch_rng.safetensors) is incomplete")
    return out


def verify_checkpoint(folder: Path) -> None:
    """Load and check a checkpoint without training: a bad one is refused before any model is built."""
    from engine.genprop.file_names import WEIGHTS_NAME
    from engine.genprop.weights import GenPropWeightsError, read_config

    state = read_state(folder)
    tensors = load_tensors(folder)
    try:
        read_config(folder / "genprop")
    except GenPropWeightsError as exc:
        raise CheckpointError(f"{folder / 'genprop'}: {exc}") from None
    heads = _safetensors(folder / "genprop" / WEIGHTS_NAME)
    if not heads:
        raise CheckpointError(f"{folder / 'genprop' / WEIGHTS_NAME} holds no tensors")
    if len(tensors["ema"]) == 0 and state.ema_updates:
        raise CheckpointError(f"{folder / 'ema.safetensors'} holds no tensors but {state.ema_updates} EMA updates are recorded")
