"""Click-to-mask selection: SAM2 first, GrabCut as the labelled fallback."""

from engine.edits.selection.base import (
    SelectionResult,
    Selector,
    SelectorUnavailableError,
    check_prompt,
    frame_key,
)
from engine.edits.selection.factory import build_selector
from engine.edits.selection.grabcut import GrabCutSelector
from engine.edits.selection.sam2_selector import Sam2Selector
from engine.edits.selection.sam2_weights import (
    SAM2_DIR_ENV,
    SAM2_MODELS,
    SAM2_SIZES,
    Sam2Arch,
    Sam2WeightsError,
    find_sam2_checkpoint,
    found_sizes,
    hub_cache_dir,
    locate_sam2,
    verify_sam2_checkpoint,
)

__all__ = [
    "SAM2_DIR_ENV",
    "SAM2_MODELS",
    "SAM2_SIZES",
    "GrabCutSelector",
    "Sam2Arch",
    "Sam2Selector",
    "Sam2WeightsError",
    "SelectionResult",
    "Selector",
    "SelectorUnavailableError",
    "build_selector",
    "check_prompt",
    "find_sam2_checkpoint",
    "found_sizes",
    "frame_key",
    "hub_cache_dir",
    "locate_sam2",
    "verify_sam2_checkpoint",
]
