"""The MPD's edit cue (``mpd_edit_cue``, issue 14): it must carry the edit's location to the MPD.

The edit is defined by where the SCE's input (the original video) and G's input (noisy latents +
the edited first frame) disagree. The paper's MPD reads only G's last-block inputs; with untrained
(zero) SCE projections nothing of the SCE's input reaches them, so it cannot find such an edit.
"""

from __future__ import annotations

import pytest
import torch

from engine.genprop import GenPropConfig, GenPropHeads
from engine.genprop.mpd import edit_cue
from tests.test_genprop_common import make_inputs, make_model
from training.losses import mpd_loss

FRAMES, SIZE = 2, 16


def toy_edit_batch(generator: torch.Generator, batch: int = 2) -> tuple[dict, torch.Tensor]:
    """Inputs where the SCE's latents differ from G's condition latents inside a random box
    (the same box in every frame); returns the inputs and the box mask ``[B, T, 1, h, w]``."""
    inputs = make_inputs(
        batch=batch, frames=FRAMES, height=SIZE, width=SIZE, seed=int(torch.randint(0, 10**6, (1,), generator=generator))
    )
    cond = torch.randn(batch, 1, 4, SIZE, SIZE, generator=generator).expand(-1, FRAMES, -1, -1, -1)
    mask = torch.zeros(batch, FRAMES, 1, SIZE, SIZE)
    for b in range(batch):
        y, x = (int(v) for v in torch.randint(0, SIZE - 6, (2,), generator=generator))
        mask[b, :, :, y : y + 6, x : x + 6] = 1.0
    changed = cond + 2.0 * torch.randn(batch, 1, 4, SIZE, SIZE, generator=generator).expand(-1, FRAMES, -1, -1, -1)
    inputs["original_latents"] = cond * (1 - mask) + changed * mask
    inputs["sample"] = torch.cat([inputs["sample"][:, :, :4], cond], dim=2)
    return inputs, mask


@torch.no_grad()
def mpd_inputs(model, inputs: dict) -> tuple[dict, torch.Tensor | None]:  # type: ignore[no-untyped-def]
    """What the MPD reads for ``inputs``: G's last-block kwargs (frozen G, zero SCE) and the cue."""
    from engine.genprop.backbones import svd

    with svd.inject(model.unet, tap_last_up_block=True) as taps:
        model.unet(inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"], inputs["added_time_ids"])
    cue = edit_cue(inputs["sample"], inputs["original_latents"]) if model.heads.mpd.cue is not None else None
    return taps.last_up_block_kwargs, cue


def train_mpd_and_score(edit_cue_on: bool, steps: int = 150) -> float:
    """Train the MPD's head (its mirrored block kept at G's weights, for speed; G frozen, SCE
    projections zero) on 4 toy batches; IoU at 0.5 on a fifth."""
    torch.manual_seed(0)
    model = make_model(GenPropConfig(num_sce_blocks=2, mpd_hidden_channels=16, mpd_edit_cue=edit_cue_on))
    mpd = model.heads.mpd.requires_grad_(True)
    mpd.block.requires_grad_(False)
    gen = torch.Generator().manual_seed(1)
    batches = [toy_edit_batch(gen) for _ in range(5)]
    cached = [(*mpd_inputs(model, inputs), mask) for inputs, mask in batches]
    opt = torch.optim.Adam([p for p in mpd.parameters() if p.requires_grad], lr=1e-2)
    for step in range(steps):
        kwargs, cue, mask = cached[step % 4]
        loss = mpd_loss(mpd(kwargs, 2, FRAMES, cue), mask, "balanced_mse")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    kwargs, cue, mask = cached[4]
    with torch.no_grad():
        pred, truth = torch.sigmoid(mpd(kwargs, 2, FRAMES, cue)) > 0.5, mask > 0.5
    return float((pred & truth).sum()) / max(float((pred | truth).sum()), 1.0)


def test_mpd_with_the_edit_cue_finds_where_the_streams_disagree() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with_cue = train_mpd_and_score(True)
        without = train_mpd_and_score(False, steps=60)  # nothing to learn the location from: fewer steps
    finally:
        torch.set_num_threads(threads)
    assert with_cue > 0.6, with_cue  # 0.71 measured
    # the paper's MPD cannot see the SCE's input through zero projections: at best it covers everything (IoU 0.14)
    assert without < 0.35, without


def test_edit_cue_layout_and_g_alone() -> None:
    inputs = make_inputs(batch=1, frames=FRAMES, height=SIZE, width=SIZE)
    cue = edit_cue(inputs["sample"], inputs["original_latents"])
    assert cue.shape == (1, FRAMES, 12, SIZE, SIZE)
    assert torch.equal(cue[:, :, :8], inputs["sample"]) and torch.equal(cue[:, :, 8:], inputs["original_latents"])
    assert torch.count_nonzero(edit_cue(inputs["sample"], None)[:, :, 8:]) == 0


def _last_block_kwargs(model) -> dict:  # type: ignore[no-untyped-def]
    from engine.genprop.backbones import svd

    inputs = make_inputs(batch=1, frames=FRAMES, height=SIZE, width=SIZE)
    with torch.no_grad(), svd.inject(model.unet, tap_last_up_block=True) as taps:
        model.unet(inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"], inputs["added_time_ids"])
    return taps.last_up_block_kwargs


def test_mpd_with_cue_runs_without_originals_and_refuses_wrong_cues() -> None:
    model = make_model(GenPropConfig(num_sce_blocks=2, mpd_hidden_channels=16, mpd_edit_cue=True))
    inputs = make_inputs(batch=1, frames=FRAMES, height=SIZE, width=SIZE)
    inputs.pop("original_latents")
    with torch.no_grad():
        assert model(**inputs).mask_logits.shape == (1, FRAMES, 1, SIZE, SIZE)  # G alone: zeros in the SCE part
        kwargs = _last_block_kwargs(model)
        with pytest.raises(ValueError, match="none was given"):
            model.heads.mpd(kwargs, 1, FRAMES)
        with pytest.raises(ValueError, match="expected"):
            model.heads.mpd(kwargs, 1, FRAMES, torch.zeros(1, FRAMES, 8, SIZE, SIZE))
        plain = make_model(GenPropConfig(num_sce_blocks=2, mpd_hidden_channels=16))
        assert plain.heads.mpd.cue is None
        with pytest.raises(ValueError, match="without an edit cue"):
            plain.heads.mpd(_last_block_kwargs(plain), 1, FRAMES, torch.zeros(1, FRAMES, 12, SIZE, SIZE))


def test_heads_with_cue_round_trip_and_old_folders_load_without_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = make_model(GenPropConfig(num_sce_blocks=2, mpd_hidden_channels=16, mpd_edit_cue=True))
    model.heads.save_pretrained(tmp_path / "cue")
    loaded = GenPropHeads.from_pretrained(tmp_path / "cue")
    assert loaded.config.mpd_edit_cue and loaded.mpd.cue is not None
    for (name, a), (_, b) in zip(model.heads.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    old = make_model(GenPropConfig(num_sce_blocks=2, mpd_hidden_channels=16))
    old.heads.save_pretrained(tmp_path / "old")
    assert GenPropHeads.from_pretrained(tmp_path / "old").mpd.cue is None


def test_trainer_builds_and_trains_the_cue_and_config_names_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_training_trainer import tiny_config
    from training.config import ConfigError, config_from_dict
    from training.trainer import Trainer

    cfg = tiny_config(tmp_path, **{"model.mpd_edit_cue": True, "optim.max_steps": 2, "optim.warmup_steps": 0})
    trainer = Trainer(cfg).setup()
    cue = trainer.comps.model.heads.mpd.cue
    assert cue is not None and trainer.comps.model.heads.config.mpd_edit_cue
    before = [p.detach().clone() for p in cue.parameters()]
    terms, _ = trainer.train_step(next(iter(trainer.loader())), micro_batch=0)
    assert terms.mpd.item() > 0
    assert any(not torch.equal(p, b) for p, b in zip(cue.parameters(), before, strict=True)), "L_MPD must reach the cue"
    with pytest.raises(ConfigError, match="model.mpd_edit_cue"):
        config_from_dict({"model": {"backbone": "tiny_wan", "mpd_edit_cue": True}})


def test_pipeline_with_cfg_reads_the_cue_mpd() -> None:
    """Heads with the cue run through the pipeline with classifier-free guidance (batch doubled)."""
    import numpy as np

    from engine.pipelines import GenPropPipeline
    from engine.pipelines.dummy import tiny_components

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        components = tiny_components(0)
        torch.manual_seed(0)
        components["heads"] = GenPropHeads.from_unet(
            components["unet"], GenPropConfig(num_sce_blocks=2, mpd_hidden_channels=16, mpd_edit_cue=True)
        ).eval()
        pipe = GenPropPipeline.from_components(**components)
        video = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
        out = pipe(list(video), video[0], num_inference_steps=2, min_guidance_scale=1.0, max_guidance_scale=3.0)
    finally:
        torch.set_num_threads(threads)
    assert out.masks.shape == (2, 32, 32) and np.isfinite(out.masks).all()
