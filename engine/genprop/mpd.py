"""Mask Prediction Decoder (MPD): predicts the edited region per frame from G's features.

The paper's MPD "mirrors G's final block plus an MLP" and reads the latent of G's
penultimate block. For the SVD U-Net that is: a trainable copy of G's last up block
(initialised from G's weights) run on exactly the inputs G's last up block receives
(penultimate up-block output, skips with SCE residuals, temb, encoder states), then
GroupNorm + SiLU (initialised from G's output norm) and a per-pixel MLP (1x1 convs) down
to one logit. SVD keeps all T frames at every level, so no temporal upsampling is needed.

Edit cue (``cue_channels > 0``, a stated deviation, docs/training.md "Recipe choices"): the
MPD also reads the inputs the edit is *defined* by -- G's noisy latents and condition-frame
latents (G's 8 input channels) and the SCE's input latents (4) -- through a small
spatio-temporal conv encoder whose features are added after the MLP's first conv. A probe on
frozen features (``training.mpd_probe``) found that G's penultimate features carry the edit's
location only weakly, and that the SCE residuals in them let the MPD find *synthetic-looking*
content in the SCE's training input, which is absent at inference (the SCE then reads the
real original); the explicit cue transfers to the app's pairing. ``cue_channels = 0`` is the
paper's MPD.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from engine.genprop.backbones import svd
from engine.genprop.placement import move_like


class MaskPredictionDecoder(ModelMixin, ConfigMixin):
    """``forward(last_block_kwargs, batch, frames) -> mask logits [batch, frames, 1, h, w]``."""

    @register_to_config
    def __init__(self, unet_architecture: dict[str, Any], hidden_channels: int = 64, cue_channels: int = 0) -> None:
        super().__init__()
        if cue_channels < 0:
            raise ValueError(f"cue_channels must be >= 0, got {cue_channels}.")
        arch = svd.architecture(unet_architecture)
        c0 = arch["block_out_channels"][0]
        self.block = svd.build_last_up_block(arch)
        self.norm = nn.GroupNorm(num_groups=32, num_channels=c0, eps=1e-5)
        self.cue = EditCueEncoder(cue_channels, hidden_channels) if cue_channels else None
        self.mlp = nn.Sequential(
            nn.SiLU(),
            nn.Conv2d(c0, hidden_channels, kernel_size=3, padding=1),
            nn.SiLU(),
            nn.Conv2d(hidden_channels, hidden_channels, kernel_size=1),
            nn.SiLU(),
            nn.Conv2d(hidden_channels, 1, kernel_size=1),
        )

    @classmethod
    def from_unet(cls, unet: nn.Module, hidden_channels: int = 64, cue_channels: int = 0) -> MaskPredictionDecoder:
        """Build and copy G's last up block and output norm into the mirror."""
        return cls(svd.architecture(unet.config), hidden_channels, cue_channels).load_from_unet(unet)

    def load_from_unet(self, unet: nn.Module) -> MaskPredictionDecoder:
        """Copy G's last up block and output norm into the mirror, in place."""
        move_like(self, unet)
        self.block.load_state_dict(unet.up_blocks[-1].state_dict())
        self.norm.load_state_dict(unet.conv_norm_out.state_dict())
        return self

    def forward(
        self, last_block_kwargs: dict[str, Any], batch_size: int, num_frames: int, cue: torch.Tensor | None = None
    ) -> torch.Tensor:
        """last_block_kwargs: the keyword arguments G's last up block was called with.

        cue: ``[batch, frames, cue_channels, h, w]`` (see :func:`edit_cue`); required when the
        MPD was built with ``cue_channels > 0``, refused otherwise.
        """
        hidden = self.block(**last_block_kwargs)
        x = self.mlp[1](self.mlp[0](self.norm(hidden)))
        if self.cue is not None:
            if cue is None:
                raise ValueError(f"this MPD reads an edit cue of {self.config.cue_channels} channels; none was given.")
            expected = (batch_size, num_frames, self.config.cue_channels, *x.shape[-2:])
            if tuple(cue.shape) != expected:
                raise ValueError(f"edit cue has shape {tuple(cue.shape)}; expected {expected}.")
            x = x + self.cue(cue.to(x.dtype)).flatten(0, 1)
        elif cue is not None:
            raise ValueError("this MPD was built without an edit cue (cue_channels=0) but one was given.")
        logits = self.mlp[2:](x)
        return logits.reshape(batch_size, num_frames, *logits.shape[1:])


class EditCueEncoder(nn.Module):
    """``[B, T, C, h, w] -> [B, T, hidden, h, w]``: two 3x3x3 convs (space and time), so a region
    that differs between G's inputs and the SCE's at frame 1 can be followed to the next frames."""

    def __init__(self, channels: int, hidden_channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(channels, hidden_channels, kernel_size=3, padding=1),
            nn.SiLU(),
            nn.Conv3d(hidden_channels, hidden_channels, kernel_size=3, padding=1),
        )

    def forward(self, cue: torch.Tensor) -> torch.Tensor:
        return self.net(cue.transpose(1, 2)).transpose(1, 2)


def edit_cue(sample: torch.Tensor, original_latents: torch.Tensor | None) -> torch.Tensor:
    """The MPD's edit cue: G's input (noisy latents ++ condition-frame latents) ++ the SCE's input.

    sample: ``[B, T, 8, h, w]``; original_latents: ``[B, T, 4, h, w]`` or ``None`` (G alone:
    zeros, nothing to compare with). The edit is where the two streams disagree.
    """
    if original_latents is None:
        original_latents = sample.new_zeros(*sample.shape[:2], sample.shape[2] // 2, *sample.shape[-2:])
    return torch.cat([sample, original_latents.to(sample.dtype)], dim=2)


def upsample_mask_logits(mask_logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[batch, frames, 1, h, w]`` latent-resolution logits -> ``[batch, frames, 1, H, W]`` for display."""
    b, t = mask_logits.shape[:2]
    up = F.interpolate(mask_logits.flatten(0, 1).float(), size=size, mode="bilinear", align_corners=False)
    return up.reshape(b, t, 1, *size)
