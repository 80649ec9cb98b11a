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
        extras_mask: for remove/replace, the painted extras alone (the object's
            shadow, reflection), ``[H, W]`` uint8 (0/255), part of ``source_mask``;
            ``None`` when there are none. Engines move them with the object's motion
            instead of tracking them as if they were the object.
    """

    kind: EditKind
    mask: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    source_mask: np.ndarray | None = None
    layer_rgba: np.ndarray | None = None
    extras_mask: np.ndarray | None = None


@dataclass
class Keyframe:
    """A correction the user made on a later frame (issue 19: fix a track where it goes wrong).

    One definition for the engines, edit files (``EditSpec.keyframes``) and the GUI.

    Attributes:
        frame: index of the corrected frame in the clip (>= 1; frame 0 is the first-frame edit).
        masks: operation index -> ``[H, W]`` uint8 (0/255) corrected region of that operation
            on this frame, in the same coordinates as the operation's own ``mask`` (the
            canvas at that operation; the source frame unless an outpaint came before it).
            Trackers re-anchor to it: propagation runs forward and backward from it.
        edited_frame: the user's own version of this frame, ``[H', W', 3]`` uint8 at the
            edited canvas size (e.g. a re-placed inserted object), or ``None``. An engine
            takes the edit's appearance from it from this frame on.
    """

    frame: int
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    edited_frame: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.frame, int) or isinstance(self.frame, bool) or self.frame < 1:
            raise ValueError(f"a keyframe's frame must be an integer >= 1 (frame 0 is the first-frame edit), got {self.frame!r}")
        masks = {}
        for index, mask in self.masks.items():
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise ValueError(f"keyframe {self.frame}: operation index must be an integer >= 0, got {index!r}")
            arr = np.asarray(mask)
            if arr.ndim != 2:
                raise ValueError(f"keyframe {self.frame}: mask of operation {index} must be [H, W], got {arr.shape}")
            masks[index] = np.where(arr > 0, np.uint8(255), np.uint8(0))
        self.masks = masks
        if self.edited_frame is not None:
            arr = self.edited_frame
            if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
                raise ValueError(f"keyframe {self.frame}: edited_frame must be [H, W, 3] uint8, got {arr.shape} {arr.dtype}")
        if not self.masks and self.edited_frame is None:
            raise ValueError(f"keyframe {self.frame} has neither a mask correction nor an edited frame")


def describe_keyframes(keyframes: list[Keyframe]) -> str:
    """One line naming the keyframes (1-based frame numbers, as the user sees them): for run logs."""
    parts = []
    for k in keyframes:
        what = [f"mask of operation {i + 1}" for i in sorted(k.masks)]
        if k.edited_frame is not None:
            what.append("edited frame")
        parts.append(f"frame {k.frame + 1} ({', '.join(what)})")
    return "; ".join(parts)


def check_keyframes(keyframes: list[Keyframe], operations: list[EditOperation], canvas_hw: tuple[int, int]) -> list[Keyframe]:
    """Keyframes sorted by frame, refused when two share a frame or one does not fit the edit."""
    out = sorted(keyframes, key=lambda k: k.frame)
    for a, b in zip(out, out[1:], strict=False):
        if a.frame == b.frame:
            raise ValueError(f"two keyframes on frame {a.frame}")
    for k in out:
        for index, mask in k.masks.items():
            if index >= len(operations):
                raise ValueError(f"keyframe {k.frame}: operation {index} does not exist (the edit has {len(operations)})")
            want = operations[index].mask.shape
            if mask.shape != want:
                raise ValueError(
                    f"keyframe {k.frame}: mask of operation {index} is {mask.shape[1]}x{mask.shape[0]}, "
                    f"the operation's canvas is {want[1]}x{want[0]}"
                )
        if k.edited_frame is not None and k.edited_frame.shape[:2] != canvas_hw:
            raise ValueError(
                f"keyframe {k.frame}: edited_frame is {k.edited_frame.shape[1]}x{k.edited_frame.shape[0]}, "
                f"the edited canvas is {canvas_hw[1]}x{canvas_hw[0]}"
            )
    return out


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
        keyframes: corrections on later frames (:class:`Keyframe`), sorted by frame.
    """

    original_frame: np.ndarray
    edited_frame: np.ndarray
    edit_mask: np.ndarray
    operations: list[EditOperation] = field(default_factory=list)
    canvas_offset: tuple[int, int] = (0, 0)
    keyframes: list[Keyframe] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("original_frame", "edited_frame"):
            arr = getattr(self, name)
            if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
                raise ValueError(f"{name} must be [H, W, 3] uint8, got {arr.shape} {arr.dtype}")
        if self.edit_mask.shape != self.edited_frame.shape[:2]:
            raise ValueError(
                f"edit_mask is {self.edit_mask.shape[::-1]} (w x h) but the edited frame is {self.edited_frame.shape[1::-1]}"
            )
        self.keyframes = check_keyframes(list(self.keyframes), self.operations, self.edited_frame.shape[:2])

    @property
    def task(self) -> Task:
        """The primary task: that of the first operation (``Task.NONE`` if none)."""
        return self.operations[0].kind.task if self.operations else Task.NONE

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(width, height) of the edited canvas."""
        h, w = self.edited_frame.shape[:2]
        return w, h

    @property
    def edited_keyframe_frames(self) -> list[int]:
        """Frames the user edited besides frame 1 (keyframes with an edited frame, not mask corrections only)."""
        return [k.frame for k in self.keyframes if k.edited_frame is not None]
