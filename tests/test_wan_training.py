"""GenProp training on the Wan backbone (``backbone: tiny_wan``): config checks, VACE context latents equal
diffusers', a short run on procedural clips lowers the loss, checkpoints hold Wan heads, resume is exact."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import default_collate

from engine.genprop.backbones import wan
from engine.genprop.wan_heads import WanGenPropHeads
from training.config import ConfigError, TrainConfig, load_config
from training.trainer import train
from training.wan.step import compute_loss, prepare_inputs, sample_flow_sigmas
from training.wan.trainer import WanTrainer

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "training" / "configs" / "tiny_wan_cpu.yaml"


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


def tiny_config(out: Path, **overrides: object) -> TrainConfig:
    base = {
        "output_dir": str(out),
        "data.sources": [{"kind": "procedural", "count": 4, "width": 48, "height": 32, "frames": 6, "objects": 2}],
        "data.validation_sources": [],
        "optim.batch_size": 1,
        "optim.max_steps": 4,
        "optim.warmup_steps": 1,
        "checkpoint.every": 2,
        "logging.log_every": 1,
        "logging.validate_every": 0,
    }
    base.update(overrides)
    return load_config(TINY, base)


def test_presets_load_and_wan_rules_name_the_key(tmp_path: Path) -> None:
    paper = load_config(ROOT / "training" / "configs" / "paper_wan.yaml")
    assert paper.model.backbone == "wan" and paper.model.num_sce_blocks == 24 and paper.data.num_frames == 33
    with pytest.raises(ConfigError, match="wan.sce_init"):
        tiny_config(tmp_path, **{"wan.sce_init": "random"})
    with pytest.raises(ConfigError, match="pretrained_path"):
        tiny_config(tmp_path, **{"model.backbone": "wan"})
    with pytest.raises(ConfigError, match="4k\\+1"):
        WanTrainer(tiny_config(tmp_path, **{"data.num_frames": 4})).setup()


def test_vace_context_equals_diffusers_pipeline_latents() -> None:
    from engine.pipelines.dummy_wan import tiny_vace_components
    from engine.pipelines.vace_pipeline import VacePropagationPipeline

    components = tiny_vace_components(0)
    pipe = VacePropagationPipeline(**components)
    g = torch.Generator().manual_seed(0)
    video = torch.rand(1, 3, 5, 32, 32, generator=g) * 2 - 1
    mask = (torch.rand(1, 1, 5, 32, 32, generator=g) > 0.5).float()
    i2v_video = torch.zeros_like(video)
    i2v_video[:, :, 0] = video[:, :, 0]
    i2v_mask = torch.ones_like(mask)
    i2v_mask[:, :, 0] = 0
    with torch.no_grad():
        for v, m, ours in (
            (video, mask, lambda: wan.vace_context(components["vae"], video, mask, 2)),
            (i2v_video, i2v_mask, lambda: wan.first_frame_context(components["vae"], video[:, :, 0], 5, 2)),
        ):
            rgb_mask = m.expand(-1, 3, -1, -1, -1)
            latents = pipe.prepare_video_latents(v, rgb_mask, [[]], None, torch.device("cpu"))
            reference = torch.cat([latents, pipe.prepare_masks(rgb_mask, [[]], None)], dim=1)
            assert torch.equal(ours(), reference)


def test_flow_sigmas_are_shifted_towards_noise() -> None:
    s = sample_flow_sigmas(10000, 3.0, torch.Generator().manual_seed(0))
    assert 0 < s.min() and s.max() < 1 and s.median() > 0.6  # shift 3: median 0.75


def test_short_run_lowers_the_loss_on_a_fixed_batch(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, **{"optim.max_steps": 12, "optim.learning_rate": 3e-3, "optim.batch_size": 2})
    trainer = WanTrainer(cfg).setup()
    batch = default_collate([trainer.dataset[i] for i in range(4)])

    def fixed_loss() -> dict[str, float]:
        with torch.no_grad():
            x = prepare_inputs(trainer.comps, batch, cfg, torch.Generator().manual_seed(123), torch.device("cpu"))
            return compute_loss(trainer.module, x, cfg).as_floats()

    before = fixed_loss()
    result = trainer.run()
    after = fixed_loss()
    assert all(torch.isfinite(torch.tensor(h["total"])) for h in result.history) and result.final_step == 12
    assert after["total"] < 0.95 * before["total"], (before, after)
    assert after["non_mask"] < before["non_mask"] and after["mpd"] < before["mpd"]
    heads = WanGenPropHeads.from_pretrained(tmp_path / "checkpoint-12" / "genprop")
    assert heads.config.backbone == "wan" and heads.sce.layers == [0, 1]
    assert all(p.requires_grad is False for p in trainer.comps.model.unet.parameters())


def test_resume_is_exact(tmp_path: Path) -> None:
    full = train(tiny_config(tmp_path / "full"))
    part = tiny_config(tmp_path / "part")
    train(part, stop_after=2)
    resumed = train(part, resume="latest")
    assert [h["step"] for h in resumed.history] == [3, 4]
    for a, b in zip(resumed.history, full.history[2:], strict=True):
        assert a["total"] == pytest.approx(b["total"], rel=1e-6, abs=1e-7)
    one = WanGenPropHeads.from_pretrained(tmp_path / "full" / "checkpoint-4" / "genprop").state_dict()
    two = WanGenPropHeads.from_pretrained(tmp_path / "part" / "checkpoint-4" / "genprop").state_dict()
    assert all(torch.allclose(one[k], two[k], atol=1e-7) for k in one)


def test_extend_from_continues_wan_heads_on_a_fresh_schedule(tmp_path: Path) -> None:
    """The Wan trainer shares the SVD trainer's restore: an extension starts from the checkpoint's
    heads at its step, on a new warm-up + cosine over the added steps."""
    train(tiny_config(tmp_path / "first", **{"optim.max_steps": 2}))
    longer = train(tiny_config(tmp_path / "longer"), extend_from=str(tmp_path / "first" / "checkpoint-2"))
    assert [h["step"] for h in longer.history] == [3, 4]
    lr = tiny_config(tmp_path / "x").optim.learning_rate
    assert [h["lr"] for h in longer.history] == pytest.approx([lr, 0.0])
    heads = WanGenPropHeads.from_pretrained(tmp_path / "longer" / "checkpoint-4" / "genprop")
    assert heads.config.backbone == "wan"
