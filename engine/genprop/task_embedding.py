"""Learned per-task vectors added to the time embedding (of G and of the SCE).

Zero-initialised so that an untrained table leaves G's output unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from engine.tasks import Task

TaskLike = Task | str | Sequence[Task | str] | torch.Tensor


class TaskEmbedding(nn.Module):
    """One vector of size ``dim`` per task name; ``forward(ids) -> [batch, dim]``."""

    def __init__(self, tasks: Sequence[str], dim: int) -> None:
        super().__init__()
        self.tasks = tuple(tasks)
        self.embedding = nn.Embedding(len(self.tasks), dim)
        nn.init.zeros_(self.embedding.weight)

    def task_ids(self, task: TaskLike, batch_size: int, device: torch.device | None = None) -> torch.Tensor:
        """Turn a task, a per-item list of tasks or an id tensor into ``[batch]`` row ids."""
        if torch.is_tensor(task):
            ids = task.to(device=device, dtype=torch.long).reshape(-1)
        else:
            items = [task] if isinstance(task, (Task, str)) else list(task)
            ids = torch.tensor([self._row(t) for t in items], dtype=torch.long, device=device)
        if ids.numel() == 1:
            ids = ids.expand(batch_size)
        if ids.numel() != batch_size:
            raise ValueError(f"Got {ids.numel()} task ids for a batch of {batch_size}.")
        if ids.min() < 0 or ids.max() >= len(self.tasks):
            raise ValueError(f"Task ids must be in 0..{len(self.tasks) - 1}, got {ids.tolist()}.")
        return ids

    def _row(self, task: Task | str) -> int:
        name = task.value if isinstance(task, Task) else str(task)
        if name not in self.tasks:
            raise ValueError(f"Task {name!r} has no embedding; known tasks: {', '.join(self.tasks)}.")
        return self.tasks.index(name)

    def forward(self, task_ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(task_ids)
