"""Click-to-mask selection: SAM2 first, GrabCut as the labelled fallback."""

from engine.edits.selection.base import (
    SelectionResult,
    Selector,
    SelectorUnavailableError,
    check_prompt,
    frame_key,
)
from engine.edits.selection.factory import build_selector, find_sam2_checkpoint, sam2_checkpoint_dir
from engine.edits.selection.grabcut import GrabCutSelector
from engine.edits.selection.sam2_selector import SAM2_MODELS, Sam2Selector

__all__ = [
    "SAM2_MODELS",
    "GrabCutSelector",
    "Sam2Selector",
    "SelectionResult",
    "Selector",
    "SelectorUnavailableError",
    "build_selector",
    "check_prompt",
    "find_sam2_checkpoint",
    "frame_key",
    "sam2_checkpoint_dir",
]
