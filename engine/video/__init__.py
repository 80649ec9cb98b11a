"""Video in and out: readers for files and frame folders, writers, the model-space map."""

from __future__ import annotations

from pathlib import Path

from engine.video.atomic import atomic_file, atomic_folder, check_destinations, remove_stale_partials, write_bytes_atomic
from engine.video.errors import VideoError
from engine.video.file_reader import DEFAULT_MAX_PIXELS, VideoFileReader
from engine.video.frame_folder import FrameFolderReader
from engine.video.info import VideoInfo
from engine.video.model_space import ModelSpace, TimeMap
from engine.video.source import ArrayClip, FrameSource
from engine.video.writer import check_output_path, write_png_sequence, write_video, write_video_and_masks

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".m4v", ".ts", ".gif")

Reader = VideoFileReader | FrameFolderReader


def open_video(
    path: str | Path,
    *,
    fps: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    confine_to: str | Path | None = None,
    depth: int = 8,
    cache_bytes: int | None = None,
) -> Reader:
    """Open a video file or a folder of numbered frames (``fps`` applies to folders).

    ``confine_to``: a folder the clip (and every frame file of a frame folder) must
    really lie in, after symlinks (test sets, projects). ``depth``: 8 gives the uint8 RGB
    frames engines read (a :class:`FrameSource`); 16 gives uint16 RGB at the source's
    full depth (10/12/16-bit sources uncrushed), for full-depth exports. ``cache_bytes``
    bounds the decoded-frame cache (default: the reader's), e.g. small for one pass.
    """
    cache = {} if cache_bytes is None else {"cache_bytes": int(cache_bytes)}
    path = Path(path).expanduser()
    try:
        if confine_to is not None and not path.resolve().is_relative_to(Path(confine_to).resolve()):
            raise VideoError(path, f"resolves to {path.resolve()}, outside {Path(confine_to).resolve()} (symlink?); refused")
        if path.is_dir():
            return FrameFolderReader(path, fps=24.0 if fps is None else fps, confine_to=confine_to, depth=depth, **cache)
        return VideoFileReader(path, max_pixels=max_pixels, depth=depth, **cache)
    except (OSError, ValueError, RuntimeError) as exc:  # permissions, NUL bytes, symlink loops: still one error type
        if isinstance(exc, VideoError):
            raise
        raise VideoError(path, f"cannot be read: {getattr(exc, 'strerror', None) or exc}") from None


def require_propagatable(reader: Reader) -> None:
    """Refuse clips an engine cannot propagate through, with the reason."""
    if len(reader) < 2:
        raise VideoError(reader.path, f"has {len(reader)} frame; propagation needs at least 2")


__all__ = [
    "ArrayClip",
    "FrameFolderReader",
    "FrameSource",
    "ModelSpace",
    "Reader",
    "TimeMap",
    "VIDEO_SUFFIXES",
    "VideoError",
    "VideoFileReader",
    "VideoInfo",
    "atomic_file",
    "atomic_folder",
    "check_destinations",
    "check_output_path",
    "open_video",
    "remove_stale_partials",
    "require_propagatable",
    "write_bytes_atomic",
    "write_png_sequence",
    "write_video",
    "write_video_and_masks",
]
