"""The edit session: frame 1, the working selection and the composed edit (no Qt).

This is the one place that state lives: the edit panel and the canvas show it and send
commands through these methods, and the window reads it from here. The working canvas
is what the user sees and selects on: frame 1 with every edit applied (larger after an
outpaint), so a selection made after an outpaint is in the enlarged canvas's
coordinates, as ``engine.edits.compose`` expects. Composing runs on a worker: the view
asks ``compose_job()`` for the work and hands the answer to ``set_edit``, which drops
answers for an older frame or an older list of operations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.changes import ChangeListeners, Listener
from app.project import Project
from engine.edit import FirstFrameEdit

# What on_change listeners are told: "frame" | "selection" | "edit" | "compose"


class EditSession:
    """Edit state of the open clip; listeners hear ``frame``, ``selection``, ``edit`` and ``compose``."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.frame: np.ndarray | None = None
        self.selection: np.ndarray | None = None
        self.extras: np.ndarray | None = None  # painted shadow / reflection, removed with the selected object
        self.edit: FirstFrameEdit | None = None
        self._version = 0
        self._listeners = ChangeListeners()
        project.on_change(self._project_changed)

    def on_change(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def _emit(self, what: str) -> None:
        self._listeners.emit(what)

    # ------------------------------------------------------------ derived
    @property
    def canvas(self) -> np.ndarray | None:
        """The working image: frame 1 with every edit applied (the enlarged canvas after an outpaint)."""
        if self.edit is not None:
            return self.edit.edited_frame
        return self.frame

    @property
    def canvas_offset(self) -> tuple[int, int]:
        """Where frame 1's top-left corner sits on the working canvas."""
        return self.edit.canvas_offset if self.edit is not None else (0, 0)

    @property
    def has_selection(self) -> bool:
        return self.selection is not None and bool(self.selection.any())

    # ------------------------------------------------------------ commands
    def set_frame(self, frame: np.ndarray | None) -> None:
        """A clip's frame 1 (``None`` while the next clip's frame is decoded): selection and edit reset."""
        self.frame = None if frame is None else frame
        self.selection = None
        self.extras = None
        self.edit = None
        self._version += 1
        self._emit("frame")
        if frame is not None and self.project.operations:
            self._emit("compose")

    def set_selection(self, mask: np.ndarray | None) -> None:
        """The working selection, on the working canvas. A mask of frame 1's size given while the
        canvas is enlarged (undo across an outpaint) is placed where frame 1 sits."""
        self.selection = self._on_canvas(mask)
        self._emit("selection")

    def set_extras(self, mask: np.ndarray | None) -> None:
        """The painted shadow or reflection of the selected object (the Shadow brush), on the working canvas."""
        self.extras = self._on_canvas(mask)
        self._emit("selection")

    @property
    def has_extras(self) -> bool:
        return self.extras is not None and bool(self.extras.any())

    def _on_canvas(self, mask: np.ndarray | None) -> np.ndarray | None:
        canvas = self.canvas
        if mask is not None and canvas is not None and mask.shape != canvas.shape[:2]:
            if self.frame is not None and mask.shape == self.frame.shape[:2]:
                mask = _moved(mask, self.canvas_offset, canvas.shape[:2])
            else:
                mask = None
        return None if mask is None else np.where(mask > 127, np.uint8(255), np.uint8(0))

    def compose_job(self) -> tuple[object, Callable[[], FirstFrameEdit]] | None:
        """(token, work) composing the current operations on frame 1; ``None`` when there is nothing to compose."""
        if self.frame is None or not self.project.operations:
            return None
        frame, ops = self.frame, list(self.project.operations)

        def work() -> FirstFrameEdit:
            from engine.edits import compose

            return compose(frame, ops)

        return (id(frame), self._version), work

    def set_edit(self, token: object, edit: FirstFrameEdit) -> bool:
        """The composed edit for ``token``; False (ignored) when frame 1 or the operations changed since."""
        if self.frame is None or token != (id(self.frame), self._version):
            return False
        offset_before, canvas_before = self.canvas_offset, self.canvas
        self.edit = edit
        self._follow_canvas(offset_before, canvas_before)
        self._emit("edit")
        return True

    # ------------------------------------------------------------ model -> session
    def _project_changed(self, what: str) -> None:
        if what != "operations":
            return
        self._version += 1
        if self.frame is None:
            return
        if not self.project.operations:
            offset_before, canvas_before = self.canvas_offset, self.canvas
            self.edit = None
            self._follow_canvas(offset_before, canvas_before)
            self._emit("edit")
        else:
            self._emit("compose")

    def _follow_canvas(self, offset_before: tuple[int, int], canvas_before: np.ndarray | None) -> None:
        """Keep the selection on the same pixels of frame 1 when the canvas grows or shrinks."""
        canvas = self.canvas
        if self.selection is None and self.extras is None:
            return
        if canvas is None or canvas_before is None or canvas.shape == canvas_before.shape:
            return
        dx, dy = self.canvas_offset[0] - offset_before[0], self.canvas_offset[1] - offset_before[1]
        if self.selection is not None:
            self.selection = _moved(self.selection, (dx, dy), canvas.shape[:2])
        if self.extras is not None:
            self.extras = _moved(self.extras, (dx, dy), canvas.shape[:2])
        self._emit("selection")


def _moved(mask: np.ndarray, offset: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """``mask`` shifted by ``offset`` (x, y) onto a canvas of ``shape``, cropped where it falls off."""
    out = np.zeros(shape, np.uint8)
    dx, dy = offset
    h, w = mask.shape
    ys, xs = slice(max(0, dy), min(shape[0], h + dy)), slice(max(0, dx), min(shape[1], w + dx))
    src_y, src_x = slice(ys.start - dy, ys.stop - dy), slice(xs.start - dx, xs.stop - dx)
    if ys.stop > ys.start and xs.stop > xs.start:
        out[ys, xs] = mask[src_y, src_x]
    return out
