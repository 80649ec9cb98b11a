"""One place where errors reach the user: a readable message, details on demand."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    """Non-blocking error box (``open()``, not ``exec()``), so tests and the GUI keep running."""
    log.error("%s: %s", title, message)
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorDialog")
    if details:
        box.setDetailedText(details)
    box.open()
    return box
