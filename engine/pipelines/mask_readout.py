"""At which denoising step the Mask Prediction Decoder is read: one rule for the pipeline,
training's validation and the engine option (light: numpy only, so the GUI can import it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_MASK_SIGMA = 1.0
"""Noise level at which the MPD is read by default: training draws ln(sigma) ~ N(1.0, 1.6^2),
so sigma ~ 1 is well covered, and the sample is already mostly formed there. The last step
(sigma 0.002) lies 4.5 standard deviations below the training mean: the MPD is untrained there."""


def mask_readout_step(sigmas: Sequence[float], mask_sigma: float | None) -> int:
    """The denoising step whose sigma is nearest ``mask_sigma`` in log space (``None``: the last step).

    ``sigmas`` are the steps' noise levels (the scheduler's, without its trailing 0).
    """
    values = [float(v) for v in sigmas]
    if not values:
        raise ValueError("mask_readout_step needs at least one step")
    if mask_sigma is None:
        return len(values) - 1
    if not mask_sigma > 0:
        raise ValueError(f"mask_sigma must be positive (or None for the last step), got {mask_sigma}")
    target = np.log(mask_sigma)
    return int(np.argmin([abs(np.log(max(v, 1e-12)) - target) for v in values]))
