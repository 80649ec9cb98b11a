"""The allocator's free memory goes back to the system during long runs (issue 16)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.process_memory import _malloc_trim

ROOT = Path(__file__).resolve().parents[1]

# In a fresh interpreter: the heap of a test process that already ran other tests is not predictable.
_FRAGMENTED = """
import numpy as np
from engine.process_memory import release_free_memory

def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

big = np.ones(8 << 20, np.uint8)
del big  # freeing a large mapped block raises glibc's mmap threshold: the buffers below come from the heap
keep, buffers = [], []
for _ in range(160):
    buffers.append(np.ones(1 << 20, np.uint8))  # touched, so resident
    keep.append(np.ones(4096, np.uint8))  # a small live malloc block after each: the heap cannot shrink
del buffers
before = resident_mb()
trimmed = release_free_memory()
print(before, resident_mb(), trimmed, len(keep))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or _malloc_trim() is None, reason="glibc's malloc_trim")
def test_freed_buffers_between_live_ones_leave_the_resident_set() -> None:
    """Frame-sized buffers freed between small live blocks stay resident until trimmed (fragmentation)."""
    out = subprocess.run([sys.executable, "-c", _FRAGMENTED], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    before, after, trimmed, kept = out.stdout.split()
    assert trimmed == "True" and kept == "160"
    assert float(before) - float(after) > 80, f"resident {float(before):.0f} MB -> {float(after):.0f} MB"


def test_release_is_harmless_where_the_allocator_cannot_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.process_memory as pm

    monkeypatch.setattr(pm, "_malloc_trim", lambda: None)
    assert pm.release_free_memory() is False


def test_trims_while_streaming_are_spaced_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-frame callers trim at most every TRIM_INTERVAL_S: each trim's pages are faulted in again later."""
    import engine.process_memory as pm

    calls: list[int] = []
    monkeypatch.setattr(pm, "_malloc_trim", lambda: lambda pad: calls.append(pad) or 1)
    monkeypatch.setattr(pm, "_last_trim", [pm.time.monotonic() - pm.TRIM_INTERVAL_S - 1])
    for _ in range(100):
        pm.release_free_memory_now_and_then()
    assert calls == [0]
    pm._last_trim[0] -= pm.TRIM_INTERVAL_S
    pm.release_free_memory_now_and_then()
    assert calls == [0, 0]
