"""Which model weights are found where, and downloading them when the hub is reachable.

No Qt here: the model-manager dialog shows ``scan()`` and runs ``DownloadJob`` on a
worker. SAM2 checkpoints go into the Hugging Face cache (only the checkpoint file, by
``allow_patterns``; the app's own cache under ``GENPROP_STUDIO_HOME`` when that is set)
and are verified after the download; folders (SVD) go into the app's models folder.
:func:`model_search_dirs` is what the engines and the selector are given to search, so a
downloaded model is used at once.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from app.paths import user_dirs
from engine.edits.selection import SAM2_MODELS, Sam2WeightsError, hub_cache_dir, locate_sam2, verify_sam2_checkpoint
from engine.engines.base import CancelToken, EngineUnavailableError, Progress, ProgressCallback, PropagationCancelled
from engine.pipelines.vace_weights import ALLOW_PATTERNS as VACE_ALLOW_PATTERNS
from engine.pipelines.vace_weights import VACE_LICENCE, VACE_MODELS, locate_vace
from engine.pipelines.weights_locator import SVD_REPO_IDS, hub_offline, locate_genprop, locate_svd

log = logging.getLogger(__name__)

STUDIO_HOME_ENV = "GENPROP_STUDIO_HOME"


class DownloadError(EngineUnavailableError):
    """A model could not be downloaded; the message is one line a user can act on."""


@dataclass(frozen=True)
class ModelStatus:
    """One model the app can use.

    Attributes:
        hub_id: downloadable from the hub when online (None: it cannot be downloaded).
        allow_patterns: only these files of the hub repo are downloaded (empty: all).
        sam2_size: set for SAM2 checkpoints: downloaded into the Hugging Face cache and
            verified as that size of SAM2 afterwards.
        to_hub_cache: a whole repo (VACE) downloaded into the app's Hugging Face cache,
            where the engine looks, rather than into a folder of the models folder.
    """

    name: str
    purpose: str
    found: bool
    where: str  # the path it was found at, or where it was looked for
    licence: str
    hub_id: str | None = None
    allow_patterns: tuple[str, ...] = ()
    sam2_size: str | None = None
    to_hub_cache: bool = False


def app_hub_cache() -> Path:
    """The Hugging Face cache the app downloads into and searches.

    Under the app's home (``$GENPROP_STUDIO_HOME/cache/huggingface/hub``) when
    ``GENPROP_STUDIO_HOME`` is set (portable installs, tests: nothing lands in the
    user's ``~/.cache``), else the hub's own cache (``HF_HUB_CACHE`` / ``HF_HOME`` rules).
    """
    if os.environ.get(STUDIO_HOME_ENV):
        return user_dirs().cache / "huggingface" / "hub"
    return hub_cache_dir()


def model_search_dirs(models_dir: Path | None = None) -> list[str]:
    """The folders the engines and the selector search: the models folder and the app's hub cache."""
    models = user_dirs().models if models_dir is None else models_dir
    return list(dict.fromkeys([str(models), str(app_hub_cache())]))


def scan(models_dir: Path) -> list[ModelStatus]:
    """The status of every model, looking where the engines look."""
    statuses = []
    dirs = model_search_dirs(models_dir)
    svd = locate_svd(None, dirs)
    statuses.append(
        ModelStatus(
            "Stable Video Diffusion (SVD-XT)",
            "GenProp's video model G (both GenProp engines)",
            svd.found,
            str(svd.path) if svd.found else "; ".join(svd.searched),
            "Stability AI Community License (accept it on the hub first)",
            SVD_REPO_IDS[0],
        )
    )
    genprop = locate_genprop(None, dirs, svd_folder=svd.path)
    statuses.append(
        ModelStatus(
            "GenProp weights (SCE, MPD, task embeddings)",
            "the 'genprop' engine; train them with `main.py train`",
            genprop.found,
            str(genprop.path) if genprop.found else "; ".join(genprop.searched),
            "yours (trained locally); no public weights exist",
        )
    )
    statuses += _vace_statuses(models_dir)
    for size, spec in SAM2_MODELS.items():
        hit = locate_sam2(size, dirs)
        where = str(hit[0]) if hit else f"not downloaded (would go to {app_hub_cache()})"
        statuses.append(
            ModelStatus(
                f"SAM2 {size}",
                "click-to-select on frame 1; the sam2 mask tracker (classic and training-free engines)",
                hit is not None,
                where,
                "Apache-2.0",
                spec.hub_id,
                allow_patterns=(spec.filename,),
                sam2_size=size,
            )
        )
    return statuses


def _vace_statuses(models_dir: Path) -> list[ModelStatus]:
    """Wan2.1-VACE 1.3B and 14B (diffusers format) for the genprop-vace engine, downloaded into the HF cache."""
    out = []
    for size, model in VACE_MODELS.items():
        located = locate_vace(None, model_search_dirs(models_dir), model=size)
        out.append(
            ModelStatus(
                f"Wan2.1-VACE-{size} (diffusers)",
                f"the 'genprop-vace' engine; download {model.approx_download}, estimated ({model.parameters})",
                located.found,
                str(located.path) if located.found else "; ".join(located.searched),
                VACE_LICENCE,
                model.repo_id,
                allow_patterns=VACE_ALLOW_PATTERNS,
                to_hub_cache=True,
            )
        )
    return out


def can_download() -> tuple[bool, str]:
    """Downloads need the hub: refused up front when the user set HF_HUB_OFFLINE."""
    if hub_offline():
        return False, "downloads are off (HF_HUB_OFFLINE is set)"
    return True, ""


def download_failure(name: str, hub_id: str, exc: BaseException) -> str:
    """One line for a failed download: offline, gated, missing repo, or the hub's own reason."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    if isinstance(exc, GatedRepoError):
        return f"cannot download {name}: {hub_id} is gated; accept its licence on huggingface.co and log in (hf auth login)"
    if isinstance(exc, RepositoryNotFoundError):
        return f"cannot download {name}: the hub has no repository {hub_id} (or it needs a login)"
    if isinstance(exc, (LocalEntryNotFoundError, ConnectionError, TimeoutError)) or _is_network_error(exc):
        return f"cannot download {name}: the Hugging Face hub cannot be reached (offline?); check the connection and retry"
    if isinstance(exc, HfHubHTTPError):
        return f"cannot download {name}: the hub answered {_first_line(exc)}"
    if isinstance(exc, OSError):
        return f"cannot download {name}: {_first_line(exc)} (is the disk full or the folder read-only?)"
    return f"cannot download {name}: {type(exc).__name__}: {_first_line(exc)}"


def _is_network_error(exc: BaseException) -> bool:
    """httpx / requests connection and timeout errors, without importing either."""
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ in ("ConnectError", "ConnectTimeout", "ReadTimeout", "ConnectionError", "Timeout", "NetworkError"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass
class DownloadJob:
    """Fetch one model from the Hugging Face hub into ``target`` with progress and cancel.

    SAM2: ``target`` is a Hugging Face cache (``snapshot_download(cache_dir=target,
    allow_patterns=...)``), and the file is verified as the right SAM2 afterwards (a file
    that fails is removed, so it is never "found"). Other models: ``target`` is a folder.
    """

    status: ModelStatus
    target: Path

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> Path:
        ok, why = can_download()
        if not ok:
            raise PermissionError(f"cannot download {self.status.name}: {why}")
        if self.status.hub_id is None:
            raise ValueError(f"{self.status.name} cannot be downloaded: {self.status.licence}")
        from huggingface_hub import snapshot_download
        from tqdm.auto import tqdm

        name, hub_id = self.status.name, self.status.hub_id

        class _Progress(tqdm):  # type: ignore[misc, valid-type]
            """Forwards huggingface_hub's byte counts to our progress callback (drawn nowhere); cancels between chunks."""

            def __init__(self, *args: object, **kwargs: object) -> None:
                kwargs.pop("name", None)
                super().__init__(*args, **{**kwargs, "disable": False, "file": _Discard()})

            def update(self, n: float | None = 1) -> bool | None:
                cancel.raise_if_cancelled()
                out = super().update(n)
                if getattr(self, "unit", "") == "B":
                    total = int(self.total or 0)
                    done = int(self.n)
                    progress(Progress("download", done, max(total, done, 1), f"{name}: {done / 1e6:.0f} of {total / 1e6:.0f} MB"))
                return out

        self.target.mkdir(parents=True, exist_ok=True)
        progress(Progress("download", 0, 1, f"connecting for {name}"))
        patterns = list(self.status.allow_patterns) or None
        try:
            if self.status.sam2_size is not None:
                folder = snapshot_download(hub_id, cache_dir=self.target, allow_patterns=patterns, tqdm_class=_Progress)
            elif self.status.to_hub_cache:
                folder = snapshot_download(hub_id, cache_dir=self.target, allow_patterns=patterns, tqdm_class=_Progress)
            else:
                folder = snapshot_download(hub_id, local_dir=self.target, allow_patterns=patterns, tqdm_class=_Progress)
        except PropagationCancelled:
            raise
        except Exception as exc:  # hub errors come in many types; the user gets one line, the log the rest
            log.warning("download of %s (%s) failed", name, hub_id, exc_info=True)
            raise DownloadError(download_failure(name, hub_id, exc)) from exc
        if self.status.sam2_size is None:
            return Path(folder)
        return self._verified(Path(folder) / self.status.allow_patterns[0])

    def _verified(self, path: Path) -> Path:
        """The SAM2 file just downloaded, checked to be that size of SAM2; removed when it is not."""
        try:
            if not path.is_file():
                raise Sam2WeightsError(f"{path} was not downloaded")
            verify_sam2_checkpoint(path, self.status.sam2_size)
        except Sam2WeightsError as exc:
            real = path.resolve()
            for p in {path, real}:
                if p.is_file() or p.is_symlink():
                    p.unlink()
            raise DownloadError(f"downloaded {self.status.name} but it failed verification, so it was removed: {exc}") from exc
        return path


class _Discard(io.TextIOBase):
    """Where the hub's progress bars are drawn: nowhere (the job panel shows ours)."""

    def write(self, text: str) -> int:
        return len(text)


def default_download_target(status: ModelStatus, models_dir: Path) -> Path:
    """SAM2 checkpoints go into the app's Hugging Face cache; folders into the models folder by name."""
    if status.sam2_size is not None or status.to_hub_cache:
        return app_hub_cache()
    return models_dir / (status.hub_id or status.name).split("/")[-1]
