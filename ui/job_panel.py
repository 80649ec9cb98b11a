"""The job bar: what runs, one progress line (stage · window · step), time left, Cancel."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from app.jobs import EtaEstimator, describe_progress
from engine.engines.base import Progress
from ui.workers import JobWorker

SCALE = 1000  # the bar's resolution; the text shows the engine's own units


class JobPanel(QWidget):
    """Shows one job at a time; hidden when idle."""

    finished = Signal()
    REPAINT_MS = 100

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, SCALE)
        self.bar.setTextVisible(True)
        self.bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.bar.setMinimumWidth(120)
        self.eta = QLabel("")
        self.eta.setToolTip("Time left for the whole job, from the pace of its slowest stage so far")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job; nothing half-written is kept")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.eta)
        layout.addWidget(self.cancel_button)
        self.worker: JobWorker | None = None
        self._eta = EtaEstimator(clock)
        self._latest: tuple[Progress, float | None] | None = None
        self._shown_at = float("-inf")
        self._repaint = QTimer(self)
        self._repaint.setSingleShot(True)
        self._repaint.setInterval(self.REPAINT_MS)
        self._repaint.timeout.connect(self._show_latest)
        self.hide()

    def track(self, worker: JobWorker, title: str) -> None:
        self.worker = worker
        self._eta = EtaEstimator(self._clock)
        self._shown_at = float("-inf")
        self.label.setText(title)
        self.bar.setValue(0)
        self.bar.setFormat("starting…")
        self.eta.setText("")
        self.cancel_button.setEnabled(True)
        worker.progressed.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        self.show()

    def _on_progress(self, p: Progress) -> None:
        """Every report feeds the estimate; the bar repaints at most every ``REPAINT_MS`` (an engine
        reports per frame and per step: a repaint for each kept the GUI thread busy for tens of ms)."""
        if self.worker is not None and self.worker.token.cancelled:
            return  # keep saying "cancelling…" until the job has stopped
        self._latest = (p, self._eta.update(p))
        if self._clock() - self._shown_at >= self.REPAINT_MS / 1000:
            self._show_latest()  # the first report after a quiet spell shows at once
        elif not self._repaint.isActive():
            self._repaint.start()  # the rest of a burst: the newest one, a moment later

    def _show_latest(self) -> None:
        if self._latest is None or (self.worker is not None and self.worker.token.cancelled):
            return
        p, eta = self._latest
        self._latest = None
        self._shown_at = self._clock()
        self.bar.setValue(int(p.fraction * SCALE))
        self.bar.setFormat(f"{describe_progress(p)} — %p%")
        self.eta.setText(EtaEstimator.format(eta))

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.show_cancelling()

    def show_cancelling(self) -> None:
        if self.worker is not None:
            self.cancel_button.setEnabled(False)
            self.bar.setFormat("cancelling…")
            self.eta.setText("")

    def _on_finished(self) -> None:
        self._repaint.stop()
        self._latest = None
        self.worker = None
        self.hide()
        self.finished.emit()

    @property
    def busy(self) -> bool:
        return self.worker is not None
