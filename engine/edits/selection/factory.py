"""Pick a selector: SAM2 when its weights are on disk, else the GrabCut fallback."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from engine.edits.selection.base import Selector, SelectorUnavailableError
from engine.edits.selection.grabcut import GrabCutSelector
from engine.edits.selection.sam2_selector import Sam2Selector
from engine.edits.selection.sam2_weights import SAM2_DIR_ENV, find_sam2_checkpoint, sam2_model

log = logging.getLogger(__name__)

KINDS = ("auto", "sam2", "grabcut")
__all__ = ["KINDS", "SAM2_DIR_ENV", "build_selector", "find_sam2_checkpoint"]


def build_selector(
    kind: str = "auto",
    size: str = "tiny",
    checkpoint: str | Path | None = None,
    device: str = "cpu",
    model_dirs: Sequence[str | os.PathLike[str]] = (),
) -> Selector:
    """Build the selector the GUI and CLI use.

    Args:
        kind: ``auto`` (SAM2 if its weights are found, else GrabCut with the reason in
            ``selector.reason``), ``sam2`` (raise if unavailable) or ``grabcut``.
        size: SAM2 size: tiny / small / base+ / large.
        checkpoint: explicit SAM2 checkpoint path.
        device: torch device for SAM2.
        model_dirs: the app's model folders (plain folders or Hugging Face cache roots),
            searched as :func:`~engine.edits.selection.sam2_weights.find_sam2_checkpoint` says.
            Downloading is the model manager's job, never the selector's.

    Raises:
        SelectorUnavailableError: ``kind="sam2"`` and the weights cannot be loaded.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown selector kind {kind!r}; choose one of {list(KINDS)}")
    sam2_model(size)  # validate the size for every kind
    if kind == "grabcut":
        return GrabCutSelector(reason="GrabCut selector requested")
    try:
        path = find_sam2_checkpoint(size, checkpoint, model_dirs)
        return Sam2Selector(size=size, checkpoint=path, device=device)
    except SelectorUnavailableError as exc:
        if kind == "sam2":
            raise
        reason = f"{exc}; using the GrabCut fallback"
        # auto without weights is the normal case on a fresh install (the panel says
        # "GrabCut (fallback)"): a log line, not a console warning at every start
        log.info(reason)
        return GrabCutSelector(reason=reason)
