"""The Help menu's windows and the status bar's device line (no state of their own)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from app.paths import user_dirs
from app.version import APP_NAME, __version__

if TYPE_CHECKING:
    from ui.main_window import MainWindow


def show_shortcuts(window: MainWindow) -> QMessageBox:
    """F1: every bound shortcut, read from the window's actions, then the mouse gestures."""
    from ui.actions import GESTURES, shortcut_rows  # the actions table imports this module

    rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in shortcut_rows(window.actions))
    mouse = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in GESTURES)
    box = QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts", "", QMessageBox.StandardButton.Ok, window)
    box.setObjectName("shortcutsDialog")
    box.setText(f"<table>{rows}</table><p><b>Mouse</b></p><table>{mouse}</table>")
    box.open()
    return box


def show_model_manager(window: MainWindow) -> None:
    from ui.model_manager_dialog import ModelManagerDialog

    dialog = ModelManagerDialog(user_dirs().ensure().models, window)
    dialog.finished.connect(lambda _r: window.refresh_engines())
    dialog.open()


def show_log_location(window: MainWindow) -> None:
    QMessageBox.information(window, "Logs", f"The log file is in:\n{user_dirs().logs}\nPlease attach it to bug reports.")


def show_about(window: MainWindow) -> None:
    QMessageBox.about(
        window,
        f"About {APP_NAME}",
        f"<b>{APP_NAME} {__version__}</b><p>Propagate a first-frame edit through a whole clip.</p>"
        "<p>Apache-2.0. See NOTICE for third-party licences.</p>",
    )


def device_text() -> str:
    """Device for the status bar without importing torch at start-up (it takes seconds): torch is
    asked once something has loaded it, else the NVIDIA driver's presence tells."""
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                return f"GPU ({torch.cuda.get_device_name(0)})"
        except Exception:  # noqa: BLE001 - a broken driver just means CPU
            pass
        return "CPU"
    return "GPU (NVIDIA)" if Path("/proc/driver/nvidia/version").exists() else "CPU"
