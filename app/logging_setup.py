"""Logging to a rotating file in the user's log directory, so users can send us what went wrong."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from app.paths import user_dirs

LOG_FILE_NAME = "genprop-studio.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each message.

    A plain StreamHandler keeps the stream it was created with; when a host (pytest, an
    embedding application) swaps and closes that stream, later messages from worker
    threads would fail with "I/O operation on closed file".
    """

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # type: ignore[no-untyped-def]
        pass


def setup_logging(verbose: bool = False, *, log_dir: Path | None = None) -> Path:
    """Configure the root logger once; returns the log file's path.

    The file always gets DEBUG detail (1 MB x 5 files); the console only gets
    warnings unless ``verbose``.
    """
    folder = log_dir or user_dirs().logs
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE_NAME
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_genprop", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(_FORMAT))
    file_handler.setLevel(logging.DEBUG)
    console = _CurrentStderrHandler()
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for handler in (file_handler, console):
        handler._genprop = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for noisy in ("PIL", "matplotlib", "urllib3", "httpx", "filelock", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
