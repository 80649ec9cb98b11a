"""The progress bar with stage, window/step, ETA and a Cancel button for the running job."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.jobs import EtaEstimator, describe_progress
from engine.engines.base import Progress
from ui.workers import JobWorker


class JobPanel(QWidget):
    """Shows one job at a time; hidden when idle."""

    finished = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.eta = QLabel("")
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
        self._eta = EtaEstimator()
        self.hide()

    def track(self, worker: JobWorker, title: str) -> None:
        self.worker = worker
        self._eta = EtaEstimator()
        self.label.setText(title)
        self.bar.setValue(0)
        self.bar.setFormat("starting…")
        self.eta.setText("")
        self.cancel_button.setEnabled(True)
        worker.progressed.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        self.show()

    def _on_progress(self, p: Progress) -> None:
        self.bar.setValue(int(p.fraction * 1000))
        self.bar.setFormat(f"{describe_progress(p)} — %p%")
        self.eta.setText(EtaEstimator.format(self._eta.remaining(p.fraction)))

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.bar.setFormat("cancelling…")

    def _on_finished(self) -> None:
        self.worker = None
        self.hide()
        self.finished.emit()

    @property
    def busy(self) -> bool:
        return self.worker is not None
