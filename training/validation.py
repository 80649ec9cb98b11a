"""Periodic validation on held-out clips: sample with the EMA weights, then PSNR outside the
edit mask, IoU of the MPD's mask, and a preview video (SCE input | target | output | mask).

Sampling is plain Euler over SVD's Karras sigmas (no classifier-free guidance), enough to
watch training progress; the app's pipeline does the real inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.metrics import iou, psnr_outside
from engine.pipelines.mask_readout import DEFAULT_MASK_SIGMA, mask_readout_step
from engine.video import write_video
from training.config import TrainConfig
from training.diffusion import added_time_ids, denoised, edm_coefficients, karras_sigmas
from training.models import Components, decode_video, encode_condition, encode_image, encode_video


@dataclass
class ValidationResult:
    psnr_outside: float
    mask_iou: float
    preview: np.ndarray  # [T, H, 4W, 3] uint8
    preview_path: Path | None


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """``[T, 3, H, W]`` in [-1, 1] -> ``[T, H, W, 3]`` uint8."""
    return ((video.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def sample_clip(
    comps: Components, item: dict[str, torch.Tensor], cfg: TrainConfig, steps: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate one clip for ``item`` (unbatched tensors). Returns (frames [T,3,H,W], mask logits [T,1,h,w])."""
    device = next(comps.model.heads.parameters()).device
    dtype = comps.vae.dtype
    dc = cfg.diffusion
    sf = comps.scaling_factor
    g = torch.Generator().manual_seed(seed)
    sce_lat = encode_video(comps.vae, item["sce_video"][None].to(device, dtype), sf).float()
    cond = item["cond_frame"][None].to(device, dtype)
    cond_lat = encode_condition(
        comps.vae, cond + dc.noise_aug_strength * torch.randn(cond.shape, generator=g).to(device, dtype)
    ).float()
    embeds = encode_image(comps.image_encoder, cond).float()
    ids = added_time_ids(item["fps"].reshape(1).to(device), dc.motion_bucket_id, dc.noise_aug_strength)
    task = torch.zeros(1, dtype=torch.long, device=device)  # inference runs with Task.NONE
    t = sce_lat.shape[1]
    sigmas = karras_sigmas(steps).to(device)
    x = torch.randn(sce_lat.shape, generator=g).to(device) * sigmas[0]
    logits = None
    mask_step = mask_readout_step(sigmas[:steps].tolist(), DEFAULT_MASK_SIGMA)  # as the app's pipeline reads it
    for i in range(steps):
        c = edm_coefficients(sigmas[i].reshape(1))
        inp = torch.cat([c.c_in * x, cond_lat[:, None].expand(-1, t, -1, -1, -1)], dim=2)
        out = comps.model(inp, c.c_noise, embeds, ids, original_latents=sce_lat, task=task, predict_mask=i == mask_step)
        d = denoised(x, out.sample.float(), c)
        x = d if sigmas[i + 1] == 0 else x + (x - d) / sigmas[i] * (sigmas[i + 1] - sigmas[i])
        logits = out.mask_logits if out.mask_logits is not None else logits
    frames = decode_video(comps.vae, x, sf)[0]
    return frames, logits[0]


def validate(
    comps: Components, items: list[dict[str, torch.Tensor]], cfg: TrainConfig, step: int, out_dir: Path | None
) -> ValidationResult:
    """Average PSNRm and MPD IoU over ``items``; the first item's preview is written to ``out_dir``."""
    psnrs, ious, preview = [], [], None
    for n, item in enumerate(items):
        frames, logits = sample_clip(comps, item, cfg, cfg.logging.validation_steps, seed=cfg.seed + n)
        out = to_uint8(frames)
        target = to_uint8(item["target_video"])
        edit = item["edit_masks"][:, 0].numpy() > 0.5
        psnrs.append(psnr_outside(out, target, edit))
        pred = F.interpolate(logits.float(), size=edit.shape[-2:], mode="bilinear", align_corners=False)[:, 0] > 0
        ious.append(iou(pred.cpu().numpy(), edit))
        if preview is None:
            overlay = target.copy()
            overlay[pred.cpu().numpy()] = (0.5 * overlay[pred.cpu().numpy()] + [0, 127, 0]).astype(np.uint8)
            preview = np.concatenate([to_uint8(item["sce_video"]), target, out, overlay], axis=2)
    path = None
    if out_dir is not None and preview is not None and cfg.logging.preview_video:
        out_dir.mkdir(parents=True, exist_ok=True)
        even = preview[:, : preview.shape[1] // 2 * 2, : preview.shape[2] // 2 * 2]  # H.264 needs even sizes
        path = write_video(out_dir / f"step-{step:07d}.mp4", list(even), fps=float(items[0]["fps"]))
    return ValidationResult(float(np.nanmean(psnrs)), float(np.mean(ious)), preview, path)
