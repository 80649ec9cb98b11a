"""The GUI benchmarks wait in the event loop with the GIL released, as the app does (issue 16).

Waiting with ``QTest.qWait`` kept the GIL (PySide6 6.11), so the Review renderer's worker
threads starved and the scrubbing benchmark measured ~15 frames shown per second at 1080p
where the app shows ~60."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")
from PySide6.QtWidgets import QApplication  # noqa: E402

from benchmarks.gui_wait import run_events  # noqa: E402

pytestmark = pytest.mark.gui


def test_a_python_worker_runs_while_the_benchmark_waits(qtbot) -> None:  # type: ignore[no-untyped-def]
    assert QApplication.instance() is not None
    done = threading.Event()

    def count() -> None:
        n = 0
        while n < 3_000_000:  # ~0.2 s of Python alone; ~30 s while a qWait holds the GIL
            n += 1
        done.set()

    worker = threading.Thread(target=count, daemon=True)
    worker.start()
    run_events(4000)  # one wait, as the benchmark's scrub waits while its timer moves the slider
    finished = done.is_set()
    worker.join(timeout=60)
    assert finished, "a Python thread made almost no progress while the GUI thread waited"
