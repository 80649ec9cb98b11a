"""Training-free propagation: SVD alone, anchored to the original clip outside the edit.

Used when only the public SVD weights exist. There is no SCE; instead, outside a
propagated edit mask (from a tracker), the latents are replaced after every denoising
step by the ORIGINAL clip's latents noised to the same noise level (one fixed noise
draw per window). At the last step the noise level is 0, so outside the mask the
latents are exactly the original's; inside, SVD generates freely from the edited
first frame. A soft (area-downsampled, slightly grown) mask blends the two.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def latent_region_mask(masks: np.ndarray, latent_size: tuple[int, int], grow: int = 1) -> torch.Tensor:
    """``[T, H, W]`` masks (uint8 0/255 or float 0..1) -> ``[T, 1, h, w]`` float in [0, 1].

    Area-downsampled to the latent grid, then grown by ``grow`` latent cells so the
    generated region has room at its border.
    """
    if masks.ndim != 3:
        raise ValueError(f"region masks must be [frames, height, width], got shape {masks.shape}")
    m = torch.from_numpy(np.ascontiguousarray(masks)).float()
    if masks.dtype == np.uint8:
        m = m / 255.0
    m = F.interpolate(m[:, None], size=latent_size, mode="area")
    if grow > 0:
        m = F.max_pool2d(m, kernel_size=2 * grow + 1, stride=1, padding=grow)
    return m.clamp(0.0, 1.0)


def anchor_to_original(
    latents: torch.Tensor,
    original_latents: torch.Tensor,
    noise: torch.Tensor,
    sigma: float,
    region: torch.Tensor,
) -> torch.Tensor:
    """Replace ``latents`` outside ``region`` by ``original + sigma * noise``.

    latents, original_latents, noise: ``[batch, frames, 4, h, w]``; region ``[frames, 1, h, w]``.
    """
    region = region.to(latents.device, latents.dtype)[None]
    anchored = original_latents.to(latents.dtype) + float(sigma) * noise.to(latents.dtype)
    return region * latents + (1.0 - region) * anchored
