"""What makes a ``batch`` resumable: a record per finished job, written after its outputs.

A job is finished when its record exists, names the same inputs (the clip's size and
time, the edit file's bytes and the sizes and times of the assets it names), the same settings, and
every output it lists still exists. The outputs themselves are written atomically by
the export plan, and the record is written atomically after them, so a crash at any
point leaves either a finished job or one that is redone; never a half-written output
taken for a finished one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.video.atomic import write_bytes_atomic

#: The folder inside ``--out-dir`` that holds the records (hidden: not an output).
RECORDS_DIR = ".genprop-batch"


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def input_fingerprint(video: Path, edit: Path) -> str:
    """A digest of what the job reads: the clip (every frame of a folder) and the edit with its assets."""
    h = hashlib.sha256()
    if video.is_dir():
        for entry in sorted(os.scandir(video), key=lambda e: e.name):
            if entry.is_file():
                h.update(f"{entry.name}:{_stat(Path(entry.path))}\n".encode())
    else:
        h.update(f"{video.resolve()}:{_stat(video)}\n".encode())
    data = edit.read_bytes()
    h.update(data)
    for rel in sorted(set(_strings(_json_or_none(data)))):  # the assets the edit names (masks, layers, frame)
        asset = edit.parent / rel
        if asset.is_file():
            h.update(f"{rel}:{_stat(asset)}\n".encode())
    return h.hexdigest()


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None  # the run itself reports a bad edit file


def _strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for value in doc.values():
            yield from _strings(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _strings(value)


def settings_fingerprint(settings: dict[str, Any]) -> str:
    """A digest of the settings that shape the outputs (engine, options, formats)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def record_path(out_dir: Path, name: str) -> Path:
    return out_dir / RECORDS_DIR / f"{name}.json"


def is_finished(out_dir: Path, name: str, inputs: str, settings: str) -> bool:
    """True when the job's record matches these inputs and settings and all its outputs exist."""
    path = record_path(out_dir, name)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict) or doc.get("inputs") != inputs or doc.get("settings") != settings:
        return False
    outputs = doc.get("outputs")
    return isinstance(outputs, list) and bool(outputs) and all(isinstance(o, str) and (out_dir / o).exists() for o in outputs)


def write_record(out_dir: Path, name: str, inputs: str, settings: str, outputs: list[Path], engine: str) -> None:
    """Mark the job finished (after its outputs are in place)."""
    rel = [os.path.relpath(p, out_dir) for p in outputs]
    doc = {"inputs": inputs, "settings": settings, "outputs": rel, "engine": engine}
    write_bytes_atomic(record_path(out_dir, name), json.dumps(doc, indent=2).encode())
