"""Undo commands. Each calls a pure model method, so redo/undo are exact inverses."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.project import Project
from engine.edit import Keyframe
from engine.edits.specs import OpSpec


class AddOperationCommand(QUndoCommand):
    def __init__(self, project: Project, spec: OpSpec) -> None:
        super().__init__(f"Add {spec.op}")
        self.project, self.spec = project, spec
        self.index = len(project.operations)
        self.keyframes: list[Keyframe] | None = None  # with the operation's corrections, kept by its undo

    def redo(self) -> None:
        self.project.insert_operation(self.index, self.spec)
        if self.keyframes is not None:
            self.project.set_keyframes(self.keyframes)

    def undo(self) -> None:
        self.keyframes = list(self.project.keyframes)
        self.project.remove_operation(self.index)


class RemoveOperationCommand(QUndoCommand):
    """Deleting an operation deletes its keyframe corrections; undo brings both back."""

    def __init__(self, project: Project, index: int) -> None:
        super().__init__(f"Delete {project.operations[index].op}")
        self.project, self.index = project, index
        self.spec = project.operations[index]
        self.keyframes: list[Keyframe] = []

    def redo(self) -> None:
        self.keyframes = list(self.project.keyframes)
        self.project.remove_operation(self.index)

    def undo(self) -> None:
        self.project.insert_operation(self.index, self.spec)
        self.project.set_keyframes(self.keyframes)


class KeyframesCommand(QUndoCommand):
    """A change of the keyframe corrections (add, replace, delete): the list before and after.

    ``on_done(keyframes_before, keyframes_after)`` runs after each redo/undo (the window re-tracks
    the frames the change touched)."""

    def __init__(
        self,
        project: Project,
        after: list[Keyframe],
        text: str,
        on_done: Callable[[list[Keyframe], list[Keyframe]], None] | None = None,
    ) -> None:
        super().__init__(text)
        self.project = project
        self.before, self.after = list(project.keyframes), list(after)
        self._on_done = on_done

    def redo(self) -> None:
        self.project.set_keyframes(self.after)
        if self._on_done is not None:
            self._on_done(self.before, self.after)

    def undo(self) -> None:
        self.project.set_keyframes(self.before)
        if self._on_done is not None:
            self._on_done(self.after, self.before)


class SelectionCommand(QUndoCommand):
    """A change of the working selection (clicks, box, brush, refinement).

    ``apply`` returning False means the selection it belonged to is gone (a keyframe correction
    that was applied or left): the step is then dropped from the stack, and with ``stack`` given
    the same Undo/Redo goes on to the next step, so no key press is spent on nothing."""

    def __init__(
        self,
        apply: Callable[[np.ndarray | None], bool | None],
        before: np.ndarray | None,
        after: np.ndarray | None,
        text: str,
        stack: QUndoStack | None = None,
    ) -> None:
        super().__init__(text)
        self._apply = apply
        self._stack = stack
        self._pushed = False  # the first redo is the push itself: a stale step then goes on to nothing else
        self.before = None if before is None else before.copy()
        self.after = None if after is None else after.copy()

    def redo(self) -> None:
        if self._apply(self.after) is False:
            self._drop(redo=True)
        self._pushed = True

    def undo(self) -> None:
        if self._apply(self.before) is False:
            self._drop(redo=False)

    def _drop(self, redo: bool) -> None:
        self.setObsolete(True)
        stack = self._stack
        if stack is not None and self._pushed:  # after the stack has removed this step
            QTimer.singleShot(0, stack.redo if redo else stack.undo)
