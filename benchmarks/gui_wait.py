"""Waiting in a GUI benchmark the way the app waits: in its event loop.

``QTest.qWait`` keeps Python's GIL while it waits (PySide6 6.11: a Python thread counting
in a loop got ~100,000 iterations through a one-second ``qWait``, ~8 million through a
one-second ``QEventLoop.exec``), so every worker thread the window starts (the Review
renderer, a propagate job) starves until the next event wakes the GUI thread. The app runs
``app.exec()``, which releases it; a benchmark that waits with ``qWait`` measures that
starvation, not the app (scrubbing at 1080p: 15 frames/s shown with ``qWait`` on an idle
machine).
"""

from __future__ import annotations

from PySide6.QtCore import QEventLoop, QTimer


def run_events(ms: float) -> None:
    """Process the window's events for ``ms`` milliseconds, the GIL released while idle."""
    loop = QEventLoop()
    QTimer.singleShot(max(0, int(ms)), loop.quit)
    loop.exec()
