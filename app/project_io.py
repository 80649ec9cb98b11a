"""Saving and opening projects as jobs: progress, cancel, and only what changed is written.

A project is the folder the user names (created if needed). Saving writes the edit when
it changed since the last save into that folder, each result that the folder does not
hold yet (copying an existing lossless copy, e.g. from the recovery folder, instead of
encoding again), removes results the user deleted, and writes ``project.json`` last.
Open accepts what Save wrote: the folder or its ``project.json``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app import result_files
from app.project import (
    EDIT_FILE,
    PROJECT_FILE,
    PROJECT_FORMAT,
    PROJECT_VERSION,
    RESULTS_FOLDER,
    Project,
    ProjectError,
    ProjectSnapshot,
    _relative_or_absolute,
    edit_ids,
)
from engine.edits import EditSpec, save_edit
from engine.engines.base import CancelToken, Progress, ProgressCallback
from engine.video import write_bytes_atomic


def project_folder(path: str | Path) -> Path:
    """The project folder for what the user picked: the folder itself or its project.json."""
    path = Path(path).expanduser()
    return path.parent if path.name == PROJECT_FILE else path


def is_project(path: str | Path) -> bool:
    return (project_folder(path) / PROJECT_FILE).is_file()


def check_save_target(folder: Path) -> None:
    """Refuse to write a project into a folder that holds other things (the user's files)."""
    if folder.exists() and not folder.is_dir():
        raise ProjectError(f"{folder} is a file, not a project folder; choose a new name")
    if folder.is_dir() and not (folder / PROJECT_FILE).is_file() and any(not _app_results(p) for p in folder.iterdir()):
        raise ProjectError(
            f"{folder} already holds other files and is not a GenProp Studio project; "
            "choose a new name (the project folder is created for you)"
        )


def _app_results(path: Path) -> bool:
    """``results/`` holding only result folders this app wrote: a recovery copy whose results were
    written before its first project.json (a quick copy can beat the autosave), or an interrupted first save."""
    if path.name != RESULTS_FOLDER or path.is_symlink() or not path.is_dir():
        return False
    return all(
        sub.is_dir() and not sub.is_symlink() and (sub.name.startswith(".") or result_files.is_complete(sub))
        for sub in path.iterdir()
    )


def save_snapshot(
    snap: ProjectSnapshot,
    folder: Path,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    extra: dict[str, Any] | None = None,
    keep: set[str] | None = None,
    content_named: bool = False,
) -> Path:
    """Write ``snap`` into ``folder`` (see the module docstring); returns project.json's path.

    ``extra``: more keys for project.json (the recovery copy's project path); ``keep``:
    result keys whose folders stay although the snapshot does not list them (results
    the recovery writer is still writing); ``content_named``: the edit's assets are named by
    their content and only new ones are written (``save_edit``; the recovery copy).
    """
    folder = Path(folder)
    check_save_target(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cancel = cancel or CancelToken()
    to_write = [e for e in snap.results if not _already_in(e, folder)]
    total = max(1, sum(2 * len(e.result.frames) for e in to_write if e.files is None) + len(to_write) + 2)
    done = 0

    def report(message: str, step: int = 1) -> None:
        nonlocal done
        done = min(total, done + step)
        if progress is not None:
            progress(Progress("saving", done, total, message))

    op_ids = edit_ids(snap.operations, snap.keyframes)
    if snap.edit_written != (folder, op_ids) or not (folder / EDIT_FILE).is_file():
        spec = EditSpec(
            operations=list(snap.operations),
            source=str(snap.clip_path) if snap.clip_path else None,
            keyframes=list(snap.keyframes),  # the edit file holds them (version 2), so propagate --edit reads them too
        )
        save_edit(spec, folder, EDIT_FILE, content_named=content_named)
    report("edit written")
    for n, entry in enumerate(to_write):
        cancel.raise_if_cancelled()
        target = folder / entry.folder_name
        what = f"result {n + 1}/{len(to_write)}"
        if entry.files is not None and result_files.is_complete(entry.files):
            result_files.copy_result(entry.files, target, entry.result.extras)
            report(f"{what} copied")
        else:
            base = done

            def on_frame(units: int, units_total: int, base: int = base, what: str = what) -> None:
                nonlocal done
                done = base + units
                part = "frames" if units <= units_total // 2 else "masks"
                if progress is not None:
                    progress(Progress("saving", done, total, f"{what}: {part}"))

            result_files.write_result(entry.result, target, on_frame, cancel)
            report(f"{what} written")
    _remove_dropped_results(folder, {e.key for e in snap.results} | (keep or set()))
    doc = {
        "format": PROJECT_FORMAT,
        "version": PROJECT_VERSION,
        "clip": _relative_or_absolute(snap.clip_path, folder),
        "edit": EDIT_FILE,
        "engine": asdict(snap.engine),
        "results": [
            {"name": e.name, "folder": e.folder_name, "engine": e.result.engine, "mode": e.result.mode} for e in snap.results
        ],
        **(extra or {}),
    }
    write_bytes_atomic(folder / PROJECT_FILE, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
    report("project written")
    return folder / PROJECT_FILE


def _already_in(entry: Any, folder: Path) -> bool:
    """``folder`` holds this very result already: saved there before, written there by the
    recovery writer, or a copy of it (a result restored from the recovery copy into the
    project it was saved in: same key, same metadata, same frames file)."""
    target = folder / entry.folder_name
    if not result_files.is_complete(target):
        return False
    if entry.saved_in == folder or entry.files == target:
        return True
    return entry.files is not None and result_files.is_complete(entry.files) and _same_copy(entry.files, target)


def _same_copy(a: Path, b: Path) -> bool:
    """Two complete result folders written from one result (results never change once written)."""
    names = result_files.layout_files(a)
    if names != result_files.layout_files(b):
        return False
    try:
        for name in names:  # small JSON descriptions compared whole, a frames file by size
            if name.endswith(".json"):
                if (a / name).read_bytes() != (b / name).read_bytes():
                    return False
            elif (a / name).stat().st_size != (b / name).stat().st_size:
                return False
    except OSError:
        return False
    return True


def _remove_dropped_results(folder: Path, keep: set[str]) -> None:
    """Delete result folders this app wrote that the project no longer lists."""
    results = folder / RESULTS_FOLDER
    if not results.is_dir():
        return
    for sub in results.iterdir():
        if sub.is_dir() and sub.name not in keep and (sub / result_files.RESULT_FILE).is_file():
            shutil.rmtree(sub, ignore_errors=True)


@dataclass
class SaveProjectJob:
    """Save a snapshot into a project folder (a job: progress and cancel)."""

    snapshot: ProjectSnapshot
    folder: Path

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> Path:
        save_snapshot(self.snapshot, self.folder, progress, cancel)
        return self.folder


@dataclass
class OpenProjectJob:
    """Read a project folder (or its project.json) with its results (a job)."""

    path: Path

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> Project:
        def on(done: int, total: int, what: str) -> None:
            progress(Progress("opening", done, total, f"{what}: frame {done}/{total}"))

        progress(Progress("opening", 0, 1, "reading project.json"))
        return Project.load(project_folder(self.path), on, cancel)
