"""Which mask tracker a run uses, decided from the options and the weights on disk (no torch).

The one definition of the tracker options (``tracker`` / ``mask_tracker``, ``sam2_model``,
``sam2_resolution``, ``sam2_checkpoint``) shared by the classic and the GenProp engines'
options dataclasses, the rule ``auto`` follows (SAM2's video predictor when SAM2 weights
are found, else optical flow), and the per-choice availability the GUI's engine panel
shows (``EngineSpec.choice_availability``). File checks only: the engine panel and
``--help`` call it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.options import option

TRACKER_CHOICES: tuple[str, ...] = ("auto", "flow", "sam2")
SAM2_MODEL_CHOICES: tuple[str, ...] = ("auto", "tiny", "small", "base+", "large")
SAM2_RESOLUTION_MULTIPLE = 32  # Hiera downsamples by 32


def tracker_field(help_text: str) -> Any:
    """The ``tracker`` / ``mask_tracker`` option."""
    return option("auto", "Mask tracker", help_text, choices=TRACKER_CHOICES)


def sam2_model_field() -> Any:
    return option(
        "auto",
        "SAM2 model",
        "Which SAM2.1 checkpoint the sam2 tracker uses; auto: the smallest found on a CPU, the largest on a GPU",
        choices=SAM2_MODEL_CHOICES,
    )


def sam2_resolution_field() -> Any:
    return option(
        512,
        "SAM2 resolution",
        "Side (px) of the square the SAM2 video predictor works at, a multiple of 32; 1024 is SAM2's own, 512 about 3x faster",
        minimum=128,
        maximum=1024,
    )


def sam2_checkpoint_field() -> Any:
    return option(
        None,
        "SAM2 checkpoint",
        "A SAM2 / SAM2.1 checkpoint file (.pt or .safetensors) for the sam2 tracker, instead of the model choice",
        gui=False,
    )


def sam2_working_size(value: int) -> int:
    """The side SAM2 runs at for the ``sam2_resolution`` option: rounded down to a multiple of 32 (Hiera's stride)."""
    return max(SAM2_RESOLUTION_MULTIPLE, int(value) // SAM2_RESOLUTION_MULTIPLE * SAM2_RESOLUTION_MULTIPLE)


@dataclass(frozen=True)
class TrackerChoice:
    """What a run will use: ``name`` is ``flow`` or ``sam2``; ``note`` says why, in words."""

    name: str
    checkpoint: Path | None = None
    note: str = ""


def choose_tracker(
    tracker: str,
    sam2_model: str = "auto",
    sam2_checkpoint: str | os.PathLike[str] | None = None,
    model_dirs: Sequence[str | os.PathLike[str]] = (),
    device: str = "auto",
) -> TrackerChoice:
    """Resolve ``auto`` and find the SAM2 checkpoint (file checks only).

    ``sam2_model="auto"`` takes the smallest size found on a CPU, the largest on a GPU
    (``device``; ``auto`` asks torch only when more than one size is found).

    Raises:
        EngineUnavailableError: ``sam2`` was asked for and no checkpoint is found (the
            message says where it looked and how to get one).
    """
    from engine.edits.selection.sam2_weights import Sam2WeightsError, find_sam2_checkpoint, found_sizes, pick_size
    from engine.engines.base import EngineUnavailableError

    if tracker not in TRACKER_CHOICES:
        raise ValueError(f"unknown tracker {tracker!r}; choose one of {', '.join(TRACKER_CHOICES)}")
    if tracker == "flow":
        return TrackerChoice("flow", note="optical flow (asked for)")
    try:
        if sam2_checkpoint is not None:
            path = find_sam2_checkpoint("tiny", sam2_checkpoint)
            return TrackerChoice("sam2", path, f"SAM2 video predictor ({path})")
        if sam2_model == "auto":
            found = found_sizes(model_dirs)
            picked = pick_size(found, len(found) > 1 and _is_gpu(device))
            # none found: find_sam2_checkpoint raises, naming where it looked
            size = picked or "tiny"
            path = found[picked] if picked is not None else find_sam2_checkpoint("tiny", None, model_dirs)
        else:
            size, path = sam2_model, find_sam2_checkpoint(sam2_model, None, model_dirs)
        return TrackerChoice("sam2", path, f"SAM2.1 {size} video predictor ({path})")
    except Sam2WeightsError as exc:
        if tracker == "sam2":
            raise EngineUnavailableError(f"the sam2 tracker needs SAM2 weights: {exc}") from None
        return TrackerChoice("flow", note=f"optical flow (no SAM2 weights found: {exc})")


def _is_gpu(device: str) -> bool:
    if device == "auto":
        import torch

        return bool(torch.cuda.is_available())
    return device.startswith("cuda")


def tracker_notes(tracker: Any) -> dict[str, Any]:
    """``warnings`` / ``frame_notes`` a tracker collected, for ``PropagationResult.extras`` (empty if none)."""
    out: dict[str, Any] = {}
    if getattr(tracker, "warnings", None):
        out["warnings"] = list(tracker.warnings)
    if getattr(tracker, "frame_notes", None):
        out["frame_notes"] = dict(tracker.frame_notes)
    return out


def tracked_object_names(operations: Sequence[Any]) -> list[str]:
    """Names of the operations whose masks the classic engine tracks, in the order it tracks them."""
    tracked = {"track", "recolour", "remove"}
    return [
        f"operation {i + 1} ({op.kind.value})"
        for i, op in enumerate(operations)
        if op.kind.value in tracked or (op.kind.value == "replace" and op.source_mask is not None)
    ]


def tracker_choice_availability(
    option_name: str, choice: str, model_dirs: Sequence[str | os.PathLike[str]] = ()
) -> tuple[bool, str]:
    """(can this choice run with these weight folders, a short note): ``EngineSpec.choice_availability``.

    The note labels an available choice (which SAM2 ``auto`` / ``sam2`` will use) or says
    why a choice is unavailable (no SAM2 weights, that size not downloaded).
    """
    from engine.edits.selection.sam2_weights import found_sizes, search_description

    if option_name in ("tracker", "mask_tracker"):
        if choice == "flow":
            return True, "optical flow"
        found = found_sizes(model_dirs)
        if choice == "auto":
            return True, (f"SAM2 {', '.join(found)}" if found else "optical flow: no SAM2 weights")
        if found:
            return True, f"SAM2 {', '.join(found)}"
        return False, ("no SAM2 weights found (download SAM2.1 in Models); looked for " + search_description("tiny", model_dirs))
    if option_name == "sam2_model" and choice != "auto":
        found = found_sizes(model_dirs)
        if choice in found:
            return True, "found"
        return False, f"SAM2.1 {choice} not downloaded; looked for " + search_description(choice, model_dirs)
    return True, ""
