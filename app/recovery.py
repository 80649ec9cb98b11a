"""The recovery copy: autosaved after every change, offered back after a crash.

It lives in the user's data folder, not next to the user's own files, and is deleted
on a clean exit: if it exists at start, the last session died. It holds the clip
reference, the edits, the engine settings, the path of the project being worked on, and
references to the results: each result is written there once, losslessly, on a worker
(``write_result``), never on every change; the edit's masks and layers are written only
when they changed. Everything here runs off the GUI thread; the window passes a
``ProjectSnapshot`` taken on the GUI thread, a moment after the last of a burst of changes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from app import result_files
from app.paths import user_dirs
from app.project import PROJECT_FILE, ProgressFn, Project, ProjectError, ProjectSnapshot, ResultEntry, remove_project_folder
from app.project_io import save_snapshot
from engine.engines.base import CancelToken, Progress, ProgressCallback

log = logging.getLogger(__name__)


def recovery_folder() -> Path:
    return user_dirs().recovery / "autosave.genprop"


def worth_keeping(snap: ProjectSnapshot) -> bool:
    """Is there anything the user made? A clip alone is nothing to offer back."""
    return snap.clip_path is not None and bool(snap.operations or snap.results)


def autosave(snap: ProjectSnapshot) -> Path | None:
    """Write (or, with nothing worth keeping, remove) the recovery copy; project.json is replaced last.

    Only what changed is written: the edit's assets are named by their content (a mask
    already there is not encoded again), each result was copied once by ``write_result``.
    Every file is replaced atomically and new assets land before the JSON naming them, so
    a crash mid-write leaves the previous copy readable."""
    folder = recovery_folder()
    if not worth_keeping(snap):
        discard()
        return None
    written = tuple(e for e in snap.results if result_files.is_complete(folder / e.folder_name))
    extra = {"saved_project": str(snap.folder) if snap.folder is not None else None}
    save_snapshot(
        dataclasses.replace(snap, results=written, edit_written=None),
        folder,
        extra=extra,
        keep={e.key for e in snap.results},
        content_named=True,  # only masks and layers that changed are encoded; the last copy stays whole meanwhile
    )
    return folder


def write_result(entry: ResultEntry) -> Path:
    """The result's lossless copy in the recovery folder (copied if one exists already)."""
    target = recovery_folder() / entry.folder_name
    if result_files.is_complete(target):
        return target
    if entry.files is not None and result_files.is_complete(entry.files):
        return result_files.copy_result(entry.files, target, entry.result.extras)
    return result_files.write_result(entry.result, target)


def pending_recovery() -> Path | None:
    """The recovery copy left by a session that did not exit cleanly, if any."""
    folder = recovery_folder()
    return folder if (folder / PROJECT_FILE).exists() else None


def restore(progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> Project:
    """The crashed session's work; it counts as unsaved (the caller marks it so). Its results
    are decoded here (seconds for a long clip): the window runs this as a ``RestoreJob``."""
    folder = pending_recovery()
    if folder is None:
        raise ProjectError("there is nothing to restore")
    project = Project.load(folder, progress, cancel)
    # The project the user was working on is named by the recovery copy only (the app's own
    # file): a project.json from elsewhere never chooses where the next Save writes.
    project.folder = _saved_project(folder)
    return project


@dataclass
class RestoreJob:
    """Read the recovery copy with its results (a job: progress and cancel, off the GUI thread)."""

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> Project:
        def on(done: int, total: int, what: str) -> None:
            progress(Progress("opening", done, total, f"{what}: frame {done}/{total}"))

        progress(Progress("opening", 0, 1, "reading the recovery copy"))
        return restore(on, cancel)


def _saved_project(folder: Path) -> Path | None:
    """The project folder the crashed session was saving to (None: never saved, "Save" asks where)."""
    try:
        saved = json.loads((folder / PROJECT_FILE).read_text(encoding="utf-8")).get("saved_project")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(saved, str) or not saved or Path(saved).resolve() == folder.resolve():
        return None
    return Path(saved)


def discard() -> None:
    """Remove the recovery copy (a clean exit, or the work was saved or discarded)."""
    folder = recovery_folder()
    if folder.exists():
        remove_project_folder(folder)
