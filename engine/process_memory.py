"""Hand the allocator's free memory back to the system during and after long runs (issue 16).

A streamed run allocates and frees frame-sized buffers (6 MB at 1080p) thousands of times, from
several threads. glibc's malloc keeps freed memory in its arenas for reuse; what fragmentation
leaves unusable there stays resident, and it grows with the run: a 900-frame 1080p removal held
221 MB of such free memory when its engine finished, memory the H.264 transcode that follows
could not reuse. ``malloc_trim`` returns those pages (the arenas' address space stays: reusing
it later costs a page fault, not a copy). Elsewhere (no glibc) this does nothing.

No ``gc.collect`` here: in the GUI a full collection holds the GIL for 60-120 ms (a stall), and in
the CLI under ``accelerate launch`` one collected a torch.distributed object whose C++ thread then
aborted the process at exit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import time
from collections.abc import Callable
from functools import cache

TRIM_INTERVAL_S = 5.0
"""Least time between two trims while a run streams. A trim costs a few ms, but the pages it returns are
faulted in again when reused (~60 ms per 240 MB here): once every 5 s that is ~1% of a run's time, and
what fragmentation adds in 5 s is a few MB."""

_last_trim = [time.monotonic()]


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system.

    True when the allocator gave memory back (always False where trimming is unavailable)."""
    trim = _malloc_trim()
    _last_trim[0] = time.monotonic()
    return bool(trim(0)) if trim is not None else False


def release_free_memory_now_and_then() -> None:
    """:func:`release_free_memory` when :data:`TRIM_INTERVAL_S` have passed since the last time (cheap to call per frame)."""
    if time.monotonic() - _last_trim[0] >= TRIM_INTERVAL_S:
        release_free_memory()


__all__ = ["TRIM_INTERVAL_S", "release_free_memory", "release_free_memory_now_and_then"]
