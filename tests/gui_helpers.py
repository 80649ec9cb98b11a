"""Helpers for GUI tests: a window fixture, answering modal questions, synthetic results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox

from app.settings import Settings
from engine.engines.base import PropagationResult
from ui.main_window import MainWindow


class Answerer:
    """Answers the coming modal message boxes in order, each by clicking a button (a standard
    button or its text). One poller works through the queue, so a box is never answered twice."""

    def __init__(self) -> None:
        self.asked: list[str] = []  # the object names (or texts) of the boxes answered
        self._queue: list[QMessageBox.StandardButton | str] = []
        self._last: QMessageBox | None = None

    def next(self, button: QMessageBox.StandardButton | str) -> None:
        self._queue.append(button)
        if len(self._queue) == 1:
            QTimer.singleShot(0, lambda: self._poll(800))

    def _poll(self, left: int) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box is not self._last and box.isVisible():
            button = self._queue.pop(0)
            self.asked.append(box.objectName() or box.text())
            target: QAbstractButton | None
            if isinstance(button, str):
                target = next((b for b in box.buttons() if b.text() == button), None)
            else:
                target = box.button(button)
            if target is None:
                raise AssertionError(f"no {button!r} button in {box.text()!r}")
            self._last = box
            target.click()
        if self._queue and left > 0:
            QTimer.singleShot(25, lambda: self._poll(left - 1))


def make_window(qtbot, confirm: bool = True) -> MainWindow:  # type: ignore[no-untyped-def]
    """A shown window; one that asks questions is not handed to qtbot, whose teardown would close
    it (and so ask) before the fixture says "don't ask"."""
    win = MainWindow(Settings())
    win.confirm_unsaved = confirm
    if not confirm:
        qtbot.addWidget(win)
    win.show()
    return win


def asking_window(qtbot) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    """A shown main window that asks before replacing work (closed without asking at the end)."""
    win = make_window(qtbot)
    yield win
    win.confirm_unsaved = False
    win.close()
    win.deleteLater()


def open_and_wait(qtbot, win: MainWindow, clip: Path, **kwargs) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(win.edit_panel.first_frame_ready, timeout=30000):
        assert win.open_clip(clip, **kwargs)


def add_track_edit(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """An undoable edit on frame 1 (a small square tracked), composed."""
    frame = win.session.frame
    assert frame is not None
    mask = np.zeros(frame.shape[:2], np.uint8)
    mask[10:30, 10:30] = 255
    win.edit_panel.set_selection(mask)
    with qtbot.waitSignal(win.edit_panel.edit_changed, timeout=30000):
        win.edit_panel.add_track()


def fake_result(frames: int = 4, size: tuple[int, int] = (568, 320), value: int = 90, **extras) -> PropagationResult:  # type: ignore[no-untyped-def]
    w, h = size
    rng = np.random.default_rng(value)
    video = rng.integers(0, 255, (frames, h, w, 3), dtype=np.uint8)
    masks = np.zeros((frames, h, w), np.uint8)
    masks[:, 10:40, 10:40] = 255
    return PropagationResult(video, masks, 30.0, "classic", "classic", extras=dict(extras))


def review_image(qtbot, win: MainWindow) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The Review tab's image once the renderer has shown the newest request (it renders on workers)."""
    from ui.frame_loader import frame_array

    qtbot.waitUntil(lambda: not win.review.rendering, timeout=20000)
    qtbot.wait(1)  # the answer's queued signal: delivered with the events it arrived among
    qtbot.waitUntil(lambda: not win.review.rendering, timeout=20000)
    return frame_array(win.review.view.current_image())
