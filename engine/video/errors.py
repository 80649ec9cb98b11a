"""One error type for every way a clip can be unusable, always naming the file."""

from __future__ import annotations

from pathlib import Path


class VideoError(Exception):
    """A clip cannot be read or written. ``str(err)`` is fit to show a user."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
