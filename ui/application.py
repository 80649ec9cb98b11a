"""Starting the Qt application: theme, settings, the first clip."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from app import recovery
from app.paths import SAMPLE_CLIP, user_dirs
from app.settings import Settings
from app.version import APP_NAME, __version__
from ui.main_window import MainWindow
from ui.theme import apply_theme

log = logging.getLogger(__name__)


def first_clip(clip: Path | None, settings: Settings, open_sample: bool) -> Path | None:
    """What to show at start: the argument, else the last clip, else the sample."""
    if clip is not None:
        return clip
    for recent in settings.recent_files:
        if Path(recent).exists():
            return Path(recent)
    if open_sample and SAMPLE_CLIP.exists():
        return SAMPLE_CLIP
    return None


def create_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setOrganizationName("GenProp")
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    return app  # type: ignore[return-value]


def run_gui(clip: Path | None = None, project: Path | None = None, open_sample: bool = True) -> int:
    app = create_application()
    dirs = user_dirs().ensure()
    settings = Settings.load(dirs.settings_file)
    apply_theme(app, settings.theme)
    window = MainWindow(settings)
    window.show()
    if project is not None:
        window.projects.open(project, confirmed=True)
    elif recovery.pending_recovery() is not None and offer_restore(window):
        window.projects.restore_recovery()
    else:
        recovery.discard()
        start = first_clip(clip, settings, open_sample)
        if start is not None:
            window.open_clip(start, confirmed=True)
    code = app.exec()
    from app import result_cache

    result_cache.remove_session()  # a clean exit: this session's result folders are no longer shown anywhere
    return code


def offer_restore(window: MainWindow) -> bool:
    """The last session did not exit cleanly: ask whether to bring its work back."""
    answer = QMessageBox.question(
        window,
        "Restore your work?",
        "GenProp Studio did not close cleanly last time. Restore the clip, edits, results and settings it was working on?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes,
    )
    return answer == QMessageBox.StandardButton.Yes
