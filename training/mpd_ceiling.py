"""How well can an MPD at latent resolution match the true edit masks at all? (issue 14)

The Mask Prediction Decoder predicts one logit per latent pixel; the pipeline upsamples its
logits bilinearly to the frame. A perfect MPD would predict each latent pixel's share of the
true mask: this module scores exactly that (the masks average-pooled to the latent grid, upsampled
back, thresholded), which bounds the MPD IoU the miniature reproduction can reach at its size.

    python -m training.mpd_ceiling            # the mini_repro held-out cases (preset full, 1 per task)
    python -m training.mpd_ceiling --factor 8 # as if the latents were SVD's size
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from engine.metrics import iou

LATENT_FACTOR = 4
"""Frame pixels per latent pixel of the miniature's tiny VAE (three encoder blocks: 64x64 frames, 16x16
latents; SVD's own VAE has four, a factor of 8)."""


def latent_mask_ceiling(mask: np.ndarray, factor: int = LATENT_FACTOR, threshold: float = 0.5) -> float:
    """IoU with ``mask`` ``[T, H, W]`` (bool) of its own latent-grid share, upsampled bilinearly and thresholded."""
    m = torch.from_numpy(np.asarray(mask, np.float32))[:, None]
    h, w = m.shape[-2:]
    share = F.avg_pool2d(m, factor)
    back = F.interpolate(share, size=(h, w), mode="bilinear")[:, 0].numpy()
    return iou(back > threshold, np.asarray(mask, bool))


def main(argv: Sequence[str] | None = None) -> int:
    from training import mini_repro

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="full", choices=sorted(mini_repro.PRESETS))
    p.add_argument("--factor", type=int, default=LATENT_FACTOR, help="frame pixels per latent pixel")
    p.add_argument("--set", action="append", default=["cases_per_task=1"], help="a mini_repro setting (key=value)")
    args = p.parse_args(argv)
    cases = mini_repro.heldout_cases(mini_repro.apply_overrides(mini_repro.PRESETS[args.preset], args.set))
    values = []
    for case in cases:
        at_half = latent_mask_ceiling(case.mask, args.factor)
        best = max(latent_mask_ceiling(case.mask, args.factor, threshold=t) for t in np.linspace(0.1, 0.9, 17))
        values.append((at_half, best))
        print(
            f"{case.task:9s} clip {case.seed}: {100 * case.mask.mean():4.1f} % of the frame, ceiling {at_half:.3f} at 0.5, {best:.3f} at best"
        )
    print(f"mean: {np.mean([v[0] for v in values]):.3f} at 0.5, {np.mean([v[1] for v in values]):.3f} at the best threshold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
