"""Build what Wan training needs: G wrapped as a WanGenPropModel, the frozen VAE, and the prompt embedding.

``backbone: wan`` loads them from a Wan2.1-VACE diffusers folder (``transformer/``, ``vae/``,
``text_encoder/``, ``tokenizer/``); ``backbone: tiny_wan`` builds random tiny versions of the
very same classes (``engine.pipelines.dummy_wan``). umT5 runs once, at build time, for the one
training prompt; its embedding is kept and the text encoder is freed (11 GB for umT5-XXL).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan, WanVACETransformer3DModel

from engine.genprop.backbones import wan
from engine.genprop.wan_model import WanGenPropModel
from training.config import ModelConfig
from training.wan.config import WanConfig


@dataclass
class WanComponents:
    """The GenProp-Wan network plus the frozen VAE and the cached prompt embedding ``[1, S, text_dim]``."""

    model: WanGenPropModel
    vae: AutoencoderKLWan
    prompt_embeds: torch.Tensor

    @property
    def patch(self) -> int:
        return int(self.model.unet.config.patch_size[1])

    @property
    def spatial_factor(self) -> int:
        return 2 ** len(self.vae.temperal_downsample)


def encode_prompt(tokenizer, text_encoder, prompt: str, max_sequence_length: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """umT5 embedding of ``prompt`` exactly as the inference pipeline computes it (zeros after the prompt)."""
    from engine.pipelines.vace_pipeline import encode_t5

    with torch.no_grad():
        return encode_t5(tokenizer, text_encoder, [prompt], max_sequence_length).float().cpu()


def _heads_options(cfg: ModelConfig, wcfg: WanConfig) -> dict[str, object]:
    return {
        "num_sce_blocks": cfg.num_sce_blocks,
        "sce_init": wcfg.sce_init,
        "sce_in_channels": wcfg.sce_in_channels,
        "sce_input_projection": wcfg.sce_input_projection,
        "mpd_hidden_channels": cfg.mpd_hidden_channels,
    }


def build_wan_components(cfg: ModelConfig, wcfg: WanConfig) -> WanComponents:
    """G (frozen later by the trainer), fresh GenProp heads, the VAE and the prompt embedding."""
    if cfg.backbone == "tiny_wan":
        from engine.pipelines.dummy_wan import tiny_text_encoder, tiny_tokenizer, tiny_transformer_config, tiny_vae

        torch.manual_seed(cfg.seed)
        transformer = WanVACETransformer3DModel(**tiny_transformer_config(wcfg.tiny_layers, (0, wcfg.tiny_layers - 1)))
        vae = tiny_vae()
        tokenizer = tiny_tokenizer()
        text_encoder = tiny_text_encoder(len(tokenizer))
        max_len = min(wcfg.max_sequence_length, 16)
    else:
        from transformers import AutoTokenizer, UMT5EncoderModel

        root = Path(cfg.pretrained_path or "")
        for sub in ("transformer", "vae", "text_encoder", "tokenizer"):
            if not (root / sub).is_dir():
                raise FileNotFoundError(
                    f"model.pretrained_path {root} must be a Wan2.1-VACE diffusers folder with {sub}/ (missing {root / sub})"
                )
        transformer = wan.load_transformer(root)
        vae = AutoencoderKLWan.from_pretrained(root, subfolder="vae", dtype=torch.float32, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(root / "tokenizer")
        text_encoder = UMT5EncoderModel.from_pretrained(root / "text_encoder", use_safetensors=True)
        max_len = wcfg.max_sequence_length
    prompt_embeds = encode_prompt(tokenizer, text_encoder, wcfg.prompt, max_len)
    del text_encoder
    model = WanGenPropModel.from_transformer(transformer, **_heads_options(cfg, wcfg))
    vae.requires_grad_(False).eval()
    return WanComponents(model=model, vae=vae, prompt_embeds=prompt_embeds)


@torch.no_grad()
def video_to_wan(video: torch.Tensor) -> torch.Tensor:
    """The dataset's ``[B, T, 3, H, W]`` -> Wan's ``[B, 3, T, H, W]`` (both in [-1, 1])."""
    return video.permute(0, 2, 1, 3, 4)


@torch.no_grad()
def sce_input(comps: WanComponents, video: torch.Tensor) -> torch.Tensor:
    """The SCE's view of ``video`` ``[B, 3, T, H, W]``: latents (16 ch) or VACE's layout, all kept (96 ch)."""
    if comps.model.heads.sce.in_channels == comps.model.unet.config.in_channels:
        return wan.encode_video(comps.vae, video).float()
    keep = torch.zeros(video.shape[0], 1, *video.shape[2:], dtype=video.dtype, device=video.device)
    return wan.vace_context(comps.vae, video, keep, comps.patch).float()


@torch.no_grad()
def decode_video(comps: WanComponents, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latents ``[B, 16, T', h, w]`` -> frames ``[B, T, 3, H, W]`` in [-1, 1]."""
    vae = comps.vae
    mean = torch.tensor(vae.config.latents_mean, device=latents.device).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std, device=latents.device).view(1, -1, 1, 1, 1)
    frames = torch.cat([vae.decode((z[None] * std + mean).to(vae.dtype)).sample for z in latents.float()])
    return frames.permute(0, 2, 1, 3, 4).clamp(-1, 1)
