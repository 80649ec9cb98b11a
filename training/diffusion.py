"""SVD's EDM parameterisation for training (Karras et al. 2022, v-prediction, sigma_data = 1).

diffusers' ``EulerDiscreteScheduler`` for SVD (``prediction_type="v_prediction"``,
``timestep_type="continuous"``) denoises with exactly these coefficients, so a model
trained here samples with the stock scheduler:

- noisy input      x = x0 + sigma * n
- U-Net input      c_in * x, with c_in = 1 / sqrt(sigma^2 + 1)
- U-Net timestep   c_noise = 0.25 * log(sigma)
- denoised         D = c_skip * x + c_out * F, c_skip = 1 / (sigma^2 + 1), c_out = -sigma / sqrt(sigma^2 + 1)

Training target: the F that makes D = x0, i.e. ``(x0 - c_skip * x) / c_out``. MSE on F equals
EDM's loss ``lambda(sigma) * ||D - x0||^2`` with ``lambda = 1 / c_out^2`` (EDM's weighting for
sigma_data = 1), so the per-pixel split by mask stays a plain MSE. Sigma is log-normal;
P_mean 0.7 / P_std 1.6 (config) leans towards high noise as SVD fine-tuning recipes do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class EDMCoefficients:
    """Per-item coefficients, each ``[batch, 1, 1, 1, 1]`` to broadcast over video latents."""

    sigma: torch.Tensor
    c_in: torch.Tensor
    c_skip: torch.Tensor
    c_out: torch.Tensor
    c_noise: torch.Tensor  # [batch], the U-Net timestep


def sample_sigmas(batch: int, p_mean: float, p_std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[batch]`` sigmas with ``log(sigma) ~ N(p_mean, p_std^2)``."""
    return torch.exp(p_mean + p_std * torch.randn(batch, generator=generator))


def edm_coefficients(sigma: torch.Tensor) -> EDMCoefficients:
    """Preconditioning for ``sigma: [batch]`` (v-prediction, sigma_data = 1)."""
    s = sigma.reshape(-1, 1, 1, 1, 1)
    denom = (s**2 + 1.0).sqrt()
    return EDMCoefficients(sigma=s, c_in=1.0 / denom, c_skip=1.0 / (s**2 + 1.0), c_out=-s / denom, c_noise=0.25 * sigma.log())


def v_target(clean: torch.Tensor, noisy: torch.Tensor, coeffs: EDMCoefficients) -> torch.Tensor:
    """The network output F that would make the denoised estimate equal ``clean``."""
    return (clean - coeffs.c_skip * noisy) / coeffs.c_out


def denoised(noisy: torch.Tensor, model_output: torch.Tensor, coeffs: EDMCoefficients) -> torch.Tensor:
    """EDM's D(x) from the network output."""
    return coeffs.c_skip * noisy + coeffs.c_out * model_output


def added_time_ids(fps: torch.Tensor, motion_bucket_id: int, noise_aug_strength: float) -> torch.Tensor:
    """``[batch, 3]`` SVD micro-conditioning. Like the SVD pipeline, fps is passed as fps - 1."""
    fps = fps.reshape(-1).float()
    return torch.stack(
        [fps - 1.0, torch.full_like(fps, float(motion_bucket_id)), torch.full_like(fps, float(noise_aug_strength))], 1
    )


def karras_sigmas(steps: int, sigma_min: float = 0.002, sigma_max: float = 700.0, rho: float = 7.0) -> torch.Tensor:
    """``[steps + 1]`` decreasing sigmas ending in 0 (SVD's scheduler defaults) for validation sampling."""
    ramp = torch.linspace(0, 1, steps)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sigmas, torch.zeros(1)])
