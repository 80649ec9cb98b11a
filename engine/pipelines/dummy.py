"""Tiny random components for tests and benchmarks: same code paths as SVD, seconds on CPU.

Sizes follow diffusers' own SVD pipeline test, except the CLIP vision tower, which uses
``image_size=224, patch_size=32`` so the PIL path (resized to 224x224) works too.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

from engine.genprop import GenPropConfig, GenPropHeads, tiny_unet_config


def tiny_scheduler() -> EulerDiscreteScheduler:
    """SVD's scheduler settings (v-prediction, Karras sigmas, continuous timesteps)."""
    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )


def tiny_components(seed: int = 0, *, randomize_heads: bool = False) -> dict[str, Any]:
    """``vae, image_encoder, feature_extractor, unet, scheduler, heads`` with random weights.

    ``randomize_heads`` fills the zero-initialised SCE projections and task table with
    small random values, so the SCE visibly changes G's output (an untrained SCE does not).
    """
    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(**tiny_unet_config())
    torch.manual_seed(seed)
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        latent_channels=4,
    )
    torch.manual_seed(seed)
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=224,
            intermediate_size=37,
            patch_size=32,
        )
    )
    feature_extractor = CLIPImageProcessor(crop_size=224, size=224)
    torch.manual_seed(seed)
    heads = GenPropHeads.from_unet(unet, GenPropConfig(num_sce_blocks=2, mpd_hidden_channels=16))
    if randomize_heads:
        gen = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for p in heads.parameters():
                if not p.any():
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    for module in (unet, vae, image_encoder, heads):
        module.eval()
    return {
        "vae": vae,
        "image_encoder": image_encoder,
        "feature_extractor": feature_extractor,
        "unet": unet,
        "scheduler": tiny_scheduler(),
        "heads": heads,
    }
