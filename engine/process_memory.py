"""Hand the allocator's free memory back to the system during and after long runs (issue 16).

A streamed run allocates and frees frame-sized buffers (6 MB at 1080p) thousands of times, from
several threads. glibc's malloc keeps freed memory in its arenas for reuse; what fragmentation
leaves unusable there stays resident, and it grows with the run: a 900-frame 1080p removal held
221 MB of such free memory when its engine finished, memory the H.264 transcode that follows
could not reuse. ``malloc_trim`` returns those pages (the arenas' address space stays: reusing
it later costs a page fault, not a copy). Elsewhere (no glibc) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import cache

TRIM_EVERY_FRAMES = 64
"""How often a frame sink trims while a run streams (a few ms each time at 1080p, against seconds of work)."""


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
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


def release_free_memory(collect: bool = False) -> bool:
    """Return the allocator's free pages to the system; ``collect`` first frees unreachable cycles.

    True when the allocator gave memory back (always False where trimming is unavailable)."""
    if collect:
        gc.collect()
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


__all__ = ["TRIM_EVERY_FRAMES", "release_free_memory"]
