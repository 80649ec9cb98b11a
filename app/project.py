"""The user's work: a clip reference, the first-frame edit, engine settings, results.

A project is a folder (``something.genprop/``) holding ``project.json`` and the edit in
the documented edit-file format (``edit.json`` + ``assets/``, see docs/edit_format.md),
so the CLI's ``propagate --edit`` reads a project's edit directly. Results are stored
losslessly under ``results/``. Every mutation goes through a method that notifies
listeners; the GUI's undo commands call these methods, so the model stays Qt-free.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.edit import FirstFrameEdit
from engine.edits import EditSpec, compose, load_edit, save_edit
from engine.edits.edit_file import EditFileError
from engine.edits.specs import OpSpec
from engine.engines.base import PropagationResult
from engine.video import open_video, write_bytes_atomic, write_png_sequence, write_video

log = logging.getLogger(__name__)

PROJECT_FORMAT = "genprop-studio-project"
PROJECT_VERSION = 1
PROJECT_FILE = "project.json"
EDIT_FILE = "edit.json"

Listener = Callable[[str], None]


class ProjectError(ValueError):
    """A project file is missing, malformed or unsafe; the message says what and where."""


@dataclass
class EngineSettings:
    """Which engine runs and with what options (what the engine panel edits)."""

    engine: str = "classic"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResultEntry:
    """One propagation result kept in the project (several can be compared)."""

    name: str
    result: PropagationResult
    saved_as: str | None = None  # folder under results/ once written


class Project:
    """Mutable project state with change notifications (no Qt)."""

    def __init__(self) -> None:
        self.clip_path: Path | None = None
        self.operations: list[OpSpec] = []
        self.engine = EngineSettings()
        self.results: list[ResultEntry] = []
        self.folder: Path | None = None
        self._listeners: list[Listener] = []
        self._result_counter = 0

    # ------------------------------------------------------------ notifications
    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, what: str) -> None:
        for listener in list(self._listeners):
            listener(what)

    # ------------------------------------------------------------ mutations
    def set_clip(self, path: str | Path | None) -> None:
        self.clip_path = None if path is None else Path(path).resolve()
        self._emit("clip")

    def insert_operation(self, index: int, spec: OpSpec) -> None:
        self.operations.insert(index, spec)
        self._emit("operations")

    def add_operation(self, spec: OpSpec) -> int:
        self.insert_operation(len(self.operations), spec)
        return len(self.operations) - 1

    def remove_operation(self, index: int) -> OpSpec:
        spec = self.operations.pop(index)
        self._emit("operations")
        return spec

    def set_engine(self, engine: str, options: dict[str, Any]) -> None:
        self.engine = EngineSettings(engine, dict(options))
        self._emit("engine")

    def add_result(self, result: PropagationResult, name: str | None = None) -> ResultEntry:
        self._result_counter += 1
        entry = ResultEntry(name or f"#{self._result_counter} {result.engine}", result)
        self.results.append(entry)
        self._emit("results")
        return entry

    def remove_result(self, index: int) -> None:
        self.results.pop(index)
        self._emit("results")

    # ------------------------------------------------------------ derived
    def first_frame_edit(self, original_frame: np.ndarray) -> FirstFrameEdit:
        """Apply the operations in order to frame 1 (pure: nothing here changes)."""
        return compose(original_frame, self.operations)

    # ------------------------------------------------------------ files
    def save(self, folder: str | Path, *, include_results: bool = True) -> Path:
        """Write the project folder; ``project.json`` is written last, atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_edit(
            EditSpec(operations=list(self.operations), source=str(self.clip_path) if self.clip_path else None), folder, EDIT_FILE
        )
        results = []
        if include_results:
            for i, entry in enumerate(self.results):
                rel = entry.saved_as or f"results/{i:02d}"
                target = folder / rel
                if not (target / "frames.mkv").exists():
                    _write_result(entry.result, target)
                entry.saved_as = rel
                results.append({"name": entry.name, "folder": rel, "engine": entry.result.engine, "mode": entry.result.mode})
        doc = {
            "format": PROJECT_FORMAT,
            "version": PROJECT_VERSION,
            "clip": _relative_or_absolute(self.clip_path, folder),
            "edit": EDIT_FILE,
            "engine": asdict(self.engine),
            "results": results,
        }
        write_bytes_atomic(folder / PROJECT_FILE, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
        self.folder = folder
        return folder / PROJECT_FILE

    @classmethod
    def load(cls, path: str | Path) -> Project:
        """Read and validate a project (folder or its project.json)."""
        path = Path(path)
        file = path / PROJECT_FILE if path.is_dir() else path
        folder = file.parent
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ProjectError(f"project file {file} not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProjectError(f"{file} is not a readable project file: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != PROJECT_FORMAT:
            raise ProjectError(
                f"{file} is not a GenProp Studio project (format field is {doc.get('format') if isinstance(doc, dict) else None!r})"
            )
        if doc.get("version") != PROJECT_VERSION:
            raise ProjectError(f"{file}: unsupported project version {doc.get('version')!r} (this app reads {PROJECT_VERSION})")
        project = cls()
        clip = doc.get("clip")
        if clip is not None and not isinstance(clip, str):
            raise ProjectError(f"{file}: 'clip' must be a path string, got {clip!r}")
        project.clip_path = None if clip is None else (folder / clip).resolve()
        edit_rel = doc.get("edit", EDIT_FILE)
        edit_path = _inside(folder, edit_rel, "edit")
        try:
            spec, _ = load_edit(edit_path)
        except EditFileError as exc:
            raise ProjectError(f"{file}: {exc}") from None
        project.operations = list(spec.operations)
        engine = doc.get("engine", {})
        if (
            not isinstance(engine, dict)
            or not isinstance(engine.get("engine", "classic"), str)
            or not isinstance(engine.get("options", {}), dict)
        ):
            raise ProjectError(f"{file}: 'engine' must be {{'engine': name, 'options': {{...}}}}, got {engine!r}")
        project.engine = EngineSettings(engine.get("engine", "classic"), dict(engine.get("options", {})))
        for i, item in enumerate(doc.get("results", [])):
            try:
                result_folder = _inside(folder, item["folder"], f"results[{i}].folder")
                result = _read_result(result_folder, item.get("engine", "?"), item.get("mode", ""))
            except (KeyError, TypeError, OSError, ValueError) as exc:
                log.warning("%s: result %d skipped: %s", file, i, exc)
                continue
            project.results.append(ResultEntry(str(item.get("name", f"result {i}")), result, item["folder"]))
        project._result_counter = len(project.results)
        project.folder = folder
        return project


def _inside(folder: Path, rel: object, where: str) -> Path:
    """``folder/rel`` if it exists and stays inside ``folder`` (no '..', no absolute path,
    no symlink escape): a project file must never point us at the rest of the disk."""
    if not isinstance(rel, str) or not rel.strip() or "\x00" in rel:
        raise ProjectError(f"{where} must be a relative path, got {rel!r}")
    candidate = Path(rel)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise ProjectError(f"{where}: {rel!r} refused; paths must stay inside the project folder")
    root = folder.resolve()
    try:
        real = (root / candidate).resolve(strict=True)
    except (OSError, RuntimeError):
        raise ProjectError(f"{where}: {rel!r} not found in {root}") from None
    if not real.is_relative_to(root):
        raise ProjectError(f"{where}: {rel!r} resolves outside the project folder; refused")
    return real


def _relative_or_absolute(path: Path | None, folder: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path.resolve())


def _write_result(result: PropagationResult, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    write_video(target / "frames.mkv", list(result.frames), result.fps, lossless=True)
    write_png_sequence(target / "masks", list(result.masks), prefix="mask_")
    write_bytes_atomic(
        target / "result.json", json.dumps({"fps": result.fps, "engine": result.engine, "mode": result.mode}).encode()
    )


def _read_result(folder: Path, engine: str, mode: str) -> PropagationResult:
    reader = open_video(folder / "frames.mkv")
    frames = np.stack([reader[i] for i in range(len(reader))])
    masks_reader = open_video(folder / "masks")
    masks = np.stack([masks_reader[i][..., 0] for i in range(len(masks_reader))])
    return PropagationResult(frames=frames, masks=masks, fps=reader.fps, engine=engine, mode=mode)


def remove_project_folder(folder: Path) -> None:
    """Delete a project folder we own (recovery autosaves)."""
    if (folder / PROJECT_FILE).exists() or not any(folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)
