"""Mask Prediction Decoder (MPD): predicts the edited region per frame from G's features.

The paper's MPD "mirrors G's final block plus an MLP" and reads the latent of G's
penultimate block. For the SVD U-Net that is: a trainable copy of G's last up block
(initialised from G's weights) run on exactly the inputs G's last up block receives
(penultimate up-block output, skips with SCE residuals, temb, encoder states), then
GroupNorm + SiLU (initialised from G's output norm) and a per-pixel MLP (1x1 convs) down
to one logit. SVD keeps all T frames at every level, so no temporal upsampling is needed.
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
    def __init__(self, unet_architecture: dict[str, Any], hidden_channels: int = 64) -> None:
        super().__init__()
        arch = svd.architecture(unet_architecture)
        c0 = arch["block_out_channels"][0]
        self.block = svd.build_last_up_block(arch)
        self.norm = nn.GroupNorm(num_groups=32, num_channels=c0, eps=1e-5)
        self.mlp = nn.Sequential(
            nn.SiLU(),
            nn.Conv2d(c0, hidden_channels, kernel_size=3, padding=1),
            nn.SiLU(),
            nn.Conv2d(hidden_channels, hidden_channels, kernel_size=1),
            nn.SiLU(),
            nn.Conv2d(hidden_channels, 1, kernel_size=1),
        )

    @classmethod
    def from_unet(cls, unet: nn.Module, hidden_channels: int = 64) -> MaskPredictionDecoder:
        """Build and copy G's last up block and output norm into the mirror."""
        return cls(svd.architecture(unet.config), hidden_channels).load_from_unet(unet)

    def load_from_unet(self, unet: nn.Module) -> MaskPredictionDecoder:
        """Copy G's last up block and output norm into the mirror, in place."""
        move_like(self, unet)
        self.block.load_state_dict(unet.up_blocks[-1].state_dict())
        self.norm.load_state_dict(unet.conv_norm_out.state_dict())
        return self

    def forward(self, last_block_kwargs: dict[str, Any], batch_size: int, num_frames: int) -> torch.Tensor:
        """last_block_kwargs: the keyword arguments G's last up block was called with."""
        hidden = self.block(**last_block_kwargs)
        logits = self.mlp(self.norm(hidden))
        return logits.reshape(batch_size, num_frames, *logits.shape[1:])


def upsample_mask_logits(mask_logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[batch, frames, 1, h, w]`` latent-resolution logits -> ``[batch, frames, 1, H, W]`` for display."""
    b, t = mask_logits.shape[:2]
    up = F.interpolate(mask_logits.flatten(0, 1).float(), size=size, mode="bilinear", align_corners=False)
    return up.reshape(b, t, 1, *size)
