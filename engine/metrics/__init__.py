"""Metrics for propagated edits: fidelity outside the edit (PSNRm, SSIM), fidelity inside
against ground truth (PSNR, SSIM, flicker), temporal consistency, tracking (IoU, DAVIS
J&F), inserted-layer corner error, outpaint defects (black pixels, seam step) and CLIP
scores.
"""

from engine.metrics.clip_score import ClipScorer, load_clip_scorer
from engine.metrics.geometry import corner_errors, layer_homographies
from engine.metrics.image import MAX_PSNR, psnr, ssim, ssim_map
from engine.metrics.outpaint import black_fraction, black_fractions, seam_ratio, source_black_fraction
from engine.metrics.tracking import JFScore, boundary_f, iou, j_and_f
from engine.metrics.video import flicker, psnr_inside, psnr_outside, ssim_inside, ssim_outside, temporal_consistency

__all__ = [
    "MAX_PSNR",
    "ClipScorer",
    "JFScore",
    "black_fraction",
    "black_fractions",
    "boundary_f",
    "corner_errors",
    "flicker",
    "iou",
    "j_and_f",
    "layer_homographies",
    "load_clip_scorer",
    "psnr",
    "psnr_inside",
    "psnr_outside",
    "seam_ratio",
    "source_black_fraction",
    "ssim",
    "ssim_inside",
    "ssim_map",
    "ssim_outside",
    "temporal_consistency",
]
