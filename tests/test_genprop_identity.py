"""Zero-initialised GenProp parts leave G unchanged; injection matches an explicit forward."""

from __future__ import annotations

import pytest
import torch

from engine.genprop import GenPropConfig, Task
from tests.test_genprop_common import g_inputs, make_inputs, make_model, make_unet, perturb, reference_forward


@pytest.mark.parametrize("task", [Task.NONE, Task.COLOR_FILL])
def test_fresh_genprop_equals_plain_svd_unet(task: Task) -> None:
    plain = make_unet(seed=0)
    model = make_model(seed=0)
    inputs = make_inputs(frames=3, height=16, width=24)
    with torch.no_grad():
        expected = plain(*g_inputs(inputs)).sample
        out = model(**inputs, task=task)
    torch.testing.assert_close(out.sample, expected, rtol=0, atol=1e-6)
    assert out.mask_logits is not None


def test_injection_weight_zero_is_identity_after_perturbation() -> None:
    plain = make_unet(seed=0)
    model = make_model(GenPropConfig(num_sce_blocks=2, sce_include_mid=True), seed=0)
    perturb(model.sce)
    inputs = make_inputs()
    with torch.no_grad():
        expected = plain(*g_inputs(inputs)).sample
        zero = model(**inputs, injection_weight=0.0).sample
        full = model(**inputs, injection_weight=1.0).sample
    torch.testing.assert_close(zero, expected, rtol=0, atol=1e-6)
    assert (full - expected).abs().max() > 1e-3, "a perturbed SCE at w=1 must change G's output"


@pytest.mark.parametrize("num_blocks, include_mid", [(1, False), (2, False), (2, True)])
def test_hook_injection_matches_explicit_forward(num_blocks: int, include_mid: bool) -> None:
    model = make_model(GenPropConfig(num_sce_blocks=num_blocks, sce_include_mid=include_mid))
    perturb(model.heads)
    inputs = make_inputs(frames=2, height=12, width=20)
    w = 0.5
    with torch.no_grad():
        out = model(**inputs, task=Task.MASK_AND_FILL, injection_weight=w)
        sce = out.sce
        task_vec = model.task_vectors(Task.MASK_AND_FILL, 1)
        expected = reference_forward(
            model.unet,
            *g_inputs(inputs),
            skip_residuals=tuple(r * w for r in sce.skip_residuals),
            mid_residual=None if sce.mid_residual is None else sce.mid_residual * w,
            task_vector=task_vec,
        )
    torch.testing.assert_close(out.sample, expected, rtol=1e-5, atol=1e-5)


def test_hooks_are_removed_after_forward() -> None:
    model = make_model()
    perturb(model.heads)
    inputs = make_inputs()
    with torch.no_grad():
        model(**inputs)
        after = model.unet(*g_inputs(inputs)).sample
        plain = make_unet(seed=0)(*g_inputs(inputs)).sample
    torch.testing.assert_close(after, plain, rtol=0, atol=0)
    hooked = [m for m in model.unet.modules() if m._forward_hooks or m._forward_pre_hooks]
    assert not hooked


def test_injection_weight_out_of_range_is_refused() -> None:
    model = make_model()
    with pytest.raises(ValueError, match="injection_weight"):
        model(**make_inputs(), injection_weight=1.5)
