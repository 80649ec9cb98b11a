"""The evaluation test-set format: reading and checking it.

A test set is a folder with ``testset.json`` listing case folders; each case folder has
``case.json`` naming a clip, an edit file (``docs/edit_format.md``), the task, a text
description of the edit (for CLIP-T) and optional ground truth: the target clip and the
per-frame masks of the edited region. The format is documented in ``docs/evaluation.md``.
Every check names the file, the field and the bad value, because a test set is often
written by hand or by someone else's script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.edit import FirstFrameEdit
from engine.edits.edit_file import EditFileError, load_edit
from engine.safe_paths import contained, contained_files, load_json, one_line
from engine.video.png import read_png

TESTSET_FORMAT = "genprop-testset"
CASE_FORMAT = "genprop-testcase"
VERSION = 2
"""Newest format version this reader knows; version 2 added the optional ``truth`` file."""
TASKS = ("remove", "insert", "replace", "recolour", "outpaint", "track")
"""Tasks a case can have; the same names as the edit file's operations."""

_TESTSET_KEYS = {"format", "version", "name", "description", "cases"}
_CASE_KEYS = {"format", "version", "id", "task", "prompt", "set", "clip", "fps", "edit", "target", "masks", "truth", "notes"}
TRUTH_KEYS = {"corners", "shot_cuts"}
"""Fields of a case's ``truth`` JSON: ``corners`` ``[T][4][x, y]`` of an inserted layer,
``shot_cuts``: frame indices (0-based) where a new shot starts."""


class TestSetError(ValueError):
    """A test set or case is malformed; the message (one line) names the file and field."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message, 600))


@dataclass(frozen=True)
class CaseSpec:
    """One case as ``case.json`` describes it (paths resolved, nothing loaded yet)."""

    id: str
    task: str
    prompt: str
    set: str
    folder: Path
    clip: Path
    edit: Path
    fps: float | None = None
    target: Path | None = None
    masks: Path | None = None
    truth: Path | None = None
    notes: str = ""


@dataclass(frozen=True)
class TestSet:
    """A test set: its name, description and cases in file order."""

    __test__ = False

    name: str
    description: str
    root: Path
    cases: tuple[CaseSpec, ...]

    def select(self, ids: list[str] | None = None, tasks: list[str] | None = None) -> list[CaseSpec]:
        """Cases whose id is in ``ids`` and task in ``tasks`` (``None`` = all); unknown names are errors."""
        known_ids = {c.id for c in self.cases}
        for i in ids or []:
            if i not in known_ids:
                raise TestSetError(f"no case {i!r} in test set {self.name!r}; cases: {sorted(known_ids)}")
        for t in tasks or []:
            if t not in TASKS:
                raise TestSetError(f"unknown task {t!r}; tasks: {list(TASKS)}")
        return [c for c in self.cases if (ids is None or c.id in ids) and (tasks is None or c.task in tasks)]


@dataclass
class CaseData:
    """A case with its arrays loaded and checked against each other.

    Attributes:
        frames: ``[T, H, W, 3]`` uint8, the source clip.
        edit: the first-frame edit, composed on ``frames[0]``.
        target: ``[T, H', W', 3]`` uint8 ground-truth output at the edit's canvas size, or None.
        masks: ``[T, H', W']`` bool ground-truth edited region per frame, or None.
        truth: extra ground truth (``TRUTH_KEYS``), ``{}`` when the case has none.
    """

    spec: CaseSpec
    frames: np.ndarray
    fps: float
    edit: FirstFrameEdit
    target: np.ndarray | None
    masks: np.ndarray | None
    truth: dict[str, Any] = field(default_factory=dict)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    doc = load_json(path, what, error=TestSetError)
    if not isinstance(doc, dict):
        raise TestSetError(f"{path} must hold a JSON object, got {type(doc).__name__}")
    return doc


def _check_header(doc: dict[str, Any], path: Path, fmt: str, keys: set[str]) -> None:
    if doc.get("format") != fmt:
        raise TestSetError(f"{path}: format must be {fmt!r}, got {doc.get('format')!r}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TestSetError(f"{path}: version must be a positive integer, got {version!r}")
    if version > VERSION:
        raise TestSetError(f"{path}: version {version} was written by a newer GenProp (this one reads up to {VERSION})")
    unknown = sorted(set(doc) - keys)
    if unknown:
        raise TestSetError(f"{path}: unknown field(s) {unknown}; allowed: {sorted(keys)}")


def _string(doc: dict[str, Any], key: str, path: Path, *, required: bool = True, empty_ok: bool = False) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        raise TestSetError(f"{path}: {key} must be a non-empty string, got {value!r}")
    return value


def _inside(root: Path, base: Path, rel: Any, where: str) -> Path:
    """``base / rel`` (a file or folder) inside ``root``, by the one containment rule (engine/safe_paths.py)."""
    return contained(root, rel, where, kind="any", base=base, root_name="the test set folder", error=TestSetError)


def load_testset(folder: str | Path) -> TestSet:
    """Read and check ``folder/testset.json`` and every case's ``case.json`` (no arrays)."""
    root = Path(folder)
    if not root.is_dir():
        raise TestSetError(f"test set folder {root} not found")
    path = root / "testset.json"
    doc = _read_json(path, "test set index")
    _check_header(doc, path, TESTSET_FORMAT, _TESTSET_KEYS)
    name = _string(doc, "name", path)
    description = _string(doc, "description", path, required=False, empty_ok=True)
    entries = doc.get("cases")
    if not isinstance(entries, list) or not entries:
        raise TestSetError(f"{path}: cases must be a non-empty list of case folders, got {entries!r}")
    cases, seen = [], set()
    for i, rel in enumerate(entries):
        case = load_case_spec(_inside(root, root, rel, f"{path}: cases[{i}]"), root)
        if case.id in seen:
            raise TestSetError(f"{path}: case id {case.id!r} appears twice")
        seen.add(case.id)
        cases.append(case)
    return TestSet(name, description, root.resolve(), tuple(cases))


def load_case_spec(case_dir: Path, root: Path) -> CaseSpec:
    """Read and check one ``case.json``; paths may point anywhere inside ``root``."""
    path = case_dir / "case.json"
    doc = _read_json(path, "case file")
    _check_header(doc, path, CASE_FORMAT, _CASE_KEYS)
    case_id = _string(doc, "id", path)
    task = doc.get("task")
    if task not in TASKS:
        raise TestSetError(f"{path}: task must be one of {list(TASKS)}, got {task!r}")
    fps = doc.get("fps")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0):
        raise TestSetError(f"{path}: fps must be a positive number or null, got {fps!r}")
    optional = {
        k: None if doc.get(k) is None else _inside(root, case_dir, doc[k], f"{path}: {k}") for k in ("target", "masks", "truth")
    }
    if optional["truth"] is not None and doc["version"] < 2:
        raise TestSetError(f"{path}: the truth field needs format version 2, the file says version {doc['version']}")
    return CaseSpec(
        id=case_id,
        task=task,
        prompt=_string(doc, "prompt", path),
        set=_string(doc, "set", path, required=False) or "default",
        folder=case_dir.resolve(),
        clip=_inside(root, case_dir, doc.get("clip"), f"{path}: clip"),
        edit=_inside(root, case_dir, doc.get("edit"), f"{path}: edit"),
        fps=None if fps is None else float(fps),
        target=optional["target"],
        masks=optional["masks"],
        truth=optional["truth"],
        notes=_string(doc, "notes", path, required=False, empty_ok=True),
    )


def read_png_folder(folder: Path, mode: str, where: str) -> np.ndarray:
    """``[T, H, W(, C)]`` uint8 from the ``*.png`` files of ``folder`` in name order."""
    files = contained_files(folder, folder, where, suffix=".png", error=TestSetError)
    if not files:
        raise TestSetError(f"{where}: no .png files in {folder}")
    arrays = [read_png(f, mode, f"{where}: {f.name}", error=TestSetError) for f in files]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise TestSetError(f"{where}: frames in {folder} differ in size: {sorted(shapes)}")
    return np.stack(arrays)


def _read_clip(spec: CaseSpec) -> tuple[np.ndarray, float]:
    from engine.video import VideoError, open_video

    try:
        reader = open_video(spec.clip, fps=spec.fps, confine_to=spec.clip if spec.clip.is_dir() else spec.clip.parent)
        try:
            frames = np.stack([reader[i] for i in range(len(reader))])
            fps = float(reader.fps)
        finally:
            close = getattr(reader, "close", None)
            if close is not None:
                close()
    except VideoError as exc:
        raise TestSetError(f"case {spec.id!r}: clip: {exc}") from None
    if len(frames) < 2:
        raise TestSetError(f"case {spec.id!r}: clip {spec.clip.name} has {len(frames)} frame(s); evaluation needs at least 2")
    return frames, fps


def _compose_target(spec: CaseSpec, frames: np.ndarray, edit: FirstFrameEdit) -> np.ndarray:
    """Target frames at canvas size: RGB as stored, or RGBA patches over the source."""
    where = f"case {spec.id!r}: target"
    if spec.target.is_file():
        from engine.video import VideoError, open_video

        try:
            with open_video(spec.target) as reader:
                return np.stack([reader[i] for i in range(len(reader))])
        except VideoError as exc:
            raise TestSetError(f"{where}: {exc}") from None
    rgba = read_png_folder(spec.target, "RGBA", where)
    w, h = edit.canvas_size
    if rgba.shape[1:3] != (h, w) or len(rgba) != len(frames):
        raise TestSetError(
            f"{where}: {len(rgba)} frames of {rgba.shape[2]}x{rgba.shape[1]}, expected {len(frames)} of {w}x{h} (the edit's canvas)"
        )
    ox, oy = edit.canvas_offset
    fh, fw = frames.shape[1:3]
    base = np.zeros((len(frames), h, w, 3), np.uint8)
    covered = np.zeros((h, w), bool)
    base[:, oy : oy + fh, ox : ox + fw] = frames
    covered[oy : oy + fh, ox : ox + fw] = True
    alpha = rgba[..., 3] > 0
    if (~alpha & ~covered).any():
        t, y, x = np.argwhere(~alpha & ~covered)[0]
        raise TestSetError(f"{where}: pixel ({x}, {y}) of frame {t} lies outside the source clip but has alpha 0")
    return np.where(alpha[..., None], rgba[..., :3], base)


def load_case(spec: CaseSpec) -> CaseData:
    """Load a case's clip, edit and ground truth, checking that their sizes agree."""
    frames, fps = _read_clip(spec)
    try:
        _, edit = load_edit(spec.edit, original_frame=frames[0])
    except EditFileError as exc:
        raise TestSetError(f"case {spec.id!r}: edit {spec.edit.name}: {exc}") from None
    assert edit is not None  # a frame was given
    kinds = [op.kind.value for op in edit.operations]
    if spec.task not in kinds:
        raise TestSetError(f"case {spec.id!r}: task is {spec.task!r} but the edit's operations are {kinds}")
    w, h = edit.canvas_size
    target = None if spec.target is None else _compose_target(spec, frames, edit)
    if target is not None and target.shape != (len(frames), h, w, 3):
        raise TestSetError(f"case {spec.id!r}: target is {target.shape}, expected {(len(frames), h, w, 3)}")
    masks = None
    if spec.masks is not None:
        masks = read_png_folder(spec.masks, "L", f"case {spec.id!r}: masks") > 127
        if masks.shape != (len(frames), h, w):
            raise TestSetError(
                f"case {spec.id!r}: masks are {len(masks)} frames of {masks.shape[2]}x{masks.shape[1]}, "
                f"expected {len(frames)} of {w}x{h}"
            )
    truth = {} if spec.truth is None else _read_truth(spec, len(frames))
    return CaseData(spec, frames, fps, edit, target, masks, truth)


def _read_truth(spec: CaseSpec, count: int) -> dict[str, Any]:
    """The case's ``truth`` JSON, checked: corners ``[T][4][2]`` numbers, shot cuts frame indices."""
    where = f"case {spec.id!r}: truth {spec.truth.name}"
    doc = _read_json(spec.truth, "truth file")
    unknown = sorted(set(doc) - TRUTH_KEYS)
    if unknown:
        raise TestSetError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(TRUTH_KEYS)}")
    if "corners" in doc:
        try:
            arr = np.asarray(doc["corners"], dtype=np.float64)
        except (TypeError, ValueError):
            raise TestSetError(f"{where}: corners must be [frames][4][x, y] numbers") from None
        if arr.shape != (count, 4, 2) or not np.isfinite(arr).all():
            raise TestSetError(f"{where}: corners must be {count} frames of 4 finite (x, y) points, got shape {arr.shape}")
    if "shot_cuts" in doc:
        cuts = doc["shot_cuts"]
        if not isinstance(cuts, list) or not all(isinstance(c, int) and not isinstance(c, bool) and 0 < c < count for c in cuts):
            raise TestSetError(f"{where}: shot_cuts must be a list of frame indices in 1..{count - 1}, got {cuts!r}")
    return doc
