"""GenProp's training tasks: each has a learned embedding added to G's time embedding."""

from __future__ import annotations

from enum import Enum


class Task(str, Enum):
    """Task ids, in embedding-table order (the order is part of saved weights)."""

    NONE = "none"
    COPY_PASTE = "copy_paste"
    MASK_AND_FILL = "mask_and_fill"
    COLOR_FILL = "color_fill"

    @property
    def index(self) -> int:
        """Row of this task in the task-embedding table."""
        return list(Task).index(self)
