"""A propagation result on disk: how projects and the recovery copy store and read results.

Projects and the recovery copy keep results through this small interface only. Results
are folders of the on-disk result store (``engine.result_store``: lossless PNG frames,
PNG masks, ``result.json`` written last, so a folder with ``result.json`` is complete);
folders of the earlier one-file layout (``frames.mkv`` + ``masks/`` + ``result.json``)
are still read. Results are read as handles, not arrays: frames decode when shown or
exported, so memory does not grow with the clip or with the number of results kept.
A handle reads from a folder of this session's own (``app.result_cache``), which lives
as long as the app, whatever happens to the project's or the recovery copy's folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine import result_store
from engine.engines.base import CancelToken, PropagationResult
from engine.video import atomic_folder

RESULT_FILE = result_store.RESULT_FILE
STORE_FILE = result_store.STORE_FILE
FRAMES_FILE = result_store.LEGACY_FRAMES_FILE  # the earlier layout's frames (still read)
MASKS_FOLDER = result_store.MASKS_FOLDER
#: Result extras that are plain data and survive a save (the contract's user-facing notes).
KEPT_EXTRAS = result_store.KEPT_EXTRAS

FrameCallback = Callable[[int, int], None]  # (frames done, frames in all)


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds a finished result (``result.json`` is written last)."""
    return result_store.is_complete(folder)


def layout_files(folder: Path) -> tuple[str, ...]:
    """The files a result folder of ``folder``'s layout must hold (relative names, for containment checks)."""
    if (folder / STORE_FILE).exists():
        return (RESULT_FILE, STORE_FILE)
    return (RESULT_FILE, FRAMES_FILE)


def stored_folder(result: PropagationResult) -> Path | None:
    """The complete folder a result read from disk comes from (``None``: it is held in memory)."""
    folder = result.extras.get("result_folder") if isinstance(result.extras, dict) else None
    if isinstance(folder, str) and not isinstance(result.frames, np.ndarray):
        path = Path(folder)
        if is_complete(path):
            return path
    return None


def write_result(
    result: PropagationResult, folder: Path, on_frame: FrameCallback | None = None, cancel: CancelToken | None = None
) -> Path:
    """Write ``result`` losslessly into ``folder`` (replaced atomically); returns ``folder``.

    A result already on disk is copied (no re-encoding). ``on_frame`` counts two units per frame.
    """
    source = stored_folder(result)
    if source is not None:
        return copy_result(source, folder, result.extras)

    def on(done: int, total: int) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        if on_frame is not None:
            on_frame(2 * done, 2 * total)

    result_store.write_result(result, folder, on)
    return folder


def read_result(folder: Path, on_frame: FrameCallback | None = None, cancel: CancelToken | None = None) -> PropagationResult:
    """The result in ``folder`` as a handle (frames read on demand, exact: stored losslessly).

    The folder's files are linked into this session's cache first, so the handle stays
    readable when ``folder`` is deleted or replaced. Raises ``ValueError`` naming the problem.
    """
    from app import result_cache

    if cancel is not None:
        cancel.raise_if_cancelled()
    if not is_complete(folder):
        raise ValueError(f"{folder} is not a complete result folder")
    result = result_store.open_result(result_cache.adopt(folder))
    n = len(result.frames)
    if n < 1:
        raise ValueError(f"{folder} holds no frames")
    result.frames[0], result.frames[n - 1]  # noqa: B018 - fail now, not during review
    # Every mask is decoded once (small, CRC-checked): a missing, damaged or wrongly sized
    # mask is refused when the result is opened, not found later in the middle of a review.
    for i in range(n):
        if cancel is not None:
            cancel.raise_if_cancelled()
        result.masks[i]  # noqa: B018
        if on_frame is not None:
            on_frame(i + 1, n)
    return result


def copy_result(source: Path, folder: Path, extras: dict | None = None) -> Path:
    """Copy a complete result folder (no re-encoding) into ``folder``, atomically: hard links
    where the disk allows (``app.result_cache.link_tree``), else copies; a symlink or a FIFO in
    ``source`` is refused.

    ``extras``: the result's current notes, written into the copy (they may have grown
    since the run wrote ``source``).
    """
    from app import result_cache

    if not is_complete(source):
        raise ValueError(f"{source} is not a complete result folder")
    with atomic_folder(folder) as tmp:
        result_cache.link_tree(Path(source), Path(tmp))
        if extras is not None and (Path(tmp) / STORE_FILE).exists():
            result_store.replace_extras(tmp, extras)
    return folder
