"""Periodic validation for GenProp-Wan: sample held-out clips with the EMA weights (plain Euler over the
flow-matching noise levels, no guidance), then PSNR outside the edit mask and the MPD's IoU.

Enough to watch training; the app's pipeline (``engine.pipelines.vace_pipeline``) does real inference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.genprop.backbones import wan
from engine.metrics import iou, psnr_outside
from training.config import TrainConfig
from training.validation import ValidationResult, to_uint8
from training.wan.models import WanComponents, decode_video, sce_input, video_to_wan
from training.wan.step import NUM_TRAIN_TIMESTEPS


@torch.no_grad()
def sample_clip(comps: WanComponents, item: dict[str, torch.Tensor], steps: int, shift: float, seed: int):  # type: ignore[no-untyped-def]
    """One clip for ``item`` (unbatched). Returns (frames ``[T, 3, H, W]`` in [-1, 1], MPD logits ``[T, 1, h, w]``)."""
    model = comps.model
    device = next(model.heads.parameters()).device
    sce_video = video_to_wan(item["sce_video"][None].to(device, comps.vae.dtype))
    t = sce_video.shape[2]
    sce = sce_input(comps, sce_video)
    context = wan.first_frame_context(comps.vae, item["cond_frame"][None].to(device, comps.vae.dtype), t, comps.patch).float()
    g = torch.Generator().manual_seed(seed)
    latent_shape = (1, model.unet.config.in_channels, *sce.shape[2:])
    x = torch.randn(latent_shape, generator=g).to(device)
    u = torch.linspace(1.0, 0.0, steps + 1)
    sigmas = shift * u / (1 + (shift - 1) * u)
    logits = None
    dtype = next(model.unet.parameters()).dtype
    for i in range(steps):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        out = model(
            x.to(dtype),
            torch.tensor([s * NUM_TRAIN_TIMESTEPS], device=device),
            comps.prompt_embeds.to(device, dtype),
            context.to(dtype),
            sce_input=sce.to(dtype),
            predict_mask=i == steps - 1,
            num_frames=t,
        )
        x = x + (s_next - s) * out.sample.float()
        logits = out.mask_logits if out.mask_logits is not None else logits
    return decode_video(comps, x)[0], logits[0]


def validate(
    comps: WanComponents, items: list[dict[str, torch.Tensor]], cfg: TrainConfig, step: int, out_dir: Path | None
) -> ValidationResult:
    """Average PSNRm and MPD IoU over ``items`` (no preview video for Wan yet)."""
    psnrs, ious, preview = [], [], None
    for n, item in enumerate(items):
        frames, logits = sample_clip(comps, item, cfg.logging.validation_steps, cfg.wan.flow_shift, cfg.seed + n)
        out = to_uint8(frames)
        target = to_uint8(item["target_video"])
        edit = item["edit_masks"][:, 0].numpy() > 0.5
        psnrs.append(psnr_outside(out, target, edit))
        pred = F.interpolate(logits.float(), size=edit.shape[-2:], mode="bilinear", align_corners=False)[:, 0] > 0
        ious.append(iou(pred.cpu().numpy(), edit))
        if preview is None:
            preview = np.concatenate([to_uint8(item["sce_video"]), target, out], axis=2)
    return ValidationResult(float(np.nanmean(psnrs)), float(np.mean(ious)), preview, None)
