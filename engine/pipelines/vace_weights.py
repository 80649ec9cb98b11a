"""Find Wan2.1-VACE weights (diffusers format) without loading them: file checks only, no network.

Search order, as for SVD (``engine.pipelines.weights_locator``): the explicit path (or hub
id), ``GENPROP_VACE_PATH``, the app's model folders (given by the caller), then the Hugging
Face cache for the public repositories. A hub id is returned for online loading only when
``HF_HUB_OFFLINE`` is not set and nothing local was found.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.pipelines.weights_locator import Located, hub_offline

VACE_ENV = "GENPROP_VACE_PATH"


@dataclass(frozen=True)
class VaceModel:
    """One public Wan2.1-VACE checkpoint in diffusers format."""

    size: str
    repo_id: str
    folder_names: tuple[str, ...]
    approx_download: str
    parameters: str


VACE_MODELS: dict[str, VaceModel] = {
    "14B": VaceModel(
        "14B",
        "Wan-AI/Wan2.1-VACE-14B-diffusers",
        ("Wan2.1-VACE-14B-diffusers", "wan-vace-14b"),
        "about 75 GB",
        "transformer ~17 B (40 blocks + 8 VACE blocks), umT5-XXL 5.7 B, VAE 0.13 B",
    ),
    "1.3B": VaceModel(
        "1.3B",
        "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
        ("Wan2.1-VACE-1.3B-diffusers", "wan-vace-1.3b", "wan-vace"),
        "about 21 GB",
        "transformer ~2.2 B (30 blocks + 15 VACE blocks), umT5-XXL 5.7 B, VAE 0.13 B",
    ),
}
"""``approx_download`` is estimated from parameter counts and the repositories' storage
precision as far as we know it (transformer and VAE fp32, umT5 bf16); not measured here."""

VACE_LICENCE = "Apache-2.0 (Wan2.1-VACE; umT5-XXL: Apache-2.0)"

REQUIRED_FILES: tuple[str, ...] = (
    "model_index.json",
    "transformer/config.json",
    "vae/config.json",
    "text_encoder/config.json",
    "scheduler/scheduler_config.json",
)
_WEIGHT_GLOBS = ("*.safetensors", "*.safetensors.index.json")

ALLOW_PATTERNS: tuple[str, ...] = (
    "model_index.json",
    "scheduler/*.json",
    "tokenizer/*",
    "text_encoder/*.json",
    "text_encoder/*.safetensors",
    "transformer/*.json",
    "transformer/*.safetensors",
    "vae/*.json",
    "vae/*.safetensors",
)
"""What a download fetches (safetensors only, never pickles)."""


def _has_weights(folder: Path) -> bool:
    return any(any(folder.glob(g)) for g in _WEIGHT_GLOBS)


def is_vace_folder(folder: Path) -> bool:
    """A diffusers Wan VACE pipeline folder with safetensors for the transformer, VAE and text encoder."""
    folder = Path(folder)
    if not all((folder / f).is_file() for f in REQUIRED_FILES):
        return False
    if not (folder / "tokenizer").is_dir():
        return False
    return all(_has_weights(folder / sub) for sub in ("transformer", "vae", "text_encoder"))


def missing_files(folder: Path) -> list[str]:
    """What ``folder`` lacks to be a VACE pipeline folder (for error messages)."""
    folder = Path(folder)
    out = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if not (folder / "tokenizer").is_dir():
        out.append("tokenizer/")
    out += [f"{sub}/*.safetensors" for sub in ("transformer", "vae", "text_encoder") if not _has_weights(folder / sub)]
    return out


def _from_hub_cache(repo_id: str, cache_dir: Path | None = None) -> Path | None:
    """The snapshot folder of ``repo_id`` in a Hugging Face cache (the default one, or ``cache_dir``)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub ships with diffusers
        return None
    hit = try_to_load_from_cache(repo_id, "model_index.json", cache_dir=None if cache_dir is None else str(cache_dir))
    if not isinstance(hit, str):
        return None
    folder = Path(hit).parent
    return folder if is_vace_folder(folder) else None


def _looks_like_hub_id(value: str) -> bool:
    return not Path(value).expanduser().exists() and value.count("/") == 1 and not value.startswith((".", "/", "~"))


def vace_missing_message(located: Located) -> str:
    where = "; ".join(located.searched) or "no folder (none given, none configured)"
    return (
        f"Wan2.1-VACE weights (diffusers format) not found; looked in: {where}. Pass a folder (--vace), "
        f"set {VACE_ENV}, or download Wan2.1-VACE-1.3B or -14B in the model manager."
    )


def locate_vace(
    explicit: str | os.PathLike[str] | None = None,
    model_dirs: Sequence[str | os.PathLike[str]] = (),
    env: Mapping[str, str] | None = None,
    model: str = "auto",
) -> Located:
    """Find a VACE pipeline folder. ``model`` is ``auto``, ``1.3B`` or ``14B``."""
    env = os.environ if env is None else env
    if model not in ("auto", *VACE_MODELS):
        raise ValueError(f"model must be auto, {', '.join(VACE_MODELS)}; got {model!r}")
    wanted = list(VACE_MODELS.values()) if model == "auto" else [VACE_MODELS[model]]
    searched: list[str] = []
    explicit_id = str(explicit) if explicit is not None and _looks_like_hub_id(str(explicit)) else None
    candidates: list[tuple[str, Path]] = []
    if explicit is not None and explicit_id is None:
        candidates.append(("explicit", Path(explicit).expanduser()))
    elif explicit is None and env.get(VACE_ENV):
        candidates.append(("environment", Path(env[VACE_ENV]).expanduser()))
    if explicit is None:
        for base in model_dirs:
            candidates += [("models folder", Path(base).expanduser() / name) for m in wanted for name in m.folder_names]
    for source, folder in candidates:
        searched.append(str(folder))
        if is_vace_folder(folder):
            return Located("vace", folder, tuple(searched), source)
    if explicit is None:  # a models folder may also be a Hugging Face cache (the app's own, for downloads)
        for base in model_dirs:
            for m in wanted:
                if (Path(base).expanduser() / ("models--" + m.repo_id.replace("/", "--"))).is_dir():
                    searched.append(f"{base} as a Hugging Face cache ({m.repo_id})")
                    folder = _from_hub_cache(m.repo_id, Path(base).expanduser())
                    if folder is not None:
                        return Located("vace", folder, tuple(searched), "models folder (hub cache)", m.repo_id)
    if explicit is not None and explicit_id is None:
        return Located("vace", None, tuple(searched))
    ids = [explicit_id] if explicit_id else [m.repo_id for m in wanted]
    for repo_id in ids:
        searched.append(f"Hugging Face cache ({repo_id})")
        folder = _from_hub_cache(repo_id)
        if folder is not None:
            return Located("vace", folder, tuple(searched), "hub cache", repo_id)
    if explicit_id and not hub_offline(env):
        return Located("vace", None, tuple(searched), "hub", explicit_id)
    return Located("vace", None, tuple(searched))


def vace_availability(model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
    """(can the genprop-vace engine find weights with these folders, why not). File checks only."""
    located = locate_vace(None, model_dirs)
    return (True, "") if located.loadable else (False, vace_missing_message(located))
