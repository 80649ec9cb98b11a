"""Exponential moving average of the trained weights (kept in fp32, saved as safetensors)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


class EMA:
    """``shadow = decay * shadow + (1 - decay) * param`` after each optimiser step.

    The effective decay ramps up as ``min(decay, (1 + n) / (10 + n))`` so early, noisy
    weights do not dominate a long average.
    """

    def __init__(self, parameters: Iterable[nn.Parameter], decay: float) -> None:
        self.params = list(parameters)
        self.decay = float(decay)
        self.num_updates = 0
        self.shadow = [p.detach().float().clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        self.num_updates += 1
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for s, p in zip(self.shadow, self.params, strict=True):
            s.mul_(d).add_(p.detach().float(), alpha=1.0 - d)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Temporarily swap the EMA weights in (validation, export)."""
        backup = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for s, p in zip(self.shadow, self.params, strict=True):
                p.copy_(s.to(p.dtype))
        try:
            yield
        finally:
            with torch.no_grad():
                for b, p in zip(backup, self.params, strict=True):
                    p.copy_(b)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"shadow.{i}": s.contiguous() for i, s in enumerate(self.shadow)}

    def load_tensors(self, tensors: dict[str, torch.Tensor], num_updates: int) -> None:
        if len(tensors) != len(self.shadow):
            raise ValueError(f"EMA state has {len(tensors)} tensors, the model has {len(self.shadow)} trained parameters")
        for i, s in enumerate(self.shadow):
            t = tensors[f"shadow.{i}"]
            if t.shape != s.shape:
                raise ValueError(f"EMA tensor {i} has shape {tuple(t.shape)}, expected {tuple(s.shape)}")
            s.copy_(t)
        self.num_updates = int(num_updates)
