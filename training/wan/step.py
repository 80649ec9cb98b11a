"""One GenProp-Wan training step: encode, noise (flow matching), one forward, the Region-Aware loss.

Wan is a rectified-flow model: ``x_s = (1 - s) x0 + s n``, timestep ``1000 s``, and the network
predicts the velocity ``n - x0`` (what diffusers' ``FlowMatchEulerDiscreteScheduler`` and Wan's
UniPC flow scheduler integrate). ``s`` is drawn uniformly and shifted, ``s = k u / (1 + (k-1) u)``
(Wan's timestep shift ``k``). The loss terms are the SVD recipe's own functions
(``training.losses``) on Wan's layouts: latents ``[B, 16, T', h, w]`` with the edit mask averaged
over each latent frame's 4 video frames, the MPD at the video's ``T`` frames, and L_grad on the
SCE's tokens reshaped to per-latent-frame maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.genprop.backbones import wan
from engine.genprop.wan_model import WanGenPropModel, WanGenPropOutput
from training.config import TrainConfig
from training.losses import LossTerms, downsample_mask, mpd_loss, perturbation, region_aware_loss, sce_gradient_loss
from training.wan.models import WanComponents, sce_input, video_to_wan

NUM_TRAIN_TIMESTEPS = 1000


@dataclass
class WanStepInputs:
    """Everything the denoiser call needs, built from a data batch (no grad)."""

    noisy: torch.Tensor  # [B, 16, T', h, w]
    timestep: torch.Tensor  # [B] in [0, 1000]
    prompt: torch.Tensor  # [B, S, text_dim]
    context: torch.Tensor  # [B, 96, T', h, w] G's VACE context: the first frame kept, the rest regenerated
    sce: torch.Tensor  # [B, C_sce, T', h, w] the SCE's input (V_hat)
    task: torch.Tensor  # [B]
    target: torch.Tensor  # [B, 16, T', h, w] velocity n - x0
    mask_latent: torch.Tensor  # [B, 1, T', h, w] edit mask per latent frame
    mask_frames: torch.Tensor  # [B, T, 1, h, w] edit mask per video frame (the MPD's target)
    delta: torch.Tensor  # [B, C_sce, T', h, w] masked perturbation for L_grad
    num_frames: int


def sample_flow_sigmas(batch: int, shift: float, generator: torch.Generator) -> torch.Tensor:
    """``[batch]`` noise levels in (0, 1): uniform, then Wan's shift (more weight on high noise for shift > 1)."""
    u = torch.rand(batch, generator=generator).clamp(1e-4, 1 - 1e-4)
    return shift * u / (1 + (shift - 1) * u)


class WanTrainingModule(nn.Module):
    """One forward yields the output AND the SCE's re-run on ``V_hat + delta`` (DDP sees every trained parameter)."""

    def __init__(self, model: WanGenPropModel, grad_features: str = "features") -> None:
        super().__init__()
        self.model = model
        self.grad_features = grad_features

    def forward(self, x: WanStepInputs, with_grad_term: bool = True) -> tuple[WanGenPropOutput, list[torch.Tensor] | None]:
        out = self.model(
            x.noisy, x.timestep, x.prompt, x.context, sce_input=x.sce, task=x.task, predict_mask=True, num_frames=x.num_frames
        )
        perturbed = None
        if with_grad_term:
            hints, states = self.model.run_sce(x.noisy, x.timestep, x.prompt, x.sce + x.delta, x.task)
            perturbed = hints if self.grad_features == "residuals" else states
        return out, perturbed


def prepare_inputs(
    comps: WanComponents, batch: dict[str, torch.Tensor], cfg: TrainConfig, generator: torch.Generator, device: torch.device
) -> WanStepInputs:
    """Latents, flow-matching noise, G's context, the SCE input and the L_grad perturbation."""
    dtype = comps.vae.dtype
    target_video = video_to_wan(batch["target_video"].to(device, dtype))
    sce_video = video_to_wan(batch["sce_video"].to(device, dtype))
    cond = batch["cond_frame"].to(device, dtype)
    b, _, t = target_video.shape[:3]
    x0 = wan.encode_video(comps.vae, target_video).float()
    sce = sce_input(comps, sce_video)
    context = wan.first_frame_context(comps.vae, cond, t, comps.patch).float()
    sigma = sample_flow_sigmas(b, cfg.wan.flow_shift, generator).to(device)
    noise = torch.randn(x0.shape, generator=generator).to(device)
    s = sigma.view(-1, 1, 1, 1, 1)
    noisy = (1 - s) * x0 + s * noise
    masks = batch["edit_masks"].to(device).float()  # [B, T, 1, H, W]
    mask_frames = downsample_mask(masks, tuple(x0.shape[-2:]), cfg.loss.mask_blur_sigma)
    mask_latent = wan.latent_time_mask(mask_frames)
    delta = torch.zeros_like(sce)
    latent_channels = comps.model.unet.config.in_channels
    delta[:, :latent_channels] = perturbation(sce[:, :latent_channels], mask_latent, cfg.loss.grad_delta, generator)
    return WanStepInputs(
        noisy=noisy,
        timestep=sigma * NUM_TRAIN_TIMESTEPS,
        prompt=comps.prompt_embeds.to(device).expand(b, -1, -1),
        context=context,
        sce=sce,
        task=batch["task"].to(device),
        target=noise - x0,
        mask_latent=mask_latent,
        mask_frames=mask_frames,
        delta=delta,
        num_frames=t,
    )


def token_maps(tokens: list[torch.Tensor] | tuple[torch.Tensor, ...], grid: tuple[int, int, int]) -> list[torch.Tensor]:
    return [wan.tokens_to_grid(x, grid) for x in tokens]


def compute_loss(module: nn.Module, x: WanStepInputs, cfg: TrainConfig) -> LossTerms:
    """Forward + the Region-Aware loss: L_non-mask + w_m L_mask + w_g L_grad + w_p L_MPD."""
    lc = cfg.loss
    use_grad = lc.grad_weight > 0
    out, perturbed = module(x, with_grad_term=use_grad)
    if use_grad:
        which = getattr(lc, "grad_features", "features")
        base = out.sce_hints if which == "residuals" else out.sce_states
        grid = out.grid
        mask = x.mask_latent.transpose(1, 2)  # [B, T', 1, h, w]: sce_gradient_loss pools it to each token grid
        grad = sce_gradient_loss(token_maps(base, grid), token_maps(perturbed, grid), mask, lc.grad_delta)
    else:
        grad = torch.zeros((), device=x.noisy.device)
    # the diffusion terms on latent frames; the MPD term on video frames (its own mask), added with the same weight
    terms = region_aware_loss(out.sample, x.target, x.mask_latent, grad, None, lc.mask_weight, lc.grad_weight, lc.mpd_weight)
    kind = getattr(lc, "mpd_loss", "mse")
    mpd = mpd_loss(out.mask_logits, x.mask_frames) if kind == "mse" else mpd_loss(out.mask_logits, x.mask_frames, kind)  # type: ignore[call-arg]
    return LossTerms(total=terms.total + lc.mpd_weight * mpd, non_mask=terms.non_mask, mask=terms.mask, grad=terms.grad, mpd=mpd)
