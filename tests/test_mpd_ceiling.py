"""The latent-resolution ceiling of the MPD's IoU (training/mpd_ceiling.py)."""

from __future__ import annotations

import numpy as np

from training.mpd_ceiling import latent_mask_ceiling


def test_a_mask_on_the_latent_grid_is_reached_exactly_and_a_speck_not_at_all() -> None:
    on_grid = np.zeros((2, 64, 64), bool)
    on_grid[:, 16:40, 8:32] = True  # whole 8x8 latent pixels
    assert latent_mask_ceiling(on_grid, 8) > 0.9
    speck = np.zeros((1, 64, 64), bool)
    speck[0, 30:32, 30:32] = True  # 4 pixels: 1/16 of one 8x8 latent pixel
    assert latent_mask_ceiling(speck, 8) == 0.0


def test_the_ceiling_falls_as_the_object_shrinks_towards_one_latent_pixel() -> None:
    sizes = []
    for r in (20, 8, 3):
        yy, xx = np.mgrid[0:64, 0:64]
        disc = ((yy - 29.5) ** 2 + (xx - 33.5) ** 2 <= r * r)[None]
        sizes.append(latent_mask_ceiling(disc, 8))
    assert sizes[0] > sizes[1] > sizes[2]
