"""One training step's maths: encode, noise (EDM), one GenProp forward, the Region-Aware loss.

``GenPropTrainingModule.forward`` runs the GenProp call AND the SCE's perturbed re-run, so
a DDP/DeepSpeed wrapper sees every trained parameter used inside one forward. L_grad's
``f(E(.))`` is, by default, the SCE's projected residuals (``loss.grad_features``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.genprop import GenPropModel, SCEOutput
from training.config import TrainConfig
from training.diffusion import added_time_ids, edm_coefficients, sample_sigmas, v_target
from training.losses import LossTerms, downsample_mask, perturbation, region_aware_loss, sce_gradient_loss
from training.models import Components, encode_condition, encode_image, encode_video


@dataclass
class StepInputs:
    """Everything the denoiser call needs, built from a data batch (no grad)."""

    sample: torch.Tensor  # [B, T, 8, h, w]: c_in * noisy latents ++ first-frame latents
    timestep: torch.Tensor  # [B] c_noise
    embeds: torch.Tensor  # [B, 1, D]
    time_ids: torch.Tensor  # [B, 3]
    sce_latents: torch.Tensor  # [B, T, 4, h, w]
    task: torch.Tensor  # [B]
    target: torch.Tensor  # [B, T, 4, h, w] v-prediction target
    mask: torch.Tensor  # [B, T, 1, h, w] latent-size edit mask
    delta: torch.Tensor  # [B, T, 4, h, w] masked perturbation for L_grad


def sce_outputs(sce: SCEOutput, which: str) -> tuple[torch.Tensor, ...]:
    """L_grad's ``f``: the projected residuals G receives (skips, then mid) or the raw block features."""
    if which == "features":
        return sce.features
    return sce.skip_residuals + (() if sce.mid_residual is None else (sce.mid_residual,))


class GenPropTrainingModule(nn.Module):
    """Wraps a GenPropModel so that one forward yields the output and the perturbed SCE outputs.

    ``use_sce=False`` (the no-SCE ablation) runs G with the task embedding and the MPD only.
    """

    def __init__(self, model: GenPropModel, grad_features: str = "residuals", use_sce: bool = True) -> None:
        super().__init__()
        self.model = model
        self.grad_features = grad_features
        self.use_sce = use_sce

    def forward(self, x: StepInputs, with_grad_term: bool = True):  # noqa: ANN201 - (GenPropOutput, outputs | None)
        originals = x.sce_latents if self.use_sce else None
        out = self.model(x.sample, x.timestep, x.embeds, x.time_ids, original_latents=originals, task=x.task, predict_mask=True)
        perturbed = None
        if with_grad_term and self.use_sce:
            sce = self.model.run_sce(x.sce_latents + x.delta, x.timestep, x.embeds, x.time_ids, out.backbone_features, x.task)
            perturbed = sce_outputs(sce, self.grad_features)
        return out, perturbed


def prepare_inputs(
    comps: Components, batch: dict[str, torch.Tensor], cfg: TrainConfig, generator: torch.Generator, device: torch.device
) -> StepInputs:
    """Latents, EDM noise, conditioning and the L_grad perturbation; randomness from ``generator``."""
    dcfg = cfg.diffusion
    dtype = comps.vae.dtype
    target_video = batch["target_video"].to(device, dtype, non_blocking=True)
    sce_video = batch["sce_video"].to(device, dtype, non_blocking=True)
    cond = batch["cond_frame"].to(device, dtype, non_blocking=True)
    b, t = target_video.shape[:2]

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=generator).to(device)

    sf = comps.scaling_factor
    x0 = encode_video(comps.vae, target_video, sf).float()
    sce_latents = encode_video(comps.vae, sce_video, sf).float()
    cond_latents = encode_condition(comps.vae, cond + dcfg.noise_aug_strength * randn(*cond.shape).to(dtype)).float()
    embeds = encode_image(comps.image_encoder, cond).float()
    if dcfg.conditioning_dropout_p > 0:
        keep = (torch.rand(b, generator=generator) >= dcfg.conditioning_dropout_p).float().to(device)
        embeds = embeds * keep.view(b, 1, 1)
        cond_latents = cond_latents * keep.view(b, 1, 1, 1)

    sigma = sample_sigmas(b, dcfg.p_mean, dcfg.p_std, generator).to(device)
    coeffs = edm_coefficients(sigma)
    noisy = x0 + coeffs.sigma * randn(*x0.shape)
    sample = torch.cat([coeffs.c_in * noisy, cond_latents[:, None].expand(-1, t, -1, -1, -1)], dim=2)
    mask = downsample_mask(batch["edit_masks"].to(device).float(), tuple(x0.shape[-2:]), cfg.loss.mask_blur_sigma)
    gen_delta = perturbation(sce_latents, mask, cfg.loss.grad_delta, generator)
    return StepInputs(
        sample=sample,
        timestep=coeffs.c_noise,
        embeds=embeds,
        time_ids=added_time_ids(batch["fps"].to(device), dcfg.motion_bucket_id, dcfg.noise_aug_strength),
        sce_latents=sce_latents,
        task=batch["task"].to(device),
        target=v_target(x0, noisy, coeffs),
        mask=mask,
        delta=gen_delta,
    )


def compute_loss(module: nn.Module, x: StepInputs, cfg: TrainConfig) -> LossTerms:
    """Forward + Region-Aware loss for prepared inputs."""
    lc = cfg.loss
    use_grad = lc.grad_weight > 0 and cfg.model.use_sce
    out, perturbed = module(x, with_grad_term=use_grad)
    if use_grad:
        grad = sce_gradient_loss(sce_outputs(out.sce, lc.grad_features), perturbed, x.mask, lc.grad_delta)
    else:
        grad = torch.zeros((), device=x.sample.device)
    return region_aware_loss(
        out.sample, x.target, x.mask, grad, out.mask_logits, lc.mask_weight, lc.grad_weight, lc.mpd_weight, lc.mpd_loss
    )


def step_generator(seed: int, micro_batch: int, rank: int) -> torch.Generator:
    """The RNG of one micro-batch: a pure function of (seed, micro-batch, rank), so resume is exact."""
    return torch.Generator().manual_seed((seed * 1_000_003 + micro_batch * 8191 + rank) % (2**63 - 1))
