"""Loaded engines kept between jobs: a second Propagate or an attention click does not reload the weights.

An engine instance holds its loaded pipeline (GenProp's SVD + heads, Wan-VACE), which
takes seconds to tens of seconds to load. The window keeps one ``EngineCache``; every
job asks it for the engine by name and the options that decide what is loaded
(``Engine.load_options``: weights paths, search folders, precision, device). The same
key gets the same instance, models loaded. A job holds its engine for the whole run
(``lease``): one job at a time uses an engine. Engines are released when another key
needs the room (``max_engines``, the least recently used idle one first, before the new
one loads), when free memory is low, after a run that ran out of memory, and on exit.
No Qt here; the CLI runs without a cache (one run, one load).
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from engine.engines.base import CancelToken

log = logging.getLogger(__name__)

#: Below this much free system memory, engines not in use are released before another loads.
LOW_MEMORY_BYTES = 2 * 1024**3

Key = tuple[str, tuple[tuple[str, str], ...]]


def load_key(name: str, engine_cls: type[Any], options: dict[str, Any]) -> Key:
    """What decides the loaded models: the engine and its ``load_options`` values (as text)."""
    names = getattr(engine_cls, "load_options", ())
    return name, tuple((k, repr(options.get(k))) for k in names)


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or a framework's out-of-memory error (torch.cuda.OutOfMemoryError and the like)."""
    return isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__ or "out of memory" in str(exc).lower()


@dataclass
class _Entry:
    engine: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    leases: int = 0


def available_memory() -> int | None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a requirement; without it nothing is released early
        return None
    return int(psutil.virtual_memory().available)


class EngineCache:
    """Engine instances by :func:`load_key`, reused across jobs (thread-safe)."""

    def __init__(
        self,
        max_engines: int = 1,
        low_memory_bytes: int = LOW_MEMORY_BYTES,
        free_memory: Callable[[], int | None] = available_memory,
    ) -> None:
        self.max_engines = max(1, max_engines)
        self.low_memory_bytes = low_memory_bytes
        self._free_memory = free_memory
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.created = 0  # engine instances made (tests, the log)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @contextmanager
    def lease(
        self, name: str, engine_cls: type[Any], options: dict[str, Any], cancel: CancelToken | None = None
    ) -> Iterator[Any]:
        """The engine for ``name`` + ``options`` (made if need be), held by this job until the block ends.

        Waits (polling ``cancel``) while another job uses it. A run that ran out of memory
        releases it: the next run loads afresh into what the failure freed."""
        key = load_key(name, engine_cls, options)
        entry = self._entry(key, engine_cls)
        try:
            while not entry.lock.acquire(timeout=0.1):
                if cancel is not None:
                    cancel.raise_if_cancelled()
        except BaseException:
            with self._lock:
                entry.leases -= 1  # cancelled while another job held it: no lease taken
            raise
        try:
            yield entry.engine
        except BaseException as exc:
            if is_out_of_memory(exc):
                log.warning("%s ran out of memory: its loaded models are released", name)
                self._drop(key, entry)
            raise
        finally:
            entry.lock.release()
            with self._lock:
                entry.leases -= 1
            self._release_if_low_memory()

    def _entry(self, key: Key, engine_cls: type[Any]) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                entry.leases += 1
                return entry
            dropped = self._evict_for_new_locked()
        self._collect(dropped)  # the old models are freed before the new ones load
        self._release_if_low_memory()
        engine = engine_cls()
        with self._lock:
            entry = self._entries.get(key)  # another job may have made it meanwhile
            if entry is None:
                entry = _Entry(engine)
                self._entries[key] = entry
                self.created += 1
                log.info(
                    "engine %s kept for later jobs (%s)", key[0], ", ".join(f"{k}={v}" for k, v in key[1]) or "no load options"
                )
            entry.leases += 1
            return entry

    def _evict_for_new_locked(self) -> int:
        dropped = 0
        for key in list(self._entries):
            if len(self._entries) < self.max_engines:
                break
            if self._entries[key].leases == 0:
                del self._entries[key]
                dropped += 1
        return dropped

    def _drop(self, key: Key, entry: _Entry) -> None:
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
        self._collect(1)

    def _release_if_low_memory(self) -> None:
        free = self._free_memory()
        if free is None or free >= self.low_memory_bytes:
            return
        n = self.release_idle()
        if n:
            log.warning("free memory is low (%d MB): %d loaded engine(s) released", free // 2**20, n)

    def release_idle(self) -> int:
        """Release every engine no job is using now; how many were released."""
        with self._lock:
            idle = [k for k, e in self._entries.items() if e.leases == 0]
            for k in idle:
                del self._entries[k]
        self._collect(len(idle))
        return len(idle)

    def release_all(self, wait: float = 0.0) -> None:
        """On exit: release everything (engines in use are dropped once their job lets go)."""
        deadline = time.monotonic() + wait
        while wait and time.monotonic() < deadline:
            with self._lock:
                if not any(e.leases for e in self._entries.values()):
                    break
            time.sleep(0.05)
        with self._lock:
            self._entries.clear()
        self._collect(1)

    @staticmethod
    def _collect(dropped: int) -> None:
        if not dropped:
            return
        gc.collect()
        torch = sys.modules.get("torch")  # only when an engine imported it
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
