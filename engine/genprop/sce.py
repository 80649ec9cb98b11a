"""Selective Content Encoder (SCE): a trainable copy of G's first N blocks reading the ORIGINAL video.

ControlNet-style (diffusers ``controlnets/controlnet.py``): built from G with
:meth:`SelectiveContentEncoder.from_unet`, every output reaches G through a
zero-initialised 1x1 conv, so an untrained SCE changes nothing.

Input choice (SVD): G's conv_in takes 8 channels (noisy latent + first-frame latent).
The SCE reads only the original video's clean VAE latents (4 channels, all T frames);
its own conv_in is initialised from the slice of G's conv_in that reads the noisy-latent
channels. The edited first frame reaches the SCE through the fused G features instead
(a zero-initialised 1x1 projection of G's conv_in output added before the first block).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from engine.genprop.backbones import svd
from engine.genprop.placement import move_like


def zero_conv(channels: int) -> nn.Conv2d:
    """A 1x1 conv whose weights and bias start at zero (the ControlNet trick)."""
    conv = nn.Conv2d(channels, channels, kernel_size=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


@dataclass
class SCEOutput(BaseOutput):
    """SCE results for one call (frames flattened into the batch as in G's blocks).

    skip_residuals: per skip of G, ``[batch * frames, C_k, h_k, w_k]``, already projected
        (zero at init), NOT yet scaled by the injection weight.
    mid_residual: ``[batch * frames, C_last, h, w]`` or ``None`` without a mid block.
    features: the raw (unprojected) block outputs in the same order (+ mid last), the
        ``f(E(.))`` of the Region-Aware loss's L_grad term.
    """

    skip_residuals: tuple[torch.Tensor, ...] = ()
    mid_residual: torch.Tensor | None = None
    features: tuple[torch.Tensor, ...] = ()


class SelectiveContentEncoder(ModelMixin, ConfigMixin):
    """Trainable copy of G's conv_in, time embeddings and first ``num_blocks`` down blocks."""

    @register_to_config
    def __init__(
        self,
        unet_architecture: dict[str, Any],
        num_blocks: int = 2,
        include_mid: bool = False,
        in_channels: int = 4,
        fuse_backbone_features: bool = True,
    ) -> None:
        super().__init__()
        arch = svd.architecture(unet_architecture)
        if include_mid and num_blocks != svd.num_down_blocks(arch):
            raise ValueError(
                f"include_mid=True needs all {svd.num_down_blocks(arch)} down blocks copied "
                f"(num_blocks={num_blocks}): the mid block reads the last down block's output."
            )
        c0 = arch["block_out_channels"][0]
        self.conv_in = nn.Conv2d(in_channels, c0, kernel_size=3, padding=1)
        self.time = svd.build_time_modules(arch)
        self.backbone_feature_proj = zero_conv(c0) if fuse_backbone_features else None
        self.down_blocks = svd.build_down_blocks(arch, num_blocks)
        self.mid_block = svd.build_mid_block(arch) if include_mid else None
        self.skip_projections = nn.ModuleList(zero_conv(c) for c in svd.skip_channels(arch, num_blocks))
        self.mid_projection = zero_conv(arch["block_out_channels"][-1]) if include_mid else None

    @classmethod
    def from_unet(
        cls,
        unet: nn.Module,
        num_blocks: int = 2,
        include_mid: bool = False,
        in_channels: int = 4,
        fuse_backbone_features: bool = True,
    ) -> SelectiveContentEncoder:
        """Build from G and copy G's weights into the copied parts (projections stay zero)."""
        arch = svd.architecture(unet.config)
        if in_channels > arch["in_channels"]:
            raise ValueError(f"in_channels={in_channels} exceeds G's conv_in input channels ({arch['in_channels']}).")
        sce = cls(arch, num_blocks, include_mid, in_channels, fuse_backbone_features)
        return sce.load_from_unet(unet)

    def load_from_unet(self, unet: nn.Module) -> SelectiveContentEncoder:
        """Copy G's weights into the copied parts in place; projections are left as they are."""
        arch = svd.architecture(unet.config)
        in_channels = self.config.in_channels
        if in_channels > arch["in_channels"]:
            raise ValueError(f"in_channels={in_channels} exceeds G's conv_in input channels ({arch['in_channels']}).")
        move_like(self, unet)
        with torch.no_grad():
            self.conv_in.weight.copy_(unet.conv_in.weight[:, :in_channels])
            self.conv_in.bias.copy_(unet.conv_in.bias)
        for name in ("time_proj", "time_embedding", "add_time_proj", "add_embedding"):
            self.time[name].load_state_dict(getattr(unet, name).state_dict())
        for i, block in enumerate(self.down_blocks):
            block.load_state_dict(unet.down_blocks[i].state_dict())
        if self.mid_block is not None:
            self.mid_block.load_state_dict(unet.mid_block.state_dict())
        return self

    def forward(
        self,
        original_latents: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        added_time_ids: torch.Tensor,
        backbone_features: torch.Tensor | None = None,
        task_embedding: torch.Tensor | None = None,
    ) -> SCEOutput:
        """Encode the original video.

        original_latents: ``[batch, frames, in_channels, height, width]`` (clean VAE latents).
        encoder_hidden_states: ``[batch, 1, cross_attention_dim]`` (as for G).
        added_time_ids: ``[batch, 3]`` (fps, motion bucket, noise aug -- as for G).
        backbone_features: G's conv_in output ``[batch * frames, C0, height, width]``.
        task_embedding: ``[batch, time_embed_dim]`` or ``None``.
        """
        batch, frames = original_latents.shape[:2]
        if original_latents.shape[2] != self.config.in_channels:
            raise ValueError(
                f"original_latents has {original_latents.shape[2]} channels, the SCE expects "
                f"{self.config.in_channels} (shape [batch, frames, channels, height, width])."
            )
        temb, states, indicator = svd.unet_frame_conditioning(
            timestep,
            added_time_ids,
            encoder_hidden_states,
            batch,
            frames,
            self.time,
            dtype=original_latents.dtype,
            device=original_latents.device,
            task_embedding=task_embedding,
        )
        hidden = self.conv_in(original_latents.flatten(0, 1))
        if self.backbone_feature_proj is not None and backbone_features is not None:
            hidden = hidden + self.backbone_feature_proj(backbone_features)
        features: list[torch.Tensor] = [hidden]
        for block in self.down_blocks:
            hidden, res = svd.run_down_block(block, hidden, temb, states, indicator)
            features.extend(res)
        skips = tuple(proj(f) for proj, f in zip(self.skip_projections, features, strict=True))
        mid = None
        if self.mid_block is not None:
            hidden = svd.run_mid_block(self.mid_block, hidden, temb, states, indicator)
            features.append(hidden)
            mid = self.mid_projection(hidden)
        return SCEOutput(skip_residuals=skips, mid_residual=mid, features=tuple(features))
