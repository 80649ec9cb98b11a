"""Writing test sets: the counterpart of :mod:`engine.evaluation.testset`.

Scripts that prepare cases (``scripts/make_testset.py``) call these so every test set on
disk has the same layout and passes :func:`~engine.evaluation.testset.load_testset`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.edits.edit_file import EditSpec, save_edit
from engine.evaluation.testset import CASE_FORMAT, TASKS, TESTSET_FORMAT, TRUTH_KEYS, VERSION


def write_png_folder(folder: Path, frames: np.ndarray, mode: str) -> Path:
    """Frames as ``00000.png``...; masks (``mode`` "1") are stored as 1-bit PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        img = Image.fromarray(np.ascontiguousarray(frame if mode != "1" else (frame > 0).astype(np.uint8) * 255))
        img.convert(mode).save(folder / f"{t:05d}.png", optimize=True)
    return folder


def target_patches(target: np.ndarray, region: np.ndarray) -> np.ndarray:
    """RGBA frames: the target where ``region`` is set, alpha 0 (= as the source) elsewhere.

    Stores ground truth compactly: only what the edit changes is kept.
    """
    if target.shape[:3] != region.shape:
        raise ValueError(f"region {region.shape} does not match target {target.shape[:3]}")
    alpha = np.where(region, np.uint8(255), np.uint8(0))
    rgb = np.where(region[..., None], target, np.uint8(0))
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


def write_case(
    folder: Path,
    *,
    case_id: str,
    task: str,
    prompt: str,
    clip: str,
    edit: EditSpec,
    set_name: str = "default",
    fps: float | None = None,
    target: str | None = None,
    masks: str | None = None,
    truth: dict[str, Any] | None = None,
    notes: str = "",
) -> Path:
    """Write ``folder/case.json`` and the edit under ``folder/edit/``.

    ``clip``, ``target`` and ``masks`` are paths relative to ``folder`` that the caller
    has already written (a clip may be shared by several cases). ``truth`` (corners,
    shot cuts) goes to ``folder/truth.json``; only cases that have it are written as
    format version 2, so older readers still read the rest.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
    folder.mkdir(parents=True, exist_ok=True)
    save_edit(edit, folder / "edit")
    if truth is not None:
        unknown = sorted(set(truth) - TRUTH_KEYS)
        if unknown:
            raise ValueError(f"truth has unknown field(s) {unknown}; allowed: {sorted(TRUTH_KEYS)}")
        (folder / "truth.json").write_text(json.dumps(truth) + "\n", encoding="utf-8")
    doc: dict[str, Any] = {
        "format": CASE_FORMAT,
        "version": VERSION if truth is not None else 1,
        "id": case_id,
        "task": task,
        "prompt": prompt,
        "set": set_name,
        "clip": clip,
        "fps": fps,
        "edit": "edit/edit.json",
        "target": target,
        "masks": masks,
        **({"truth": "truth.json"} if truth is not None else {}),
        "notes": notes,
    }
    path = folder / "case.json"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def write_index(root: Path, name: str, description: str, case_folders: list[str]) -> Path:
    """Write ``root/testset.json`` listing ``case_folders`` (relative to ``root``)."""
    doc = {"format": TESTSET_FORMAT, "version": 1, "name": name, "description": description, "cases": case_folders}
    path = root / "testset.json"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path
