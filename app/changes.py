"""Change notification for the app's models (a Qt-free signal): one definition for the project, the
edit session and the correction session, which the ui/ layer listens to."""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[str], None]
"""Called with what changed (each model names its own kinds: "frame", "selection", "keyframes", ...)."""


class ChangeListeners:
    """The listeners of one model, told in the order they were added."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def add(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, what: str) -> None:
        for listener in list(self._listeners):  # a listener may add another while being told
            listener(what)
