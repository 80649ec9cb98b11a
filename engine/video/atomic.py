"""Write-to-temp-then-rename, so a crash never leaves a half-written file that looks finished.

Temporary names carry the writer's process id (``.out.partial-<pid>-<random>.mp4``), so
a later run can tell the leftovers of a killed run (older than itself, written by a
process that no longer runs) from those of a run still going, and removes them.
:func:`check_destinations` tests every output of a command before anything is written.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from engine.video.errors import VideoError

_IMPORTED_AT = time.time()


def process_start_time() -> float:
    """When this process started (Linux: from /proc; elsewhere: when this module was imported)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat(5); fields after the ")" start at field 3
        with open("/proc/stat", encoding="ascii") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_AT


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except OSError:
        return False
    return True


def _token() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def partial_path(final: Path) -> Path:
    """A hidden sibling of ``final`` with the same suffix (encoders pick formats by suffix)."""
    return final.with_name(f".{final.stem}.partial-{_token()}{final.suffix}")


def _leftover_pattern(final: Path, folder: bool) -> re.Pattern[str]:
    if folder:
        return re.compile(rf"^\.{re.escape(final.name)}\.(?:partial|old)-(?:(\d+)-)?[0-9a-f]{{8}}$")
    return re.compile(rf"^\.{re.escape(final.stem)}\.partial-(?:(\d+)-)?[0-9a-f]{{8}}{re.escape(final.suffix)}$")


def remove_stale_partials(final: str | Path, *, folder: bool = False) -> list[Path]:
    """Delete temporary outputs for ``final`` that killed runs left behind.

    A leftover is stale when it is older than this process and the process that wrote
    it (named in it) is gone; a run writing the same target right now keeps its file.
    """
    final = Path(final)
    if not final.parent.is_dir():
        return []
    pattern = _leftover_pattern(final, folder)
    started = process_start_time()
    removed = []
    for entry in os.scandir(final.parent):
        match = pattern.match(entry.name)
        if match is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if st.st_mtime >= started or (match.group(1) and _pid_alive(int(match.group(1)))):
            continue
        path = Path(entry.path)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@contextmanager
def atomic_file(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it into place only on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final)
    tmp = partial_path(final)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to {tmp}")
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_folder(final: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Like ``atomic_file`` for a folder of files (PNG sequences, mask folders)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final, folder=True)
    tmp = final.with_name(f".{final.name}.partial-{_token()}")
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            if not overwrite:
                raise FileExistsError(f"{final} exists")
            old = final.with_name(f".{final.name}.old-{_token()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_bytes_atomic(final: str | Path, data: bytes) -> None:
    """Small files (JSON, settings, project files): same guarantee, fsynced."""
    with atomic_file(final) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


# ----------------------------------------------------------------------------- destinations
def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def _probe_writable(folder: Path, target: Path) -> None:
    """Create and delete a file in ``folder``: the only test that read-only mounts, ACLs
    and quotas cannot fool (``os.access`` can be wrong)."""
    if not folder.is_dir():
        raise VideoError(target, f"cannot be created: {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".genprop-write-test-")
    except OSError as exc:
        raise VideoError(target, f"cannot be written: {folder} is not writable ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def check_destinations(
    files: Sequence[str | Path] = (),
    folders: Sequence[str | Path] = (),
    *,
    inputs: Sequence[str | Path] = (),
    folder_entries: str = r".*",
) -> None:
    """Refuse, before any work, outputs that cannot be written or that collide.

    Each output's folder (or its nearest existing ancestor) must be writable; a file
    output may not be an existing folder and a folder output not an existing file;
    no output may be inside another, be an input or hold an input (a folder output is
    replaced whole). An existing folder output may hold only names matching
    ``folder_entries`` (e.g. the masks of an earlier run): replacing ``~/Documents``
    because it was given as ``--masks-out`` would destroy the user's files.

    Raises:
        VideoError: naming the output and the problem.
    """
    outputs = [(Path(p), False) for p in files] + [(Path(p), True) for p in folders]
    resolved = [(p, p.expanduser().resolve(), is_dir) for p, is_dir in outputs]
    sources = {Path(i).expanduser().resolve() for i in inputs}
    for i, (path, real, is_dir) in enumerate(resolved):
        if real in sources or any(real.is_relative_to(s) for s in sources if s.is_dir()):
            raise VideoError(path, "is an input of this command; refusing to overwrite it")
        if is_dir and any(s.is_relative_to(real) for s in sources):
            raise VideoError(path, "holds an input of this command and would be replaced; give another folder")
        if real.exists() and real.is_dir() != is_dir:
            kind = "a folder" if real.is_dir() else "a file"
            raise VideoError(path, f"exists and is {kind}; a {'folder' if is_dir else 'file'} is written here")
        if is_dir and real.is_dir():
            pattern = re.compile(folder_entries)
            others = sorted(e.name for e in os.scandir(real) if not pattern.fullmatch(e.name))
            if others:
                shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
                raise VideoError(path, f"exists and holds other files ({shown}); it would be replaced whole; give a new folder")
        for other, other_real, _ in resolved[i + 1 :]:
            if real == other_real:
                raise VideoError(path, f"is given as two outputs ({other} too)")
            if real.is_relative_to(other_real) or other_real.is_relative_to(real):
                raise VideoError(path, f"and {other} are inside one another; give separate places")
        _probe_writable(_nearest_existing(real.parent), path)
