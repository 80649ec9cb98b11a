"""The fixed stage-3 recipe (issue 14), each change checked on hand-made inputs:
L_grad on the projected residuals, the region-balanced MPD loss, the noise distribution
against the sampler's sigmas, the `none` task fraction, per-part learning rates, no-SCE."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.genprop import Task
from engine.pipelines.dummy import tiny_scheduler
from engine.pipelines.mask_readout import DEFAULT_MASK_SIGMA
from tests.test_genprop_common import make_inputs, make_model, perturb
from training.config import ConfigError, config_from_dict, load_config
from training.losses import downsample_mask, mpd_loss, perturbation, sce_gradient_loss
from training.step import sce_outputs
from training.trainer import parameter_groups

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "training" / "configs"


def _grad_term(model, inputs: dict, mask: torch.Tensor, which: str) -> torch.Tensor:  # type: ignore[no-untyped-def]
    out = model(**inputs, task=Task.COPY_PASTE)
    delta = perturbation(inputs["original_latents"], mask, 0.05, torch.Generator().manual_seed(0))
    shifted = model.run_sce(
        inputs["original_latents"] + delta,
        inputs["timestep"],
        inputs["encoder_hidden_states"],
        inputs["added_time_ids"],
        out.backbone_features,
        Task.COPY_PASTE,
    )
    return sce_gradient_loss(sce_outputs(out.sce, which), sce_outputs(shifted, which), mask, 0.05)


def test_grad_term_on_residuals_is_zero_at_init_and_rises_when_projections_open() -> None:
    torch.manual_seed(0)
    model = make_model()
    inputs = make_inputs(frames=2)
    mask = torch.zeros(1, 2, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1.0
    # zero-initialised projections: G receives nothing, so there is nothing to penalise...
    at_init = _grad_term(model, inputs, mask, "residuals")
    assert at_init.item() == 0.0
    at_init.backward()
    grads = [p.grad for p in model.heads.sce.down_blocks.parameters() if p.grad is not None]
    assert all(torch.count_nonzero(g) == 0 for g in grads), "L_grad must not push the SCE's blocks before G listens"
    # ...whereas the raw block features react to the perturbation from the start (the old f)
    model.zero_grad(set_to_none=True)
    assert _grad_term(model, inputs, mask, "features").item() > 0.1
    # open the projections: the residuals now carry the perturbation and L_grad rises
    perturb(model.heads.sce.skip_projections, scale=0.1)
    opened = _grad_term(model, inputs, mask, "residuals")
    assert opened.item() > 1e-3
    opened.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.heads.sce.down_blocks.parameters())
    # and it only measures the masked positions: an empty mask scores exactly 0
    assert _grad_term(model, inputs, torch.zeros_like(mask), "residuals").item() == 0.0


def test_balanced_mpd_loss_on_a_known_mask_prefers_the_region_over_the_prior() -> None:
    mask = torch.zeros(1, 1, 1, 10, 10)
    mask[..., :1, :] = 1.0  # 10 % positives
    prior = torch.full_like(mask, 0.1)
    logit = lambda p: torch.log(p / (1 - p))  # noqa: E731
    # plain MSE: the prior is nearly optimal, so an MPD trained with it learns "0.1 everywhere"
    assert mpd_loss(logit(prior), mask, "mse").item() == pytest.approx(0.09, rel=1e-4)
    assert mpd_loss(logit(torch.full_like(mask, 0.5)), mask, "mse").item() == pytest.approx(0.25, rel=1e-4)
    # balanced: mean inside + mean outside; the prior now costs 0.81 + 0.01, an uninformed 0.5 costs 0.5
    assert mpd_loss(logit(prior), mask, "balanced_mse").item() == pytest.approx(0.82, rel=1e-3)
    assert mpd_loss(logit(torch.full_like(mask, 0.5)), mask, "balanced_mse").item() == pytest.approx(0.5, rel=1e-3)
    perfect = (mask * 2 - 1) * 30.0
    for kind in ("mse", "balanced_mse"):
        assert mpd_loss(perfect, mask, kind).item() == pytest.approx(0.0, abs=1e-6)
    # the balanced loss's gradient at the prior pushes the masked logits up, the others down
    x = logit(prior).clone().requires_grad_(True)
    mpd_loss(x, mask, "balanced_mse").backward()
    assert (x.grad[mask > 0] < 0).all() and (x.grad[mask == 0] > 0).all()
    # region balance holds per item: a tiny region weighs as much as a large one
    small, large = torch.zeros_like(mask), torch.ones_like(mask)
    small[..., 0, 0] = 1.0
    large[..., 0, 0] = 0.0
    zeros = torch.full_like(mask, -30.0)
    assert mpd_loss(zeros, small, "balanced_mse").item() == pytest.approx(1.0, rel=1e-4)
    assert mpd_loss(zeros, large, "balanced_mse").item() == pytest.approx(1.0, rel=1e-4)


def test_bce_dice_mpd_loss() -> None:
    mask = torch.zeros(2, 1, 1, 8, 8)
    mask[0, ..., 2:5, 2:5] = 1.0
    mask[1, ..., 0:2, :] = 1.0
    perfect = (mask * 2 - 1) * 30.0
    assert mpd_loss(perfect, mask, "bce_dice").item() == pytest.approx(0.0, abs=1e-4)
    wrong = -perfect
    assert mpd_loss(wrong, mask, "bce_dice").item() > 10.0
    half = torch.zeros_like(mask)
    assert 0.5 < mpd_loss(half, mask, "bce_dice").item() < mpd_loss(wrong, mask, "bce_dice").item()
    with pytest.raises(ValueError, match="unknown MPD loss"):
        mpd_loss(half, mask, "l1")


def test_config_rejects_unknown_recipe_values_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="loss.mpd_loss"):
        config_from_dict({"loss": {"mpd_loss": "focal"}})
    with pytest.raises(ConfigError, match="loss.grad_features"):
        config_from_dict({"loss": {"grad_features": "pixels"}})
    with pytest.raises(ConfigError, match="data.none_task_p"):
        config_from_dict({"data": {"none_task_p": 1.5}})
    with pytest.raises(ConfigError, match="optim.lr_multipliers.mpd"):
        config_from_dict({"optim": {"lr_multipliers": {"mpd": -1.0}}})


def _z(sigma: float, p_mean: float, p_std: float) -> float:
    return (math.log(sigma) - p_mean) / p_std


@pytest.mark.parametrize("preset", ["mini_repro.yaml", "paper_svd.yaml", "tiny_cpu.yaml"])
def test_training_noise_covers_every_sigma_the_sampler_visits(preset: str) -> None:
    """Every step of the 8- and 25-step Karras samplers (sigma 700 .. 0.002) where the network's
    output still matters (EDM's c_out = sigma / sqrt(sigma^2 + 1) >= 0.05, i.e. sigma >= 0.05; below,
    the step keeps > 95 % of its input) lies within 3.5 standard deviations of the training log-sigma
    distribution, and the MPD read-out sigma within 1. The old stage-3 N(0, 1.4^2) failed this (700 is
    4.7 std out, and the MPD was read at 0.002: 4.4 std)."""
    cfg = load_config(CONFIGS / preset)
    p_mean, p_std = cfg.diffusion.p_mean, cfg.diffusion.p_std
    scheduler = tiny_scheduler()
    for steps in (8, 25):
        scheduler.set_timesteps(steps)
        visited = [float(s) for s in scheduler.sigmas if float(s) >= 0.05]
        worst = max(abs(_z(s, p_mean, p_std)) for s in visited)
        assert worst < 3.5, (preset, steps, worst)
    assert abs(_z(DEFAULT_MASK_SIGMA, p_mean, p_std)) < 1.0
    assert abs(_z(700.0, 0.0, 1.4)) > 4.5  # the check does tell the old distribution apart


def test_none_task_fraction_keeps_the_pairs_and_relabels_them() -> None:
    from training.data import PairDataset, read_procedural

    clips = read_procedural(3, 32, 24, 6, 2)
    base = config_from_dict({"data": {"num_frames": 2, "buckets": [[32, 24]], "none_task_p": 0.0}}).data
    mixed = config_from_dict({"data": {"num_frames": 2, "buckets": [[32, 24]], "none_task_p": 0.3}}).data
    plain, relabelled = PairDataset(clips, base, seed=3), PairDataset(clips, mixed, seed=3)
    n = 120
    tasks = [int(relabelled[k]["task"]) for k in range(n)]
    assert all(int(plain[k]["task"]) != Task.NONE.index for k in range(20))
    frac = sum(t == Task.NONE.index for t in tasks) / n
    assert 0.2 < frac < 0.4, frac
    for k in range(6):  # same pair whatever the label
        a, b = plain[k], relabelled[k]
        assert torch.equal(a["sce_video"], b["sce_video"]) and torch.equal(a["edit_masks"], b["edit_masks"])


def test_pairing_swap_gives_a_fraction_the_inference_shape_on_the_same_pair() -> None:
    """Swapped items put the original in the SCE and the edit in G's first frame and target (what
    inference does); the rest keep the paper's pairing, and every item keeps its pair and mask."""
    from training.data import PairDataset, read_procedural

    clips = read_procedural(3, 32, 24, 6, 2)
    data = {"num_frames": 2, "buckets": [[32, 24]], "none_task_p": 0.0}
    base = config_from_dict({"data": data}).data
    mixed = config_from_dict({"data": {**data, "pairing_swap_p": 0.4}}).data
    paper, swapped = PairDataset(clips, base, seed=5), PairDataset(clips, mixed, seed=5)
    n, flips = 60, 0
    for k in range(n):
        a, b = paper[k], swapped[k]
        assert torch.equal(a["edit_masks"], b["edit_masks"]) and int(a["task"]) == int(b["task"])
        if torch.equal(a["sce_video"], b["sce_video"]):
            assert torch.equal(a["target_video"], b["target_video"])
            continue
        flips += 1
        assert torch.equal(b["sce_video"], a["target_video"]) and torch.equal(b["target_video"], a["sce_video"])
        assert torch.equal(b["cond_frame"], a["sce_video"][0])
    assert 0.25 < flips / n < 0.55, flips
    with pytest.raises(ConfigError, match="data.pairing_swap_p"):
        config_from_dict({"data": {"pairing_swap_p": -0.1}})


def test_lr_multipliers_make_parameter_groups_by_longest_prefix() -> None:
    model = make_model()
    groups = parameter_groups(model.heads, 1e-3, {"sce": 2.0, "sce.skip_projections": 4.0, "task_embedding": 3.0})
    names = {id(p): n for n, p in model.heads.named_parameters()}

    def wanted(name: str) -> float:
        if name.startswith("sce.skip_projections."):
            return 4e-3
        if name.startswith("sce."):
            return 2e-3
        return 3e-3 if name.startswith("task_embedding.") else 1e-3

    assert len(groups) == 4
    for group in groups:
        for p in group["params"]:
            assert group["lr"] == pytest.approx(wanted(names[id(p)])), names[id(p)]
    assert sum(len(g["params"]) for g in groups) == len(list(model.heads.parameters()))
    with pytest.raises(ValueError, match="names no parameter"):
        parameter_groups(model.heads, 1e-3, {"sce.nonexistent": 2.0})


def test_no_sce_variant_trains_no_sce_and_has_no_grad_term(tmp_path: Path) -> None:
    from tests.test_training_trainer import tiny_config
    from training.trainer import Trainer

    torch.set_num_threads(2)
    cfg = tiny_config(tmp_path, **{"model.use_sce": False, "optim.max_steps": 4, "optim.warmup_steps": 0})
    trainer = Trainer(cfg).setup()
    before = {n: p.detach().clone() for n, p in trainer.comps.model.heads.sce.named_parameters()}
    mpd_before = {n: p.detach().clone() for n, p in trainer.comps.model.heads.mpd.named_parameters()}
    terms, _ = trainer.train_step(next(iter(trainer.loader())), micro_batch=0)
    assert terms.grad.item() == 0.0
    sce = dict(trainer.comps.model.heads.sce.named_parameters())
    assert all(torch.equal(sce[n], before[n]) for n in before), "the SCE must not change without use_sce"
    moved = [n for n, p in trainer.comps.model.heads.mpd.named_parameters() if not torch.equal(p, mpd_before[n])]
    assert moved, "the MPD still trains"
    # the same step with the SCE on does move its (zero-initialised) projections
    on = Trainer(tiny_config(tmp_path / "on", **{"optim.max_steps": 4, "optim.warmup_steps": 0})).setup()
    on.train_step(next(iter(on.loader())), micro_batch=0)
    assert any(p.abs().sum() > 0 for p in on.comps.model.heads.sce.skip_projections.parameters())


def test_latent_mask_downsampling_keeps_small_regions() -> None:
    """A 6x6 object on 64x64 frames (0.9 %) still shows at the 16x16 latent grid the MPD is trained on."""
    m = torch.zeros(1, 1, 1, 64, 64)
    m[..., 30:36, 30:36] = 1.0
    small = downsample_mask(m, (16, 16))
    assert small.max().item() > 0.4
    assert np.isclose(small.sum().item() * 16, m.sum().item(), rtol=0.1)
