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
from typing import Any, Literal

import numpy as np

from engine.edit import FirstFrameEdit
from engine.edits import EditSpec, compose, load_edit, save_edit
from engine.edits.edit_file import EditFileError
from engine.edits.specs import OpSpec
from engine.engines.base import PropagationResult
from engine.safe_paths import contained, contained_files, load_json, one_line
from engine.video import open_video, write_bytes_atomic, write_png_sequence, write_video

log = logging.getLogger(__name__)

PROJECT_FORMAT = "genprop-studio-project"
PROJECT_VERSION = 1
PROJECT_FILE = "project.json"
EDIT_FILE = "edit.json"

Listener = Callable[[str], None]


class ProjectError(ValueError):
    """A project file is missing, malformed or unsafe; the message (one line, at most 400
    characters however large the bad value) says what and where."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


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
        file, doc = _read_project_json(path)
        folder = file.parent
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
        project.clip_path = None if clip is None else _clip_path(folder, clip, file)
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
        project.results.extend(_load_results(doc.get("results", []), folder, file))
        project._result_counter = len(project.results)
        project.folder = folder
        return project


# ------------------------------------------------------------ loading checks
# A project folder can come from anyone: every path it names goes through the one
# containment rule (engine/safe_paths.py) and every failure is a ProjectError.

#: A project keeps a handful of results; each is read whole into memory.
MAX_RESULTS = 64


def _read_project_json(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """(project.json path, its document); refuses FIFOs, devices, huge or deeply nested files."""
    path = Path(path)
    try:
        file = path / PROJECT_FILE if path.is_dir() else path
    except (OSError, ValueError) as exc:  # a NUL byte, a path too long
        raise ProjectError(f"project {str(path)[:200]!r} cannot be opened: {exc}") from None
    doc = load_json(file, "project file", error=ProjectError)
    return file, doc


def _inside(folder: Path, rel: object, where: str, kind: Literal["file", "dir"] = "file") -> Path:
    """``folder/rel`` if it exists, is a regular file (or folder) and stays inside ``folder``
    (no '..', no absolute path, no symlink escape): a project never points us at the rest of the disk."""
    return contained(folder, rel, where, kind=kind, root_name="the project folder", error=ProjectError)


def _clip_path(folder: Path, clip: str, file: Path) -> Path:
    """The clip the project refers to (it may live anywhere: it is the user's footage)."""
    if not clip.strip() or "\x00" in clip:
        raise ProjectError(f"{file}: 'clip' must be a path, got {clip!r}")
    try:
        return (folder / Path(clip).expanduser()).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ProjectError(f"{file}: 'clip' {clip!r} is not a usable path: {exc}") from None


def _load_results(items: object, folder: Path, file: Path) -> list[ResultEntry]:
    """The ``results`` section, each result read and checked; anything wrong is a ProjectError."""
    if not isinstance(items, list):
        raise ProjectError(f"{file}: 'results' must be a list, got {type(items).__name__}")
    if len(items) > MAX_RESULTS:
        raise ProjectError(f"{file}: 'results' lists {len(items)} results; at most {MAX_RESULTS} are allowed")
    entries = []
    for i, item in enumerate(items):
        where = f"{file}: results[{i}]"
        if not isinstance(item, dict):
            raise ProjectError(f"{where} must be an object with 'folder', 'name', 'engine', 'mode', got {type(item).__name__}")
        unknown = sorted(set(item) - {"name", "folder", "engine", "mode"})
        if unknown:
            raise ProjectError(f"{where}: unknown field(s) {unknown}")
        for key in ("name", "engine", "mode"):
            if key in item and not isinstance(item[key], str):
                raise ProjectError(f"{where}.{key} must be a string, got {type(item[key]).__name__}")
        try:
            result_folder = _inside(folder, item.get("folder"), f"{where}.folder", kind="dir")
            result = _read_result_checked(folder, result_folder, item.get("engine", "?"), item.get("mode", ""), where)
        except ProjectError as exc:
            raise ProjectError(f"{exc} (remove results[{i}] from {PROJECT_FILE} to open the project without it)") from None
        entries.append(ResultEntry(item.get("name", f"result {i}"), result, item["folder"]))
    return entries


def _read_result_checked(root: Path, result_folder: Path, engine: str, mode: str, where: str) -> PropagationResult:
    """A saved result: ``frames.mkv`` and ``masks/*.png``, both inside the project, same count and size."""
    from engine.video import VideoError
    from engine.video.png import read_png

    rel = result_folder.relative_to(root.resolve()).as_posix()
    video = _inside(root, f"{rel}/frames.mkv", f"{where}: frames.mkv")
    masks_dir = _inside(root, f"{rel}/masks", f"{where}: masks", kind="dir")
    mask_files = contained_files(
        masks_dir, root, f"{where}: masks", suffix=".png", root_name="the project folder", error=ProjectError
    )
    try:
        with open_video(video) as reader:
            if len(reader) != len(mask_files):
                raise ProjectError(f"{where}: frames.mkv has {len(reader)} frames but masks/ holds {len(mask_files)} masks")
            frames = np.stack([reader[i] for i in range(len(reader))])
            fps = reader.fps
    except VideoError as exc:
        raise ProjectError(f"{where}: {exc}") from None
    except (OSError, IndexError, ValueError, MemoryError) as exc:
        if isinstance(exc, ProjectError):
            raise
        raise ProjectError(f"{where}: frames.mkv cannot be read: {exc}") from None
    mask_list = [read_png(f, "L", f"{where}: masks/{f.name}", error=ProjectError) for f in mask_files]
    for f, mask in zip(mask_files, mask_list, strict=True):
        if mask.shape != frames.shape[1:3]:
            raise ProjectError(
                f"{where}: masks/{f.name} is {mask.shape[1]}x{mask.shape[0]} but the frames are {frames.shape[2]}x{frames.shape[1]}"
            )
    masks = np.stack(mask_list)
    return PropagationResult(frames=frames, masks=masks, fps=fps, engine=engine, mode=mode)


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
    """A result folder read with the same checks as a project's (nothing may leave ``folder``)."""
    return _read_result_checked(folder, folder, engine, mode, str(folder))


def remove_project_folder(folder: Path) -> None:
    """Delete a project folder we own (recovery autosaves)."""
    if (folder / PROJECT_FILE).exists() or not any(folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)
