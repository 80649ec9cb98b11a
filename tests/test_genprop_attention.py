"""Attention recorder: documented shapes, region averaging, nothing installed when off."""

from __future__ import annotations

import pytest
import torch

from engine.genprop import AttentionRecorder, attention_layers
from tests.test_genprop_common import make_inputs, make_model

SPATIAL_UP = "up_blocks.1.attentions.0.transformer_blocks.0.attn1"  # level 0
SPATIAL_DOWN = "down_blocks.0.attentions.1.transformer_blocks.0.attn1"
TEMPORAL_MID = "mid_block.attentions.0.temporal_transformer_blocks.0.attn1"  # level 1


def test_maps_have_documented_shapes_and_are_distributions() -> None:
    model = make_model()
    frames, h, w = 3, 12, 20
    inputs = make_inputs(batch=2, frames=frames, height=h, width=w)
    region = torch.zeros(h * 8, w * 8, dtype=torch.bool)
    region[16:48, 32:96] = True  # pixel-resolution brush mask
    recorder = AttentionRecorder(model.unet, [SPATIAL_UP, SPATIAL_DOWN, TEMPORAL_MID])
    with torch.no_grad(), recorder.record(num_frames=frames, latent_size=(h, w), query_region=region) as maps:
        model(**inputs)
    assert set(maps) == {SPATIAL_UP, SPATIAL_DOWN, TEMPORAL_MID}
    spatial = maps[SPATIAL_UP][0]
    assert spatial.kind == "spatial" and spatial.probs.shape == (2, frames, h, w)
    temporal = maps[TEMPORAL_MID][0]
    assert temporal.kind == "temporal" and temporal.probs.shape == (2, frames, frames)
    # weighted averages of softmax rows are distributions over the keys
    torch.testing.assert_close(spatial.probs.sum(dim=(-2, -1)), torch.ones(2, frames))
    torch.testing.assert_close(temporal.probs.sum(dim=-1), torch.ones(2, frames))


def test_single_query_token_equals_that_row_of_the_attention() -> None:
    model = make_model()
    inputs = make_inputs(frames=2, height=8, width=8)
    region = torch.zeros(8, 8)
    region[3, 5] = 1.0
    attn = dict(model.unet.named_modules())[SPATIAL_UP]
    seen: list[torch.Tensor] = []
    handle = attn.register_forward_pre_hook(
        lambda m, args, kw: seen.append(args[0] if args else kw["hidden_states"]), with_kwargs=True
    )
    recorder = AttentionRecorder(model.unet, [SPATIAL_UP])
    with torch.no_grad(), recorder.record(num_frames=2, latent_size=(8, 8), query_region=region) as maps:
        model(**inputs)
    handle.remove()
    hidden = seen[0]
    with torch.no_grad():
        q = attn.head_to_batch_dim(attn.to_q(hidden))
        k = attn.head_to_batch_dim(attn.to_k(hidden))
        probs = attn.get_attention_scores(q, k).reshape(2, attn.heads, 64, 64).mean(1)
    expected = probs[:, 3 * 8 + 5].reshape(1, 2, 8, 8)
    torch.testing.assert_close(maps[SPATIAL_UP][0].probs, expected)


def test_recorder_adds_nothing_when_disabled() -> None:
    model = make_model()
    inputs = make_inputs()
    processors = {name: m.processor for name, m in model.unet.named_modules() if hasattr(m, "processor")}
    with torch.no_grad():
        plain = model(**inputs).sample
    recorder = AttentionRecorder(model.unet)
    assert len(recorder.layers) == len(attention_layers(model.unet)) == 12
    after_init = {name: m.processor for name, m in model.unet.named_modules() if hasattr(m, "processor")}
    assert all(after_init[n] is processors[n] for n in processors)
    with torch.no_grad(), recorder.record(num_frames=2, latent_size=(16, 16)) as maps:
        recorded = model(**inputs).sample
    assert len(maps) == 12
    after = {name: m.processor for name, m in model.unet.named_modules() if hasattr(m, "processor")}
    assert all(after[n] is processors[n] for n in processors)
    torch.testing.assert_close(recorded, plain, rtol=0, atol=0)


def test_unknown_layer_and_empty_region_are_refused() -> None:
    model = make_model()
    with pytest.raises(ValueError, match="attn2"):
        AttentionRecorder(model.unet, ["up_blocks.1.attentions.0.transformer_blocks.0.attn2"])
    recorder = AttentionRecorder(model.unet, [SPATIAL_UP])
    with pytest.raises(ValueError, match="empty"):
        with recorder.record(num_frames=2, latent_size=(16, 16), query_region=torch.zeros(16, 16)):
            pass
