"""Several processes (GPUs, machines) through Hugging Face ``accelerate``; no home-made runner.

``accelerate launch ... main.py batch ...`` starts the processes and sets ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK``. Each process then sees only its own GPU (``CUDA_VISIBLE_DEVICES``
pinned to its local rank, before anything touches CUDA), so an engine's ``cuda`` is that
GPU, and the processes coordinate over ``gloo`` (CPU): they only split the jobs and
gather the summary rows, they never exchange tensors. A single process (no launcher)
imports nothing from accelerate (or torch).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def world_size() -> int:
    """How many processes the launcher started (1 without a launcher)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def pin_gpu_to_local_rank() -> str | None:
    """Make this process see one GPU: its local rank's (within any ``CUDA_VISIBLE_DEVICES`` given).

    Must run before CUDA is initialised. Returns the GPU id chosen, or ``None`` without a local rank.
    """
    local = os.environ.get("LOCAL_RANK")
    if local is None or not local.isdigit():
        return None
    visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    chosen = visible[int(local) % len(visible)] if visible else local
    os.environ["CUDA_VISIBLE_DEVICES"] = chosen
    return chosen


class Processes:
    """This process's place among the launched ones (``accelerate.PartialState``)."""

    def __init__(self) -> None:
        pin_gpu_to_local_rank()
        from accelerate import PartialState

        self._state = PartialState(cpu=True)  # coordination over gloo; the engines pick their own device

    @property
    def index(self) -> int:
        return int(self._state.process_index)

    @property
    def count(self) -> int:
        return int(self._state.num_processes)

    @property
    def is_main(self) -> bool:
        return bool(self._state.is_main_process)

    def wait(self) -> None:
        self._state.wait_for_everyone()

    @contextmanager
    def share(self, items: Sequence[T]) -> Iterator[list[T]]:
        """This process's contiguous share of ``items`` (``split_between_processes``)."""
        with self._state.split_between_processes(list(items)) as mine:
            yield list(mine)

    def gather(self, rows: list[Any]) -> list[Any]:
        """Every process's rows, in process order (on every process)."""
        from accelerate.utils import gather_object

        return list(gather_object(rows))
