"""User settings as a validated JSON file (no Qt here, so the CLI shares them)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.video import write_bytes_atomic

log = logging.getLogger(__name__)

MAX_RECENT = 10


@dataclass
class Settings:
    """Everything the user can set that outlives a session."""

    recent_files: list[str] = field(default_factory=list)
    recent_projects: list[str] = field(default_factory=list)
    last_dirs: dict[str, str] = field(default_factory=dict)  # dialog kind -> folder last used
    theme: str = "dark"
    engine: str = "classic"
    device: str = "auto"
    memory_mode: str = "auto"
    model_dirs: list[str] = field(default_factory=list)
    open_sample_on_first_start: bool = True

    def add_recent(self, path: str | Path) -> None:
        text = str(Path(path).resolve())
        self.recent_files = [text] + [p for p in self.recent_files if p != text]
        del self.recent_files[MAX_RECENT:]

    def add_recent_project(self, folder: str | Path) -> None:
        text = str(Path(folder).resolve())
        self.recent_projects = [text] + [p for p in self.recent_projects if p != text]
        del self.recent_projects[MAX_RECENT:]

    def dialog_dir(self, kind: str) -> str:
        """Where a file dialog of ``kind`` starts: the folder last used for it, else the home folder
        (never the install folder, which is the working directory when started by run.sh)."""
        for candidate in (self.last_dirs.get(kind), *self.last_dirs.values()):
            if candidate and Path(candidate).is_dir():
                return candidate
        return str(Path.home())

    def remember_dir(self, kind: str, chosen: str | Path) -> None:
        """Remember the folder of a path the user picked in a dialog of ``kind``."""
        path = Path(chosen)
        folder = path if kind == "export" and path.is_dir() else path.parent
        self.last_dirs[kind] = str(folder)

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Load, ignoring unknown keys and wrong types (a bad file never stops the app)."""
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("settings file is not a JSON object")
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable settings file %s: %s", path, exc)
            return cls()
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in raw and isinstance(raw[f.name], type(getattr(defaults, f.name))):
                values[f.name] = raw[f.name]
            elif f.name in raw:
                log.warning("settings: ignoring %s=%r (wrong type)", f.name, raw[f.name])
        return cls(**values)

    def save(self, path: Path) -> None:
        write_bytes_atomic(path, json.dumps(asdict(self), indent=2).encode("utf-8"))
