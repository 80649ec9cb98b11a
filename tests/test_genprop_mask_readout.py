"""The MPD read-out step: which denoising step's mask the pipeline returns (``mask_sigma``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.genprop import GenPropModel
from engine.pipelines import GenPropPipeline
from engine.pipelines.dummy import tiny_components, tiny_scheduler
from engine.pipelines.mask_readout import DEFAULT_MASK_SIGMA, mask_readout_step

SIZE = 32


def test_mask_readout_step_picks_the_nearest_sigma_in_log_space() -> None:
    sigmas = [700.0, 286.5, 102.9, 31.0, 7.28, 1.17, 0.097, 0.002]  # SVD's 8-step Karras schedule
    assert mask_readout_step(sigmas, 1.0) == 5
    assert mask_readout_step(sigmas, 8.0) == 4
    assert mask_readout_step(sigmas, 0.3) == 6  # log distance: 0.3 is nearer 0.097 than 1.17
    assert mask_readout_step(sigmas, 1e-6) == 7
    assert mask_readout_step(sigmas, 1e6) == 0
    assert mask_readout_step(sigmas, None) == 7  # the last step (the old behaviour)
    with pytest.raises(ValueError, match="mask_sigma must be positive"):
        mask_readout_step(sigmas, 0.0)
    scheduler = tiny_scheduler()
    for steps in (6, 8, 25):
        scheduler.set_timesteps(steps)
        chosen = float(scheduler.sigmas[mask_readout_step(scheduler.sigmas[:-1].tolist(), DEFAULT_MASK_SIGMA)])
        assert 0.25 < chosen < 4.0, (steps, chosen)  # a step the training noise distribution covers


def test_pipeline_reads_the_mpd_once_at_the_chosen_step(monkeypatch: pytest.MonkeyPatch) -> None:
    # one thread: with two, three 8-step runs took 236 s on a loaded 2-core machine (load 15)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _check_readout_steps(monkeypatch)
    finally:
        torch.set_num_threads(threads)


def _check_readout_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    components = tiny_components(0, randomize_heads=True)
    pipe = GenPropPipeline.from_components(**components)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    video = np.stack([np.dstack([(xx * 8 + t * 5) % 256, (yy * 8) % 256, np.full_like(xx, 60)]) for t in range(4)])
    video = video.astype(np.uint8)
    edited = video[0].copy()
    edited[8:20, 8:20] = (255, 0, 0)
    calls: list[tuple[float, bool]] = []
    original = GenPropModel.forward

    def spy(self, sample, timestep, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((float(torch.as_tensor(timestep).reshape(-1)[0]), bool(kwargs.get("predict_mask", True))))
        return original(self, sample, timestep, *args, **kwargs)

    monkeypatch.setattr(GenPropModel, "forward", spy)

    def masks(mask_sigma: float | None) -> np.ndarray:
        calls.clear()
        out = pipe(
            video,
            edited,
            num_inference_steps=8,
            max_guidance_scale=1.0,
            mask_sigma=mask_sigma,
            generator=torch.Generator().manual_seed(0),
        )
        return out.masks

    default = masks(DEFAULT_MASK_SIGMA)
    read = [t for t, predict in calls if predict]
    assert len(calls) == 8 and len(read) == 1
    assert np.exp(4 * read[0]) == pytest.approx(1.17, rel=0.05)  # c_noise = ln(sigma) / 4 -> sigma 1.17, step 6 of 8
    last = masks(None)
    assert [p for _, p in calls] == [False] * 7 + [True]
    early = masks(100.0)
    assert [p for _, p in calls].index(True) == 2
    assert default.shape == last.shape == (4, SIZE, SIZE)
    assert not np.allclose(default, last) and not np.allclose(default, early)  # it is a different read-out
    with pytest.raises(ValueError, match="mask_sigma"):
        masks(-1.0)
