"""Region-Aware loss terms on hand-made tensors, and the EDM parameterisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from training.diffusion import denoised, edm_coefficients, v_target
from training.losses import (
    diffusion_terms,
    downsample_mask,
    finite_difference_gradient_loss,
    mpd_loss,
    region_aware_loss,
    sce_gradient_loss,
)


def _half_mask(b: int = 1, t: int = 2, h: int = 8, w: int = 8) -> torch.Tensor:
    m = torch.zeros(b, t, 1, h, w)
    m[..., :, : w // 2] = 1.0
    return m


def test_masked_terms_ignore_the_other_region() -> None:
    mask = _half_mask()
    target = torch.zeros(1, 2, 4, 8, 8)
    pred = torch.zeros_like(target)
    pred[..., :, :4] = 3.0  # error only inside the mask
    non_mask, in_mask = diffusion_terms(pred, target, mask)
    assert non_mask.item() == pytest.approx(0.0)
    assert in_mask.item() == pytest.approx(9.0, rel=1e-4)
    pred2 = pred.clone()
    pred2[..., :, 4:] = 1.0  # add error outside: L_mask must not change
    non_mask2, in_mask2 = diffusion_terms(pred2, target, mask)
    assert in_mask2.item() == pytest.approx(in_mask.item())
    assert non_mask2.item() == pytest.approx(1.0, rel=1e-4)
    # gradients too: the masked term gives no gradient outside the mask
    p = pred.clone().requires_grad_(True)
    diffusion_terms(p, target, mask)[1].backward()
    assert torch.count_nonzero(p.grad[..., :, 4:]) == 0 and torch.count_nonzero(p.grad[..., :, :4]) > 0


def test_grad_term_zero_for_input_ignoring_encoder_positive_otherwise() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 2, 4, 8, 8)
    mask = _half_mask()
    const = nn.Parameter(torch.randn(1, 6, 8, 8))

    def ignoring(inp: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (const.expand(inp.shape[0] * inp.shape[1], -1, -1, -1) * 1.0,)

    conv = nn.Conv2d(4, 6, 3, padding=1)

    def looking(inp: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (conv(inp.flatten(0, 1)),)

    g = torch.Generator().manual_seed(0)
    assert finite_difference_gradient_loss(ignoring, x, mask, 0.05, g).item() == 0.0
    loss = finite_difference_gradient_loss(looking, x, mask, 0.05, torch.Generator().manual_seed(0))
    assert loss.item() > 0.0
    loss.backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    # with an empty mask nothing is perturbed and nothing is measured
    empty = torch.zeros_like(mask)
    assert finite_difference_gradient_loss(looking, x, empty, 0.05, torch.Generator().manual_seed(0)).item() == 0.0


def test_grad_term_only_counts_masked_positions() -> None:
    f0 = (torch.zeros(2, 3, 4, 4),)
    f1 = torch.zeros(2, 3, 4, 4)
    f1[..., :, 2:] = 1.0  # responses only outside the (left-half) mask
    mask = _half_mask(1, 2, 4, 4)
    assert sce_gradient_loss(f0, (f1,), mask, 0.1).item() == pytest.approx(0.0, abs=1e-5)
    assert sce_gradient_loss(f0, (f1,), 1 - mask, 0.1).item() > 1.0


def test_mpd_loss_and_total() -> None:
    mask = _half_mask()
    perfect = (mask * 2 - 1) * 50.0  # logits saturating to the mask
    assert mpd_loss(perfect, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert mpd_loss(torch.zeros_like(mask), mask).item() == pytest.approx(0.25)
    pred = torch.ones(1, 2, 4, 8, 8)
    terms = region_aware_loss(pred, torch.zeros_like(pred), mask, torch.tensor(0.5), torch.zeros_like(mask), 2.0, 1.0, 1.0)
    assert terms.total.item() == pytest.approx(1.0 + 2.0 * 1.0 + 0.5 + 0.25, rel=1e-4)


def test_downsample_mask_is_soft_and_in_range() -> None:
    m = torch.zeros(1, 1, 1, 32, 32)
    m[..., 8:24, 8:24] = 1.0
    small = downsample_mask(m, (8, 8))
    assert small.shape == (1, 1, 1, 8, 8)
    assert 0.0 <= small.min() and small.max() <= 1.0
    assert small[..., 4, 4].item() > 0.9 and small[..., 0, 0].item() < 0.05
    assert ((small > 0.05) & (small < 0.95)).any(), "edges should be soft"


def test_edm_v_target_reconstructs_clean_latents() -> None:
    torch.manual_seed(0)
    x0 = torch.randn(3, 2, 4, 4, 4)
    sigma = torch.tensor([0.1, 1.0, 30.0])
    c = edm_coefficients(sigma)
    noisy = x0 + c.sigma * torch.randn_like(x0)
    assert torch.allclose(denoised(noisy, v_target(x0, noisy, c), c), x0, atol=1e-4)
    assert torch.allclose(c.c_noise, 0.25 * sigma.log())
