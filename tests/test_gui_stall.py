"""The GUI thread keeps serving its events during a propagate + autosave cycle (issue 16).

The benchmark (benchmarks/bench_gui_stall.py) holds the < 50 ms target; this test holds a
loose bound that a shared, loaded test machine still meets, and the settings behind it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QTimer  # noqa: E402

from tests.gui_helpers import open_and_wait  # noqa: E402
from tests.video_factory import encode, moving_frames  # noqa: E402
from ui.job_controller import JobController  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui

#: Loose: the benchmark's idle timer alone sees 40-50 ms gaps at load 5-7 on 2 cores.
LOOSE_BOUND_MS = 500


def test_no_long_gui_stall_during_propagate_review_and_autosave(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert sys.getswitchinterval() <= JobController.SWITCH_INTERVAL_S  # the window shortens the GIL's hand-over
    clip = encode(tmp_path / "clip.mp4", moving_frames(24, 320, 192), "libx264")
    open_and_wait(qtbot, window, clip)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000)
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)
    mask = np.zeros((192, 320), np.uint8)
    mask[60:120, 100:180] = 255
    window.edit_panel.set_selection(mask)
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=30000):
        window.edit_panel.add_track()
    with qtbot.waitSignal(window.job_finished, timeout=120000) as finished:
        window.propagate()
    assert finished.args == ["succeeded"]
    window.review.timeline.seek(12)
    qtbot.waitUntil(lambda: not window.projects.autosave_pending and not window.review.rendering, timeout=30000)
    timer.stop()
    assert len(gaps) > 50
    assert max(gaps) < LOOSE_BOUND_MS, sorted(gaps)[-5:]
