"""Find SVD and GenProp weights on disk without loading them (cheap: file checks only).

Search order, for each kind: an explicit path, the environment variable
(``GENPROP_SVD_PATH`` / ``GENPROP_WEIGHTS_PATH``), the app's model folders (given by
the caller: ``engine`` never imports ``app``), then the Hugging Face hub cache. The hub
is never contacted here; a hub id is returned for online loading only when
``HF_HUB_OFFLINE`` is not set and nothing local was found.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.genprop.file_names import CONFIG_NAME, WEIGHTS_NAME

#: The bundled procedural-domain demonstration model (issue #10). Searched only when the
#: user opts in (GENPROP_DEMO_MODEL=1, the CLI's --demo-model, the app's demo action):
#: silently falling back to a toy model on real footage would be worse than "not found".
DEMO_MODEL_DIR = Path(__file__).resolve().parents[2] / "resources" / "demo_model"
DEMO_ENV = "GENPROP_DEMO_MODEL"
SVD_ENV = "GENPROP_SVD_PATH"
GENPROP_ENV = "GENPROP_WEIGHTS_PATH"
SVD_REPO_IDS: tuple[str, ...] = (
    "stabilityai/stable-video-diffusion-img2vid-xt",
    "stabilityai/stable-video-diffusion-img2vid",
)
SVD_FOLDER_NAMES: tuple[str, ...] = ("svd", "stable-video-diffusion-img2vid-xt", "stable-video-diffusion-img2vid")
GENPROP_FOLDER_NAMES: tuple[str, ...] = ("genprop",)
_UNET_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors")
_SVD_FILES = ("model_index.json", "unet/config.json", "vae/config.json", "image_encoder/config.json")


@dataclass(frozen=True)
class Located:
    """Where weights were found (``path``), or could be downloaded (``hub_id``), and where we looked."""

    kind: str
    path: Path | None
    searched: tuple[str, ...]
    source: str = ""
    hub_id: str | None = None

    @property
    def found(self) -> bool:
        return self.path is not None

    @property
    def loadable(self) -> bool:
        return self.path is not None or self.hub_id is not None

    def missing_message(self) -> str:
        env = SVD_ENV if self.kind == "svd" else GENPROP_ENV
        what = "SVD (stable-video-diffusion-img2vid[-xt]) weights" if self.kind == "svd" else "GenProp weights"
        where = "; ".join(self.searched) or "no folder (none given, none configured)"
        return f"{what} not found; looked in: {where}. Pass a folder or set {env}."


def demo_model_enabled(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(DEMO_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def hub_offline(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def is_svd_folder(folder: Path) -> bool:
    """A diffusers SVD pipeline folder with U-Net weights (safetensors)."""
    return all((folder / f).is_file() for f in _SVD_FILES) and any((folder / "unet" / w).is_file() for w in _UNET_WEIGHTS)


def is_genprop_folder(folder: Path) -> bool:
    return (folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()


def _candidates(
    explicit: str | os.PathLike[str] | None, env_value: str | None, model_dirs: Sequence[Path], names: Sequence[str]
) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    if explicit is not None:
        out.append(("explicit", Path(explicit).expanduser()))
    if env_value:
        out.append(("environment", Path(env_value).expanduser()))
    for base in model_dirs:
        out += [("models folder", Path(base).expanduser() / name) for name in names]
    return out


def _from_hub_cache(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub ships with diffusers
        return None
    hit = try_to_load_from_cache(repo_id, "model_index.json")
    if not isinstance(hit, str):
        return None
    folder = Path(hit).parent
    return folder if is_svd_folder(folder) else None


def locate_svd(
    explicit: str | os.PathLike[str] | None = None,
    model_dirs: Sequence[str | os.PathLike[str]] = (),
    env: Mapping[str, str] | None = None,
    repo_ids: Sequence[str] = SVD_REPO_IDS,
) -> Located:
    """Find an SVD pipeline folder. ``explicit`` may also be a hub id (``owner/name``)."""
    env = os.environ if env is None else env
    searched: list[str] = []
    explicit_is_id = (
        explicit is not None
        and not Path(explicit).expanduser().exists()
        and str(explicit).count("/") == 1
        and not str(explicit).startswith((".", "/", "~"))
    )
    for source, folder in _candidates(
        None if explicit_is_id else explicit, env.get(SVD_ENV), [Path(d) for d in model_dirs], SVD_FOLDER_NAMES
    ):
        searched.append(str(folder))
        if is_svd_folder(folder):
            return Located("svd", folder, tuple(searched), source)
    ids = [str(explicit)] if explicit_is_id else list(repo_ids)
    for repo_id in ids:
        searched.append(f"Hugging Face cache ({repo_id})")
        folder = _from_hub_cache(repo_id)
        if folder is not None:
            return Located("svd", folder, tuple(searched), "hub cache", repo_id)
    if explicit_is_id and not hub_offline(env):
        return Located("svd", None, tuple(searched), "hub", str(explicit))
    return Located("svd", None, tuple(searched))


def locate_genprop(
    explicit: str | os.PathLike[str] | None = None,
    model_dirs: Sequence[str | os.PathLike[str]] = (),
    env: Mapping[str, str] | None = None,
    svd_folder: Path | None = None,
) -> Located:
    """Find a GenProp heads folder (config.json + safetensors); also ``<svd>/genprop``."""
    env = os.environ if env is None else env
    candidates = _candidates(explicit, env.get(GENPROP_ENV), [Path(d) for d in model_dirs], GENPROP_FOLDER_NAMES)
    if svd_folder is not None:
        candidates.append(("beside SVD", Path(svd_folder) / GENPROP_FOLDER_NAMES[0]))
    searched: list[str] = []
    for source, folder in candidates:
        searched.append(str(folder))
        if is_genprop_folder(folder):
            return Located("genprop", folder, tuple(searched), source)
    return Located("genprop", None, tuple(searched))


def locate_weights(
    svd: str | os.PathLike[str] | None = None,
    weights: str | os.PathLike[str] | None = None,
    model_dirs: Sequence[str | os.PathLike[str]] = (),
) -> tuple[Located, Located]:
    """SVD and GenProp weights for an engine run: the given folders, plus the demo model if opted in."""
    dirs = [str(d) for d in model_dirs]
    if demo_model_enabled():
        dirs.append(str(DEMO_MODEL_DIR))
    svd_loc = locate_svd(svd, dirs)
    return svd_loc, locate_genprop(weights, dirs, svd_folder=svd_loc.path)


def genprop_availability(requires_genprop: bool, model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
    """(can a GenProp engine run with these search folders, why not). File checks only."""
    svd_loc, gp_loc = locate_weights(None, None, model_dirs)
    problems = []
    if not svd_loc.loadable:
        problems.append(svd_loc.missing_message())
    if requires_genprop and not gp_loc.found:
        problems.append(gp_loc.missing_message() + " Without them, use the 'genprop-training-free' engine.")
    return (not problems), " ".join(problems)
