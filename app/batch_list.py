"""The jobs of a ``batch`` run: clip + edit file pairs, from a folder or a CSV/JSON list.

A folder: every video file directly in it (``.mp4 .mov ...``), paired with the edit file
``NAME.json`` beside it or ``NAME/edit.json`` (an edit folder as ``save_edit`` writes it).
A clip without an edit becomes a job that fails with that message, so a forgotten edit
shows in the summary instead of vanishing.

A list: ``.csv`` with a header row (``video,edit`` and optionally ``name``) or ``.json``
(a list of ``{"video": ..., "edit": ..., "name": ...}`` objects, or ``{"jobs": [...]}``).
Relative paths are relative to the list file's folder. ``name`` (default: the clip's
stem) names the job's outputs, so it is a plain file name and unique in the list.

Everything is checked before any job runs; a bad list raises :class:`BatchListError`
naming the file, the row and the problem (exit code 2).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.safe_paths import MAX_JSON_BYTES, one_line, parse_json, read_bytes

#: Far above any real batch, far below what would hurt (each job opens a clip).
MAX_JOBS = 100_000
COLUMNS = ("video", "edit", "name")
_NAME = re.compile(r"[^/\\\x00]{1,200}")


class BatchListError(ValueError):
    """A job list (or folder) that cannot be used; the message names the file and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


@dataclass(frozen=True)
class BatchJob:
    """One clip + edit pair. ``edit`` is ``None`` when a folder holds a clip without an edit
    (``problem`` says so); such a job fails alone."""

    name: str
    video: Path
    edit: Path | None
    problem: str = ""


def read_jobs(source: str | Path) -> list[BatchJob]:
    """The jobs a folder or a ``.csv``/``.json`` list names, in order (a folder's sorted by name)."""
    source = Path(source)
    if source.is_dir():
        jobs = _folder_jobs(source)
    elif not source.exists():
        raise BatchListError(f"job list {source} not found")
    elif source.suffix.lower() == ".csv":
        jobs = _list_jobs(source, _csv_rows(source))
    elif source.suffix.lower() == ".json":
        jobs = _list_jobs(source, _json_rows(source))
    else:
        raise BatchListError(f"job list {source}: give a folder of clips, a .csv or a .json list")
    if not jobs:
        raise BatchListError(f"{source}: no jobs (a folder needs video files; a list needs rows)")
    return jobs


def _folder_jobs(folder: Path) -> list[BatchJob]:
    from engine.video import VIDEO_SUFFIXES

    clips = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    jobs: list[BatchJob] = []
    seen: dict[str, Path] = {}
    for clip in clips:
        if clip.stem in seen:
            raise BatchListError(
                f"{folder}: {seen[clip.stem].name} and {clip.name} would share the outputs {clip.stem}.*; rename one"
            )
        seen[clip.stem] = clip
        candidates = (folder / f"{clip.stem}.json", folder / clip.stem / "edit.json")
        edit = next((c for c in candidates if c.is_file()), None)
        problem = (
            "" if edit is not None else f"no edit file for {clip.name}: expected {candidates[0].name} or {clip.stem}/edit.json"
        )
        jobs.append(BatchJob(clip.stem, clip, edit, problem))
    return jobs


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    text = _text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "video" not in header or "edit" not in header:
        raise BatchListError(f"job list {path}: the first row must name the columns video,edit[,name]; got {','.join(header)}")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise BatchListError(f"job list {path}: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})")
    reader.fieldnames = header
    rows = []
    try:
        for row in reader:
            if None in row:
                raise BatchListError(f"job list {path}, line {reader.line_num}: more values than columns")
            if all(not (v or "").strip() for v in row.values()):
                continue  # blank line
            rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
            if len(rows) > MAX_JOBS:
                raise BatchListError(f"job list {path}: more than {MAX_JOBS} jobs; split it")
    except csv.Error as exc:
        raise BatchListError(f"job list {path}, line {reader.line_num}: {exc}") from None
    return rows


def _json_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    doc = parse_json(_text(path), f"job list {path}", error=BatchListError)
    if isinstance(doc, dict) and set(doc) == {"jobs"}:
        doc = doc["jobs"]
    if not isinstance(doc, list):
        raise BatchListError(f'job list {path}: expected a list of jobs (or {{"jobs": [...]}}), got {type(doc).__name__}')
    if len(doc) > MAX_JOBS:
        raise BatchListError(f"job list {path}: more than {MAX_JOBS} jobs; split it")
    rows = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict):
            raise BatchListError(f"job list {path}, job {i}: expected an object with video and edit, got {type(item).__name__}")
        unknown = [k for k in item if k not in COLUMNS]
        if unknown:
            raise BatchListError(f"job list {path}, job {i}: unknown field {unknown[0]!r} (fields: {', '.join(COLUMNS)})")
        for key, value in item.items():
            if not isinstance(value, str):
                raise BatchListError(f"job list {path}, job {i}: {key} must be a string, got {type(value).__name__}")
        rows.append((i, item))
    return rows


def _text(path: Path) -> str:
    data = read_bytes(path, "job list", max_bytes=MAX_JSON_BYTES, error=BatchListError)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchListError(f"job list {path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None


def _list_jobs(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> list[BatchJob]:
    where = "line" if path.suffix.lower() == ".csv" else "job"
    jobs: list[BatchJob] = []
    names: dict[str, int] = {}
    for number, row in rows:
        for key in ("video", "edit"):
            if not row.get(key):
                raise BatchListError(f"job list {path}, {where} {number}: {key} is missing")
        video = path.parent / row["video"]
        edit = path.parent / row["edit"]
        name = row.get("name") or video.stem
        if not _NAME.fullmatch(name) or name.startswith(".") or name.strip() != name:
            raise BatchListError(f"job list {path}, {where} {number}: name {name!r} must be a plain file name")
        if name in names:
            raise BatchListError(
                f"job list {path}, {where} {number}: the name {name!r} is already used by {where} {names[name]} "
                "(outputs are named after it); add a name column"
            )
        names[name] = number
        jobs.append(BatchJob(name, video, edit))
    return jobs
