"""A propagation result on disk, written as it is produced and read back by frame index.

Long clips do not fit in memory (issue 16), so a run's frames and masks go to a folder
as the engine finishes them, and everything after the run (review, export, projects)
reads them from there:

- ``store.json``: the layout (size, frame rate, operation count), written first;
- ``frames/frame_NNNNNN.png``: frame ``N``, lossless PNG (fast to decode alone, so any
  frame is one file read: review scrubs and A/B-wipes at random), written to a hidden
  temporary name and renamed in after the masks of that frame;
- ``masks/mask_NNNNNN.png``: the per-frame edit mask; ``ops/opK_NNNNNN.png``: each
  operation's mask when a run has more than one;
- ``result.json``: written last, atomically: frame count, engine, mode, the plain-data
  extras (warnings, frame notes, message) and timings;
- ``proxy/frame_NNNNNN.jpg`` + ``proxy/mask_NNNNNN.png``: for frames larger than
  ``PROXY_LONG_SIDE``, a small copy for scrubbing (a 1080p PNG takes 13-45 ms to decode, its
  960-pixel JPEG ~3 ms: the review shows these while the slider moves and the exact frame
  when it rests). Optional: a store without them (older, small frames, or written with
  ``proxies=False`` because it is only transcoded, like the CLI's) reads the same.

A folder with ``result.json`` is complete. One with ``store.json`` and no
``result.json`` is partial (a crash or a cancel): its frames ``0..k-1`` (every frame
file present from the first on) are readable, the writer can resume after them, or the
folder can be discarded; a frame that was being written is a hidden temporary file
nothing reads. A folder is never half complete. Names inside the folder are fixed by this module; every one is still opened
through :func:`engine.safe_paths.contained`, so a folder someone sent cannot make the
reader leave it (a symlinked frame, a FIFO).

The folder of the GUI-era layout (``frames.mkv`` + ``masks/`` + ``result.json``, see
``app/result_files``) is read by the same :func:`open_result`.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from engine.disk_room import DiskNeed
from engine.engines.base import PropagationResult
from engine.process_memory import release_free_memory, release_free_memory_now_and_then
from engine.safe_paths import UnsafePathError, contained, load_json, read_bytes
from engine.video.atomic import write_bytes_atomic
from engine.video.png import PNG_SIGNATURE, encode_png, write_file_checked

FORMAT = "genprop-result-store"
VERSION = 1
STORE_FILE = "store.json"
RESULT_FILE = "result.json"
FRAMES_FOLDER = "frames"
MASKS_FOLDER = "masks"
OPS_FOLDER = "ops"
LEGACY_FRAMES_FILE = "frames.mkv"
#: Extras that are plain data and survive on disk (the contract's user-facing notes).
KEPT_EXTRAS = ("warnings", "frame_notes", "message", "shot_cuts", "tracker", "tracker_note", "mask_source")
#: Frames handed to the encoder thread and not yet on disk, at most (bounds the writer's memory).
MAX_PENDING = 4
#: PNG compression level (with ``encode_png(fast=True)``): FFV1 chunks decoded ~6x slower than PNG
#: here, and level 1 with the "sub" filter and run-length coding was the fastest of the PNG settings
#: tried at ~60% of the raw size (docs/streaming.md).
PNG_LEVEL = 1
#: Frames are stored without deflate (level 0, still checked PNG): on textured 480x270 frames level 1 saved
#: only ~40% of the size but cost ~6.7 ms of CPU per 480x270 frame to encode and decode (4x level 0),
#: the largest part of what the store path spent beyond the in-memory path (issue 16). Masks, mostly
#: flat, stay at PNG_LEVEL (about 1 KB each instead of a raw plane).
FRAME_PNG_LEVEL = 0
MAX_PNG_BYTES = 256 * 1024 * 1024
PROXY_FOLDER = "proxy"
#: Frames whose long side exceeds this by a quarter get a scrubbing proxy this size (about the
#: size a frame is shown at in the window); JPEG quality of the proxy frames.
PROXY_LONG_SIDE = 960
PROXY_QUALITY = 88
MAX_PROXY_BYTES = 16 * 1024 * 1024
MAX_OPERATIONS = 64


class StoreError(ValueError):
    """A result folder that cannot be used; the message names the folder and the problem."""


class StoreState(Enum):
    COMPLETE = "complete"
    PARTIAL = "partial"  # a run stopped before the end: its frames from 0 on are readable
    MISSING = "missing"  # no result here


@dataclass(frozen=True)
class StoreStatus:
    state: StoreState
    frames: int  # frames readable (complete: all; partial: those present from frame 0 on)
    expected: int | None = None  # frames the run meant to write, when it said


def _frame_name(index: int) -> str:
    return f"frame_{index:06d}.png"


def _mask_name(index: int) -> str:
    return f"mask_{index:06d}.png"


def _op_name(k: int, index: int) -> str:
    return f"op{k}_{index:06d}.png"


def _proxy_frame_name(index: int) -> str:
    return f"frame_{index:06d}.jpg"


def proxy_size(size: tuple[int, int]) -> tuple[int, int] | None:
    """(w, h) of the scrubbing proxy for frames of ``size`` (w, h); None: the frames are small enough."""
    w, h = size
    if max(w, h) <= PROXY_LONG_SIDE * 1.25:
        return None
    scale = PROXY_LONG_SIDE / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def store_disk_need(
    folder: str | os.PathLike[str], frames: int, size: tuple[int, int], operations: int, *, proxies: bool = True
) -> DiskNeed:
    """What a store of ``frames`` frames of ``size`` (w, h) takes on disk, at most: uncompressed frames
    (``FRAME_PNG_LEVEL`` 0: raw rows plus a filter byte each), masks at an eighth of a plane (flat masks
    take ~1 KB), a proxy JPEG at most its raw plane, and a few KB of names and headers a frame."""
    w, h = size
    masks = 1 + (operations if operations > 1 else 0)
    proxy = proxy_size(size) if proxies else None
    per_frame = w * h * 3 + h + masks * (w * h // 8) + (proxy[0] * proxy[1] * 3 if proxy else 0) + 4096
    return DiskNeed(Path(folder), int(frames) * per_frame, "the result store")


def _store_error(message: str) -> StoreError:
    return StoreError(message)


def _read_layout(folder: Path) -> dict[str, Any]:
    path = contained(folder, STORE_FILE, STORE_FILE, error=_store_error, root_name="the result folder")
    doc = load_json(path, f"{folder}/{STORE_FILE}", error=_store_error)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StoreError(f"{folder / STORE_FILE} is not a result store layout")
    if doc.get("version") != VERSION:
        raise StoreError(f"{folder / STORE_FILE}: version {doc.get('version')!r} is not supported (this app reads {VERSION})")
    for key in ("width", "height"):
        if not isinstance(doc.get(key), int) or not 0 < doc[key] <= 1 << 16:
            raise StoreError(f"{folder / STORE_FILE}: {key} must be a positive integer, got {doc.get(key)!r}")
    fps = doc.get("fps")
    if not isinstance(fps, (int, float)) or not 0 < fps < 10_000:
        raise StoreError(f"{folder / STORE_FILE}: fps must be a positive number, got {fps!r}")
    ops = doc.get("operations", 0)
    if not isinstance(ops, int) or not 0 <= ops <= MAX_OPERATIONS:
        raise StoreError(f"{folder / STORE_FILE}: operations must be 0..{MAX_OPERATIONS}, got {ops!r}")
    return doc


def _read_meta(folder: Path) -> dict[str, Any] | None:
    if not (folder / RESULT_FILE).exists():
        return None
    path = contained(folder, RESULT_FILE, RESULT_FILE, error=_store_error, root_name="the result folder")
    meta = load_json(path, f"{folder}/{RESULT_FILE}", error=_store_error)
    if not isinstance(meta, dict):
        raise StoreError(f"{folder / RESULT_FILE} is not a JSON object")
    return meta


def _complete_frames(folder: Path) -> int:
    """Frames present without a gap from frame 0 (a frame file is renamed in once whole)."""
    frames = folder / FRAMES_FOLDER
    if not frames.is_dir():
        return 0
    names = {e.name for e in os.scandir(frames) if not e.name.startswith(".")}
    done = 0
    while _frame_name(done) in names:
        done += 1
    return done


def inspect(folder: str | os.PathLike[str]) -> StoreStatus:
    """Is ``folder`` a complete result, a partial one (how many frames), or nothing?"""
    folder = Path(folder)
    if not (folder / STORE_FILE).exists():
        if (folder / RESULT_FILE).is_file() and (folder / LEGACY_FRAMES_FILE).is_file():
            return StoreStatus(StoreState.COMPLETE, -1)  # the older layout: complete by construction
        return StoreStatus(StoreState.MISSING, 0)
    layout = _read_layout(folder)
    expected = layout.get("expected") if isinstance(layout.get("expected"), int) else None
    meta = _read_meta(folder)
    if meta is not None:
        n = meta.get("frames")
        if not isinstance(n, int) or n < 1:
            raise StoreError(f"{folder / RESULT_FILE}: frames must be a positive integer, got {n!r}")
        return StoreStatus(StoreState.COMPLETE, n, expected)
    return StoreStatus(StoreState.PARTIAL, min(_complete_frames(folder), expected or 1 << 62), expected)


def is_complete(folder: str | os.PathLike[str]) -> bool:
    try:
        return inspect(folder).state is StoreState.COMPLETE
    except StoreError:
        return False


def discard(folder: str | os.PathLike[str]) -> None:
    """Remove a partial (or any) result folder this module wrote; refuses other folders."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not (folder / STORE_FILE).is_file() and not (folder / RESULT_FILE).is_file():
        raise StoreError(f"{folder} is not a result folder; not removed")
    shutil.rmtree(folder)


# ------------------------------------------------------------------------------------ writing
class ResultWriter:
    """The sink a run writes through: ``put`` frames in order, then ``finish`` (or leave it partial).

    Frames are encoded on one background thread while the engine computes the next ones
    (at most ``MAX_PENDING`` frames wait). Used as a context manager, an exception (a
    cancel, a crash of the engine) leaves the folder partial, never corrupt.
    ``proxies=False``: no scrubbing proxies (a store that is only transcoded, e.g. the CLI's).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        fps: float,
        size: tuple[int, int] | None = None,
        *,
        expected_frames: int | None = None,
        resume: bool = False,
        proxies: bool = True,
    ) -> None:
        self.folder = Path(folder)
        if not fps > 0 or (size is not None and (int(size[0]) < 1 or int(size[1]) < 1)):
            raise StoreError(f"{self.folder}: a result needs a positive frame rate and size, got {fps} and {size}")
        self.fps = float(fps)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.operations = 0
        self._expected = expected_frames
        self._started = resume
        self._proxies = proxies
        if resume:
            layout = _read_layout(self.folder)
            if (self.size is not None and (layout["width"], layout["height"]) != self.size) or _read_meta(
                self.folder
            ) is not None:
                raise StoreError(f"{self.folder}: cannot resume (complete, or another size)")
            self.size = (int(layout["width"]), int(layout["height"]))
            self.operations = int(layout.get("operations", 0))
            self._next = _complete_frames(self.folder)
        else:
            if self.folder.exists() and (not self.folder.is_dir() or any(self.folder.iterdir())):
                raise StoreError(f"{self.folder} is not empty; a result is written into a new folder")
            self.folder.mkdir(parents=True, exist_ok=True)
            self._next = 0
        self._proxy = proxy_size(self.size) if self.size is not None and resume else None
        if resume and not (self.folder / PROXY_FOLDER).is_dir():
            self._proxy = None  # resuming a store written without proxies: none for the rest either
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="result-store")
        self._pending: deque[Future[None]] = deque()
        self._closed = False

    def _start(self, frame: np.ndarray, operations: int) -> None:
        """The layout, from the first frame (the canvas size, how many operation masks come with each frame)."""
        if self.size is None:
            self.size = (int(frame.shape[1]), int(frame.shape[0]))
        w, h = self.size
        if operations > MAX_OPERATIONS:
            raise StoreError(f"{self.folder}: {operations} operation masks; at most {MAX_OPERATIONS}")
        self.operations = operations
        layout: dict[str, Any] = {"format": FORMAT, "version": VERSION, "width": w, "height": h, "fps": self.fps}
        layout["operations"] = operations
        if self._expected is not None:
            layout["expected"] = int(self._expected)
        self._proxy = proxy_size((w, h)) if self._proxies else None
        if self._proxy is not None:
            layout["proxy"] = list(self._proxy)
        for sub in (
            (FRAMES_FOLDER, MASKS_FOLDER)
            + ((OPS_FOLDER,) if operations > 1 else ())
            + ((PROXY_FOLDER,) if self._proxy is not None else ())
        ):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(self.folder / STORE_FILE, (json.dumps(layout, indent=2) + "\n").encode("utf-8"))
        self._started = True

    @property
    def frames_written(self) -> int:
        """Frames handed to the writer so far (some may still be encoding)."""
        return self._next

    def put(self, frame: np.ndarray, mask: np.ndarray, operation_masks: Sequence[np.ndarray] | None = None) -> None:
        """Frame ``frames_written`` of the result: ``[H, W, 3]`` uint8, its ``[H, W]`` mask, each op's mask."""
        if self._closed:
            raise StoreError(f"{self.folder}: the writer is closed")
        frame, mask = np.asarray(frame), np.asarray(mask)
        if not self._started:
            self._start(frame, 0 if operation_masks is None else len(operation_masks))
        w, h = self.size  # type: ignore[misc]
        index = self._next
        if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            raise StoreError(f"{self.folder}: frame {index} is {frame.shape} {frame.dtype}, expected ({h}, {w}, 3) uint8")
        if mask.shape != (h, w):
            raise StoreError(f"{self.folder}: mask {index} is {mask.shape}, expected ({h}, {w})")
        ops = list(operation_masks or ())
        if len(ops) != self.operations:
            raise StoreError(f"{self.folder}: frame {index} has {len(ops)} operation masks, not {self.operations}")
        ops = [np.array(m, copy=True) for m in ops] if self.operations > 1 else []
        while len(self._pending) >= MAX_PENDING:
            self._pending.popleft().result()
        job = self._pool.submit(self._write_frame, index, np.array(frame, copy=True), np.array(mask, copy=True), ops)
        self._pending.append(job)
        self._next += 1
        release_free_memory_now_and_then()  # a long run's freed frame buffers, back to the system as it goes

    def _write_frame(self, index: int, frame: np.ndarray, mask: np.ndarray, ops: list[np.ndarray]) -> None:
        """Frame ``index``'s files; a full disk (or any write error) is a StoreError naming the store's folder."""
        try:
            self._write_frame_files(index, frame, mask, ops)
        except OSError as exc:
            what = exc.strerror or str(exc)
            what = f"no room left on its disk ({what})" if exc.errno == errno.ENOSPC else what
            raise StoreError(f"{self.folder}: the result store could not write frame {index}: {what}") from exc

    def _write_frame_files(self, index: int, frame: np.ndarray, mask: np.ndarray, ops: list[np.ndarray]) -> None:
        """Masks first, then the frame under a temporary name renamed in: a present frame file means a whole frame."""
        _write_png(self.folder / MASKS_FOLDER / _mask_name(index), mask)
        for k, m in enumerate(ops):
            _write_png(self.folder / OPS_FOLDER / _op_name(k, index), m)
        if self._proxy is not None:
            _write_proxy(self.folder, index, frame, mask, self._proxy)
        final = self.folder / FRAMES_FOLDER / _frame_name(index)
        tmp = final.with_name(f".{final.name}.partial-{os.getpid()}")
        _write_png(tmp, frame, FRAME_PNG_LEVEL)
        os.replace(tmp, final)

    def _wait(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def finish(
        self,
        engine: str,
        mode: str = "",
        extras: dict[str, Any] | None = None,
        timings: dict[str, float] | None = None,
    ) -> PropagationResult:
        """Wait for the last frames, write ``result.json`` (the folder is now complete); the stored result."""
        n = self.frames_written
        if n < 1:
            self.close()
            raise StoreError(f"{self.folder}: no frames were written")
        self.close()
        release_free_memory()  # what the run freed, before whatever reads the result (the CLI's transcode, Review)
        if _complete_frames(self.folder) < n:
            raise StoreError(f"{self.folder}: {n} frames were put but fewer are on disk")
        meta = {"frames": n, "fps": self.fps, "engine": engine, "mode": mode, "extras": plain_extras(extras or {})}
        meta["timings"] = {str(k): float(v) for k, v in (timings or {}).items()}
        write_bytes_atomic(self.folder / RESULT_FILE, (json.dumps(meta, indent=2) + "\n").encode("utf-8"))
        result = open_result(self.folder)
        result.extras.update({k: v for k, v in (extras or {}).items() if k not in result.extras and k != "operation_masks"})
        return result

    def close(self) -> None:
        """Stop writing after the frames already handed over (the folder stays partial unless finished)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_png(path: Path, image: np.ndarray, level: int = PNG_LEVEL) -> None:
    image = image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)
    write_file_checked(path, encode_png(image, compression=level, fast=True))


def _write_proxy(folder: Path, index: int, frame: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> None:
    """The frame's scrubbing proxy (JPEG) and its mask's (PNG) at ``size``; written before the frame file."""
    import cv2

    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, PROXY_QUALITY])
    if not ok:
        raise StoreError(f"{folder}: the proxy of frame {index} could not be encoded")
    write_file_checked(folder / PROXY_FOLDER / _proxy_frame_name(index), data.tobytes())
    _write_png(folder / PROXY_FOLDER / _mask_name(index), cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST))


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(w, h) from a baseline/progressive JPEG's frame header, read before decoding (None: not a JPEG)."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None


def _proxy_reader(folder: Path, size: tuple[int, int], masks: bool) -> Any:
    """Reads proxy ``i`` (``None`` when it is missing: proxies are optional); refuses another size."""
    import cv2

    w, h = size
    png = _png_reader(folder, PROXY_FOLDER, _mask_name, (h, w))

    def read(i: int) -> np.ndarray | None:
        if masks:
            return png(i) if (folder / PROXY_FOLDER / _mask_name(i)).is_file() else None
        rel = f"{PROXY_FOLDER}/{_proxy_frame_name(i)}"
        if not (folder / rel).is_file():
            return None
        path = contained(folder, rel, rel, error=_store_error, root_name="the result folder")
        data = read_bytes(path, rel, max_bytes=MAX_PROXY_BYTES, error=_store_error)
        if _jpeg_size(data) != (w, h):
            raise StoreError(f"{path} is not a {w}x{h} JPEG")
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None or image.shape != (h, w, 3):
            raise StoreError(f"{path} is not a readable {w}x{h} JPEG")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    return read


def plain_extras(extras: dict[str, Any]) -> dict[str, Any]:
    """The extras that are plain data (JSON), as stored."""
    out: dict[str, Any] = {}
    for key in KEPT_EXTRAS:
        value = extras.get(key)
        if key == "warnings" and isinstance(value, (list, tuple)):
            out[key] = [str(v) for v in value]
        elif key == "frame_notes" and isinstance(value, dict):
            out[key] = {str(int(k)): str(v) for k, v in value.items()}
        elif key == "shot_cuts" and isinstance(value, (list, tuple)):
            out[key] = [int(v) for v in value]
        elif isinstance(value, str):
            out[key] = value
    return out


def replace_extras(folder: str | os.PathLike[str], extras: dict[str, Any]) -> None:
    """Rewrite a complete store's kept extras (``result.json``, atomically): notes added to a
    result after its run (e.g. the app's "keyframes ignored" warning) then survive a copy."""
    folder = Path(folder)
    meta = _read_meta(folder)
    if meta is None:
        raise StoreError(f"{folder} is not a complete result folder")
    kept = plain_extras(extras)
    if meta.get("extras") == kept:
        return
    meta["extras"] = kept
    write_bytes_atomic(folder / RESULT_FILE, (json.dumps(meta, indent=2) + "\n").encode("utf-8"))


# ------------------------------------------------------------------------------------ reading
class StoredFrames:
    """A read-only ``[T, H, W, C]`` / ``[T, H, W]`` array view of stored images: ``len``, ``shape``,
    ``[i]`` and ``[a:b]`` decode only what is asked for; ``np.asarray`` reads everything (avoid).

    Thread-safe (the GUI's frame loader and an export may read at once)."""

    #: Decoded frames kept (the last few asked for): a view repaints the same frame several
    #: times per seek (its own frame, then again when the original arrives), an A/B wipe twice.
    RECENT = 3

    def __init__(self, length: int, shape: tuple[int, ...], read: Any, name: str, preview: Any = None) -> None:
        self._len, self._frame_shape, self._read, self._name = length, shape, read, name
        self._preview = preview
        self._lock = threading.Lock()
        self._recent: OrderedDict[int, np.ndarray] = OrderedDict()

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._len, *self._frame_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self._frame_shape)

    dtype = np.dtype(np.uint8)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, slice):
            return (
                np.stack([self[i] for i in range(*index.indices(self._len))]) if self._len else np.empty((0,) + self._frame_shape)
            )
        if isinstance(index, tuple):  # frames[t, y0:y1] and the like
            return self[index[0]][index[1:]]
        i = int(index)
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(f"frame {index} out of range: {self._name} has {self._len} frames")
        with self._lock:
            frame = self._recent.get(i)
            if frame is not None:
                self._recent.move_to_end(i)
                return frame.copy()  # callers may draw on it; the kept one stays as decoded
        frame = self._read(i)  # outside the lock: the review's workers decode two frames at once
        with self._lock:
            self._recent[i] = frame
            while len(self._recent) > self.RECENT:
                self._recent.popitem(last=False)
        return frame.copy()

    @property
    def has_preview(self) -> bool:
        """The store keeps small copies of these images for scrubbing (large frames only)."""
        return self._preview is not None

    def preview(self, index: int) -> np.ndarray | None:
        """A small copy of image ``index`` for scrubbing (``PROXY_LONG_SIDE``), or None where the store has none."""
        if self._preview is None:
            return None
        i = int(index)
        if not 0 <= i < self._len:
            raise IndexError(f"frame {index} out of range: {self._name} has {self._len} frames")
        return self._preview(i)

    def __iter__(self) -> Iterator[np.ndarray]:
        # A pass over a stored result is how it is exported (the CLI's transcode, the GUI's export). First
        # what the run that made it left: its engine's buffers are freed after the store was finished (and
        # trimmed), 150 MB after a 1080p removal. Then now and then: in the fragmented heap a long run leaves,
        # each frame's buffers landed in fresh pages every few hundred frames (~21 KB a frame at 1080p).
        release_free_memory()
        for i in range(self._len):
            release_free_memory_now_and_then()
            yield self[i]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.stack(list(self)) if self._len else np.empty(self.shape, np.uint8)
        return out if dtype is None else out.astype(dtype)


def _check_header(data: bytes, shape: tuple[int, ...], path: Path) -> None:
    """A PNG of exactly the result's size, 8-bit RGB (frames) or grey (masks), from its header alone."""
    colour = 2 if len(shape) == 3 else 0
    ok = len(data) > 33 and data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    if ok:
        width, height = struct.unpack(">II", data[16:24])
        ok = (height, width) == tuple(shape[:2]) and data[24] == 8 and data[25] == colour and data[28] == 0
    if not ok:
        raise StoreError(f"{path} is not an 8-bit {'RGB' if colour == 2 else 'grey'} PNG of {shape[1]}x{shape[0]}")


def _png_reader(folder: Path, sub: str, name_of: Any, shape: tuple[int, ...]) -> Any:
    """Reads ``sub/name_of(i)``: contained in ``folder``, a regular file, its header checked, then decoded."""
    import cv2

    def read(i: int) -> np.ndarray:
        rel = f"{sub}/{name_of(i)}"
        path = contained(folder, rel, rel, error=_store_error, root_name="the result folder")
        data = read_bytes(path, rel, max_bytes=MAX_PNG_BYTES, error=_store_error)
        _check_header(data, shape, path)  # the size is known before decoding: no decompression bomb
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)  # libpng checks CRCs
        if image is not None and image.ndim == 3 and image.shape[2] == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if image is None or image.shape != shape or image.dtype != np.uint8:
            got = "undecodable" if image is None else f"{image.shape} {image.dtype}"
            raise StoreError(f"{path} is {got}; the result's images are {shape} uint8")
        return image

    return read


def open_result(folder: str | os.PathLike[str], *, allow_partial: bool = False) -> PropagationResult:
    """The result in ``folder`` as a :class:`PropagationResult` whose frames and masks are read
    from disk on demand (:class:`StoredFrames`); ``extras["result_folder"]`` names the folder.

    A partial folder is refused unless ``allow_partial`` (then its frames present from frame 0 on are the result).
    """
    folder = Path(folder)
    status = inspect(folder)
    if status.state is StoreState.MISSING:
        raise StoreError(f"{folder} holds no result")
    if (folder / STORE_FILE).exists():
        return _open_store(folder, status, allow_partial)
    return _open_legacy(folder)


def _open_store(folder: Path, status: StoreStatus, allow_partial: bool) -> PropagationResult:
    layout = _read_layout(folder)
    meta = _read_meta(folder)
    if meta is None and not allow_partial:
        raise StoreError(f"{folder} holds a partial result ({status.frames} frames readable): resume or discard it")
    n = status.frames
    if n < 1:
        raise StoreError(f"{folder} holds no complete frames")
    w, h = layout["width"], layout["height"]
    if status.state is StoreState.COMPLETE and _complete_frames(folder) < n:
        raise StoreError(f"{folder}: result.json lists {n} frames but frame files are missing")
    proxy = layout.get("proxy")
    proxied = (
        isinstance(proxy, list)
        and len(proxy) == 2
        and all(isinstance(v, int) and 0 < v <= max(w, h) for v in proxy)
        and (folder / PROXY_FOLDER).is_dir()
    )
    frame_preview = _proxy_reader(folder, (proxy[0], proxy[1]), masks=False) if proxied else None
    mask_preview = _proxy_reader(folder, (proxy[0], proxy[1]), masks=True) if proxied else None
    frames = StoredFrames(
        n, (h, w, 3), _png_reader(folder, FRAMES_FOLDER, _frame_name, (h, w, 3)), f"the result in {folder}", frame_preview
    )
    masks = StoredFrames(n, (h, w), _png_reader(folder, MASKS_FOLDER, _mask_name, (h, w)), f"the masks in {folder}", mask_preview)
    extras = _extras_from(meta or {})
    ops = int(layout.get("operations", 0))
    if ops == 1:  # one operation: its mask is the edit mask
        extras["operation_masks"] = [masks]
    elif ops:
        extras["operation_masks"] = [
            StoredFrames(
                n, (h, w), _png_reader(folder, OPS_FOLDER, lambda i, k=k: _op_name(k, i), (h, w)), f"operation {k} masks"
            )
            for k in range(ops)
        ]
    extras["result_folder"] = str(folder)
    if meta is None:
        extras.setdefault("warnings", []).append(f"partial result: the run stopped after frame {n}")
    fps = float(meta.get("fps", layout["fps"])) if meta else float(layout["fps"])
    timings = meta.get("timings") if meta and isinstance(meta.get("timings"), dict) else {}
    return PropagationResult(
        frames=frames,  # type: ignore[arg-type]
        masks=masks,  # type: ignore[arg-type]
        fps=fps,
        engine=str(meta.get("engine", "?")) if meta else "?",
        mode=str(meta.get("mode", "")) if meta else "partial",
        extras=extras,
        timings={str(k): float(v) for k, v in timings.items() if isinstance(v, (int, float))},
    )


def _extras_from(meta: dict[str, Any]) -> dict[str, Any]:
    extras = dict(meta["extras"]) if isinstance(meta.get("extras"), dict) else {}
    if isinstance(extras.get("frame_notes"), dict):  # JSON keys are strings; the contract's are frame indices
        extras["frame_notes"] = {int(k): str(v) for k, v in extras["frame_notes"].items() if str(k).isdigit()}
    if "warnings" in extras and not isinstance(extras["warnings"], list):
        extras["warnings"] = []
    return extras


def _open_legacy(folder: Path) -> PropagationResult:
    """The one-file layout (``frames.mkv`` + ``masks/`` PNGs) that app/result_files wrote before the store."""
    from engine.video import FrameFolderReader, VideoError, VideoFileReader

    meta = _read_meta(folder) or {}
    try:
        frames_path = contained(folder, LEGACY_FRAMES_FILE, LEGACY_FRAMES_FILE, error=_store_error, root_name="the result folder")
        masks_path = contained(folder, MASKS_FOLDER, MASKS_FOLDER, kind="dir", error=_store_error, root_name="the result folder")
        reader = VideoFileReader(frames_path, cache_bytes=32 * 1024 * 1024)
        masks_reader = FrameFolderReader(masks_path, confine_to=folder)
    except (VideoError, UnsafePathError) as exc:
        raise StoreError(f"{folder}: {exc}") from None
    n = len(reader)
    if len(masks_reader) != n:
        raise StoreError(f"{folder}: {n} frames but {len(masks_reader)} masks")
    w, h = reader.size
    extras = _extras_from(meta)
    extras["result_folder"] = str(folder)
    return PropagationResult(
        frames=StoredFrames(n, (h, w, 3), reader.__getitem__, f"the result in {folder}"),  # type: ignore[arg-type]
        masks=StoredFrames(n, (h, w), lambda i: masks_reader[i][..., 0], f"the masks in {folder}"),  # type: ignore[arg-type]
        fps=float(meta.get("fps", reader.fps)),
        engine=str(meta.get("engine", "?")),
        mode=str(meta.get("mode", "")),
        extras=extras,
    )


def write_result(result: PropagationResult, folder: str | os.PathLike[str], on_frame: Any = None) -> Path:
    """Store an in-memory result into ``folder`` (replaced atomically); ``on_frame(done, total)`` per frame."""
    from engine.video import atomic_folder

    n = len(result.frames)
    h, w = result.frames.shape[1:3]
    op_masks = result.extras.get("operation_masks")
    ops = len(op_masks) if isinstance(op_masks, (list, tuple)) else 0
    if ops and any(tuple(np.shape(m)) != tuple(result.masks.shape) for m in op_masks):
        ops = 0
    with atomic_folder(folder) as tmp:
        with ResultWriter(tmp, result.fps, (w, h), expected_frames=n) as writer:
            for t in range(n):
                writer.put(result.frames[t], result.masks[t], [m[t] for m in op_masks] if ops else None)
                if on_frame is not None:
                    on_frame(t + 1, n)
            writer.finish(result.engine, result.mode, result.extras, result.timings)
    return Path(folder)
