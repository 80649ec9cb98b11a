"""Is there room on disk for a run, before it starts? (issue 16)

A streamed run of a long clip keeps its frames on disk, not in memory: a 4,800-frame 1080p
removal needs ~30 GB for the clip's working frames, ~30 GB for the result store and a few GB
of the fill's records. Without a check it finds a full disk only when it gets there, tens of
minutes in. Each part of the run states what it will need (:class:`DiskNeed`: the result
store from its layout, the engine from its own); :func:`require_disk_room` adds the needs
that share a file system and refuses the run with one clear error when they do not fit.

The estimates are upper bounds of the parts' raw sizes (frames are stored uncompressed), not
a promise: a run that outgrows one still ends in a clear error naming the full folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

MB, GB = 1024**2, 1024**3


class DiskRoomError(ValueError):
    """Not enough free disk for a run (a ``ValueError``: what the user asked cannot be done here; exit 2)."""


@dataclass(frozen=True)
class DiskNeed:
    """``nbytes`` a run will write into ``folder`` (which may not exist yet), for ``what``."""

    folder: Path
    nbytes: int
    what: str


def existing_ancestor(folder: str | os.PathLike[str]) -> Path:
    """``folder`` or its nearest parent that exists: where a folder still to be made will live."""
    path = Path(folder).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _gb(nbytes: float) -> str:
    """A size as people read it: "68.9 GB", "412 MB" (below a GB), "less than 1 MB"."""
    if nbytes >= GB:
        return f"{nbytes / GB:.1f} GB"
    return f"{nbytes / MB:.0f} MB" if nbytes >= MB else "less than 1 MB"


def require_disk_room(needs: Iterable[DiskNeed], free_bytes: Callable[[Path], int] = lambda p: shutil.disk_usage(p).free) -> None:
    """Raise :class:`DiskRoomError` when the needs that share a file system exceed its free space.

    The message names each folder, what it is for and its size, and the space that is free.
    """
    groups: dict[int, list[DiskNeed]] = {}
    where: dict[int, Path] = {}
    for need in needs:
        if need.nbytes <= 0:
            continue
        home = existing_ancestor(need.folder)
        device = home.stat().st_dev
        groups.setdefault(device, []).append(need)
        where.setdefault(device, home)
    for device, group in groups.items():
        total = sum(n.nbytes for n in group)
        free = free_bytes(where[device])
        if total > free:
            parts = "; ".join(f"{n.what} in {n.folder}: about {_gb(n.nbytes)}" for n in group)
            raise DiskRoomError(
                f"not enough free disk for this run: it needs about {_gb(total)} ({parts}) "
                f"but the disk of {where[device]} has {_gb(free)} free. Free some space, or point the temporary "
                "folder (TMPDIR) or the output at a larger disk."
            )
