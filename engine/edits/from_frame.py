"""A first-frame edit from "frame 1 as edited" (+ an optional mask): the CLI's ``--edited-frame``
and the ComfyUI pack's *Edit from image* node build it here, the same way.

The edited region is the mask (``>= 128``), or the pixels that differ from frame 1 by more
than a little coding noise. A removal (``mask_and_fill``) becomes a REMOVE operation;
anything else pasted pixels (INSERT) that follow the clip's motion.
"""

from __future__ import annotations

import numpy as np

from engine.edit import EditKind, EditOperation, FirstFrameEdit

#: Per-channel difference (0-255) above which an edited pixel counts as changed.
CHANGED_LEVELS = 8
TASKS = ("none", "copy_paste", "mask_and_fill", "color_fill")


def edit_from_edited_frame(
    first: np.ndarray, edited: np.ndarray, mask: np.ndarray | None = None, *, task: str = "copy_paste", origin: str = "cli"
) -> FirstFrameEdit:
    """``first``/``edited``: ``[H, W, 3]`` uint8; ``mask``: ``[H, W]`` uint8 or ``None``.

    Raises:
        ValueError: sizes that do not match, an unknown task, or an empty edit (the message says which).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if edited.shape != first.shape:
        raise ValueError(
            f"the edited frame is {edited.shape[1]}x{edited.shape[0]}, the clip is {first.shape[1]}x{first.shape[0]}"
        )
    if mask is not None:
        if mask.shape != first.shape[:2]:
            raise ValueError(f"the mask is {mask.shape[1]}x{mask.shape[0]}, the clip is {first.shape[1]}x{first.shape[0]}")
        mask = np.where(mask >= 128, 255, 0).astype(np.uint8)
    else:
        diff = np.abs(edited.astype(np.int16) - first).max(axis=2)
        mask = np.where(diff > CHANGED_LEVELS, 255, 0).astype(np.uint8)
    if not mask.any():
        raise ValueError("the edit mask is empty: the edited frame equals frame 1 (or the mask is black)")
    if task == "mask_and_fill":
        op = EditOperation(EditKind.REMOVE, mask, {"from": origin}, source_mask=mask)
    else:
        layer = np.dstack([edited, mask])
        op = EditOperation(EditKind.INSERT, mask, {"from": origin, "task": task}, layer_rgba=layer)
    return FirstFrameEdit(first, edited, mask, [op])
