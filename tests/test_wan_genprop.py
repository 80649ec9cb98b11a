"""GenProp on the Wan (DiT) backbone: identity with diffusers' Wan VACE transformer and pipeline when the
heads are untrained, the SCE and task embedding really change the output, gradients reach only the heads,
the MPD restores the video's frame count, and the heads folder saves and loads strictly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.genprop import freeze_backbone, trainable_parameter_names
from engine.genprop.backbones import wan
from engine.genprop.heads import GenPropHeads
from engine.genprop.wan_heads import WanGenPropHeads
from engine.genprop.wan_model import WanGenPropModel
from engine.genprop.weights import WeightsMismatchError
from engine.pipelines.dummy_wan import tiny_transformer_config, tiny_vace_components
from engine.pipelines.vace_pipeline import VacePropagationPipeline
from engine.tasks import Task


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


def transformer(num_layers: int = 3) -> torch.nn.Module:
    from diffusers import WanVACETransformer3DModel

    torch.manual_seed(0)
    return WanVACETransformer3DModel(**tiny_transformer_config(num_layers)).eval()


def inputs(seed: int = 0, frames: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "hidden_states": torch.randn(1, 16, frames, 4, 6, generator=g),
        "timestep": torch.tensor([700.0]),
        "encoder_hidden_states": torch.randn(1, 8, 32, generator=g),
        "control_hidden_states": torch.randn(1, 96, frames, 4, 6, generator=g),
    }


def randomize(module: torch.nn.Module, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


@pytest.mark.parametrize("init", ["copy", "vace"])
def test_untrained_heads_equal_diffusers_transformer_exactly(init: str) -> None:
    g = transformer()
    model = WanGenPropModel.from_transformer(g, num_sce_blocks=2, sce_init=init)
    x = inputs()
    sce_in = torch.randn(1, model.heads.sce.in_channels, 3, 4, 6)
    with torch.no_grad():
        reference = g(**x, return_dict=False)[0]
        out = model(**x, sce_input=sce_in, task=Task.COPY_PASTE)
    assert torch.equal(out.sample, reference)
    assert out.mask_logits.shape == (1, 9, 1, 4, 6)  # T = 4 (T' - 1) + 1 video frames, latent resolution
    assert len(out.sce_states) == 2 and out.sce_states[0].shape == (1, 3 * 2 * 3, 24)


def test_sce_and_task_embedding_change_the_output_and_weight_zero_does_not() -> None:
    g = transformer()
    model = WanGenPropModel.from_transformer(g, num_sce_blocks=2)
    randomize(model.heads)
    x = inputs()
    sce_in = torch.randn(1, 16, 3, 4, 6)
    with torch.no_grad():
        reference = g(**x, return_dict=False)[0]
        full = model(**x, sce_input=sce_in, predict_mask=False).sample
        other = model(**x, sce_input=sce_in * 0.5, predict_mask=False).sample
        off = model(**x, sce_input=sce_in, injection_weight=0.0, predict_mask=False).sample
        task = model(**x, sce_input=None, task=Task.COLOR_FILL, predict_mask=False).sample
        none = model(**x, sce_input=None, task=Task.NONE, predict_mask=False).sample
    assert not torch.allclose(full, reference) and not torch.allclose(full, other)  # the SCE reads its input
    assert not torch.allclose(task, none)  # the task rows were randomised: the task reaches G's time embedding
    assert torch.allclose(off, model(**x, sce_input=None, predict_mask=False).sample)  # w = 0: no SCE residual
    untrained = WanGenPropModel.from_transformer(g, num_sce_blocks=2)
    with torch.no_grad():
        assert torch.equal(untrained(**x, sce_input=None, predict_mask=False).sample, reference)


def test_explicit_forward_matches_a_reference_controlnet_sum() -> None:
    """Hints land after the right blocks: compare with hooks that add the SCE hints to diffusers' own forward."""
    g = transformer(4)
    model = WanGenPropModel.from_transformer(g, num_sce_blocks=2)
    randomize(model.heads.sce)  # the task table stays zero: the reference has no task vector
    x = inputs()
    sce_in = torch.randn(1, 16, 3, 4, 6)
    with torch.no_grad():
        out = model(**x, sce_input=sce_in, injection_weight=0.5, predict_mask=False)
        hints = dict(zip(model.heads.sce.layers, out.sce_hints, strict=True))
        handles = [
            g.blocks[i].register_forward_hook(lambda m, a, o, h=h: o + 0.5 * h)
            for i, h in hints.items()
            if i not in g.config.vace_layers
        ]
        # block 0 is also a VACE layer: diffusers adds its own hint after the block's output, so add ours there too
        handles.append(g.blocks[0].register_forward_hook(lambda m, a, o: o + 0.5 * hints[0]))
        try:
            reference = g(**x, return_dict=False)[0]
        finally:
            for handle in handles:
                handle.remove()
    assert torch.allclose(out.sample, reference, atol=1e-5)


def test_gradients_reach_only_the_heads() -> None:
    g = transformer()
    model = WanGenPropModel.from_transformer(g, num_sce_blocks=2)
    randomize(model.heads.sce)  # non-zero hints so the SCE blocks get a gradient through G
    trainable = freeze_backbone(model)
    assert trainable and all(n.startswith("heads.") for n in trainable_parameter_names(model))
    x = inputs()
    out = model(**x, sce_input=torch.randn(1, 16, 3, 4, 6), task=Task.MASK_AND_FILL)
    (out.sample.square().mean() + out.mask_logits.sigmoid().mean()).backward()
    assert all(p.grad is None for p in g.parameters())
    got = {n for n, p in model.heads.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert {"sce.patch_embedding.weight", "sce.blocks.0.proj_out.weight", "mpd.mlp.4.weight"} <= got
    assert "task_embedding.embedding.weight" in got


def test_zero_heads_in_the_pipeline_equal_diffusers_wan_vace_pipeline() -> None:
    from diffusers import WanVACEPipeline

    components = tiny_vace_components(0)
    heads = WanGenPropHeads.from_transformer(components["transformer"], num_sce_blocks=2)
    pipe = VacePropagationPipeline.from_components(heads=heads, **components)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
    masks = np.full((5, 32, 32), 255, np.uint8)
    masks[0] = 0
    embeds = torch.randn(1, 16, 32, generator=torch.Generator().manual_seed(3))
    ours = pipe(
        frames,
        masks,
        originals=frames[::-1].copy(),
        prompt_embeds=embeds,
        num_inference_steps=2,
        guidance_scale=1.0,
        window_size=5,
        overlap=1,
        generator=torch.Generator().manual_seed(0),
    )
    reference = WanVACEPipeline(**tiny_vace_components(0))(
        video=[Image.fromarray(f) for f in frames],
        mask=[Image.fromarray(m) for m in masks],
        prompt_embeds=embeds,
        height=32,
        width=32,
        num_frames=5,
        num_inference_steps=2,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).frames[0]
    assert np.array_equal(ours.frames, np.clip(np.rint(reference * 255), 0, 255).astype(np.uint8))
    assert ours.masks.shape == (5, 32, 32) and 0 <= ours.masks.min() and ours.masks.max() <= 1


def test_heads_save_and_load_strictly(tmp_path: Path) -> None:
    g = transformer()
    heads = WanGenPropHeads.from_transformer(g, num_sce_blocks=2, mpd_hidden_channels=8)
    randomize(heads)
    heads.save_pretrained(tmp_path / "genprop")
    loaded = WanGenPropHeads.from_pretrained(tmp_path / "genprop")
    assert all(torch.equal(a, b) for a, b in zip(heads.state_dict().values(), loaded.state_dict().values(), strict=True))
    assert loaded.config.backbone == "wan" and loaded.sce.layers == [0, 1]
    other = transformer(4)
    with pytest.raises(WeightsMismatchError, match="num_layers"):
        loaded.check_backbone(other)
    with pytest.raises(WeightsMismatchError):
        GenPropHeads.from_pretrained(tmp_path / "genprop")  # the SVD heads class refuses a Wan folder


def test_latent_time_mask_and_tokens_to_grid() -> None:
    mask = torch.zeros(1, 9, 1, 2, 2)
    mask[:, 0] = 1.0
    mask[:, 5:9] = 1.0
    lat = wan.latent_time_mask(mask)
    assert lat.shape == (1, 1, 3, 2, 2) and lat[0, 0, :, 0, 0].tolist() == [1.0, 0.0, 1.0]
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(1, 24, 5)
    grid = wan.tokens_to_grid(x, (2, 3, 4))
    assert grid.shape == (2, 5, 3, 4) and grid[1, :, 2, 3].tolist() == x[0, 12 + 11].tolist()
