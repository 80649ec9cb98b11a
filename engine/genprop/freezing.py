"""Freeze G, train the GenProp parts -- the paper's training setup."""

from __future__ import annotations

from torch import nn

from engine.genprop.model import GenPropModel


def freeze_backbone(model: GenPropModel) -> list[nn.Parameter]:
    """Freeze G (no grads, eval mode) and make SCE, MPD and task embeddings trainable.

    Returns the trainable parameters, ready for an optimiser. G goes to eval mode so any
    dropout in it stays off while the heads train.
    """
    model.unet.requires_grad_(False)
    model.unet.eval()
    model.heads.requires_grad_(True)
    model.heads.train()
    return [p for p in model.heads.parameters() if p.requires_grad]


def trainable_parameter_names(model: nn.Module) -> list[str]:
    """Names of parameters that currently require grad (for logs and checks)."""
    return [name for name, p in model.named_parameters() if p.requires_grad]
