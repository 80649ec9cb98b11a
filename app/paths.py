"""Where GenProp Studio keeps user data: the platform's standard directories.

``GENPROP_STUDIO_HOME`` puts everything under one folder instead (portable installs,
tests), so nothing a test does can touch a real user's settings or recovery files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from app.version import APP_NAME

REPO_ROOT = Path(__file__).resolve().parents[1]
RESOURCES = REPO_ROOT / "resources"
SAMPLE_CLIP = RESOURCES / "samples" / "coin.mp4"


@dataclass(frozen=True)
class UserDirs:
    config: Path
    data: Path
    cache: Path
    logs: Path

    @property
    def recovery(self) -> Path:
        """Autosaved projects, offered back after a crash."""
        return self.data / "recovery"

    @property
    def models(self) -> Path:
        """Default folder the model manager searches and downloads into."""
        return self.data / "models"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    def ensure(self) -> UserDirs:
        for path in (self.config, self.data, self.cache, self.logs, self.recovery, self.models):
            path.mkdir(parents=True, exist_ok=True)
        return self


def user_dirs() -> UserDirs:
    """The directories in force now (read each call: tests change the environment)."""
    home = os.environ.get("GENPROP_STUDIO_HOME")
    if home:
        base = Path(home).expanduser()
        return UserDirs(base / "config", base / "data", base / "cache", base / "logs")
    return UserDirs(
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )
