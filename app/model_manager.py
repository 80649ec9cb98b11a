"""Which model weights are found where, and downloading them when the hub is reachable.

No Qt here: the model-manager dialog shows ``scan()`` and runs ``DownloadJob`` on a
worker. Downloads go to the app's models folder, which every engine searches, so a
downloaded model is used at once.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from engine.edits.selection import SAM2_MODELS, SelectorUnavailableError, find_sam2_checkpoint, sam2_checkpoint_dir
from engine.engines.base import CancelToken, Progress, ProgressCallback, PropagationCancelled
from engine.pipelines.vace_weights import ALLOW_PATTERNS as VACE_ALLOW_PATTERNS
from engine.pipelines.vace_weights import VACE_LICENCE, VACE_MODELS, locate_vace
from engine.pipelines.weights_locator import SVD_REPO_IDS, hub_offline, locate_genprop, locate_svd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelStatus:
    """One model the app can use."""

    name: str
    purpose: str
    found: bool
    where: str  # the path it was found at, or where it was looked for
    licence: str
    hub_id: str | None = None  # downloadable from the hub when online
    hub_filename: str | None = None  # a single file (SAM2), else the whole repo
    allow_patterns: tuple[str, ...] = ()  # only these files of the hub repo are downloaded (empty: all)
    to_hub_cache: bool = False  # download into the Hugging Face cache (where the engine looks), not a folder


def scan(models_dir: Path) -> list[ModelStatus]:
    """The status of every model, looking where the engines look."""
    statuses = []
    svd = locate_svd(None, [models_dir])
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
    genprop = locate_genprop(None, [models_dir], svd_folder=svd.path)
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
        try:
            path = find_sam2_checkpoint(size)
            found, where = True, str(path)
        except SelectorUnavailableError:
            found, where = False, str(sam2_checkpoint_dir() / spec.filename)
        statuses.append(
            ModelStatus(f"SAM2 {size}", "click-to-select on frame 1", found, where, "Apache-2.0", spec.hub_id, spec.filename)
        )
    return statuses


def _vace_statuses(models_dir: Path) -> list[ModelStatus]:
    """Wan2.1-VACE 1.3B and 14B (diffusers format) for the genprop-vace engine, downloaded into the HF cache."""
    out = []
    for size, model in VACE_MODELS.items():
        located = locate_vace(None, [models_dir], model=size)
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


@dataclass
class DownloadJob:
    """Fetch one model from the Hugging Face hub into ``target`` with progress and cancel."""

    status: ModelStatus
    target: Path

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> Path:
        ok, why = can_download()
        if not ok:
            raise PermissionError(f"cannot download {self.status.name}: {why}")
        if self.status.hub_id is None:
            raise ValueError(f"{self.status.name} cannot be downloaded: {self.status.licence}")
        from huggingface_hub import hf_hub_download, snapshot_download
        from tqdm.auto import tqdm

        name = self.status.name

        class _Progress(tqdm):  # type: ignore[misc, valid-type]
            """Forwards huggingface_hub's byte counts to our progress callback."""

            def update(self, n: float = 1) -> bool | None:
                cancel.raise_if_cancelled()
                out = super().update(n)
                total = int(self.total or 0)
                progress(
                    Progress(
                        "download", int(self.n), max(total, int(self.n), 1), f"{name}: {self.n / 1e6:.0f} of {total / 1e6:.0f} MB"
                    )
                )
                return out

        if not self.status.to_hub_cache:
            self.target.mkdir(parents=True, exist_ok=True)
        progress(Progress("download", 0, 1, f"connecting for {name}"))
        try:
            if self.status.hub_filename:
                path = hf_hub_download(self.status.hub_id, self.status.hub_filename, local_dir=self.target, tqdm_class=_Progress)
            else:
                local_dir = None if self.status.to_hub_cache else self.target
                allow = list(self.status.allow_patterns) or None
                path = snapshot_download(self.status.hub_id, local_dir=local_dir, allow_patterns=allow, tqdm_class=_Progress)
        except PropagationCancelled:
            raise
        except Exception as exc:  # hub errors come in many types; the user needs the reason
            raise ConnectionError(f"downloading {name} ({self.status.hub_id}) failed: {exc}") from exc
        return Path(path)


def default_download_target(status: ModelStatus, models_dir: Path) -> Path:
    """SAM2 files go where the selector looks; folders into the models folder by name."""
    if status.hub_filename:
        return Path(os.environ.get("GENPROP_SAM2_DIR", "")) if os.environ.get("GENPROP_SAM2_DIR") else sam2_checkpoint_dir()
    return models_dir / (status.hub_id or status.name).split("/")[-1]
