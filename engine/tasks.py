"""The GenProp task ids shared by the engine, training and the app.

The paper trains with one synthetic-augmentation task per sample and injects a learned
embedding of that task into the model; at inference no task is known, hence ``NONE``.
The order of the members is the row order of the task-embedding table, so never reorder
them; add new tasks at the end.
"""

from __future__ import annotations

from enum import StrEnum


class Task(StrEnum):
    """A GenProp training/inference task (value is the stable on-disk name)."""

    NONE = "none"
    COPY_PASTE = "copy_paste"
    MASK_AND_FILL = "mask_and_fill"
    COLOR_FILL = "color_fill"

    @property
    def index(self) -> int:
        """Row of this task in the task-embedding table."""
        return list(Task).index(self)

    @classmethod
    def parse(cls, value: Task | str) -> Task:
        """Accept a ``Task`` or its string value; raise with the valid names otherwise."""
        if isinstance(value, Task):
            return value
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(repr(t.value) for t in cls)
            raise ValueError(f"Unknown task {value!r}; expected one of {valid}.") from None


TASK_NAMES: tuple[str, ...] = tuple(t.value for t in Task)
