"""Data types of a first-frame edit: what the user made on frame 1, as the engines see it.

The edit toolkit (``engine/edits``) produces these; every propagation engine consumes
them. Each operation is recorded with its parameters so an engine can re-apply it to
later frames (the classical engine recolours every frame with the same transform) and
so edit files can be saved and reloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from engine.tasks import Task


class EditKind(str, Enum):
    """What the user did to frame 1."""

    REMOVE = "remove"
    INSERT = "insert"
    REPLACE = "replace"
    RECOLOUR = "recolour"
    OUTPAINT = "outpaint"
    TRACK = "track"

    @property
    def task(self) -> Task:
        """The GenProp training task that teaches this kind of edit."""
        return _KIND_TO_TASK[self]


_KIND_TO_TASK = {
    EditKind.REMOVE: Task.MASK_AND_FILL,
    EditKind.INSERT: Task.COPY_PASTE,
    EditKind.REPLACE: Task.COPY_PASTE,
    EditKind.RECOLOUR: Task.COLOR_FILL,
    EditKind.TRACK: Task.COLOR_FILL,
    EditKind.OUTPAINT: Task.MASK_AND_FILL,
}


@dataclass
class EditOperation:
    """One operation applied to frame 1, in order.

    Attributes:
        kind: the operation.
        mask: ``[H, W]`` uint8 (0/255) region this operation changed, in the
            coordinates of the edited canvas (after any outpaint before it).
        params: JSON-serialisable parameters (what an edit file stores).
        source_mask: ``[H, W]`` uint8 selection on the original frame that the
            operation acted on (removed object + painted extras, recoloured object);
            ``None`` for pure inserts and outpaint.
        layer_rgba: for insert/replace, the placed layer at canvas size,
            ``[H, W, 4]`` uint8 with straight (non-premultiplied) alpha.
    """

    kind: EditKind
    mask: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    source_mask: np.ndarray | None = None
    layer_rgba: np.ndarray | None = None


@dataclass
class FirstFrameEdit:
    """Everything an engine needs to know about the user's edit of frame 1.

    Attributes:
        original_frame: ``[H, W, 3]`` uint8, frame 1 of the source clip.
        edited_frame: ``[H', W', 3]`` uint8, frame 1 after all operations
            (``H' x W'`` differs from ``H x W`` only after an outpaint).
        edit_mask: ``[H', W']`` uint8 (0/255), union of every operation's mask.
        operations: the operations in the order they were applied.
        canvas_offset: (x, y) of the original frame's top-left corner inside the
            edited canvas (non-zero after an outpaint that adds left/top margins).
    """

    original_frame: np.ndarray
    edited_frame: np.ndarray
    edit_mask: np.ndarray
    operations: list[EditOperation] = field(default_factory=list)
    canvas_offset: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        for name in ("original_frame", "edited_frame"):
            arr = getattr(self, name)
            if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
                raise ValueError(f"{name} must be [H, W, 3] uint8, got {arr.shape} {arr.dtype}")
        if self.edit_mask.shape != self.edited_frame.shape[:2]:
            raise ValueError(
                f"edit_mask is {self.edit_mask.shape[::-1]} (w x h) but the edited frame is {self.edited_frame.shape[1::-1]}"
            )

    @property
    def task(self) -> Task:
        """The primary task: that of the first operation (``Task.NONE`` if none)."""
        return self.operations[0].kind.task if self.operations else Task.NONE

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(width, height) of the edited canvas."""
        h, w = self.edited_frame.shape[:2]
        return w, h
