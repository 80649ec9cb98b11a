"""SAM2 checkpoints: which sizes exist, where their files are found, and what a file really holds.

One place for the SAM2 weights facts that the click selector, the video tracker and the
model manager share:

- ``SAM2_MODELS``: the four SAM2.1 sizes (package config, file name, hub id);
- :func:`find_sam2_checkpoint`: where a size's file is (file checks only, never the
  network): an explicit path, ``$GENPROP_SAM2_DIR``, the caller's model folders (as plain
  folders and as Hugging Face cache roots), then the Hugging Face cache;
- :func:`read_sam2_state` / :func:`identify_sam2`: read a checkpoint safely (``weights_only``
  or safetensors) and tell from its tensors which SAM2 it is (version and size), so a
  model is always built from the checkpoint's own config and a wrong file fails with a
  message instead of a key dump.

Light on purpose: torch is imported only by the functions that read a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.edits.selection.base import SelectorUnavailableError

#: Environment variable naming a folder that holds SAM2 checkpoint files.
SAM2_DIR_ENV = "GENPROP_SAM2_DIR"


class Sam2WeightsError(SelectorUnavailableError):
    """A SAM2 checkpoint is missing, unreadable or not the model it should be; the message says which file."""


@dataclass(frozen=True)
class Sam2Model:
    """One SAM2.1 size: package config, checkpoint file name, hub id."""

    config: str
    filename: str
    hub_id: str


SAM2_MODELS: dict[str, Sam2Model] = {
    "tiny": Sam2Model("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt", "facebook/sam2.1-hiera-tiny"),
    "small": Sam2Model("configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt", "facebook/sam2.1-hiera-small"),
    "base+": Sam2Model("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt", "facebook/sam2.1-hiera-base-plus"),
    "large": Sam2Model("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt", "facebook/sam2.1-hiera-large"),
}
SAM2_SIZES: tuple[str, ...] = tuple(SAM2_MODELS)
"""Smallest first."""

# (trunk embedding width, number of Hiera blocks) -> size; identical for SAM2 and SAM2.1.
_TRUNK_SHAPES = {(96, 12): "tiny", (96, 16): "small", (112, 24): "base+", (144, 48): "large"}
_SAM2_0_CONFIGS = {
    "tiny": "configs/sam2/sam2_hiera_t.yaml",
    "small": "configs/sam2/sam2_hiera_s.yaml",
    "base+": "configs/sam2/sam2_hiera_b+.yaml",
    "large": "configs/sam2/sam2_hiera_l.yaml",
}
_PATCH_KEY = "image_encoder.trunk.patch_embed.proj.weight"
_BLOCK_PREFIX = "image_encoder.trunk.blocks."
_SAM2_1_KEY = "obj_ptr_tpos_proj.weight"  # SAM2.1 projects the object pointers' temporal encoding


def sam2_model(size: str) -> Sam2Model:
    """The model entry for ``size`` (tiny / small / base+ / large)."""
    if size not in SAM2_MODELS:
        raise ValueError(f"unknown SAM2 size {size!r}; choose one of {list(SAM2_MODELS)}")
    return SAM2_MODELS[size]


# ---------------------------------------------------------------------- where files are
def hub_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The Hugging Face hub cache in force now (read at each call, like the hub's own rules).

    ``HF_HUB_CACHE`` (or the older ``HUGGINGFACE_HUB_CACHE``), else ``$HF_HOME/hub``,
    else ``$XDG_CACHE_HOME/huggingface/hub`` or ``~/.cache/huggingface/hub``.
    """
    env = os.environ if env is None else env
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(key):
            return Path(env[key]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    return Path(env.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "huggingface" / "hub"


def in_hub_cache(cache: Path, hub_id: str, filename: str) -> Path | None:
    """``filename`` of ``hub_id`` in the hub cache rooted at ``cache`` (the ``main`` ref, else the newest snapshot)."""
    repo = Path(cache) / ("models--" + hub_id.replace("/", "--"))
    if not repo.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file():
        hit = repo / "snapshots" / ref.read_text(encoding="utf-8").strip() / filename
        if hit.is_file():
            return hit
    hits = [p for p in (repo / "snapshots").glob(f"*/{filename}") if p.is_file()]
    return max(hits, key=lambda p: p.stat().st_mtime) if hits else None


def _places(size: str, model_dirs: Sequence[str | os.PathLike[str]], env: Mapping[str, str]) -> list[tuple[str, Path, bool]]:
    """(what, folder, is a hub cache) in search order for ``size``."""
    places: list[tuple[str, Path, bool]] = []
    if env.get(SAM2_DIR_ENV):
        places.append((SAM2_DIR_ENV, Path(env[SAM2_DIR_ENV]).expanduser(), False))
    for d in model_dirs:
        base = Path(d).expanduser()
        places += [("models folder", base, False), ("models folder", base / "sam2", False), ("models folder", base, True)]
    places.append(("Hugging Face cache", hub_cache_dir(env), True))
    return places


def search_description(size: str, model_dirs: Sequence[str | os.PathLike[str]] = (), env: Mapping[str, str] | None = None) -> str:
    """Where :func:`find_sam2_checkpoint` looks for ``size``, in words (for messages)."""
    env = os.environ if env is None else env
    spec = sam2_model(size)
    out = []
    for _what, folder, is_cache in _places(size, model_dirs, env):
        out.append(f"{spec.hub_id} in the Hugging Face cache {folder}" if is_cache else str(folder / spec.filename))
    return "; ".join(dict.fromkeys(out))


def locate_sam2(
    size: str, model_dirs: Sequence[str | os.PathLike[str]] = (), env: Mapping[str, str] | None = None
) -> tuple[Path, str] | None:
    """(checkpoint file, where it was found) for ``size``, or None. File checks only."""
    env = os.environ if env is None else env
    spec = sam2_model(size)
    for what, folder, is_cache in _places(size, model_dirs, env):
        hit = in_hub_cache(folder, spec.hub_id, spec.filename) if is_cache else folder / spec.filename
        if hit is not None and hit.is_file():
            return hit, what
    return None


def find_sam2_checkpoint(
    size: str,
    checkpoint: str | os.PathLike[str] | None = None,
    model_dirs: Sequence[str | os.PathLike[str]] = (),
    env: Mapping[str, str] | None = None,
) -> Path:
    """The checkpoint file for ``size`` without touching the network.

    Raises:
        Sam2WeightsError: naming the explicit path, or every place looked in and the hub id.
    """
    spec = sam2_model(size)
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise Sam2WeightsError(f"SAM2 checkpoint {path} does not exist")
        return path
    found = locate_sam2(size, model_dirs, env)
    if found is not None:
        return found[0]
    raise Sam2WeightsError(
        f"SAM2 {size} weights not found; looked for {search_description(size, model_dirs, env)}. "
        f"Download {spec.hub_id} in Models, set {SAM2_DIR_ENV} or pass a checkpoint path."
    )


def found_sizes(model_dirs: Sequence[str | os.PathLike[str]] = (), env: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Size -> checkpoint for every size found (smallest first). File checks only."""
    out = {}
    for size in SAM2_SIZES:
        hit = locate_sam2(size, model_dirs, env)
        if hit is not None:
            out[size] = hit[0]
    return out


# ---------------------------------------------------------------------- what a file holds
@dataclass(frozen=True)
class Sam2Arch:
    """Which SAM2 a checkpoint holds, told from its tensors."""

    version: str  # "2.1" or "2.0"
    size: str  # tiny / small / base+ / large
    config: str  # the sam2 package config that builds it

    @property
    def name(self) -> str:
        return f"SAM{self.version} {self.size}"


def read_sam2_state(checkpoint: str | os.PathLike[str]) -> dict[str, Any]:
    """The state dict of a SAM2 checkpoint, read safely.

    ``.safetensors`` files are read with safetensors; ``.pt`` files (Meta's format:
    ``{"model": state_dict}``) with ``torch.load(weights_only=True)``, which refuses
    anything but tensors and plain containers: no code in a file is ever run.
    """
    import torch

    path = Path(checkpoint)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except FileNotFoundError:
        raise Sam2WeightsError(f"SAM2 checkpoint {path} does not exist") from None
    except Exception as exc:  # torch raises pickle/zip/runtime errors for bad files
        raise Sam2WeightsError(f"cannot read SAM2 checkpoint {path}: {exc}") from exc
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise Sam2WeightsError(f"SAM2 checkpoint {path} holds no state dict of tensors")
    return state


def identify_sam2(state: Mapping[str, Any], checkpoint: str | os.PathLike[str] = "checkpoint") -> Sam2Arch:
    """Version and size of the SAM2 in ``state`` (trunk width and depth; SAM2.1's extra projection)."""
    patch = state.get(_PATCH_KEY)
    if patch is None or getattr(patch, "ndim", 0) != 4:
        raise Sam2WeightsError(
            f"SAM2 checkpoint {checkpoint} does not match any SAM2 model (it has no {_PATCH_KEY}); is it a SAM2 checkpoint?"
        )
    blocks = {k[len(_BLOCK_PREFIX) :].split(".", 1)[0] for k in state if k.startswith(_BLOCK_PREFIX)}
    shape = (int(patch.shape[0]), len(blocks))
    size = _TRUNK_SHAPES.get(shape)
    if size is None:
        raise Sam2WeightsError(
            f"SAM2 checkpoint {checkpoint} does not match any SAM2 size "
            f"(trunk width {shape[0]}, {shape[1]} blocks; known: {', '.join(f'{s} {w}x{b}' for (w, b), s in _TRUNK_SHAPES.items())})"
        )
    if _SAM2_1_KEY in state:
        return Sam2Arch("2.1", size, SAM2_MODELS[size].config)
    return Sam2Arch("2.0", size, _SAM2_0_CONFIGS[size])


def load_sam2_state(model: Any, state: Mapping[str, Any], checkpoint: str | os.PathLike[str]) -> None:
    """Copy ``state`` into ``model`` (strict); a key mismatch names a few keys and the likely cause."""
    try:
        missing, unexpected = model.load_state_dict(dict(state), strict=False)
    except RuntimeError as exc:  # tensor shapes differ: another size or a damaged file
        detail = str(exc).strip().splitlines()
        raise Sam2WeightsError(
            f"SAM2 checkpoint {checkpoint} does not match the model config ({detail[1].strip() if len(detail) > 1 else exc})"
        ) from None
    if missing or unexpected:
        raise Sam2WeightsError(
            f"SAM2 checkpoint {checkpoint} does not match the model config "
            f"({len(missing)} missing keys e.g. {list(missing)[:3]}, "
            f"{len(unexpected)} unexpected e.g. {list(unexpected)[:3]}); is it the right size?"
        )


def verify_sam2_checkpoint(checkpoint: str | os.PathLike[str], size: str | None = None) -> Sam2Arch:
    """Read ``checkpoint`` and check it is a SAM2 (of ``size`` when given); memory-mapped, nothing built."""
    arch = identify_sam2(read_sam2_state(checkpoint), checkpoint)
    if size is not None and arch.size != size:
        raise Sam2WeightsError(f"SAM2 checkpoint {checkpoint} holds {arch.name}, not the {size} model")
    return arch


def pick_size(found: Iterable[str], prefer_large: bool) -> str | None:
    """The size ``auto`` uses among those found: the largest on a GPU, the smallest on a CPU."""
    ordered = [s for s in SAM2_SIZES if s in set(found)]
    if not ordered:
        return None
    return ordered[-1] if prefer_large else ordered[0]
