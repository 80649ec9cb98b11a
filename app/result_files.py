"""A propagation result on disk: one lossless copy, written once, read back exactly.

Projects and the recovery copy keep results through this small interface only, so the
on-disk result store planned for long clips (issue 16) can replace it without touching
its callers. A result folder holds ``frames.mkv`` (lossless), ``masks/`` (PNG) and
``result.json`` (fps, engine, mode, warnings, frame notes), written into a hidden
temporary folder and renamed into place: a folder with ``result.json`` is complete.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.engines.base import CancelToken, PropagationResult
from engine.video import atomic_folder, open_video, write_png_sequence, write_video

RESULT_FILE = "result.json"
FRAMES_FILE = "frames.mkv"
MASKS_FOLDER = "masks"
#: Result extras that are plain data and survive a save (the contract's user-facing notes).
KEPT_EXTRAS = ("warnings", "frame_notes", "message")

FrameCallback = Callable[[int, int], None]  # (frames done, frames in all)


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds a finished result (``result.json`` is written last)."""
    return (folder / RESULT_FILE).is_file() and (folder / FRAMES_FILE).is_file()


def write_result(
    result: PropagationResult, folder: Path, on_frame: FrameCallback | None = None, cancel: CancelToken | None = None
) -> Path:
    """Write ``result`` losslessly into ``folder`` (replaced atomically); returns ``folder``."""
    total = 2 * len(result.frames)

    def tick(offset: int) -> Callable[[int], None]:
        def on(done: int) -> None:
            if cancel is not None:
                cancel.raise_if_cancelled()
            if on_frame is not None:
                on_frame(offset + done, total)

        return on

    with atomic_folder(folder) as tmp:
        write_video(tmp / FRAMES_FILE, iter(result.frames), result.fps, lossless=True, on_frame=tick(0))
        write_png_sequence(tmp / MASKS_FOLDER, iter(result.masks), prefix="mask_", on_frame=tick(len(result.frames)))
        meta = {"fps": result.fps, "engine": result.engine, "mode": result.mode, "frames": len(result.frames)}
        meta["extras"] = _plain_extras(result.extras)
        (tmp / RESULT_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return folder


def read_result(folder: Path, on_frame: FrameCallback | None = None, cancel: CancelToken | None = None) -> PropagationResult:
    """Read a result folder back (exact: the frames were stored losslessly)."""
    try:
        meta = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{folder / RESULT_FILE} is not readable: {exc}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{folder / RESULT_FILE} is not a JSON object")
    reader = open_video(folder / FRAMES_FILE)
    masks_reader = open_video(folder / MASKS_FOLDER)
    try:
        n = len(reader)
        if len(masks_reader) != n:
            raise ValueError(f"{folder}: {n} frames but {len(masks_reader)} masks")
        first = reader[0]
        frames = np.empty((n, *first.shape), np.uint8)
        masks = np.empty((n, *first.shape[:2]), np.uint8)
        for i in range(n):
            if cancel is not None:
                cancel.raise_if_cancelled()
            frames[i] = reader[i]
            masks[i] = masks_reader[i][..., 0]
            if on_frame is not None:
                on_frame(i + 1, n)
        fps = float(meta.get("fps", reader.fps))
    finally:
        reader.close()
        masks_reader.close()
    extras = dict(meta["extras"]) if isinstance(meta.get("extras"), dict) else {}
    if isinstance(extras.get("frame_notes"), dict):  # JSON keys are strings; the contract's are frame indices
        extras["frame_notes"] = {int(k): str(v) for k, v in extras["frame_notes"].items() if str(k).isdigit()}
    return PropagationResult(
        frames=frames, masks=masks, fps=fps, engine=str(meta.get("engine", "?")), mode=str(meta.get("mode", "")), extras=extras
    )


def copy_result(source: Path, folder: Path) -> Path:
    """Copy a complete result folder (no re-encoding) into ``folder``, atomically."""
    if not is_complete(source):
        raise ValueError(f"{source} is not a complete result folder")
    with atomic_folder(folder) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
    return folder


def _plain_extras(extras: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in KEPT_EXTRAS:
        value = extras.get(key)
        if key == "warnings" and isinstance(value, (list, tuple)):
            out[key] = [str(v) for v in value]
        elif key == "frame_notes" and isinstance(value, dict):
            out[key] = {str(int(k)): str(v) for k, v in value.items()}
        elif key == "message" and isinstance(value, str):
            out[key] = value
    return out
