"""Attention maps of a GenProp run for a clicked region: recorded per layer, step and frame."""

from __future__ import annotations

import numpy as np
import pytest

import engine.engines  # noqa: F401  (registers engines)
from engine.engines.base import get_engine
from engine.engines.genprop_attention import AttentionResult
from engine.pipelines import GenPropPipeline
from engine.pipelines.dummy import tiny_components
from tests.test_pipeline_engine import generated_clip, paste_edit

OPTS = {"steps": 2, "long_side": 32, "window": 4, "overlap": 1, "max_guidance": 2.0, "feather": 2}


@pytest.fixture(scope="module")
def pipe() -> GenPropPipeline:
    return GenPropPipeline.from_components(**tiny_components(0, randomize_heads=True))


def test_attention_for_a_region_per_layer_step_and_frame(pipe: GenPropPipeline) -> None:
    clip = generated_clip(n=4)
    edit = paste_edit(clip[0])
    h, w = edit.edited_frame.shape[:2]
    query = np.zeros((h, w), np.uint8)
    query[5:12, 10:20] = 255
    engine = get_engine("genprop")(pipeline=pipe)
    plain = engine.propagate(clip, edit, OPTS)
    result = engine.propagate(clip, edit, {**OPTS, "attention_query": query})
    np.testing.assert_array_equal(result.frames, plain.frames)  # recording changes nothing
    attention = result.extras["attention"]
    assert isinstance(attention, AttentionResult) and "attention" not in plain.extras
    assert attention.spatial and attention.temporal
    for maps in attention.spatial.values():
        assert maps.shape[:2] == (2, 4) and np.isfinite(maps).all()
    for maps in attention.temporal.values():
        assert maps.shape == (2, 4, 4)
        np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-3)  # attention over frames sums to one
    layer = next(iter(attention.spatial))
    overlay = attention.overlay(layer, step=1, frame=3)
    assert overlay.shape == (h, w) and 0.0 <= overlay.min() and overlay.max() <= 1.0 and overlay.max() > 0.5
    with pytest.raises(IndexError, match="outside the recorded"):
        attention.overlay(layer, step=5, frame=0)


def test_attention_is_refused_for_more_than_one_window(pipe: GenPropPipeline) -> None:
    clip = generated_clip(n=6)
    edit = paste_edit(clip[0])
    query = np.ones(edit.edit_mask.shape, np.uint8)
    with pytest.raises(ValueError, match="one window: pass at most 4 frames"):
        get_engine("genprop")(pipeline=pipe).propagate(clip, edit, {**OPTS, "attention_query": query})
    with pytest.raises(ValueError, match="non-empty"):
        get_engine("genprop")(pipeline=pipe).propagate(
            generated_clip(n=4), edit, {**OPTS, "attention_query": np.zeros_like(query)}
        )
