"""Undo commands. Each calls a pure model method, so redo/undo are exact inverses."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QUndoCommand

from app.project import Project
from engine.edits.specs import OpSpec


class AddOperationCommand(QUndoCommand):
    def __init__(self, project: Project, spec: OpSpec) -> None:
        super().__init__(f"Add {spec.op}")
        self.project, self.spec = project, spec
        self.index = len(project.operations)

    def redo(self) -> None:
        self.project.insert_operation(self.index, self.spec)

    def undo(self) -> None:
        self.project.remove_operation(self.index)


class RemoveOperationCommand(QUndoCommand):
    def __init__(self, project: Project, index: int) -> None:
        super().__init__(f"Delete {project.operations[index].op}")
        self.project, self.index = project, index
        self.spec = project.operations[index]

    def redo(self) -> None:
        self.project.remove_operation(self.index)

    def undo(self) -> None:
        self.project.insert_operation(self.index, self.spec)


class SelectionCommand(QUndoCommand):
    """A change of the working selection (clicks, box, brush, refinement)."""

    def __init__(
        self, apply: Callable[[np.ndarray | None], None], before: np.ndarray | None, after: np.ndarray | None, text: str
    ) -> None:
        super().__init__(text)
        self._apply = apply
        self.before = None if before is None else before.copy()
        self.after = None if after is None else after.copy()

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        self._apply(self.before)
