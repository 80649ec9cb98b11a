"""Residual, feature and mask shapes across N, frame counts and aspect ratios."""

from __future__ import annotations

import pytest
import torch

from engine.genprop import GenPropConfig, upsample_mask_logits
from engine.genprop.backbones import svd
from tests.test_genprop_common import g_inputs, make_inputs, make_model


def _g_skip_shapes(model, inputs) -> list[tuple[int, ...]]:
    """Shapes of G's skips in production order, captured from the up blocks' inputs."""
    per_block: list[tuple] = []
    handles = [
        block.register_forward_pre_hook(
            lambda m, a, kw: per_block.append(tuple(t.shape for t in kw["res_hidden_states_tuple"])),
            with_kwargs=True,
        )
        for block in model.unet.up_blocks
    ]
    try:
        with torch.no_grad():
            model.unet(*g_inputs(inputs))
    finally:
        for h in handles:
            h.remove()
    shapes: list[tuple[int, ...]] = []
    for block_shapes in reversed(per_block):  # up blocks consume the last skips first
        shapes.extend(block_shapes)
    return shapes


@pytest.mark.parametrize(
    "num_blocks, include_mid, frames, height, width",
    [(1, False, 2, 16, 16), (2, False, 3, 16, 24), (2, True, 4, 24, 16), (1, False, 2, 13, 21)],
)
def test_residuals_match_g_blocks(num_blocks: int, include_mid: bool, frames: int, height: int, width: int) -> None:
    model = make_model(GenPropConfig(num_sce_blocks=num_blocks, sce_include_mid=include_mid))
    inputs = make_inputs(batch=2, frames=frames, height=height, width=width)
    with torch.no_grad():
        out = model(**inputs)
    g_shapes = _g_skip_shapes(model, inputs)
    arch = svd.architecture(model.unet.config)
    assert len(out.sce.skip_residuals) == len(svd.skip_channels(arch, num_blocks))
    for k, residual in enumerate(out.sce.skip_residuals):
        assert tuple(residual.shape) == g_shapes[k], f"skip {k}"
    if include_mid:
        assert out.sce.mid_residual.shape == g_shapes[-1]
        assert len(out.sce.features) == len(out.sce.skip_residuals) + 1
    else:
        assert out.sce.mid_residual is None
    assert out.sample.shape == (2, frames, 4, height, width)
    assert out.mask_logits.shape == (2, frames, 1, height, width)
    up = upsample_mask_logits(out.mask_logits, (height * 8, width * 8))
    assert up.shape == (2, frames, 1, height * 8, width * 8)


def test_skip_assignment_covers_every_skip_once() -> None:
    arch = svd.architecture(svd.svd_xt_unet_config())
    where = svd.skip_assignment(arch)
    assert len(where) == len(svd.skip_channels(arch)) == 12
    assert len(set(where)) == 12
    assert where[0] == (3, 0) and where[-1] == (0, 2)  # conv_in feeds the last up block's last resnet


def test_bad_config_values_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="num_blocks=3"):
        make_model(GenPropConfig(num_sce_blocks=3))
    with pytest.raises(ValueError, match="include_mid"):
        make_model(GenPropConfig(num_sce_blocks=1, sce_include_mid=True))
    model = make_model()
    inputs = make_inputs()
    inputs["original_latents"] = inputs["original_latents"][:, :, :3]
    with pytest.raises(ValueError, match="3 channels"):
        model(**inputs)
