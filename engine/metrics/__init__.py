"""Metrics for propagated edits: fidelity outside the edit (PSNRm, SSIM), fidelity inside
against ground truth, temporal consistency, tracking (IoU, DAVIS J&F) and CLIP scores.
"""

from engine.metrics.clip_score import ClipScorer, load_clip_scorer
from engine.metrics.image import MAX_PSNR, psnr, ssim, ssim_map
from engine.metrics.tracking import JFScore, boundary_f, iou, j_and_f
from engine.metrics.video import psnr_inside, psnr_outside, ssim_outside, temporal_consistency

__all__ = [
    "MAX_PSNR",
    "ClipScorer",
    "JFScore",
    "boundary_f",
    "iou",
    "j_and_f",
    "load_clip_scorer",
    "psnr",
    "psnr_inside",
    "psnr_outside",
    "ssim",
    "ssim_map",
    "ssim_outside",
    "temporal_consistency",
]
