"""The questions the window asks before work could be lost (modal, with clear buttons)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


def ask_unsaved(parent: QWidget, doing: str) -> str:
    """Save / Discard / Cancel before ``doing`` (e.g. "opening another clip") replaces the open work."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Unsaved work",
        f"The project has unsaved edits, results or settings. Save them before {doing}?",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.setObjectName("unsavedDialog")
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    return {QMessageBox.StandardButton.Save: SAVE, QMessageBox.StandardButton.Discard: DISCARD}.get(
        QMessageBox.StandardButton(answer), CANCEL
    )


def ask_stop_job(parent: QWidget, titles: list[str]) -> bool:
    """A job is running while the user quits: cancel it and quit, or keep working?"""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "A job is running",
        f"{', '.join(titles)} is still running. Cancel it and quit?",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setObjectName("stopJobDialog")
    stop = box.addButton("Cancel job and quit", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Keep working", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(stop)
    box.exec()
    return box.clickedButton() is stop
