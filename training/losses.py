"""The Region-Aware loss of GenProp, as pure functions on tensors.

L = L_non-mask + lambda L_mask + beta L_grad + gamma L_MPD (paper: 2.0, 1.0, 1.0).
``sce_gradient_loss`` takes whatever ``f`` the caller chooses; ``training.step`` passes the
SCE's projected residuals (what G receives), see docs/training.md.
Masks are ``[batch, frames, 1, H, W]`` in 0..1 at pixel resolution; ``downsample_mask``
brings them to latent size with a Gaussian pre-blur (soft edges, no aliasing).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class LossTerms:
    """The weighted total and each unweighted term (for logging)."""

    total: torch.Tensor
    non_mask: torch.Tensor
    mask: torch.Tensor
    grad: torch.Tensor
    mpd: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(getattr(self, k).detach()) for k in ("total", "non_mask", "mask", "grad", "mpd")}


def gaussian_kernel1d(sigma: float, device: torch.device | None = None) -> torch.Tensor:
    radius = max(1, int(math.ceil(3.0 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def downsample_mask(mask: torch.Tensor, size: tuple[int, int], sigma: float | None = None) -> torch.Tensor:
    """Gaussian-blur then area-resize ``mask: [..., H, W]`` to ``size = (h, w)``.

    ``sigma`` defaults to half the downsampling factor, which removes the frequencies
    the smaller grid cannot hold; the result stays in 0..1.
    """
    lead = mask.shape[:-2]
    h_in, w_in = mask.shape[-2:]
    x = mask.reshape(-1, 1, h_in, w_in).float()
    factor = max(h_in / size[0], w_in / size[1])
    sigma = factor / 2.0 if sigma is None else sigma
    if sigma > 0 and factor > 1:
        k = gaussian_kernel1d(sigma, x.device)
        r = k.numel() // 2
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
        x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    x = F.interpolate(x, size=size, mode="area")
    return x.clamp(0, 1).reshape(*lead, *size)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """MSE over the region ``weight`` (broadcast over channels), normalised by the region's size.

    Pixels with weight 0 do not influence the value or its gradient; an empty region gives 0.
    """
    weight = weight.expand_as(pred)
    return ((pred - target) ** 2 * weight).sum() / (weight.sum() + eps)


def diffusion_terms(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_non-mask, L_mask): the diffusion MSE split by the latent-size mask ``[B, T, 1, h, w]``."""
    return masked_mse(pred, target, 1.0 - mask), masked_mse(pred, target, mask)


def sce_gradient_loss(
    features: Sequence[torch.Tensor],
    perturbed_features: Sequence[torch.Tensor],
    mask: torch.Tensor,
    delta: float,
) -> torch.Tensor:
    """L_grad = E[m * ||(f(E(V + d)) - f(E(V))) / |d| ||_2], averaged over the SCE's blocks.

    features / perturbed_features: per block ``[batch * frames, C_l, h_l, w_l]``.
    mask: ``[batch, frames, 1, h, w]``, resized to each block's grid. The channel-wise L2
    norm of the finite difference is taken per position, weighted by the mask, and averaged
    over all positions, so an encoder whose features ignore the input scores exactly 0.
    """
    if len(features) != len(perturbed_features):
        raise ValueError(f"{len(features)} features but {len(perturbed_features)} perturbed features")
    if not features:
        raise ValueError("sce_gradient_loss needs at least one feature map")
    m = mask.flatten(0, 1)  # [B*T, 1, h, w]
    terms = []
    for f0, f1 in zip(features, perturbed_features, strict=True):
        if f0.shape != f1.shape:
            raise ValueError(f"feature shapes differ: {tuple(f0.shape)} vs {tuple(f1.shape)}")
        response = torch.linalg.vector_norm((f1 - f0).float() / delta, dim=1, keepdim=True)  # grad 0 at 0
        ml = m if m.shape[-2:] == f0.shape[-2:] else F.interpolate(m.float(), size=f0.shape[-2:], mode="area")
        terms.append((ml * response).mean())
    return torch.stack(terms).mean()


def perturbation(latents: torch.Tensor, mask: torch.Tensor, delta: float, generator: torch.Generator | None) -> torch.Tensor:
    """delta: a Gaussian direction confined to the mask, scaled so its RMS inside the mask is ``delta``."""
    noise = torch.randn(latents.shape, generator=generator, dtype=torch.float32).to(latents.device, latents.dtype)
    return noise * mask.to(latents.dtype) * delta


def finite_difference_gradient_loss(
    encode: Callable[[torch.Tensor], Sequence[torch.Tensor]],
    inputs: torch.Tensor,
    mask: torch.Tensor,
    delta: float,
    generator: torch.Generator | None = None,
    base_features: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """L_grad for any encoder ``encode(inputs) -> features`` (the SCE in training, toys in tests)."""
    base = encode(inputs) if base_features is None else base_features
    shifted = encode(inputs + perturbation(inputs, mask, delta, generator))
    return sce_gradient_loss(base, shifted, mask, delta)


MPD_LOSS_KINDS = ("mse", "balanced_mse", "bce_dice")


def _region_means(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Per item: mean of ``values`` weighted by ``mask`` and by ``1 - mask`` (``[B]`` each); dims after 0 pooled."""
    inside_w, outside_w = mask.flatten(1), (1.0 - mask).flatten(1)
    v = values.flatten(1)
    inside = (v * inside_w).sum(1) / (inside_w.sum(1) + eps)
    outside = (v * outside_w).sum(1) / (outside_w.sum(1) + eps)
    return inside, outside


def mpd_loss(mask_logits: torch.Tensor, mask: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """L_MPD between the MPD's logits and the latent-size (soft) mask, both ``[B, T, 1, h, w]``.

    - ``mse``: the paper's MSE of ``sigmoid(logits)`` over all latent pixels. With 5-10 % of
      pixels inside an edit it is minimised by predicting the prior, not the region.
    - ``balanced_mse``: per item, the squared error averaged inside the mask plus averaged
      outside it, so both regions weigh the same whatever their size.
    - ``bce_dice``: per item, region-balanced binary cross-entropy ((inside + outside) / 2) plus
      soft Dice loss ``1 - 2 sum(p m) / (sum p + sum m)``.
    """
    if kind not in MPD_LOSS_KINDS:
        raise ValueError(f"unknown MPD loss {kind!r}; expected one of {MPD_LOSS_KINDS}")
    logits, m = mask_logits.float(), mask.float()
    p = torch.sigmoid(logits)
    if kind == "mse":
        return F.mse_loss(p, m)
    if kind == "balanced_mse":
        inside, outside = _region_means((p - m) ** 2, m)
        return (inside + outside).mean()
    bce = F.binary_cross_entropy_with_logits(logits, m, reduction="none")
    inside, outside = _region_means(bce, m)
    pf, mf = p.flatten(1), m.flatten(1)
    dice = 1.0 - (2.0 * (pf * mf).sum(1) + 1.0) / (pf.sum(1) + mf.sum(1) + 1.0)
    return (0.5 * (inside + outside) + dice).mean()


def region_aware_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    grad_term: torch.Tensor,
    mask_logits: torch.Tensor | None,
    mask_weight: float = 2.0,
    grad_weight: float = 1.0,
    mpd_weight: float = 1.0,
    mpd_kind: str = "mse",
) -> LossTerms:
    """Combine the terms. pred/target: ``[B, T, C, h, w]``; mask: ``[B, T, 1, h, w]``."""
    non_mask, in_mask = diffusion_terms(pred.float(), target.float(), mask.float())
    mpd = mpd_loss(mask_logits, mask, mpd_kind) if mask_logits is not None else torch.zeros((), device=pred.device)
    total = non_mask + mask_weight * in_mask + grad_weight * grad_term + mpd_weight * mpd
    return LossTerms(total=total, non_mask=non_mask, mask=in_mask, grad=grad_term, mpd=mpd)
