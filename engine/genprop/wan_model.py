"""WanGenPropModel: G (a frozen Wan2.1-VACE transformer) + SCE + MPD + task embeddings behind one forward.

The DiT sibling of :class:`engine.genprop.model.GenPropModel`. Layouts follow diffusers' Wan
(channels before frames): latents ``[batch, 16, frames', height, width]`` with
``frames' = (frames - 1) / 4 + 1``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from diffusers import WanVACETransformer3DModel
from diffusers.utils import BaseOutput
from torch import nn

from engine.genprop.backbones import wan
from engine.genprop.placement import move_like
from engine.genprop.task_embedding import TaskLike
from engine.genprop.wan_heads import WanGenPropHeads
from engine.tasks import Task


@dataclass
class WanGenPropOutput(BaseOutput):
    """Result of one forward.

    sample: G's prediction ``[B, 16, F', H, W]`` (flow-matching velocity for Wan).
    mask_logits: MPD logits ``[B, T, 1, H, W]`` (latent resolution, video frame count), or ``None``.
    sce_hints / sce_states: per SCE block, ``[B, L, D]`` (hint before the injection weight;
        raw state = L_grad's ``f``); empty without an SCE input.
    grid: post-patch (frames', height', width') for :func:`wan.tokens_to_grid`.
    """

    sample: torch.Tensor = None
    mask_logits: torch.Tensor | None = None
    sce_hints: tuple[torch.Tensor, ...] = ()
    sce_states: tuple[torch.Tensor, ...] = ()
    grid: tuple[int, int, int] = (0, 0, 0)


class WanGenPropModel(nn.Module):
    """``unet`` is G (named as in the SVD model so the trainer's freezing applies); ``heads`` is trained."""

    def __init__(self, transformer: WanVACETransformer3DModel, heads: WanGenPropHeads) -> None:
        super().__init__()
        heads.check_backbone(transformer)
        self.unet = transformer
        self.heads = heads

    @property
    def transformer(self) -> WanVACETransformer3DModel:
        return self.unet

    @classmethod
    def from_transformer(cls, transformer: WanVACETransformer3DModel, **head_options: object) -> WanGenPropModel:
        """Fresh GenProp parts around G (zero-initialised: output == G's)."""
        return cls(transformer, WanGenPropHeads.from_transformer(transformer, **head_options))  # type: ignore[arg-type]

    @classmethod
    def from_pretrained(
        cls,
        backbone: str | os.PathLike[str],
        genprop: str | os.PathLike[str] | None = None,
        *,
        torch_dtype: torch.dtype | None = None,
        **head_options: object,
    ) -> WanGenPropModel:
        transformer = wan.load_transformer(backbone, torch_dtype=torch_dtype)
        if genprop is None:
            return cls.from_transformer(transformer, **head_options)
        return cls(transformer, move_like(WanGenPropHeads.from_pretrained(genprop), transformer))

    def save_pretrained(self, folder: str | os.PathLike[str]) -> None:
        """Save the GenProp parts only; G stays the checkpoint it was loaded from."""
        self.heads.save_pretrained(folder)

    def task_vectors(self, task: TaskLike, batch_size: int) -> torch.Tensor:
        table = self.heads.task_embedding
        return table(table.task_ids(task, batch_size, device=table.embedding.weight.device))

    def forward(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        control_hidden_states: torch.Tensor,
        control_hidden_states_scale: torch.Tensor | None = None,
        *,
        sce_input: torch.Tensor | None = None,
        task: TaskLike = Task.NONE,
        injection_weight: float = 1.0,
        predict_mask: bool = True,
        num_frames: int | None = None,
    ) -> WanGenPropOutput:
        """One denoising call.

        hidden_states: noisy latents ``[B, 16, F', H, W]``; control_hidden_states: G's VACE
        context ``[B, 96, F', H, W]`` (the edited first frame, other frames masked);
        sce_input: the ORIGINAL (training: augmented) video for the SCE, ``[B, C_sce, F', H, W]``
        (``None`` runs G alone); num_frames: video frames for the MPD (default ``4(F'-1)+1``).
        """
        if not 0.0 <= float(injection_weight) <= 1.0:
            raise ValueError(f"injection_weight must be in [0, 1], got {injection_weight}")
        if hidden_states.ndim != 5:
            raise ValueError(f"hidden_states must be [batch, channels, frames, height, width], got {tuple(hidden_states.shape)}")
        if sce_input is not None and (
            sce_input.shape[0] != hidden_states.shape[0] or sce_input.shape[2:] != hidden_states.shape[2:]
        ):
            raise ValueError(
                f"sce_input {tuple(sce_input.shape)} must match hidden_states {tuple(hidden_states.shape)} "
                "in batch, frames, height and width"
            )
        batch = hidden_states.shape[0]
        task_vec = self.task_vectors(task, batch)
        out = wan.genprop_forward(
            self.unet,
            hidden_states,
            timestep,
            encoder_hidden_states,
            control_hidden_states,
            control_hidden_states_scale,
            sce=self.heads.sce,
            sce_input=sce_input,
            injection_weight=injection_weight,
            task_embedding=task_vec,
            tap_penultimate=predict_mask,
        )
        mask_logits = None
        if predict_mask:
            frames = num_frames or (hidden_states.shape[2] - 1) * wan.VAE_TEMPORAL_FACTOR + 1
            mask_logits = self.heads.mpd(out.penultimate, out.cond, frames)
        return WanGenPropOutput(
            sample=out.sample,
            mask_logits=mask_logits,
            sce_hints=tuple(out.sce_hints),
            sce_states=tuple(out.sce_states),
            grid=out.cond.grid,
        )

    def run_sce(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        sce_input: torch.Tensor,
        task: TaskLike = Task.NONE,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The SCE alone on ``sce_input`` (e.g. ``V_hat + delta`` for L_grad): (hints, states)."""
        cond = wan.condition(
            self.unet, hidden_states, timestep, encoder_hidden_states, None, self.task_vectors(task, hidden_states.shape[0])
        )
        return self.heads.sce(sce_input, cond)
