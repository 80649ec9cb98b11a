"""Everything that depends on diffusers' SVD U-Net (``UNetSpatioTemporalConditionModel``).

GenProp needs five things from its backbone G: (1) G's input features (to fuse into the
SCE), (2) copies of G's first blocks (the SCE), (3) a way to add SCE residuals to G's
blocks, (4) a way to add the task embedding to G's time embedding, and (5) the input of
G's last block (for the MPD). This module provides all five for the SVD U-Net so that a
DiT backbone later is one new sibling module, not edits spread over the package.

How residuals get in without forking ``UNetSpatioTemporalConditionModel.forward``:

* skip residuals: a forward pre-hook (``with_kwargs=True``) on every ``up_blocks[i]``
  adds them to ``res_hidden_states_tuple`` -- the skips are produced in order
  ``conv_in, down_blocks[0].*, down_blocks[1].*, ...`` and consumed from the end, so
  :func:`skip_assignment` maps each skip index to (up block, tuple position);
* mid residual: a forward hook on ``mid_block`` adds it to the block's output;
* task embedding: a forward hook on ``time_embedding`` adds one vector per batch item;
* MPD tap: the pre-hook of the last up block records its keyword arguments (penultimate
  features, skips, temb, encoder states), so the MPD can run a mirror of that block.

Every hook lives only inside :func:`inject` (a context manager), so the U-Net is plain
``diffusers`` code outside a GenProp call.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from diffusers import UNetSpatioTemporalConditionModel
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.unets.unet_3d_blocks import (
    UNetMidBlockSpatioTemporal,
    get_down_block,
    get_up_block,
)
from torch import nn

from engine.genprop.weights import MissingWeightsError

BACKBONE_NAME = "svd"

# The U-Net config keys that fix parameter shapes; everything GenProp builds from G
# depends on these and nothing else.
ARCHITECTURE_KEYS: tuple[str, ...] = (
    "in_channels",
    "out_channels",
    "down_block_types",
    "up_block_types",
    "block_out_channels",
    "addition_time_embed_dim",
    "projection_class_embeddings_input_dim",
    "layers_per_block",
    "cross_attention_dim",
    "transformer_layers_per_block",
    "num_attention_heads",
    "num_frames",
)

UNET_WEIGHT_FILES: tuple[str, ...] = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.fp16.safetensors",
)


def tiny_unet_config() -> dict[str, Any]:
    """A tiny random SVD U-Net config for tests (as diffusers' own SVD pipeline test)."""
    return {
        "block_out_channels": (32, 64),
        "layers_per_block": 2,
        "sample_size": 32,
        "in_channels": 8,
        "out_channels": 4,
        "down_block_types": ("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        "up_block_types": ("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        "cross_attention_dim": 32,
        "num_attention_heads": 8,
        "projection_class_embeddings_input_dim": 96,
        "addition_time_embed_dim": 32,
    }


def svd_xt_unet_config() -> dict[str, Any]:
    """The U-Net config of ``stabilityai/stable-video-diffusion-img2vid-xt`` (1.525 B params)."""
    return {
        "sample_size": 96,
        "in_channels": 8,
        "out_channels": 4,
        "down_block_types": (
            "CrossAttnDownBlockSpatioTemporal",
            "CrossAttnDownBlockSpatioTemporal",
            "CrossAttnDownBlockSpatioTemporal",
            "DownBlockSpatioTemporal",
        ),
        "up_block_types": (
            "UpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
        ),
        "block_out_channels": (320, 640, 1280, 1280),
        "addition_time_embed_dim": 256,
        "projection_class_embeddings_input_dim": 768,
        "layers_per_block": 2,
        "cross_attention_dim": 1024,
        "transformer_layers_per_block": 1,
        "num_attention_heads": (5, 10, 20, 20),
        "num_frames": 25,
    }


def _per_block(value: Any, n: int) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value] * n


def architecture(unet_config: Any) -> dict[str, Any]:
    """The shape-defining part of a U-Net config, with per-block values expanded to lists.

    The result is JSON-friendly and comparable, so it is what GenProp stores in its own
    config.json and checks against G when the two are put together.
    """
    defaults = UNetSpatioTemporalConditionModel.extract_init_dict({})[0]
    cfg = {**defaults, **dict(unet_config)}
    n = len(cfg["down_block_types"])
    arch = {key: cfg[key] for key in ARCHITECTURE_KEYS}
    for key in ("down_block_types", "up_block_types", "block_out_channels"):
        arch[key] = list(arch[key])
    for key in ("layers_per_block", "cross_attention_dim", "transformer_layers_per_block", "num_attention_heads"):
        arch[key] = _per_block(arch[key], n)
    return arch


def architecture_mismatch(expected: dict[str, Any], unet_config: Any) -> list[str]:
    """Names and values of the architecture keys where ``unet_config`` differs."""
    actual = architecture(unet_config)
    return [
        f"{key}: GenProp weights were built for {expected.get(key)!r}, the backbone has {actual[key]!r}"
        for key in ARCHITECTURE_KEYS
        if _jsonish(expected.get(key)) != _jsonish(actual[key])
    ]


def _jsonish(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonish(v) for v in value]
    return value


def time_embed_dim(arch: dict[str, Any]) -> int:
    return arch["block_out_channels"][0] * 4


def num_down_blocks(arch: dict[str, Any]) -> int:
    return len(arch["down_block_types"])


def validate_num_blocks(arch: dict[str, Any], num_blocks: int) -> None:
    """The SCE copies 1..len(down_blocks) blocks; anything else is a config error."""
    n = num_down_blocks(arch)
    if not 1 <= num_blocks <= n:
        raise ValueError(f"num_blocks={num_blocks} is out of range: this SVD U-Net has {n} down blocks (1..{n}).")


def build_time_modules(arch: dict[str, Any]) -> nn.ModuleDict:
    """Fresh copies of G's time / added-time embedding modules (same names as in G)."""
    c0 = arch["block_out_channels"][0]
    return nn.ModuleDict(
        {
            "time_proj": Timesteps(c0, True, downscale_freq_shift=0),
            "time_embedding": TimestepEmbedding(c0, time_embed_dim(arch)),
            "add_time_proj": Timesteps(arch["addition_time_embed_dim"], True, downscale_freq_shift=0),
            "add_embedding": TimestepEmbedding(arch["projection_class_embeddings_input_dim"], time_embed_dim(arch)),
        }
    )


def build_down_blocks(arch: dict[str, Any], num_blocks: int) -> nn.ModuleList:
    """The first ``num_blocks`` down blocks of G, built exactly as the U-Net builds them."""
    validate_num_blocks(arch, num_blocks)
    channels = arch["block_out_channels"]
    blocks = nn.ModuleList()
    output_channel = channels[0]
    for i in range(num_blocks):
        input_channel, output_channel = output_channel, channels[i]
        blocks.append(
            get_down_block(
                arch["down_block_types"][i],
                num_layers=arch["layers_per_block"][i],
                transformer_layers_per_block=arch["transformer_layers_per_block"][i],
                in_channels=input_channel,
                out_channels=output_channel,
                temb_channels=time_embed_dim(arch),
                add_downsample=i != len(channels) - 1,
                resnet_eps=1e-5,
                cross_attention_dim=arch["cross_attention_dim"][i],
                num_attention_heads=arch["num_attention_heads"][i],
                resnet_act_fn="silu",
            )
        )
    return blocks


def build_mid_block(arch: dict[str, Any]) -> UNetMidBlockSpatioTemporal:
    return UNetMidBlockSpatioTemporal(
        arch["block_out_channels"][-1],
        temb_channels=time_embed_dim(arch),
        transformer_layers_per_block=arch["transformer_layers_per_block"][-1],
        cross_attention_dim=arch["cross_attention_dim"][-1],
        num_attention_heads=arch["num_attention_heads"][-1],
    )


def build_last_up_block(arch: dict[str, Any]) -> nn.Module:
    """A block shaped like G's last up block (the one the MPD mirrors)."""
    channels = list(reversed(arch["block_out_channels"]))
    i = len(channels) - 1
    return get_up_block(
        arch["up_block_types"][i],
        num_layers=list(reversed(arch["layers_per_block"]))[i] + 1,
        transformer_layers_per_block=list(reversed(arch["transformer_layers_per_block"]))[i],
        in_channels=channels[min(i + 1, len(channels) - 1)],
        out_channels=channels[i],
        prev_output_channel=channels[i - 1] if i > 0 else channels[0],
        temb_channels=time_embed_dim(arch),
        add_upsample=False,
        resnet_eps=1e-5,
        resolution_idx=i,
        cross_attention_dim=list(reversed(arch["cross_attention_dim"]))[i],
        num_attention_heads=list(reversed(arch["num_attention_heads"]))[i],
        resnet_act_fn="silu",
    )


def skip_channels(arch: dict[str, Any], num_blocks: int | None = None) -> list[int]:
    """Channels of each skip connection produced by conv_in and the first ``num_blocks`` blocks."""
    channels = arch["block_out_channels"]
    n = num_down_blocks(arch) if num_blocks is None else num_blocks
    out = [channels[0]]
    for i in range(n):
        out += [channels[i]] * arch["layers_per_block"][i]
        if i != len(channels) - 1:
            out.append(channels[i])
    return out


def skip_assignment(arch: dict[str, Any]) -> list[tuple[int, int]]:
    """For each skip index (production order), the (up block, tuple position) that receives it.

    The U-Net hands up block ``i`` the LAST ``len(resnets)`` remaining skips, in
    production order, and pops them from the end.
    """
    remaining = list(range(len(skip_channels(arch))))
    where: dict[int, tuple[int, int]] = {}
    for up_index, layers in enumerate(reversed(arch["layers_per_block"])):
        taken, remaining = remaining[-(layers + 1) :], remaining[: -(layers + 1)]
        for position, skip in enumerate(taken):
            where[skip] = (up_index, position)
    return [where[i] for i in range(len(where))]


def unet_frame_conditioning(
    timestep: torch.Tensor | float | int,
    added_time_ids: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    batch_size: int,
    num_frames: int,
    time_modules: nn.ModuleDict | nn.Module,
    dtype: torch.dtype,
    device: torch.device,
    task_embedding: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The per-frame ``temb``, encoder states and ``image_only_indicator`` as G computes them.

    Used by the SCE (whose time modules are copies of G's). ``time_modules`` is anything
    with G's attribute names (``time_proj``, ``time_embedding``, ``add_time_proj``,
    ``add_embedding``), so G itself works too.
    """
    if not torch.is_tensor(timestep):
        timestep = torch.tensor([timestep], dtype=torch.float32 if isinstance(timestep, float) else torch.int64)
    timesteps = timestep.to(device).reshape(-1).expand(batch_size) if timestep.numel() == 1 else timestep.to(device)
    emb = time_modules.time_embedding(time_modules.time_proj(timesteps).to(dtype=dtype))
    if task_embedding is not None:
        emb = emb + task_embedding.to(emb.dtype)
    added = time_modules.add_time_proj(added_time_ids.flatten()).reshape(batch_size, -1).to(emb.dtype)
    emb = emb + time_modules.add_embedding(added)
    emb = emb.repeat_interleave(num_frames, dim=0)
    states = encoder_hidden_states.repeat_interleave(num_frames, dim=0)
    indicator = torch.zeros(batch_size, num_frames, dtype=dtype, device=device)
    return emb, states, indicator


def run_down_block(
    block: nn.Module,
    hidden_states: torch.Tensor,
    temb: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    image_only_indicator: torch.Tensor,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Call a spatio-temporal down block the way the U-Net does (cross-attn or not)."""
    kwargs: dict[str, Any] = {
        "hidden_states": hidden_states,
        "temb": temb,
        "image_only_indicator": image_only_indicator,
    }
    if getattr(block, "has_cross_attention", False):
        kwargs["encoder_hidden_states"] = encoder_hidden_states
    return block(**kwargs)


def run_mid_block(
    block: nn.Module,
    hidden_states: torch.Tensor,
    temb: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    image_only_indicator: torch.Tensor,
) -> torch.Tensor:
    return block(
        hidden_states=hidden_states,
        temb=temb,
        encoder_hidden_states=encoder_hidden_states,
        image_only_indicator=image_only_indicator,
    )


def input_features(unet: UNetSpatioTemporalConditionModel, sample: torch.Tensor) -> torch.Tensor:
    """G's conv_in output, ``[batch * frames, C0, h, w]`` -- what the SCE fuses in.

    Recomputing G's conv_in here costs one 3x3 conv and keeps the SCE independent of
    G's forward (the SCE must finish before G's up blocks need its residuals).
    """
    return unet.conv_in(sample.flatten(0, 1))


@dataclass
class Taps:
    """What :func:`inject` collected during one G forward."""

    last_up_block_kwargs: dict[str, Any] | None = None
    batch_size: int = 0
    num_frames: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def inject(
    unet: UNetSpatioTemporalConditionModel,
    *,
    skip_residuals: Sequence[torch.Tensor] = (),
    mid_residual: torch.Tensor | None = None,
    task_embedding: torch.Tensor | None = None,
    tap_last_up_block: bool = False,
) -> Iterator[Taps]:
    """Install the GenProp hooks on G for the duration of one (or more) forward calls.

    ``skip_residuals[k]`` is added to skip ``k`` in production order (``conv_in`` first);
    fewer residuals than skips is fine (the SCE covers only the first N blocks).
    ``task_embedding`` is ``[batch, time_embed_dim]``.
    """
    arch = architecture(unet.config)
    assignment = skip_assignment(arch)
    if len(skip_residuals) > len(assignment):
        raise ValueError(f"Got {len(skip_residuals)} skip residuals, G has only {len(assignment)} skips.")
    per_up_block: dict[int, dict[int, torch.Tensor]] = {}
    for skip, residual in enumerate(skip_residuals):
        up_index, position = assignment[skip]
        per_up_block.setdefault(up_index, {})[position] = residual

    taps = Taps()
    last = len(unet.up_blocks) - 1
    handles = []

    def make_up_hook(up_index: int):
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            additions = per_up_block.get(up_index)
            if additions:
                skips = list(kwargs["res_hidden_states_tuple"])
                for position, residual in additions.items():
                    skips[position] = skips[position] + residual.to(skips[position].dtype)
                kwargs = {**kwargs, "res_hidden_states_tuple": tuple(skips)}
            if tap_last_up_block and up_index == last:
                taps.last_up_block_kwargs = dict(kwargs)
            return args, kwargs

        return hook

    try:
        for up_index, block in enumerate(unet.up_blocks):
            if up_index in per_up_block or (tap_last_up_block and up_index == last):
                handles.append(block.register_forward_pre_hook(make_up_hook(up_index), with_kwargs=True))
        if mid_residual is not None:
            handles.append(unet.mid_block.register_forward_hook(lambda m, a, out: out + mid_residual.to(out.dtype)))
        if task_embedding is not None:
            handles.append(unet.time_embedding.register_forward_hook(lambda m, a, out: out + task_embedding.to(out.dtype)))
        yield taps
    finally:
        for handle in handles:
            handle.remove()


def attention_layer_kind(name: str, module: nn.Module) -> str | None:
    """ "spatial" / "temporal" for the self-attention layers worth drawing, else ``None``.

    In the SVD U-Net, ``transformer_blocks.*.attn1`` attend over the h*w tokens of a frame
    and ``temporal_transformer_blocks.*.attn1`` over the frames at one location; ``attn2``
    is cross-attention to the single CLIP image token (always 1) and is skipped.
    """
    if not name.endswith(".attn1") or not hasattr(module, "get_attention_scores"):
        return None
    if ".temporal_transformer_blocks." in name:
        return "temporal"
    if ".transformer_blocks." in name:
        return "spatial"
    return None


def attention_layer_level(name: str, arch: dict[str, Any]) -> int:
    """Resolution level (0 = latent size, each level halves) of an attention layer in G.

    Down block i attends at level i (before its downsampler), up block i at level
    ``n - 1 - i`` (before its upsampler), the mid block at level ``n - 1``.
    """
    n = num_down_blocks(arch)
    head, _, rest = name.partition(".")
    if head == "mid_block":
        return n - 1
    index = int(rest.partition(".")[0])
    if head == "down_blocks":
        return index
    if head == "up_blocks":
        return n - 1 - index
    raise ValueError(f"{name!r} is not an attention layer of the SVD U-Net.")


def _has_weights(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any((folder / f).is_file() for f in UNET_WEIGHT_FILES)


def load_unet(
    pretrained: str | os.PathLike[str],
    *,
    subfolder: str = "unet",
    torch_dtype: torch.dtype | None = None,
    variant: str | None = None,
) -> UNetSpatioTemporalConditionModel:
    """Load G unchanged from an SVD / SVD-XT checkpoint (diffusers folder or hub id).

    A local path may be the pipeline folder (``<path>/unet/...``) or the U-Net folder
    itself. Only safetensors are read. Raises :class:`MissingWeightsError` naming the
    files needed and where they were looked for.
    """
    path = Path(pretrained)
    needed = f"config.json and one of {', '.join(UNET_WEIGHT_FILES)}"
    if path.exists():
        for folder in (path / subfolder, path):
            if _has_weights(folder):
                if variant is None and not (folder / UNET_WEIGHT_FILES[0]).is_file():
                    variant = "fp16"
                return UNetSpatioTemporalConditionModel.from_pretrained(
                    folder, torch_dtype=torch_dtype, variant=variant, use_safetensors=True
                )
        raise MissingWeightsError(
            f"No SVD U-Net weights found: need {needed} in {(path / subfolder).resolve()} or {path.resolve()}."
        )
    try:
        return UNetSpatioTemporalConditionModel.from_pretrained(
            str(pretrained), subfolder=subfolder, torch_dtype=torch_dtype, variant=variant, use_safetensors=True
        )
    except (OSError, ValueError) as exc:
        raise MissingWeightsError(
            f"Could not load the SVD U-Net {str(pretrained)!r}: need {needed} in the folder "
            f"'{subfolder}/' of that hub repository (looked in the Hugging Face cache "
            f"{os.environ.get('HF_HOME', '~/.cache/huggingface')} and online). Download it, "
            f"or pass a local folder. Cause: {exc}"
        ) from exc
