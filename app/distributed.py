"""Several processes (GPUs, machines) through Hugging Face ``accelerate``; no home-made runner.

``accelerate launch ... main.py batch ...`` starts the processes and sets ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK``. Each process then sees only its own GPU (``CUDA_VISIBLE_DEVICES``
pinned by its local rank, before anything touches CUDA), so an engine's ``cuda`` is that
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


#: One entry per GPU the NVIDIA driver knows (Linux).
NVIDIA_GPUS = "/proc/driver/nvidia/gpus"


def _gpu_ids() -> list[str]:
    """The GPUs this process may use, without initialising CUDA: ``CUDA_VISIBLE_DEVICES``, else the
    NVIDIA driver's list (``/proc/driver/nvidia/gpus``); empty on a machine without NVIDIA GPUs."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [d.strip() for d in given.split(",") if d.strip()]
    try:
        return [str(i) for i in range(len(os.listdir(NVIDIA_GPUS)))]
    except OSError:
        return []


def pin_gpu_to_local_rank() -> str | None:
    """Make this process see one GPU: its local rank's among the GPUs it may use (round robin when
    there are more processes than GPUs, so two processes can share one).

    Must run before CUDA is initialised. Returns the GPU id chosen, or ``None`` (no local rank, no GPU).
    """
    local = os.environ.get("LOCAL_RANK")
    ids = _gpu_ids()
    if local is None or not local.isdigit() or not ids:
        return None
    chosen = ids[int(local) % len(ids)]
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

    def close(self) -> None:
        """Leave the process group. Without it the interpreter tears gloo's threads down at exit and a
        process can abort ("terminate called without an active exception", exit -6) after all its work
        is done, which fails the whole launch. No barrier: on an error path the other processes may
        be in another collective, and a barrier there would hang instead of failing."""
        self._state.destroy_process_group()

    def gather(self, rows: list[Any]) -> list[Any]:
        """Every process's rows, in process order (on every process)."""
        from accelerate.utils import gather_object

        return list(gather_object(rows))
