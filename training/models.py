"""Build what training needs: G wrapped as a GenPropModel, the VAE and the CLIP image encoder.

``backbone: svd`` loads them from an SVD / SVD-XT pipeline folder (``unet/``, ``vae/``,
``image_encoder/``); ``backbone: tiny`` builds random tiny versions of the very same
classes (diffusers' test sizes), so the tiny preset runs the paper preset's code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from engine.genprop import GenPropConfig, GenPropModel, tiny_unet_config
from training.config import ModelConfig
from training.wan.config import WAN_BACKBONES

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
VAE_CHUNK = 8
"""Frames per VAE call (bounds memory at 576x1024)."""


@dataclass
class Components:
    """The GenProp network plus the frozen VAE and image encoder around it."""

    model: GenPropModel
    vae: AutoencoderKLTemporalDecoder
    image_encoder: CLIPVisionModelWithProjection

    @property
    def scaling_factor(self) -> float:
        return float(self.vae.config.scaling_factor)

    @property
    def vae_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)


def genprop_config(cfg: ModelConfig) -> GenPropConfig:
    return GenPropConfig(
        num_sce_blocks=cfg.num_sce_blocks,
        sce_include_mid=cfg.sce_include_mid,
        fuse_backbone_features=cfg.fuse_backbone_features,
        mpd_hidden_channels=cfg.mpd_hidden_channels,
        mpd_edit_cue=cfg.mpd_edit_cue,
    )


def tiny_vae() -> AutoencoderKLTemporalDecoder:
    """A random 2-level temporal-decoder VAE (downsampling x2), as in diffusers' SVD tests."""
    return AutoencoderKLTemporalDecoder(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        latent_channels=4,
    )


def tiny_image_encoder(projection_dim: int) -> CLIPVisionModelWithProjection:
    """A random 2-layer CLIP vision tower with ``projection_dim`` = G's cross-attention size."""
    config = CLIPVisionConfig(
        hidden_size=32,
        projection_dim=projection_dim,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
    )
    return CLIPVisionModelWithProjection(config)


def build_components(cfg: ModelConfig) -> Components:
    """G (frozen later by the trainer), fresh GenProp heads, VAE and image encoder."""
    if cfg.backbone in WAN_BACKBONES:
        raise ValueError(
            f"backbone {cfg.backbone!r} is built by training.wan.models.build_wan_components (it needs the wan: section)"
        )
    gp = genprop_config(cfg)
    if cfg.backbone == "tiny":
        torch.manual_seed(cfg.seed)
        unet = UNetSpatioTemporalConditionModel(**tiny_unet_config())
        vae = tiny_vae()
        encoder = tiny_image_encoder(int(unet.config.cross_attention_dim))
        model = GenPropModel.from_unet(unet, gp)
    else:
        root = Path(cfg.pretrained_path or "")
        for sub in ("unet", "vae", "image_encoder"):
            if not (root / sub).is_dir():
                raise FileNotFoundError(
                    f"model.pretrained_path {root} must be an SVD pipeline folder with {sub}/ (missing {root / sub})"
                )
        model = GenPropModel.from_pretrained(root, config=gp)
        vae = AutoencoderKLTemporalDecoder.from_pretrained(root, subfolder="vae", use_safetensors=True)
        encoder = CLIPVisionModelWithProjection.from_pretrained(root, subfolder="image_encoder", use_safetensors=True)
    vae.requires_grad_(False).eval()
    encoder.requires_grad_(False).eval()
    return Components(model=model, vae=vae, image_encoder=encoder)


@torch.no_grad()
def encode_video(vae: AutoencoderKLTemporalDecoder, video: torch.Tensor, scaling_factor: float) -> torch.Tensor:
    """``video: [B, T, 3, H, W]`` in [-1, 1] -> scaled latents ``[B, T, 4, H/f, W/f]`` (posterior mode)."""
    b, t = video.shape[:2]
    flat = video.flatten(0, 1).to(vae.dtype)
    parts = [vae.encode(flat[i : i + VAE_CHUNK]).latent_dist.mode() for i in range(0, flat.shape[0], VAE_CHUNK)]
    lat = torch.cat(parts) * scaling_factor
    return lat.reshape(b, t, *lat.shape[1:])


@torch.no_grad()
def encode_condition(vae: AutoencoderKLTemporalDecoder, frame: torch.Tensor) -> torch.Tensor:
    """First-frame latents ``[B, 4, h, w]``, unscaled, as the SVD pipeline feeds G."""
    return vae.encode(frame.to(vae.dtype)).latent_dist.mode()


@torch.no_grad()
def decode_video(vae: AutoencoderKLTemporalDecoder, latents: torch.Tensor, scaling_factor: float) -> torch.Tensor:
    """Scaled latents ``[B, T, 4, h, w]`` -> frames ``[B, T, 3, H, W]`` in [-1, 1]."""
    b, t = latents.shape[:2]
    flat = latents.flatten(0, 1).to(vae.dtype) / scaling_factor
    parts = []
    for i in range(0, flat.shape[0], VAE_CHUNK):
        chunk = flat[i : i + VAE_CHUNK]
        parts.append(vae.decode(chunk, num_frames=chunk.shape[0]).sample)
    out = torch.cat(parts)
    return out.reshape(b, t, *out.shape[1:]).clamp(-1, 1)


@torch.no_grad()
def encode_image(encoder: CLIPVisionModelWithProjection, frame: torch.Tensor) -> torch.Tensor:
    """``frame: [B, 3, H, W]`` in [-1, 1] -> CLIP image embeddings ``[B, 1, D]`` (SVD's conditioning)."""
    size = int(encoder.config.image_size)
    x = (frame.float() + 1.0) / 2.0
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    x = ((x - mean) / std).to(encoder.dtype)
    return encoder(pixel_values=x).image_embeds.unsqueeze(1)
