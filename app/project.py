"""The user's work: a clip reference, the first-frame edit, engine settings, results.

A project is the folder the user names, holding ``project.json`` and the edit in the
documented edit-file format (``edit.json`` + ``assets/``, see docs/edit_format.md), so
the CLI's ``propagate --edit`` reads a project's edit directly. Results are stored
losslessly under ``results/`` (``app.result_files``). Every mutation goes through a
method that notifies listeners; the GUI's undo commands call these methods, so the
model stays Qt-free. Writing and reading run as jobs (``app.project_io``).
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from app import result_files
from app.changes import ChangeListeners, Listener
from engine.edit import FirstFrameEdit, Keyframe
from engine.edits import compose, load_edit
from engine.edits.edit_file import EditFileError
from engine.edits.specs import OpSpec
from engine.engines.base import CancelToken, PropagationResult
from engine.safe_paths import contained, contained_files, load_json, one_line

log = logging.getLogger(__name__)

PROJECT_FORMAT = "genprop-studio-project"
PROJECT_VERSION = 1
PROJECT_FILE = "project.json"
EDIT_FILE = "edit.json"
RESULTS_FOLDER = "results"

ProgressFn = Callable[[int, int, str], None]  # (done, total, what)


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


@dataclass(eq=False)
class ResultEntry:
    """One propagation result kept in the project (several can be compared).

    ``files`` is a complete lossless copy on disk (in a saved project or the recovery
    folder), so saving again copies files instead of encoding; ``saved_in`` is the
    project folder whose ``results/`` holds it as ``saved_as``.
    """

    name: str
    result: PropagationResult
    key: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    files: Path | None = None
    saved_in: Path | None = None
    saved_as: str | None = None

    @property
    def folder_name(self) -> str:
        return f"{RESULTS_FOLDER}/{self.key}"


@dataclass(frozen=True)
class ProjectSnapshot:
    """What a save writes, copied on the GUI thread so a worker can write it while editing goes on."""

    clip_path: Path | None
    operations: tuple[OpSpec, ...]
    engine: EngineSettings
    results: tuple[ResultEntry, ...]
    folder: Path | None
    edit_written: tuple[Path, tuple[int, ...]] | None  # (folder, op and keyframe ids) of the last edit written
    change_count: int
    keyframes: tuple[Keyframe, ...] = ()


class Project:
    """Mutable project state with change notifications (no Qt).

    ``unsaved`` covers the changes the undo stack does not track (results, engine
    settings, a restored recovery copy); the window's title star is the undo stack's
    state or this. ``change_count`` grows with every mutation, so a save that finishes
    after further edits does not claim them saved.
    """

    def __init__(self) -> None:
        self.clip_path: Path | None = None
        self.operations: list[OpSpec] = []
        self.keyframes: list[Keyframe] = []  # corrections on later frames (issue 19), sorted by frame
        self.engine = EngineSettings()
        self.results: list[ResultEntry] = []
        self.folder: Path | None = None
        self.unsaved = False
        self.change_count = 0
        self._edit_written: tuple[Path, tuple[int, ...]] | None = None
        self._listeners = ChangeListeners()
        self._result_counter = 0

    # ------------------------------------------------------------ notifications
    def on_change(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def _emit(self, what: str) -> None:
        if what != "result_files":  # where a copy lives is no change to the work
            self.change_count += 1
        self._listeners.emit(what)

    # ------------------------------------------------------------ mutations
    def set_clip(self, path: str | Path | None) -> None:
        self.clip_path = None if path is None else Path(path).resolve()
        self._emit("clip")

    def start_over(self, clip_path: str | Path | None) -> None:
        """New work on a clip: no edits, no results, numbering from #1, not saved anywhere."""
        self.operations.clear()
        self.keyframes.clear()
        self.results.clear()
        self._result_counter = 0
        self.folder = None
        self.unsaved = False
        self._edit_written = None
        self._emit("operations")
        self._emit("keyframes")
        self._emit("results")
        self.set_clip(clip_path)

    def replace_with(self, other: Project, *, unsaved: bool = False) -> None:
        """Take over a loaded project's state (Open project, restore after a crash)."""
        self.clip_path = other.clip_path
        self.operations[:] = other.operations
        self.keyframes[:] = other.keyframes
        self.results[:] = other.results
        self._result_counter = other._result_counter
        self.engine = EngineSettings(other.engine.engine, dict(other.engine.options))
        self.folder = other.folder
        self._edit_written = other._edit_written
        self.unsaved = unsaved
        for what in ("clip", "operations", "keyframes", "results", "engine"):
            self._emit(what)

    def mark_saved(self, snapshot: ProjectSnapshot, folder: Path) -> bool:
        """A save of ``snapshot`` into ``folder`` finished; True if nothing changed meanwhile."""
        self.folder = folder
        self._edit_written = (folder, edit_ids(snapshot.operations, snapshot.keyframes))
        for entry in snapshot.results:
            entry.saved_in, entry.saved_as, entry.files = folder, entry.folder_name, folder / entry.folder_name
        current = snapshot.change_count == self.change_count
        if current:
            self.unsaved = False
        return current

    def snapshot(self) -> ProjectSnapshot:
        return ProjectSnapshot(
            self.clip_path,
            tuple(self.operations),
            EngineSettings(self.engine.engine, dict(self.engine.options)),
            tuple(self.results),
            self.folder,
            self._edit_written,
            self.change_count,
            tuple(self.keyframes),
        )

    def insert_operation(self, index: int, spec: OpSpec) -> None:
        from app import keyframes

        self.operations.insert(index, spec)
        if index < len(self.operations) - 1 and self.keyframes:  # later operations' corrections move with them
            self.keyframes[:] = keyframes.after_operation_inserted(self.keyframes, index)
            self._emit("keyframes")
        self._emit("operations")

    def add_operation(self, spec: OpSpec) -> int:
        self.insert_operation(len(self.operations), spec)
        return len(self.operations) - 1

    def remove_operation(self, index: int) -> OpSpec:
        """Remove an operation; its keyframe corrections go too (undo commands restore them with ``set_keyframes``)."""
        from app import keyframes

        spec = self.operations.pop(index)
        if self.keyframes:
            self.keyframes[:] = keyframes.after_operation_removed(self.keyframes, index)
            self._emit("keyframes")
        self._emit("operations")
        return spec

    def set_keyframes(self, keyframes: list[Keyframe]) -> None:
        """Replace the keyframe corrections (sorted by frame; one per frame; each fits an operation)."""
        frames = [k.frame for k in keyframes]
        if len(set(frames)) != len(frames):
            raise ValueError(f"two keyframes on one frame: {sorted(frames)}")
        for k in keyframes:
            if any(i >= len(self.operations) for i in k.masks):
                raise ValueError(f"keyframe {k.frame} corrects an operation the edit does not have ({len(self.operations)})")
        self.keyframes[:] = sorted(keyframes, key=lambda k: k.frame)
        self._emit("keyframes")

    def set_engine(self, engine: str, options: dict[str, Any], *, by_user: bool = True) -> None:
        """Engine settings; a change the user made counts as unsaved work."""
        new = EngineSettings(engine, dict(options))
        if new == self.engine:
            return
        self.engine = new
        if by_user and (self.operations or self.results or self.folder is not None):
            self.unsaved = True
        self._emit("engine")

    def add_result(self, result: PropagationResult, name: str | None = None) -> ResultEntry:
        """Keep a result (numbered per clip: #1, #2, ... restart with each new clip)."""
        self._result_counter += 1
        entry = ResultEntry(name or f"#{self._result_counter} {result.engine}", result, files=result_files.stored_folder(result))
        self.results.append(entry)
        self.unsaved = True
        self._emit("results")
        return entry

    def remove_result(self, index: int) -> None:
        self.results.pop(index)
        self.unsaved = True
        self._emit("results")

    def result_written(self, entry: ResultEntry, folder: Path) -> None:
        """A lossless copy of ``entry`` now exists in ``folder`` (the recovery writer's report)."""
        if entry.files is None or not result_files.is_complete(entry.files):
            entry.files = folder
        self._emit("result_files")

    # ------------------------------------------------------------ derived
    def first_frame_edit(self, original_frame: np.ndarray) -> FirstFrameEdit:
        """Apply the operations in order to frame 1 (pure: nothing here changes)."""
        return compose(original_frame, self.operations)

    # ------------------------------------------------------------ files
    def save(self, folder: str | Path, *, include_results: bool = True) -> Path:
        """Write the whole project into ``folder`` now (scripts and tests; the GUI uses SaveProjectJob)."""
        from app.project_io import save_snapshot

        snap = self.snapshot() if include_results else _without_results(self.snapshot())
        folder = Path(folder)
        save_snapshot(snap, folder)
        self.mark_saved(snap, folder)
        return folder / PROJECT_FILE

    @classmethod
    def load(cls, path: str | Path, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> Project:
        """Read and validate a project (its folder or its project.json); results are decoded
        with ``progress(done, total, what)`` and stop at ``cancel``."""
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
        project.keyframes = list(spec.keyframes)
        engine = doc.get("engine", {})
        if (
            not isinstance(engine, dict)
            or not isinstance(engine.get("engine", "classic"), str)
            or not isinstance(engine.get("options", {}), dict)
        ):
            raise ProjectError(f"{file}: 'engine' must be {{'engine': name, 'options': {{...}}}}, got {engine!r}")
        project.engine = EngineSettings(engine.get("engine", "classic"), dict(engine.get("options", {})))
        project.results.extend(_load_results(doc.get("results", []), folder, file, progress, cancel))
        project._result_counter = max([len(project.results), *[_number(e.name) for e in project.results]])
        project.folder = folder
        project._edit_written = (folder, edit_ids(project.operations, project.keyframes))
        return project


def edit_ids(operations: Iterable[OpSpec], keyframes: Iterable[Keyframe]) -> tuple[int, ...]:
    """What identifies the edit a save wrote: its operations and keyframes (values, never changed in place)."""
    return (*(id(op) for op in operations), -1, *(id(k) for k in keyframes))


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


def _load_results(
    items: object, folder: Path, file: Path, progress: ProgressFn | None = None, cancel: CancelToken | None = None
) -> list[ResultEntry]:
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

        def on_frame(done: int, total: int, i: int = i) -> None:
            if progress is not None:
                progress(done, total, f"result {i + 1}/{len(items)}")

        try:
            result_folder = _inside(folder, item.get("folder"), f"{where}.folder", kind="dir")
            result = _read_result_checked(folder, result_folder, where, on_frame, cancel)
        except ProjectError as exc:
            raise ProjectError(f"{exc} (remove results[{i}] from {PROJECT_FILE} to open the project without it)") from None
        entry = ResultEntry(item.get("name", f"result {i}"), result, files=result_folder)
        entry.key = result_folder.name
        entry.saved_in, entry.saved_as = folder, str(item["folder"])
        entries.append(entry)
    return entries


def _read_result_checked(
    root: Path, result_folder: Path, where: str, on_frame: result_files.FrameCallback, cancel: CancelToken | None
) -> PropagationResult:
    """A saved result (``result.json``, ``frames.mkv``, ``masks/*.png``), every file a regular
    file inside the project, read by the one result reader; any failure is a ProjectError."""
    from engine.video import VideoError

    rel = result_folder.relative_to(root.resolve()).as_posix()
    for name in result_files.layout_files(result_folder):
        _inside(root, f"{rel}/{name}", f"{where}: {name}")
    masks_dir = _inside(root, f"{rel}/{result_files.MASKS_FOLDER}", f"{where}: masks", kind="dir")
    contained_files(masks_dir, root, f"{where}: masks", suffix=".png", root_name="the project folder", error=ProjectError)
    try:
        return result_files.read_result(result_folder, on_frame, cancel)
    except VideoError as exc:
        raise ProjectError(f"{where}: {one_line(exc)}") from None
    except (OSError, IndexError, ValueError, KeyError, TypeError, MemoryError) as exc:
        raise ProjectError(f"{where}: the result cannot be read: {one_line(exc)}") from None


def _relative_or_absolute(path: Path | None, folder: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path.resolve())


def _number(name: str) -> int:
    """The N of a result named "#N engine" (0 otherwise), so numbering goes on after a load."""
    head = name.split(" ", 1)[0]
    return int(head[1:]) if head.startswith("#") and head[1:].isdigit() else 0


def _without_results(snap: ProjectSnapshot) -> ProjectSnapshot:
    import dataclasses

    return dataclasses.replace(snap, results=())


def remove_project_folder(folder: Path) -> None:
    """Delete a project folder we own (recovery autosaves), even one a crash left half-written."""
    if (folder / PROJECT_FILE).exists() or (folder / RESULTS_FOLDER).is_dir() or not any(folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)
