"""Frames of a run kept in a raw temporary file instead of memory (issue 16).

A long clip does not fit in memory, but an engine step often needs frames it has already
passed (a fill looks ``window`` frames back and ahead; the next operation reads this one's
output). :class:`FrameSpool` is a ``[T, H, W, C]`` uint8 array-like backed by an unlinked
temporary file, read and written one frame at a time with ``pread``/``pwrite``. Unlike
``np.memmap``, whose mapped file pages count in the process's resident set, what is read
lands in a fresh small buffer and the file's pages stay in the kernel's page cache, so the
run's memory does not grow with the clip (the disk holds ``T * H * W * C`` bytes).

Whole-array operations (``np.asarray``, ``.copy()``) are not offered, as with
``engine.video.source_frames.SourceFrames``: they are what a long clip cannot afford.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Hashable
from typing import Any

import numpy as np

from engine.video.errors import VideoError


class _SpoolFile:
    """The open temporary file of a spool, shared by its slices; removed from the disk when closed."""

    def __init__(self, nbytes: int, folder: str | os.PathLike[str] | None) -> None:
        self.folder = str(folder or tempfile.gettempdir())
        self.fd, self.path = -1, None
        try:
            fd, path = tempfile.mkstemp(prefix="genprop-spool-", suffix=".raw", dir=folder)
        except OSError as exc:
            raise self._error(exc) from exc
        self.fd, self.path = fd, path
        self._lock = threading.Lock()  # only for systems without pread/pwrite (seek + read)
        try:
            if os.name == "posix":
                os.unlink(path)  # nothing left behind even if the process is killed
                self.path = None
            os.ftruncate(fd, nbytes)
        except OSError as exc:
            self.close()
            raise self._error(exc) from exc
        except BaseException:
            self.close()
            raise

    def _error(self, exc: OSError) -> VideoError:
        """A disk that is full or refuses the size (ENOSPC, EFBIG): a clear error naming the folder."""
        return VideoError(self.folder, f"no room for the run's working frames on disk: {exc.strerror or exc}")

    def read(self, offset: int, size: int) -> bytes:
        if hasattr(os, "pread"):
            data = os.pread(self.fd, size, offset)
        else:  # pragma: no cover - Windows
            with self._lock:
                os.lseek(self.fd, offset, os.SEEK_SET)
                data = os.read(self.fd, size)
        if len(data) != size:
            raise OSError(f"frame spool: short read ({len(data)} of {size} bytes at {offset})")
        return data

    def read_array(self, offset: int, shape: tuple[int, ...]) -> np.ndarray:
        """A new writable uint8 array of ``shape`` read from ``offset``: one copy (``preadv`` straight
        into it) instead of two (``pread``'s bytes, then a writable copy; 6 MB each for a 1080p frame)."""
        out = np.empty(shape, np.uint8)
        if not hasattr(os, "preadv"):  # pragma: no cover - Windows, macOS before 11
            out[...] = np.frombuffer(self.read(offset, out.nbytes), np.uint8).reshape(shape)
            return out
        view, done = memoryview(out).cast("B"), 0
        while done < out.nbytes:
            got = os.preadv(self.fd, [view[done:]], offset + done)
            if got <= 0:
                raise OSError(f"frame spool: short read ({done} of {out.nbytes} bytes at {offset})")
            done += got
        return out

    def write(self, offset: int, data: memoryview) -> None:
        try:
            self._write(offset, data)
        except OSError as exc:
            raise self._error(exc) from exc

    def _write(self, offset: int, data: memoryview) -> None:
        view = data
        while view:
            if hasattr(os, "pwrite"):
                written = os.pwrite(self.fd, view, offset)
            else:  # pragma: no cover - Windows
                with self._lock:
                    os.lseek(self.fd, offset, os.SEEK_SET)
                    written = os.write(self.fd, view)
            if written <= 0:
                raise OSError(f"frame spool: write returned {written}")
            view, offset = view[written:], offset + written

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "fd", -1) >= 0:
            os.close(self.fd)
            self.fd = -1
        if getattr(self, "path", None) is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.path = None


class FrameSpool:
    """``[T, H, W, C]`` uint8 frames (all zero at first) in a temporary file; ``spool[a:b]`` is a view."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(
        self, length: int, height: int, width: int, channels: int = 3, folder: str | os.PathLike[str] | None = None
    ) -> None:
        self._frame_shape = (int(height), int(width), int(channels))
        self._frame_bytes = int(np.prod(self._frame_shape))
        self._file = _SpoolFile(max(1, int(length) * self._frame_bytes), folder)
        self._start, self._stop = 0, int(length)

    @classmethod
    def _view(cls, parent: FrameSpool, start: int, stop: int) -> FrameSpool:
        view = cls.__new__(cls)
        view._frame_shape, view._frame_bytes, view._file = parent._frame_shape, parent._frame_bytes, parent._file
        view._start, view._stop = start, stop
        return view

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self._stop - self._start, *self._frame_shape)

    def __len__(self) -> int:
        return self._stop - self._start

    def _offset(self, index: Any) -> int:
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"frame {index} out of range: {len(self)} frames")
        return (self._start + i) * self._frame_bytes

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise IndexError("FrameSpool slices must be contiguous")
            return FrameSpool._view(self, self._start + start, self._start + max(start, stop))
        return self._file.read_array(self._offset(index), self._frame_shape)

    def rows(self, index: Any, start: int, stop: int) -> np.ndarray:
        """Rows ``start..stop-1`` of frame ``index`` (``[stop - start, W, C]``), read alone: a band costs what it holds."""
        height, row = self._frame_shape[0], self._frame_bytes // max(1, self._frame_shape[0])
        if not 0 <= start < stop <= height:
            raise IndexError(f"rows {start}..{stop} out of range: frames are {height} rows high")
        return self._file.read_array(self._offset(index) + start * row, (stop - start, *self._frame_shape[1:]))

    def __setitem__(self, index: Any, frame: np.ndarray) -> None:
        frame = np.asarray(frame)
        if frame.shape != self._frame_shape:
            raise ValueError(f"frame is {frame.shape}, the spool holds {self._frame_shape}")
        raw = np.ascontiguousarray(frame, np.uint8)
        self._file.write(self._offset(index), memoryview(raw).cast("B"))

    def close(self) -> None:
        """Remove the file (every view of it becomes unreadable)."""
        self._file.close()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError("FrameSpool keeps frames on disk; read them by index (the whole clip may not fit in memory)")


class RecordSpool:
    """Byte records of varying size kept by key, in memory or in an unlinked temporary file (issue 16).

    A pass over a long shot that leaves per-frame state for a later pass (removal's backward
    sweep: each frame's correspondences and masks) writes it here; on disk the records are
    appended to the file and only their offsets stay in memory. ``pop`` hands a record back
    once (its memory is freed; on disk its bytes stay until the spool is closed).
    """

    def __init__(self, on_disk: bool, folder: str | os.PathLike[str] | None = None) -> None:
        self._file = _SpoolFile(0, folder) if on_disk else None
        self._end = 0
        self._memory: dict[Hashable, bytes] = {}
        self._where: dict[Hashable, tuple[int, int]] = {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._memory or key in self._where

    def put(self, key: Hashable, data: bytes) -> None:
        if self._file is None:
            self._memory[key] = data
            return
        self._file.write(self._end, memoryview(data).cast("B"))
        self._where[key] = (self._end, len(data))
        self._end += len(data)

    def pop(self, key: Hashable) -> bytes:
        if self._file is None:
            return self._memory.pop(key)
        offset, size = self._where.pop(key)
        return self._file.read(offset, size) if size else b""

    def close(self) -> None:
        self._memory.clear()
        self._where.clear()
        if self._file is not None:
            self._file.close()
