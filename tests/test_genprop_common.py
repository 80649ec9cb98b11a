"""Shared builders for the GenProp tests (tiny random SVD U-Net, seed 0). No tests here."""

from __future__ import annotations

import torch
from diffusers import UNetSpatioTemporalConditionModel

from engine.genprop import GenPropConfig, GenPropModel, tiny_unet_config


def make_unet(seed: int = 0) -> UNetSpatioTemporalConditionModel:
    torch.manual_seed(seed)
    return UNetSpatioTemporalConditionModel(**tiny_unet_config()).eval()


def make_model(config: GenPropConfig | None = None, seed: int = 0) -> GenPropModel:
    return GenPropModel.from_unet(make_unet(seed), config).eval()


def make_inputs(batch: int = 1, frames: int = 2, height: int = 16, width: int = 16, seed: int = 0) -> dict:
    """Inputs for G / GenPropModel with the documented layouts."""
    g = torch.Generator().manual_seed(seed)
    return {
        "sample": torch.randn(batch, frames, 8, height, width, generator=g),
        "timestep": torch.tensor([7.0]),
        "encoder_hidden_states": torch.randn(batch, 1, 32, generator=g),
        "added_time_ids": torch.tensor([[6.0, 127.0, 0.02]]).repeat(batch, 1),
        "original_latents": torch.randn(batch, frames, 4, height, width, generator=g),
    }


def g_inputs(inputs: dict) -> tuple:
    return (inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"], inputs["added_time_ids"])


def perturb(module: torch.nn.Module, scale: float = 0.05, seed: int = 1) -> None:
    """Give every parameter of ``module`` random non-zero values (as if trained)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def reference_forward(
    unet: UNetSpatioTemporalConditionModel,
    sample: torch.Tensor,
    timestep: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    added_time_ids: torch.Tensor,
    skip_residuals: tuple[torch.Tensor, ...],
    mid_residual: torch.Tensor | None,
    task_vector: torch.Tensor | None = None,
) -> torch.Tensor:
    """An independent, explicitly written ControlNet-style forward of the SVD U-Net.

    Residuals are added once to the collected skips after the down pass (the correct
    way), so the hook-based injection can be checked against it.
    """
    batch, frames = sample.shape[:2]
    emb = unet.time_embedding(unet.time_proj(timestep.expand(batch)).to(sample.dtype))
    if task_vector is not None:
        emb = emb + task_vector
    emb = emb + unet.add_embedding(unet.add_time_proj(added_time_ids.flatten()).reshape(batch, -1))
    emb = emb.repeat_interleave(frames, dim=0)
    states = encoder_hidden_states.repeat_interleave(frames, dim=0)
    indicator = torch.zeros(batch, frames)
    h = unet.conv_in(sample.flatten(0, 1))
    skips = [h]
    for block in unet.down_blocks:
        kw = {"encoder_hidden_states": states} if getattr(block, "has_cross_attention", False) else {}
        h, res = block(hidden_states=h, temb=emb, image_only_indicator=indicator, **kw)
        skips.extend(res)
    for k, r in enumerate(skip_residuals):
        skips[k] = skips[k] + r
    h = unet.mid_block(hidden_states=h, temb=emb, encoder_hidden_states=states, image_only_indicator=indicator)
    if mid_residual is not None:
        h = h + mid_residual
    for block in unet.up_blocks:
        n = len(block.resnets)
        res, skips = tuple(skips[-n:]), skips[:-n]
        kw = {"encoder_hidden_states": states} if getattr(block, "has_cross_attention", False) else {}
        upsample_size = skips[-1].shape[2:] if skips else None
        h = block(
            hidden_states=h,
            temb=emb,
            res_hidden_states_tuple=res,
            image_only_indicator=indicator,
            upsample_size=upsample_size,
            **kw,
        )
    h = unet.conv_out(unet.conv_act(unet.conv_norm_out(h)))
    return h.reshape(batch, frames, *h.shape[1:])
