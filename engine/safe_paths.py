"""The one rule for paths that a file names, and bounded reads of files we did not write.

Edit files, project folders and test sets all name other files (masks, results, clips).
Someone can send you any of them, so every such path goes through :func:`contained`:

- it is relative, uses ``/``, has no drive, no ``~`` and no NUL byte, and its ``..``
  components never climb above the named folder;
- its real location (after following every symlink) is inside the named folder, so a
  symlink may point elsewhere in the folder but never out of it;
- it exists and is what is expected: a regular file (never a FIFO, a device or a
  folder, which would block or misbehave when opened) or a folder.

Files are read with :func:`read_bytes`, which refuses non-regular files *before*
opening them (a FIFO would block forever), opens without blocking, and never reads more
than a size cap (a 1 GB "edit.json" is refused from its size, not read). JSON goes
through :func:`load_json` with caps on size, nesting depth and number length.

Every function raises the caller's error type (``error=EditFileError``...), so each
loader keeps raising only its documented exception; the default is
:class:`UnsafePathError`.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal

ErrorFactory = Callable[[str], Exception]

#: JSON documents we read (edit files, projects, test sets, weight configs) are small;
#: these caps are far above any real one and far below what would hurt.
MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_NUMBER_CHARS = 40


MAX_MESSAGE = 400


def one_line(message: object, limit: int = MAX_MESSAGE) -> str:
    """A message fit for one line of an error dialog or a terminal, however large the bad value in it."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 4] + " ..."


class UnsafePathError(ValueError):
    """A path or file was refused (outside its folder, not a regular file, too large)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symlink"
    return "not a regular file"


def check_relative(
    rel: Any, where: str, *, root_name: str = "the folder", error: ErrorFactory = UnsafePathError
) -> PurePosixPath:
    """``rel`` as a portable relative path, or ``error`` saying why not (no file access; ``..`` is checked by :func:`contained`)."""
    if not isinstance(rel, str) or not rel.strip():
        raise error(f"{where} must be a relative path, got {rel!r}")
    if "\x00" in rel or "\\" in rel:
        raise error(f"{where}: {rel!r} is not a portable relative path (use '/' separators, no NUL bytes)")
    posix, windows = PurePosixPath(rel), PureWindowsPath(rel)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or rel.startswith("~"):
        raise error(f"{where}: absolute path {rel!r} refused; paths are relative to {root_name}")
    return posix


def contained(
    root: str | os.PathLike[str],
    rel: Any,
    where: str,
    *,
    kind: Literal["file", "dir", "any"] = "file",
    suffixes: tuple[str, ...] | None = None,
    base: str | os.PathLike[str] | None = None,
    root_name: str = "the folder",
    error: ErrorFactory = UnsafePathError,
) -> Path:
    """The real path of ``rel`` (relative to ``base``, default ``root``), kept inside ``root``.

    Args:
        root: the folder nothing may leave (an edit's, a project's, a test set's).
        rel: the path as the file wrote it.
        where: the field, for messages (``operations[2].mask``).
        kind: ``file`` (a regular file), ``dir`` (a folder) or ``any`` of the two.
        suffixes: allowed name endings (lower case, with the dot), e.g. ``(".png",)``.
        base: the folder ``rel`` is relative to, itself inside ``root`` (a test case's folder).
        root_name: how messages call ``root`` ("the edit's folder").
        error: the exception type to raise (called with the message).
    """
    posix = check_relative(rel, where, root_name=root_name, error=error)
    if suffixes is not None and posix.suffix.lower() not in suffixes:
        raise error(f"{where}: {rel!r} must end in {' or '.join(suffixes)}")
    try:
        real_root = Path(root).resolve()
        start = Path(base).resolve() if base is not None else real_root
    except (OSError, RuntimeError, ValueError) as exc:
        raise error(f"{where}: the folder {root} cannot be resolved: {exc}") from None
    if not start.is_relative_to(real_root):
        raise error(f"{where}: the folder {start} is outside {root_name} {real_root}; refused")
    lexical = posixpath.normpath(posixpath.join(start.relative_to(real_root).as_posix(), posix.as_posix()))
    if lexical == ".." or lexical.startswith("../"):
        raise error(f"{where}: {rel!r} leaves {root_name}; refused ('..' may not climb above it)")
    try:
        real = (start / posix).resolve(strict=True)
    except FileNotFoundError:
        raise error(f"{where}: {rel!r} not found in {start}") from None
    except (OSError, RuntimeError) as exc:  # symlink loops, permissions
        raise error(f"{where}: cannot resolve {rel!r}: {exc}") from None
    if not real.is_relative_to(real_root):
        raise error(f"{where}: {rel!r} resolves to {real}, outside {root_name} {real_root} (symlink?); refused")
    try:
        mode = real.stat().st_mode
    except OSError as exc:
        raise error(f"{where}: cannot read {rel!r}: {exc}") from None
    if kind == "file" and not stat.S_ISREG(mode):
        raise error(f"{where}: {rel!r} is {_kind_of(mode)}, not a regular file; refused")
    if kind == "dir" and not stat.S_ISDIR(mode):
        raise error(f"{where}: {rel!r} is {_kind_of(mode)}, not a folder; refused")
    if kind == "any" and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise error(f"{where}: {rel!r} is {_kind_of(mode)}; refused")
    return real


def contained_files(
    folder: Path, root: Path, where: str, *, suffix: str, root_name: str = "the folder", error: ErrorFactory = UnsafePathError
) -> list[Path]:
    """The ``*suffix`` entries of ``folder`` (inside ``root``) in name order, each checked by :func:`contained`."""
    real_root = Path(root).resolve()
    names = sorted(e.name for e in os.scandir(folder) if e.name.lower().endswith(suffix))
    rel_folder = Path(folder).resolve().relative_to(real_root).as_posix()
    prefix = "" if rel_folder == "." else rel_folder + "/"
    return [contained(real_root, prefix + name, f"{where}/{name}", root_name=root_name, error=error) for name in names]


def check_regular_file(
    path: str | os.PathLike[str], what: str, *, max_bytes: int | None = None, error: ErrorFactory = UnsafePathError
) -> int:
    """Size of ``path`` if it is a regular file of at most ``max_bytes``, else ``error`` (nothing is opened)."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise error(f"{what} {path} not found") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise error(f"cannot read {what} {path!s:.200}: {exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {path} is {_kind_of(st.st_mode)}, not a regular file; refused")
    if max_bytes is not None and st.st_size > max_bytes:
        raise error(f"{what} {path} is {_size(st.st_size)}; the limit is {_size(max_bytes)}; refused")
    return st.st_size


def read_bytes(path: str | os.PathLike[str], what: str, *, max_bytes: int, error: ErrorFactory = UnsafePathError) -> bytes:
    """The contents of a regular file of at most ``max_bytes``.

    The type and size are checked before opening; the file is opened non-blocking and
    checked again on the open descriptor (it may have been swapped in between), and at
    most ``max_bytes + 1`` bytes are read (it may be growing).
    """
    path = Path(path)
    check_regular_file(path, what, max_bytes=max_bytes, error=error)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {path} is {_kind_of(st.st_mode)}, not a regular file; refused")
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if total > max_bytes:
        raise error(f"{what} {path} is larger than the limit of {_size(max_bytes)}; refused")
    return b"".join(chunks)


class _JsonLimit(Exception):
    pass


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _JsonLimit(f"a number with {len(text)} digits (the limit is {MAX_NUMBER_CHARS})")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _JsonLimit(f"a number written with {len(text)} characters (the limit is {MAX_NUMBER_CHARS})")
    value = float(text)
    if not math.isfinite(value):
        raise _JsonLimit(f"the number {text[:20]} is too large for a finite value")
    return value


def _parse_constant(name: str) -> float:
    raise _JsonLimit(f"{name} is not a JSON number")


def _depth(doc: Any, limit: int) -> int:
    """Nesting depth of a decoded document (iterative: no recursion limit involved)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((v, d + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_json(
    text: str | bytes,
    name: str,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    error: ErrorFactory = UnsafePathError,
) -> Any:
    """Decode JSON text, refusing deep nesting, huge or non-finite numbers and NaN/Infinity."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{name} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        doc = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except _JsonLimit as exc:
        raise error(f"{name}: {exc}; refused") from None
    except json.JSONDecodeError as exc:
        raise error(f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise error(f"{name} is nested too deeply (the limit is {max_depth} levels); refused") from None
    except ValueError as exc:  # anything else the decoder refuses
        raise error(f"{name} is not valid JSON: {exc}") from None
    if _depth(doc, max_depth) > max_depth:
        raise error(f"{name} is nested more than {max_depth} levels deep; refused")
    return doc


def load_json(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    error: ErrorFactory = UnsafePathError,
) -> Any:
    """Read and decode a JSON file with every cap of :func:`read_bytes` and :func:`parse_json`."""
    path = Path(path)
    data = read_bytes(path, what, max_bytes=max_bytes, error=error)
    return parse_json(data, path.name, max_depth=max_depth, error=error)


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
