"""Where this session's results live on disk while the app runs (issue 16).

The app keeps results as handles to folders, not arrays, so a folder must outlive every
handle to it: a project can delete its ``results/`` copy (the user removed a result, a
Save replaced it) and the recovery copy is discarded after a save, while the window may
still show the result, or undo may bring it back. So every result the app reads or makes
lives in a folder of its own under the user's cache folder, named after this process:
a run writes there directly; a saved result is linked in (hard links: no copy, and
deleting the original leaves the link readable) or copied where links are not possible.
Folders of processes that no longer run are removed when the next session starts.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from app.paths import user_dirs

log = logging.getLogger(__name__)

SESSION_PREFIX = "session-"
#: Tells this session's folder from one a dead process with the same id left (pids are reused).
_TOKEN = uuid.uuid4().hex[:8]


def cache_root() -> Path:
    return user_dirs().cache / "results"


def _session_folder() -> Path:
    return cache_root() / f"{SESSION_PREFIX}{os.getpid()}-{_TOKEN}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def remove_stale_sessions() -> list[Path]:
    """Delete the result folders of sessions whose process is gone (a crash, a kill)."""
    root = cache_root()
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for entry in os.scandir(root):
        name = entry.name
        if not (entry.is_dir(follow_symlinks=False) and name.startswith(SESSION_PREFIX)):
            continue
        pid, _, token = name[len(SESSION_PREFIX) :].partition("-")
        if not pid.isdigit():
            continue
        mine = int(pid) == os.getpid()
        if (mine and token != _TOKEN) or (not mine and not _pid_alive(int(pid))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


_cleaned = False


def new_result_folder() -> Path:
    """A fresh, not yet existing folder for one result of this session."""
    global _cleaned
    if not _cleaned:
        _cleaned = True
        try:
            remove_stale_sessions()
        except OSError as exc:  # a cache we cannot tidy must not stop a run
            log.warning("could not remove old result folders: %s", exc)
    folder = _session_folder() / uuid.uuid4().hex[:12]
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder


def adopt(source: Path) -> Path:
    """A session folder holding the same files as the complete result folder ``source``
    (hard links where the disk allows, else copies); ``source`` may be deleted afterwards.

    Only plain files and folders are taken: a symlink or a FIFO in ``source`` is refused
    (``ValueError`` naming it), so nothing outside the result can be pulled in.
    """
    target = new_result_folder()
    tmp = target.with_name(f".{target.name}.partial")
    try:
        tmp.mkdir()
        link_tree(Path(source), tmp, depth=0)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def link_tree(src: Path, dst: Path, depth: int = 0) -> None:
    """Hard-link (else copy) the plain files of the result folder ``src`` into the existing folder ``dst``.

    A result's files are never changed once written (``result.json`` is replaced, not rewritten), so
    a link is a copy that costs nothing: a 1,200-frame 1080p result is 7 GB to copy."""
    if depth > 2:
        raise ValueError(f"{src}: a result folder is at most two levels deep")
    for entry in os.scandir(src):
        out = dst / entry.name
        if entry.is_symlink():
            raise ValueError(f"{entry.path} is a symlink; a result folder holds plain files only")
        if entry.is_dir(follow_symlinks=False):
            out.mkdir()
            link_tree(Path(entry.path), out, depth + 1)
        elif entry.is_file(follow_symlinks=False):
            try:
                os.link(entry.path, out, follow_symlinks=False)
            except OSError:
                shutil.copyfile(entry.path, out, follow_symlinks=False)
        else:
            raise ValueError(f"{entry.path} is not a regular file; refused")


def remove_session() -> None:
    """This session's result folders (a clean exit)."""
    shutil.rmtree(_session_folder(), ignore_errors=True)
