"""A keyframe correction being made: "correct here" on a later frame (issue 19; no Qt).

The user scrubs to frame k, switches to "correct here", picks the operation whose track went
wrong and fixes its mask on frame k's ORIGINAL picture with the same selection tools frame 1
has (clicks, box, brush). This session holds that state (frame, picture, operation, working
selection); the correction view shows it and sends commands, and ``keyframes_after`` gives
the project's keyframe list with the correction in it, for one undo command.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app import keyframes as kf
from app.changes import ChangeListeners, Listener
from engine.edit import FirstFrameEdit, Keyframe

# What on_change listeners are told: "begin" | "selection" | "operation" | "end"


class CorrectionSession:
    """State of the correction in progress; ``active`` is False when none is."""

    def __init__(self) -> None:
        self.frame: int | None = None
        self.image: np.ndarray | None = None  # [H, W, 3] original picture of ``frame``
        self.edit: FirstFrameEdit | None = None  # the composed frame-1 edit the correction is for
        self.operation: int | None = None
        self.selection: np.ndarray | None = None  # [H, W] uint8 0/255 on the original picture
        self.generation = 0  # grows with every begin/end: selection undo steps of an older correction are stale
        self._starts: dict[int, np.ndarray | None] = {}  # operation -> the mask it starts from
        self._listeners = ChangeListeners()

    def on_change(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def _emit(self, what: str) -> None:
        self._listeners.emit(what)

    @property
    def active(self) -> bool:
        return self.frame is not None and self.image is not None and self.edit is not None

    @property
    def operations(self) -> list[int]:
        return [] if self.edit is None else kf.correctable_operations(self.edit)

    # ------------------------------------------------------------ commands
    def begin(
        self,
        frame: int,
        image: np.ndarray,
        edit: FirstFrameEdit,
        starts: dict[int, np.ndarray | None],
        operation: int | None = None,
    ) -> None:
        """Start correcting ``frame`` (its original ``image``). ``starts``: operation -> the mask the
        selection starts from, on the original picture (the keyframe's own correction, else the tracked
        mask), so the user fixes what is there rather than starting over."""
        if frame < 1:
            raise ValueError("frame 1 is edited in the Edit frame 1 tab; a correction is for a later frame")
        choices = kf.correctable_operations(edit)
        self.frame, self.image, self.edit = frame, image, edit
        self._starts = dict(starts)
        self.generation += 1
        self.operation, self.selection = None, None
        self._emit("begin")
        if choices:
            self.set_operation(operation if operation in choices else choices[0])
        else:  # only inserted layers or outpaints: nothing tracked, but the frame can get an edited version
            self._emit("selection")

    def set_operation(self, index: int) -> None:
        """Correct operation ``index`` (the selection restarts from its mask on this frame)."""
        if index not in self.operations:
            raise ValueError(f"operation {index} cannot be corrected here (choices: {self.operations})")
        self.operation = index
        start = self._starts.get(index)
        self.selection = None if start is None else np.where(start > 127, np.uint8(255), np.uint8(0))
        self._emit("operation")
        self._emit("selection")

    def set_selection(self, mask: np.ndarray | None, generation: int | None = None) -> bool:
        """The working selection (on the original picture); False when ``generation`` names an older correction."""
        if not self.active or self.operation is None or (generation is not None and generation != self.generation):
            return False
        if mask is not None and self.image is not None and mask.shape != self.image.shape[:2]:
            return False
        self.selection = None if mask is None else np.where(mask > 127, np.uint8(255), np.uint8(0))
        self._emit("selection")
        return True

    def end(self) -> None:
        """Leave "correct here" (applied or cancelled)."""
        self.frame = self.image = self.edit = self.operation = self.selection = None
        self._starts = {}
        self.generation += 1
        self._emit("end")

    # ------------------------------------------------------------ derived
    @property
    def has_selection(self) -> bool:
        return self.selection is not None and bool(self.selection.any())

    def keyframes_after(self, keyframes: Sequence[Keyframe]) -> list[Keyframe]:
        """The project's keyframes with this correction in them (the operation's mask on this frame)."""
        if not self.active or self.operation is None or not self.has_selection:
            raise ValueError("nothing to apply: select the object on this frame first")
        assert self.edit is not None and self.frame is not None and self.selection is not None
        mask = kf.to_op_canvas(self.edit, self.operation, self.selection)
        return kf.with_correction(keyframes, self.frame, self.operation, mask)

    def keyframes_without(self, keyframes: Sequence[Keyframe]) -> list[Keyframe]:
        """The project's keyframes without this operation's correction on this frame."""
        assert self.frame is not None and self.operation is not None
        return kf.without_correction(keyframes, self.frame, self.operation)
