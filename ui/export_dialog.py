"""File -> Export result...: a save dialog listing every output format, whose name follows the format."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QWidget

from app.export_choices import chosen_format, export_target, filter_text, renamed_for, result_filters, suggested_name


def ask_export_target(parent: QWidget, start_dir: str, last_filter: str) -> tuple[Path, str, str] | None:
    """``(target, format name, filter line)`` the user chose, or None when cancelled.

    Switching the type renames the typed file (``result.mp4`` -> ``result.mov`` for ProRes), so a
    name and a format that do not fit are not the first thing a user meets.
    """
    chosen = chosen_format(last_filter)
    dialog = QFileDialog(parent, "Export result", start_dir)
    dialog.setObjectName("exportDialog")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setNameFilters(result_filters())
    dialog.selectNameFilter(filter_text(chosen))
    dialog.selectFile(suggested_name(chosen))

    def follow(selected: str) -> None:
        typed = dialog.selectedFiles()
        name = Path(typed[0]).name if typed else suggested_name(chosen)
        dialog.selectFile(renamed_for(name, chosen_format(selected)))

    dialog.filterSelected.connect(follow)
    if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.selectedFiles():
        return None
    selected = dialog.selectedNameFilter()
    fmt = chosen_format(selected)
    return export_target(dialog.selectedFiles()[0], fmt), fmt.name, selected
