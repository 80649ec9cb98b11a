"""Everything that depends on diffusers' Wan VACE transformer (``WanVACETransformer3DModel``).

GenProp on a DiT, beside :mod:`engine.genprop.backbones.svd`. G is a Wan2.1-VACE transformer
used as an image-to-video model: its own VACE blocks read G's context (the edited first
frame, the other frames masked), its main ``blocks`` denoise. GenProp adds:

* the SCE: VACE-shaped blocks (``WanVACETransformerBlock``, the class of G's own
  ``vace_blocks``) reading the ORIGINAL video, each emitting a hint through a
  zero-initialised projection that is added to the main stream after block ``sce_layers[i]``;
* task embeddings added to G's time embedding (before ``time_proj``, so they reach every
  block's modulation and the output head, as in SVD's ``emb = time_emb + task``);
* a tap of G's penultimate tokens (the input of G's last block) for the MPD.

Why an explicit forward and not hooks (the SVD route): Wan's forward is ~40 lines of wiring
around submodules, and the SCE must run after the patch/time embeddings but before the main
blocks. Hooks on block 0 would run the SCE inside G's gradient-checkpointed regions (run
twice, state kept across recomputation). :func:`genprop_forward` calls G's own submodules in
diffusers' order; ``tests/test_wan_genprop.py`` checks it equals diffusers' forward exactly
when the SCE is zero or absent.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import WanVACETransformer3DModel
from diffusers.models.transformers.transformer_wan import WanTransformerBlock
from diffusers.models.transformers.transformer_wan_vace import WanVACETransformerBlock
from torch import nn

from engine.genprop.weights import MissingWeightsError

BACKBONE_NAME = "wan"
VAE_TEMPORAL_FACTOR = 4

# WanVACETransformer3DModel config keys that fix parameter shapes.
ARCHITECTURE_KEYS: tuple[str, ...] = (
    "patch_size",
    "num_attention_heads",
    "attention_head_dim",
    "in_channels",
    "out_channels",
    "text_dim",
    "freq_dim",
    "ffn_dim",
    "num_layers",
    "cross_attn_norm",
    "qk_norm",
    "eps",
    "image_dim",
    "added_kv_proj_dim",
    "pos_embed_seq_len",
    "vace_layers",
    "vace_in_channels",
)

TRANSFORMER_WEIGHT_GLOBS = ("*.safetensors", "*.safetensors.index.json")


def wan_vace_1_3b_config() -> dict[str, Any]:
    """``Wan-AI/Wan2.1-VACE-1.3B-diffusers`` transformer config (30 blocks, dim 1536, 15 VACE blocks)."""
    return {
        "patch_size": (1, 2, 2),
        "num_attention_heads": 12,
        "attention_head_dim": 128,
        "in_channels": 16,
        "out_channels": 16,
        "text_dim": 4096,
        "freq_dim": 256,
        "ffn_dim": 8960,
        "num_layers": 30,
        "cross_attn_norm": True,
        "qk_norm": "rms_norm_across_heads",
        "eps": 1e-6,
        "rope_max_seq_len": 1024,
        "vace_layers": list(range(0, 30, 2)),
        "vace_in_channels": 96,
    }


def wan_vace_14b_config() -> dict[str, Any]:
    """``Wan-AI/Wan2.1-VACE-14B-diffusers`` transformer config (40 blocks, dim 5120, 8 VACE blocks)."""
    return {
        **wan_vace_1_3b_config(),
        "num_attention_heads": 40,
        "ffn_dim": 13824,
        "num_layers": 40,
        "vace_layers": list(range(0, 40, 5)),
    }


def _jsonish(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonish(v) for v in value]
    return value


def architecture(transformer_config: Any) -> dict[str, Any]:
    """The shape-defining part of a Wan VACE transformer config (JSON-friendly, comparable)."""
    defaults = WanVACETransformer3DModel.extract_init_dict({})[0]
    cfg = {**defaults, **dict(transformer_config)}
    return {key: _jsonish(cfg[key]) for key in ARCHITECTURE_KEYS}


def architecture_mismatch(expected: dict[str, Any], transformer_config: Any) -> list[str]:
    actual = architecture(transformer_config)
    return [
        f"{key}: GenProp weights were built for {expected.get(key)!r}, the backbone has {actual[key]!r}"
        for key in ARCHITECTURE_KEYS
        if _jsonish(expected.get(key)) != actual[key]
    ]


def inner_dim(arch: dict[str, Any]) -> int:
    return int(arch["num_attention_heads"]) * int(arch["attention_head_dim"])


def patch_volume(arch: dict[str, Any]) -> int:
    return math.prod(arch["patch_size"])


def default_sce_layers(arch: dict[str, Any], num_blocks: int) -> list[int]:
    """The paper's placement: SCE block ``i`` is a copy of G's block ``i`` and feeds it back there."""
    if not 1 <= num_blocks <= arch["num_layers"]:
        raise ValueError(f"num_sce_blocks={num_blocks} is out of range: this Wan transformer has {arch['num_layers']} blocks")
    return list(range(num_blocks))


def validate_sce_layers(arch: dict[str, Any], layers: Sequence[int]) -> list[int]:
    layers = [int(i) for i in layers]
    if not layers or sorted(set(layers)) != layers or layers[0] < 0 or layers[-1] >= arch["num_layers"]:
        raise ValueError(
            f"sce_layers must be increasing block indices in 0..{arch['num_layers'] - 1} without repeats, got {layers}"
        )
    return layers


def build_vace_blocks(arch: dict[str, Any], count: int) -> nn.ModuleList:
    """``count`` VACE-shaped blocks (the first with the input projection), as diffusers builds them."""
    return nn.ModuleList(
        WanVACETransformerBlock(
            inner_dim(arch),
            arch["ffn_dim"],
            arch["num_attention_heads"],
            arch["qk_norm"],
            arch["cross_attn_norm"],
            arch["eps"],
            arch["added_kv_proj_dim"],
            apply_input_projection=i == 0,
            apply_output_projection=True,
        )
        for i in range(count)
    )


def build_main_block(arch: dict[str, Any]) -> WanTransformerBlock:
    """A block shaped like G's main blocks (the MPD mirrors G's last one)."""
    return WanTransformerBlock(
        inner_dim(arch),
        arch["ffn_dim"],
        arch["num_attention_heads"],
        arch["qk_norm"],
        arch["cross_attn_norm"],
        arch["eps"],
        arch["added_kv_proj_dim"],
    )


def copy_main_block_into_vace_block(vace_block: nn.Module, main_block: nn.Module) -> None:
    """Load a main block's weights into a VACE block (same submodule names; projections untouched)."""
    state = main_block.state_dict()
    missing, unexpected = vace_block.load_state_dict(state, strict=False)
    extra = [k for k in missing if not k.startswith(("proj_in.", "proj_out."))]
    if extra or unexpected:
        raise ValueError(f"main block and VACE block do not match: missing {extra}, unexpected {unexpected}")


def tokens(patch_embedding: nn.Module, video: torch.Tensor) -> torch.Tensor:
    """``[B, C, F, H, W]`` latents -> ``[B, L, D]`` tokens (patchify + flatten, as diffusers)."""
    return patch_embedding(video).flatten(2).transpose(1, 2)


def pad_tokens(x: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad ``[B, L, D]`` tokens to ``length`` (G's token count; VACE does the same)."""
    if x.shape[1] == length:
        return x
    return torch.cat([x, x.new_zeros(x.shape[0], length - x.shape[1], x.shape[2])], dim=1)


@dataclass
class Conditioning:
    """What G's forward computes before its blocks (shared with the SCE and the MPD)."""

    hidden: torch.Tensor  # [B, L, D] patch tokens of the noisy latents
    encoder_states: torch.Tensor  # [B, S, D] projected text (+ image) tokens
    temb: torch.Tensor  # [B, D] time embedding (task vector included)
    timestep_proj: torch.Tensor  # [B, 6, D] per-block modulation
    rotary: tuple[torch.Tensor, torch.Tensor]
    grid: tuple[int, int, int]  # post-patch (frames, height, width)


def condition(
    transformer: nn.Module,
    hidden_states: torch.Tensor,
    timestep: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    encoder_hidden_states_image: torch.Tensor | None = None,
    task_embedding: torch.Tensor | None = None,
) -> Conditioning:
    """G's patch, rotary, time and text embeddings -- diffusers' steps 1-4, plus the task vector."""
    _, _, frames, height, width = hidden_states.shape
    p_t, p_h, p_w = transformer.config.patch_size
    rotary = transformer.rope(hidden_states)
    hidden = tokens(transformer.patch_embedding, hidden_states)
    ce = transformer.condition_embedder
    t = ce.timesteps_proj(timestep)
    embedder_dtype = next(iter(ce.time_embedder.parameters())).dtype
    if t.dtype != embedder_dtype and embedder_dtype != torch.int8:
        t = t.to(embedder_dtype)
    temb = ce.time_embedder(t).type_as(encoder_hidden_states)
    if task_embedding is not None:
        temb = temb + task_embedding.to(temb.dtype)
    timestep_proj = ce.time_proj(ce.act_fn(temb)).unflatten(1, (6, -1))
    states = ce.text_embedder(encoder_hidden_states)
    if encoder_hidden_states_image is not None:
        states = torch.concat([ce.image_embedder(encoder_hidden_states_image), states], dim=1)
    return Conditioning(hidden, states, temb, timestep_proj, rotary, (frames // p_t, height // p_h, width // p_w))


def run_vace_blocks(
    blocks: Sequence[nn.Module],
    cond: Conditioning,
    control_tokens: torch.Tensor,
    checkpoint: Any = None,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Run VACE-shaped blocks; returns (hints, raw control states after each block)."""
    hints, states = [], []
    c = control_tokens
    for block in blocks:
        args = (cond.hidden, cond.encoder_states, c, cond.timestep_proj, cond.rotary)
        hint, c = checkpoint(block, *args) if checkpoint is not None else block(*args)
        hints.append(hint)
        states.append(c)
    return hints, states


def unpatchify(transformer: nn.Module, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
    """``[B, L, p_t*p_h*p_w*C]`` -> ``[B, C, F, H, W]`` (diffusers' step 6)."""
    p_t, p_h, p_w = transformer.config.patch_size
    f, h, w = grid
    x = x.reshape(x.shape[0], f, h, w, p_t, p_h, p_w, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return x.flatten(6, 7).flatten(4, 5).flatten(2, 3)


def output_head(transformer: nn.Module, x: torch.Tensor, temb: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
    """G's norm_out + modulation + proj_out + unpatchify."""
    shift, scale = (transformer.scale_shift_table.to(temb.device) + temb.unsqueeze(1)).chunk(2, dim=1)
    x = (transformer.norm_out(x.float()) * (1 + scale.to(x.device)) + shift.to(x.device)).type_as(x)
    return unpatchify(transformer, transformer.proj_out(x), grid)


@dataclass
class WanForward:
    """Result of :func:`genprop_forward`.

    sample: G's prediction ``[B, C, F, H, W]``.
    sce_hints / sce_states: per SCE block, the projected hint (before the injection weight)
        and the raw control state ``[B, L, D]`` (L_grad's ``f``), or empty.
    penultimate: the input of G's last block ``[B, L, D]`` (``None`` unless asked).
    """

    sample: torch.Tensor
    cond: Conditioning
    sce_hints: list[torch.Tensor]
    sce_states: list[torch.Tensor]
    penultimate: torch.Tensor | None


def genprop_forward(
    transformer: nn.Module,
    hidden_states: torch.Tensor,
    timestep: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    control_hidden_states: torch.Tensor,
    control_hidden_states_scale: torch.Tensor | None = None,
    *,
    encoder_hidden_states_image: torch.Tensor | None = None,
    sce: nn.Module | None = None,
    sce_input: torch.Tensor | None = None,
    injection_weight: float = 1.0,
    task_embedding: torch.Tensor | None = None,
    tap_penultimate: bool = False,
) -> WanForward:
    """``WanVACETransformer3DModel.forward`` with GenProp's SCE hints, task vector and MPD tap.

    hidden_states: ``[B, 16, F, H, W]`` noisy latents; control_hidden_states: G's VACE context
    ``[B, vace_in_channels, F, H, W]``; sce_input: the ORIGINAL video for the SCE
    ``[B, sce_in_channels, F, H, W]``. Without ``sce`` (or with zero hints) this is diffusers'
    forward exactly.
    """
    n_vace = len(transformer.config.vace_layers)
    if control_hidden_states_scale is None:
        control_hidden_states_scale = control_hidden_states.new_ones(n_vace)
    scales = torch.unbind(control_hidden_states_scale)
    if len(scales) != n_vace:
        raise ValueError(f"control_hidden_states_scale has {len(scales)} values, G has {n_vace} VACE layers")
    cond = condition(transformer, hidden_states, timestep, encoder_hidden_states, encoder_hidden_states_image, task_embedding)
    checkpoint = (
        transformer._gradient_checkpointing_func if torch.is_grad_enabled() and transformer.gradient_checkpointing else None
    )
    control = pad_tokens(tokens(transformer.vace_patch_embedding, control_hidden_states), cond.hidden.shape[1])
    g_hints, _ = run_vace_blocks(transformer.vace_blocks, cond, control, checkpoint)
    g_at = {layer: (g_hints[i], scales[i]) for i, layer in enumerate(transformer.config.vace_layers)}
    sce_hints: list[torch.Tensor] = []
    sce_states: list[torch.Tensor] = []
    s_at: dict[int, torch.Tensor] = {}
    if sce is not None and sce_input is not None:
        sce_hints, sce_states = sce(sce_input, cond, checkpoint)
        if float(injection_weight) != 0.0:
            s_at = dict(zip(sce.layers, sce_hints, strict=True))
    x = cond.hidden
    penultimate = None
    last = len(transformer.blocks) - 1
    for i, block in enumerate(transformer.blocks):
        if tap_penultimate and i == last:
            penultimate = x
        args = (x, cond.encoder_states, cond.timestep_proj, cond.rotary)
        x = checkpoint(block, *args) if checkpoint is not None else block(*args)
        if i in g_at:
            hint, scale = g_at[i]
            x = x + hint.to(x.device) * scale
        if i in s_at:
            x = x + s_at[i].to(x.device) * float(injection_weight)
    sample = output_head(transformer, x, cond.temb, cond.grid)
    return WanForward(sample, cond, sce_hints, sce_states, penultimate)


def tokens_to_grid(x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
    """``[B, L, D]`` tokens -> ``[B * F', D, H', W']`` feature maps (L_grad works per frame)."""
    f, h, w = grid
    b, _, d = x.shape
    return x.reshape(b, f, h, w, d).permute(0, 1, 4, 2, 3).flatten(0, 1)


def latent_frames(num_frames: int) -> int:
    """Latent frames of ``num_frames`` video frames (4k+1 -> k+1)."""
    return (num_frames - 1) // VAE_TEMPORAL_FACTOR + 1


def latent_time_mask(mask: torch.Tensor) -> torch.Tensor:
    """``[B, T, 1, h, w]`` per-frame mask -> ``[B, 1, T', h, w]`` per latent frame (mean of each group).

    Latent frame 0 is video frame 0; latent frame k >= 1 covers frames ``4k - 3 .. 4k``.
    """
    b, t = mask.shape[:2]
    first = mask[:, :1]
    rest = mask[:, 1:]
    groups = [first]
    if rest.shape[1]:
        pad = (-rest.shape[1]) % VAE_TEMPORAL_FACTOR
        if pad:
            rest = torch.cat([rest, rest[:, -1:].expand(-1, pad, -1, -1, -1)], dim=1)
        groups.append(rest.reshape(b, -1, VAE_TEMPORAL_FACTOR, *rest.shape[2:]).mean(dim=2))
    return torch.cat(groups, dim=1).transpose(1, 2)


def _has_transformer(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(any(folder.glob(g)) for g in TRANSFORMER_WEIGHT_GLOBS)


def load_transformer(
    pretrained: str | os.PathLike[str], *, subfolder: str = "transformer", torch_dtype: torch.dtype | None = None
) -> WanVACETransformer3DModel:
    """G unchanged from a Wan2.1-VACE checkpoint (pipeline folder or transformer folder; safetensors only)."""
    path = Path(pretrained)
    if path.exists():
        for folder in (path / subfolder, path):
            if _has_transformer(folder):
                return WanVACETransformer3DModel.from_pretrained(folder, dtype=torch_dtype, use_safetensors=True)
        raise MissingWeightsError(
            f"No Wan VACE transformer found: need config.json and safetensors in {(path / subfolder).resolve()} or {path.resolve()}."
        )
    try:
        return WanVACETransformer3DModel.from_pretrained(
            str(pretrained), subfolder=subfolder, dtype=torch_dtype, use_safetensors=True
        )
    except (OSError, ValueError) as exc:
        raise MissingWeightsError(f"Could not load the Wan VACE transformer {str(pretrained)!r}: {exc}") from exc


# ---------------------------------------------------------------------- VAE latents and VACE contexts
def normalise_latents(vae: nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """Raw Wan VAE latents -> the transformer's space: ``(z - latents_mean) / latents_std`` per channel.

    Computed as diffusers does (times the reciprocal), so the result is bit-identical to its pipelines'.
    """
    mean = torch.tensor(vae.config.latents_mean, device=latents.device, dtype=torch.float32).view(1, -1, 1, 1, 1)
    inv_std = 1.0 / torch.tensor(vae.config.latents_std, device=latents.device, dtype=torch.float32).view(1, -1, 1, 1, 1)
    return (latents.float() - mean) * inv_std


def encode_video(vae: nn.Module, video: torch.Tensor) -> torch.Tensor:
    """``[B, 3, T, H, W]`` in [-1, 1] -> normalised latents ``[B, 16, T', H/8, W/8]`` (posterior mode)."""
    parts = [vae.encode(v[None].to(vae.dtype)).latent_dist.mode() for v in video]
    return normalise_latents(vae, torch.cat(parts)).to(vae.dtype)


def vace_context(vae: nn.Module, video: torch.Tensor, mask: torch.Tensor, patch: int) -> torch.Tensor:
    """VACE's 96-channel context for a batch, as ``WanVACEPipeline.prepare_video_latents`` + ``prepare_masks``.

    video: ``[B, 3, T, H, W]`` in [-1, 1]; mask: ``[B, 1, T, H, W]`` (1 = regenerate, 0 = keep).
    Returns ``[B, 16 + 16 + 64, T', H/8, W/8]``: latents of the kept pixels, of the pixels to
    regenerate, and the mask pixel-unshuffled 8x8 and resampled to the latent frames.
    """
    mask = torch.where(mask > 0.5, 1.0, 0.0).to(video.dtype)
    inactive = encode_video(vae, video * (1 - mask))
    reactive = encode_video(vae, video * mask)
    b, _, t, h, w = mask.shape
    factor = 2 ** len(vae.temperal_downsample)
    frames = (t + VAE_TEMPORAL_FACTOR - 1) // VAE_TEMPORAL_FACTOR
    nh, nw = h // (factor * patch) * patch, w // (factor * patch) * patch
    m = mask[:, 0].reshape(b, t, nh, factor, nw, factor).permute(0, 3, 5, 1, 2, 4).flatten(1, 2)
    m = torch.nn.functional.interpolate(m, size=(frames, nh, nw), mode="nearest-exact")
    return torch.cat([inactive, reactive, m.to(inactive.dtype)], dim=1)


def first_frame_context(vae: nn.Module, first: torch.Tensor, num_frames: int, patch: int) -> torch.Tensor:
    """G's image-to-video context: ``first`` ``[B, 3, H, W]`` kept, the other frames grey and regenerated."""
    b, _, h, w = first.shape
    video = torch.zeros(b, 3, num_frames, h, w, dtype=first.dtype, device=first.device)
    video[:, :, 0] = first
    mask = torch.ones(b, 1, num_frames, h, w, dtype=first.dtype, device=first.device)
    mask[:, :, 0] = 0
    return vace_context(vae, video, mask, patch)
