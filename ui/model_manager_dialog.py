"""The model manager: which weights are found where, and downloads with a progress bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.model_manager import DownloadJob, ModelStatus, app_hub_cache, can_download, default_download_target, scan
from ui.errors import show_error
from ui.job_panel import JobPanel
from ui.workers import JobWorker

COLUMNS = ("Model", "Used for", "Status", "Where", "Licence")


class ModelManagerDialog(QDialog):
    def __init__(self, models_dir: Path, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(1100, 420)
        self.models_dir = models_dir
        self.statuses: list[ModelStatus] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        ok, why = can_download()
        self.note = QLabel(
            f"Models folder: {models_dir}; SAM2 checkpoints go to the Hugging Face cache {app_hub_cache()}"
            + ("" if ok else f" — {why}")
        )
        self.note.setWordWrap(True)
        self.download_button = QPushButton("Download selected")
        self.download_button.clicked.connect(self.download_selected)
        self.refresh_button = QPushButton("Rescan")
        self.refresh_button.clicked.connect(self.refresh)
        self.job_panel = JobPanel()
        self.worker: JobWorker | None = None
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.download_button)
        row.addWidget(self.refresh_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.job_panel)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        self.statuses = scan(self.models_dir)
        self.table.setRowCount(len(self.statuses))
        for r, s in enumerate(self.statuses):
            values = (s.name, s.purpose, "found" if s.found else "missing", s.where, s.licence)
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(r, c, item)
        self._update_buttons()

    def selected(self) -> ModelStatus | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        return self.statuses[rows.pop()] if len(rows) == 1 else None

    def _update_buttons(self) -> None:
        status = self.selected()
        ok, why = can_download()
        allowed = ok and status is not None and not status.found and status.hub_id is not None and self.worker is None
        self.download_button.setEnabled(allowed)
        self.download_button.setToolTip(why if not ok else ("" if allowed else "select a missing model that can be downloaded"))

    def download_selected(self) -> None:
        status = self.selected()
        if status is None:
            return
        job = DownloadJob(status, default_download_target(status, self.models_dir))
        self.worker = JobWorker(job, "download")
        self.worker.failed.connect(lambda msg, details: show_error(self, "Download failed", msg, details))
        self.worker.finished.connect(self._download_finished)
        self.job_panel.track(self.worker, f"Downloading {status.name}")
        self._update_buttons()
        self.worker.start()

    def _download_finished(self) -> None:
        if self.worker is not None:
            self.worker.deleteLater()
        self.worker = None
        self.refresh()

    def done(self, result: int) -> None:  # noqa: D401 - Qt override: never leave a download running
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(30000)
        super().done(result)
