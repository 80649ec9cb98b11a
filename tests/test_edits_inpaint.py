"""Inpainting backends: OpenCV always; diffusers through a tiny random-weight pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.edits import InpaintUnavailableError, available_methods, inpaint, remove


def test_methods_listed_and_unknown_refused() -> None:
    assert {"auto", "telea", "ns", "diffusers"} <= set(available_methods())
    frame = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="'lama'"):
        inpaint(frame, np.full((8, 8), 255, np.uint8), method="lama")


def test_missing_diffusers_model_is_named(tmp_path: Path) -> None:
    frame = np.zeros((16, 16, 3), np.uint8)
    mask = np.zeros((16, 16), np.uint8)
    mask[4:8, 4:8] = 255
    with pytest.raises(InpaintUnavailableError, match="needs option model"):
        remove(frame, mask, method="diffusers")
    missing = str(tmp_path / "no_such_pipeline")
    with pytest.raises(InpaintUnavailableError, match="no_such_pipeline"):
        remove(frame, mask, method="diffusers", options={"model": missing})


def save_tiny_inpaint_pipeline(folder: Path) -> Path:
    """A randomly initialised Stable-Diffusion inpainting pipeline small enough for a CPU test."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2, "a</w>": 3}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=8)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=8,
        in_channels=9,  # latents + masked-image latents + mask: the inpainting layout
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=8,
        norm_num_groups=4,
        attention_head_dim=2,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=16,
    )
    text_config = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=8,
        intermediate_size=16,
        num_attention_heads=2,
        num_hidden_layers=1,
        max_position_embeddings=8,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    pipe = StableDiffusionInpaintPipeline(
        unet=unet,
        vae=vae,
        text_encoder=CLIPTextModel(text_config),
        tokenizer=tokenizer,
        scheduler=DDIMScheduler(steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder / "pipe")
    return folder / "pipe"


@pytest.mark.slow
def test_diffusers_backend_with_tiny_random_pipeline(tmp_path: Path) -> None:
    """The real diffusers path: load from a folder, fill only the mask, repeatable by seed."""
    model = str(save_tiny_inpaint_pipeline(tmp_path))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (30, 44, 3), dtype=np.uint8)  # not a multiple of 8 on purpose
    mask = np.zeros((30, 44), np.uint8)
    mask[10:20, 10:30] = 255
    options = {"model": model, "steps": 2, "prompt": "a", "seed": 3}
    out, op = remove(frame, mask, method="diffusers", dilate=0, options=options)
    assert op.params["method"] == "diffusers" and op.params["options"] == options
    assert np.array_equal(out[op.mask == 0], frame[op.mask == 0])
    assert (out[op.mask > 0] != frame[op.mask > 0]).any()
    again, _ = remove(frame, mask, method="diffusers", dilate=0, options=options)
    assert np.array_equal(out, again), "same seed, same fill"
