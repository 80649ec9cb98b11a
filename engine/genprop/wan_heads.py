"""GenProp's trained parts for a Wan (DiT) backbone: SCE, MPD and task table, saved as ONE folder.

The same folder format as :class:`engine.genprop.heads.GenPropHeads` (``config.json`` +
``diffusion_pytorch_model.safetensors``, strict loading, never pickle; keys ``sce.*``,
``mpd.*``, ``task_embedding.*``), with ``backbone: "wan"`` and the G architecture it fits.

* SCE (:class:`WanSelectiveContentEncoder`): a patch embedding of the ORIGINAL video plus N
  VACE-shaped blocks (``WanVACETransformerBlock``). Initialised either as copies of G's first
  N main blocks (``init="copy"``, the paper's recipe; the patch embedding from G's) or from G's
  own pretrained VACE blocks (``init="vace"``, a head start the paper did not have: blocks
  that already read a context video). Either way every hint projection (``proj_out``) starts
  at zero, so an untrained SCE leaves G's output exactly unchanged. Block 0's ``proj_in``
  fuses G's tokens into the SCE (``c = proj_in(c) + x``, VACE's own wiring): ``identity``
  (default: the SCE reads the original video from the first step, plus G's features) or
  ``zero`` (VACE's training recipe: the SCE starts as a copy of G's stream).
* MPD (:class:`WanMaskPredictionDecoder`): a trainable copy of G's last block run on G's
  penultimate tokens, G's output modulation (copied) and a token MLP whose outputs unpatchify
  to ``4`` frames per latent frame, restoring the video's temporal length ``T = 4(T'-1) + 1``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.models.normalization import FP32LayerNorm
from torch import nn

from engine.genprop import weights
from engine.genprop.backbones import wan
from engine.genprop.placement import move_like
from engine.genprop.task_embedding import TaskEmbedding
from engine.tasks import TASK_NAMES

SCE_INITS = ("copy", "vace")
INPUT_PROJECTIONS = ("identity", "zero")


class WanSelectiveContentEncoder(nn.Module):
    """``forward(sce_input, cond) -> (hints, states)``; hint ``i`` joins G after block ``layers[i]``."""

    def __init__(self, arch: dict[str, Any], layers: Sequence[int], in_channels: int) -> None:
        super().__init__()
        self.layers = wan.validate_sce_layers(arch, layers)
        self.in_channels = int(in_channels)
        patch = tuple(arch["patch_size"])
        self.patch_embedding = nn.Conv3d(self.in_channels, wan.inner_dim(arch), kernel_size=patch, stride=patch)
        self.blocks = wan.build_vace_blocks(arch, len(self.layers))

    def zero_hint_projections(self) -> None:
        for block in self.blocks:
            nn.init.zeros_(block.proj_out.weight)
            nn.init.zeros_(block.proj_out.bias)

    def set_input_projection(self, kind: str) -> None:
        proj = self.blocks[0].proj_in
        with torch.no_grad():
            if kind == "identity":
                proj.weight.copy_(torch.eye(proj.weight.shape[0], dtype=proj.weight.dtype))
            elif kind == "zero":
                proj.weight.zero_()
            else:
                raise ValueError(f"sce_input_projection must be one of {INPUT_PROJECTIONS}, got {kind!r}")
            proj.bias.zero_()

    def forward(
        self, sce_input: torch.Tensor, cond: wan.Conditioning, checkpoint: Any = None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """sce_input: ``[B, in_channels, F, H, W]`` latents of the original video (see ``sce_input``)."""
        if sce_input.shape[1] != self.in_channels:
            raise ValueError(
                f"the SCE input has {sce_input.shape[1]} channels, the SCE expects {self.in_channels} "
                "(shape [batch, channels, frames, height, width])"
            )
        control = wan.pad_tokens(wan.tokens(self.patch_embedding, sce_input), cond.hidden.shape[1])
        return wan.run_vace_blocks(self.blocks, cond, control, checkpoint)


class WanMaskPredictionDecoder(nn.Module):
    """``forward(penultimate, cond, frames) -> logits [B, frames, 1, H, W]`` at latent resolution."""

    def __init__(self, arch: dict[str, Any], hidden: int) -> None:
        super().__init__()
        dim = wan.inner_dim(arch)
        self.patch_size = tuple(arch["patch_size"])
        self.block = wan.build_main_block(arch)
        self.norm = FP32LayerNorm(dim, arch["eps"], elementwise_affine=False)
        self.scale_shift_table = nn.Parameter(torch.zeros(1, 2, dim))
        out = wan.patch_volume(arch) * wan.VAE_TEMPORAL_FACTOR
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, out))

    def load_from_transformer(self, transformer: nn.Module) -> None:
        self.block.load_state_dict(transformer.blocks[-1].state_dict())
        with torch.no_grad():
            self.scale_shift_table.copy_(transformer.scale_shift_table)

    def forward(self, penultimate: torch.Tensor, cond: wan.Conditioning, num_frames: int) -> torch.Tensor:
        x = self.block(penultimate, cond.encoder_states, cond.timestep_proj, cond.rotary)
        shift, scale = (self.scale_shift_table.to(cond.temb.device) + cond.temb.unsqueeze(1)).chunk(2, dim=1)
        x = (self.norm(x.float()) * (1 + scale) + shift).type_as(x)
        logits = self.mlp(x)  # [B, L, p_t*p_h*p_w*4]
        p_t, p_h, p_w = self.patch_size
        f, h, w = cond.grid
        x = logits.reshape(x.shape[0], f, h, w, p_t, p_h, p_w, wan.VAE_TEMPORAL_FACTOR)
        x = x.permute(0, 1, 4, 7, 2, 5, 3, 6).reshape(x.shape[0], f * p_t * wan.VAE_TEMPORAL_FACTOR, h * p_h, w * p_w)
        # latent frame 0 is one video frame: keep the last of its 4 slots; then 4 per latent frame
        x = x[:, wan.VAE_TEMPORAL_FACTOR - 1 :]
        return x[:, :num_frames, None]


class WanGenPropHeads(ModelMixin, ConfigMixin):
    """The trainable GenProp parts for one Wan VACE transformer architecture."""

    config_name = weights.CONFIG_NAME

    @register_to_config
    def __init__(
        self,
        transformer_architecture: dict[str, Any],
        backbone: str = wan.BACKBONE_NAME,
        num_sce_blocks: int = 2,
        sce_layers: list[int] | None = None,
        sce_in_channels: int = 16,
        sce_init: str = "copy",
        sce_input_projection: str = "identity",
        mpd_hidden_channels: int = 64,
        tasks: tuple[str, ...] = TASK_NAMES,
    ) -> None:
        super().__init__()
        if backbone != wan.BACKBONE_NAME:
            raise ValueError(f"WanGenPropHeads are for backbone {wan.BACKBONE_NAME!r}, got {backbone!r}")
        if sce_init not in SCE_INITS:
            raise ValueError(f"sce_init must be one of {SCE_INITS}, got {sce_init!r}")
        if sce_input_projection not in INPUT_PROJECTIONS:
            raise ValueError(f"sce_input_projection must be one of {INPUT_PROJECTIONS}, got {sce_input_projection!r}")
        arch = wan.architecture(transformer_architecture)
        layers = list(sce_layers) if sce_layers is not None else wan.default_sce_layers(arch, num_sce_blocks)
        if len(layers) != num_sce_blocks:
            raise ValueError(f"sce_layers {layers} has {len(layers)} entries for num_sce_blocks={num_sce_blocks}")
        self.sce = WanSelectiveContentEncoder(arch, layers, sce_in_channels)
        self.mpd = WanMaskPredictionDecoder(arch, mpd_hidden_channels)
        self.task_embedding = TaskEmbedding(tasks, wan.inner_dim(arch))

    @classmethod
    def from_transformer(
        cls,
        transformer: nn.Module,
        *,
        num_sce_blocks: int = 2,
        sce_init: str = "copy",
        sce_in_channels: int | None = None,
        sce_input_projection: str = "identity",
        mpd_hidden_channels: int = 64,
        tasks: tuple[str, ...] = TASK_NAMES,
    ) -> WanGenPropHeads:
        """Fresh heads for G (zero hint projections and task table: output == G's).

        ``init="copy"``: SCE block i = G's block i, patch embedding = G's (16 latent channels).
        ``init="vace"``: SCE = G's own VACE blocks and VACE patch embedding (its 96-channel
        context layout), one SCE block per G VACE layer; ``num_sce_blocks`` is ignored.
        """
        arch = wan.architecture(transformer.config)
        if sce_init == "vace":
            layers = list(arch["vace_layers"])
            in_ch = int(arch["vace_in_channels"]) if sce_in_channels is None else sce_in_channels
            if in_ch != arch["vace_in_channels"]:
                raise ValueError(f"init='vace' reads G's VACE context layout ({arch['vace_in_channels']} channels), got {in_ch}")
        else:
            layers = wan.default_sce_layers(arch, num_sce_blocks)
            in_ch = int(arch["in_channels"]) if sce_in_channels is None else sce_in_channels
            if in_ch not in (arch["in_channels"], arch["vace_in_channels"]):
                raise ValueError(
                    f"sce_in_channels must be {arch['in_channels']} (latents) or {arch['vace_in_channels']} (VACE layout)"
                )
        heads = cls(
            arch, wan.BACKBONE_NAME, len(layers), layers, in_ch, sce_init, sce_input_projection, mpd_hidden_channels, tasks
        )
        heads.load_from_transformer(transformer)
        return move_like(heads, transformer)

    def load_from_transformer(self, transformer: nn.Module) -> WanGenPropHeads:
        """Copy G's weights into the SCE and MPD (in place); projections and task table are reset."""
        cfg = self.config
        sce = self.sce
        with torch.no_grad():
            if cfg.sce_init == "vace":
                sce.patch_embedding.load_state_dict(transformer.vace_patch_embedding.state_dict())
                for block, source in zip(sce.blocks, transformer.vace_blocks, strict=True):
                    block.load_state_dict(source.state_dict())
            else:
                source = transformer.patch_embedding if cfg.sce_in_channels == transformer.config.in_channels else None
                if source is not None:
                    sce.patch_embedding.load_state_dict(source.state_dict())
                else:  # VACE layout: the first 16 channels (inactive latents) read like G's input
                    nn.init.zeros_(sce.patch_embedding.weight)
                    sce.patch_embedding.weight[:, : transformer.config.in_channels].copy_(transformer.patch_embedding.weight)
                    sce.patch_embedding.bias.copy_(transformer.patch_embedding.bias)
                for block, layer in zip(sce.blocks, sce.layers, strict=True):
                    wan.copy_main_block_into_vace_block(block, transformer.blocks[layer])
                sce.set_input_projection(cfg.sce_input_projection)
            if cfg.sce_init == "vace" and cfg.sce_input_projection == "zero":
                sce.set_input_projection("zero")
        sce.zero_hint_projections()
        self.mpd.load_from_transformer(transformer)
        nn.init.zeros_(self.task_embedding.embedding.weight)
        return self

    def save_pretrained(self, save_directory: str | os.PathLike[str], **_: Any) -> None:  # type: ignore[override]
        """Write config.json + safetensors (never pickle) to ``save_directory``."""
        weights.save_weights(self, save_directory)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike[str], **_: Any) -> WanGenPropHeads:  # type: ignore[override]
        """Load a folder written by :meth:`save_pretrained`; refuses anything that does not fit."""
        config = weights.read_config(folder)
        if config.get("backbone") != wan.BACKBONE_NAME:
            raise weights.WeightsMismatchError(
                f"{Path(folder) / weights.CONFIG_NAME} holds GenProp heads for backbone {config.get('backbone', 'svd')!r}, "
                f"not {wan.BACKBONE_NAME!r}"
            )
        try:
            heads = cls.from_config(config)
        except (TypeError, ValueError, KeyError) as exc:
            raise weights.WeightsMismatchError(
                f"{Path(folder) / weights.CONFIG_NAME} does not describe Wan GenProp heads: {exc}"
            ) from exc
        return weights.load_weights_into(heads, folder)

    def check_backbone(self, transformer: nn.Module) -> None:
        problems = wan.architecture_mismatch(self.config.transformer_architecture, transformer.config)
        if problems:
            raise weights.WeightsMismatchError("GenProp heads do not fit this Wan transformer: " + "; ".join(problems))
