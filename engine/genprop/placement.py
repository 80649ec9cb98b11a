"""Move GenProp modules to G's device and dtype."""

from __future__ import annotations

from typing import TypeVar

from torch import nn

M = TypeVar("M", bound=nn.Module)


def move_like(module: M, reference: nn.Module) -> M:
    """Put ``module`` on ``reference``'s device and dtype.

    Calls ``nn.Module.to`` directly: diffusers 0.42's ``ModelMixin.to`` logs a spurious
    "should be kept in float32: []" warning whenever a dtype is passed.
    """
    param = next(reference.parameters())
    return nn.Module.to(module, device=param.device, dtype=param.dtype)
