"""The open clip as the app sees it: reader, metadata and the current frame, no Qt.

Edits, engine settings and results live in ``app.project.Project``; this holds only
what belongs to the clip itself.
"""

from __future__ import annotations

import logging
from pathlib import Path

from engine.video import Reader, VideoInfo, open_video

log = logging.getLogger(__name__)


class ClipDocument:
    """One opened clip. Raise ``VideoError`` from ``open`` for anything unreadable."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._current = 0

    @classmethod
    def open(cls, path: str | Path, *, fps: float | None = None) -> ClipDocument:
        reader = open_video(path, fps=fps)
        log.info("opened %s: %s frames, %sx%s", path, len(reader), *reader.size)
        return cls(reader)

    @property
    def path(self) -> Path:
        return self.reader.path

    @property
    def info(self) -> VideoInfo:
        return self.reader.info

    @property
    def frame_count(self) -> int:
        return len(self.reader)

    @property
    def current_frame(self) -> int:
        return self._current

    def set_current_frame(self, index: int) -> None:
        self._current = max(0, min(self.frame_count - 1, int(index)))

    def timecode(self, index: int | None = None) -> str:
        """HH:MM:SS.mmm of a frame, from the clip's real timestamps (VFR-safe)."""
        index = self._current if index is None else index
        seconds = self.reader.timestamps()[index] if hasattr(self.reader, "timestamps") else index / self.info.fps
        h, rem = divmod(seconds, 3600)
        m, s = divmod(rem, 60)
        return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"

    def close(self) -> None:
        self.reader.close()
