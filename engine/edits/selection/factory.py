"""Pick a selector: SAM2 when its weights are on disk, else the GrabCut fallback."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from engine.edits.selection.base import Selector, SelectorUnavailableError
from engine.edits.selection.grabcut import GrabCutSelector
from engine.edits.selection.sam2_selector import Sam2Selector, sam2_model

log = logging.getLogger(__name__)

#: Environment variable naming the folder that holds SAM2 checkpoints.
SAM2_DIR_ENV = "GENPROP_SAM2_DIR"
KINDS = ("auto", "sam2", "grabcut")


def sam2_checkpoint_dir() -> Path:
    """Where checkpoints are looked for: ``$GENPROP_SAM2_DIR`` or ``~/.cache/genprop/sam2``."""
    env = os.environ.get(SAM2_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "genprop" / "sam2"


def find_sam2_checkpoint(size: str, checkpoint: str | Path | None = None, allow_download: bool = False) -> Path:
    """Locate the checkpoint for ``size`` without touching the network unless allowed.

    Order: the explicit ``checkpoint``; ``sam2_checkpoint_dir()/<file>``; the Hugging
    Face cache for the hub id; a download when ``allow_download``.

    Raises:
        SelectorUnavailableError: naming the expected path and the hub id.
    """
    spec = sam2_model(size)
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise SelectorUnavailableError(f"SAM2 checkpoint {path} does not exist")
        return path
    local = sam2_checkpoint_dir() / spec.filename
    if local.is_file():
        return local
    try:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache

        cached = try_to_load_from_cache(spec.hub_id, spec.filename)
        if isinstance(cached, str) and Path(cached).is_file():
            return Path(cached)
        if allow_download:
            return Path(hf_hub_download(spec.hub_id, spec.filename))
    except ImportError:
        pass
    except Exception as exc:  # network/hub errors come in many types; report, don't hide
        raise SelectorUnavailableError(
            f"SAM2 {size} weights not found at {local} and downloading {spec.hub_id} failed: {exc}"
        ) from exc
    raise SelectorUnavailableError(
        f"SAM2 {size} weights not found: expected {local} (set {SAM2_DIR_ENV} or pass a checkpoint "
        f"path), or hub id {spec.hub_id} in the Hugging Face cache" + ("" if allow_download else " (downloading is off)")
    )


def build_selector(
    kind: str = "auto",
    size: str = "tiny",
    checkpoint: str | Path | None = None,
    device: str = "cpu",
    allow_download: bool = False,
) -> Selector:
    """Build the selector the GUI and CLI use.

    Args:
        kind: ``auto`` (SAM2 if its weights are found, else GrabCut with the reason in
            ``selector.reason``), ``sam2`` (raise if unavailable) or ``grabcut``.
        size: SAM2 size: tiny / small / base+ / large.
        checkpoint: explicit SAM2 checkpoint path.
        device: torch device for SAM2.
        allow_download: fetch the weights from the hub when not on disk.

    Raises:
        SelectorUnavailableError: ``kind="sam2"`` and the weights cannot be loaded.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown selector kind {kind!r}; choose one of {list(KINDS)}")
    sam2_model(size)  # validate the size for every kind
    if kind == "grabcut":
        return GrabCutSelector(reason="GrabCut selector requested")
    try:
        path = find_sam2_checkpoint(size, checkpoint, allow_download)
        return Sam2Selector(size=size, checkpoint=path, device=device)
    except SelectorUnavailableError as exc:
        if kind == "sam2":
            raise
        reason = f"{exc}; using the GrabCut fallback"
        log.warning(reason)
        return GrabCutSelector(reason=reason)
