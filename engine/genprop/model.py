"""GenPropModel: G (frozen SVD U-Net) + SCE + MPD + task embeddings behind one forward."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from diffusers import UNetSpatioTemporalConditionModel
from diffusers.utils import BaseOutput
from torch import nn

from engine.genprop.backbones import svd
from engine.genprop.config import GenPropConfig
from engine.genprop.heads import GenPropHeads
from engine.genprop.mpd import edit_cue
from engine.genprop.placement import move_like
from engine.genprop.sce import SCEOutput
from engine.genprop.task_embedding import TaskLike
from engine.tasks import Task


@dataclass
class GenPropOutput(BaseOutput):
    """Result of one GenProp forward.

    sample: G's prediction, ``[batch, frames, out_channels, height, width]``.
    mask_logits: MPD logits ``[batch, frames, 1, height, width]`` (latent resolution), or
        ``None`` when ``predict_mask=False``.
    sce: the SCE's output (residuals before scaling and raw features for L_grad), or
        ``None`` when no original video was given.
    backbone_features: G's conv_in output fused into the SCE, ``[batch * frames, C0, h, w]``;
        pass it to :meth:`GenPropModel.run_sce` to re-run the SCE on a perturbed input.
    """

    sample: torch.Tensor = None
    mask_logits: torch.Tensor | None = None
    sce: SCEOutput | None = None
    backbone_features: torch.Tensor | None = None

    @property
    def sce_features(self) -> tuple[torch.Tensor, ...]:
        return () if self.sce is None else self.sce.features


class GenPropModel(nn.Module):
    """``unet`` is G, untouched diffusers code; ``heads`` holds what GenProp trains."""

    def __init__(self, unet: UNetSpatioTemporalConditionModel, heads: GenPropHeads) -> None:
        super().__init__()
        heads.check_backbone(unet)
        self.unet = unet
        self.heads = heads

    @classmethod
    def from_unet(cls, unet: UNetSpatioTemporalConditionModel, config: GenPropConfig | None = None) -> GenPropModel:
        """Fresh GenProp parts around an existing G (zero-initialised: output == G's)."""
        return cls(unet, GenPropHeads.from_unet(unet, config))

    @classmethod
    def from_pretrained(
        cls,
        backbone: str | os.PathLike[str],
        genprop: str | os.PathLike[str] | None = None,
        *,
        config: GenPropConfig | None = None,
        torch_dtype: torch.dtype | None = None,
        subfolder: str = "unet",
    ) -> GenPropModel:
        """G from an SVD/SVD-XT checkpoint; GenProp parts from ``genprop`` or fresh from ``config``."""
        unet = svd.load_unet(backbone, subfolder=subfolder, torch_dtype=torch_dtype)
        if genprop is None:
            return cls.from_unet(unet, config)
        heads = move_like(GenPropHeads.from_pretrained(genprop), unet)
        return cls(unet, heads)

    def save_pretrained(self, folder: str | os.PathLike[str]) -> None:
        """Save the GenProp parts only; G stays the SVD checkpoint it was loaded from."""
        self.heads.save_pretrained(folder)

    @property
    def sce(self) -> nn.Module:
        return self.heads.sce

    @property
    def mpd(self) -> nn.Module:
        return self.heads.mpd

    def backbone_features(self, sample: torch.Tensor) -> torch.Tensor:
        """G's input features for ``sample: [batch, frames, in_channels, height, width]``."""
        return svd.input_features(self.unet, sample)

    def task_vectors(self, task: TaskLike, batch_size: int) -> torch.Tensor:
        """``[batch, time_embed_dim]`` task vectors (zero for an untrained table)."""
        table = self.heads.task_embedding
        return table(table.task_ids(task, batch_size, device=table.embedding.weight.device))

    def run_sce(
        self,
        original_latents: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        added_time_ids: torch.Tensor,
        backbone_features: torch.Tensor | None,
        task: TaskLike = Task.NONE,
    ) -> SCEOutput:
        """Run the SCE alone (e.g. on ``V_hat + delta`` for L_grad's finite difference)."""
        task_vec = self.task_vectors(task, original_latents.shape[0])
        return self.heads.sce(original_latents, timestep, encoder_hidden_states, added_time_ids, backbone_features, task_vec)

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        added_time_ids: torch.Tensor,
        original_latents: torch.Tensor | None = None,
        task: TaskLike = Task.NONE,
        injection_weight: float = 1.0,
        predict_mask: bool = True,
    ) -> GenPropOutput:
        """One denoising call.

        sample: ``[batch, frames, in_channels, height, width]`` -- SVD's input (noisy
            latents concatenated with the first-frame latents on channels).
        encoder_hidden_states: ``[batch, 1, cross_attention_dim]``.
        added_time_ids: ``[batch, 3]``.
        original_latents: ``[batch, frames, sce_in_channels, height, width]`` clean latents
            of the original (or, in training, the augmented) video; ``None`` runs G alone.
        task: a ``Task``, its name, a per-item list, or ``[batch]`` ids.
        injection_weight: w in [0, 1], scales every SCE residual.
        """
        if not 0.0 <= float(injection_weight) <= 1.0:
            raise ValueError(f"injection_weight must be in [0, 1], got {injection_weight}.")
        if sample.ndim != 5:
            raise ValueError(f"sample must be [batch, frames, channels, height, width], got shape {tuple(sample.shape)}.")
        batch, frames = sample.shape[:2]
        if original_latents is not None and (
            original_latents.shape[:2] != sample.shape[:2] or original_latents.shape[-2:] != sample.shape[-2:]
        ):
            raise ValueError(
                f"original_latents {tuple(original_latents.shape)} must match sample {tuple(sample.shape)} "
                f"in batch, frames, height and width."
            )
        task_vec = self.task_vectors(task, batch)
        sce_out = None
        features = None
        skips: tuple[torch.Tensor, ...] = ()
        mid = None
        if original_latents is not None:
            features = self.backbone_features(sample)
            sce_out = self.heads.sce(original_latents, timestep, encoder_hidden_states, added_time_ids, features, task_vec)
            w = float(injection_weight)
            skips = tuple(r * w for r in sce_out.skip_residuals)
            mid = None if sce_out.mid_residual is None else sce_out.mid_residual * w
        with svd.inject(
            self.unet, skip_residuals=skips, mid_residual=mid, task_embedding=task_vec, tap_last_up_block=predict_mask
        ) as taps:
            out = self.unet(sample, timestep, encoder_hidden_states, added_time_ids, return_dict=False)[0]
        mask_logits = None
        if predict_mask:
            cue = edit_cue(sample, original_latents) if self.heads.mpd.cue is not None else None
            mask_logits = self.heads.mpd(taps.last_up_block_kwargs, batch, frames, cue)
        return GenPropOutput(sample=out, mask_logits=mask_logits, sce=sce_out, backbone_features=features)
