"""Autosave after every change, and the offer to restore after a crash.

The recovery copy lives in the user's data folder, not next to the user's own files,
and is deleted on a clean exit: if it exists at start, the last session died.
Results are not autosaved (they can be recomputed; writing them after every change
would stall editing); the clip reference, the edits and the engine settings are.
"""

from __future__ import annotations

import logging
from pathlib import Path

from app.paths import user_dirs
from app.project import PROJECT_FILE, Project, ProjectError, remove_project_folder

log = logging.getLogger(__name__)


def recovery_folder() -> Path:
    return user_dirs().recovery / "autosave.genprop"


def autosave(project: Project) -> Path:
    """Write the project's recovery copy (atomic: project.json is replaced last)."""
    folder = recovery_folder()
    folder_before = project.folder
    project.save(folder, include_results=False)
    project.folder = folder_before  # autosaving must not change where "Save" writes
    return folder


def pending_recovery() -> Path | None:
    """The recovery copy left by a session that did not exit cleanly, if any."""
    folder = recovery_folder()
    return folder if (folder / PROJECT_FILE).exists() else None


def restore() -> Project:
    folder = pending_recovery()
    if folder is None:
        raise ProjectError("there is nothing to restore")
    project = Project.load(folder)
    project.folder = None
    return project


def discard() -> None:
    folder = recovery_folder()
    if folder.exists():
        remove_project_folder(folder)
