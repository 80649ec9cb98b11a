"""Tiny random Wan2.1-VACE components for tests and benchmarks: the real classes, seconds on a CPU.

Sizes follow diffusers' own ``tests/pipelines/wan/test_wan_vace.py`` (VAE ``base_dim=3``,
transformer 2 heads x 12, 3 layers, VACE layers ``[0, 2]``), except the text side: a tiny
``UMT5EncoderModel`` (the class Wan uses) and a word-level tokenizer built in code, so
nothing comes from the hub.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanVACETransformer3DModel
from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

TEXT_DIM = 32
_WORDS = (
    "a an the of and or with in on to is are its it this that from for by at as be "
    "scene background object objects video frame frames camera motion light lighting shadow shadows "
    "reflection reflections natural realistic consistent clean empty removed inserted recoloured new "
    "colour color wider view same extended seamlessly beyond original perspective texture keeps every "
    "belongs blurry distorted flickering low quality artefacts artifacts watermark text static overexposed "
    "dance monkey dog bird cat tree street car red blue green"
).split()


def tiny_tokenizer(max_length: int = 32) -> PreTrainedTokenizerFast:
    """A word-level tokenizer with T5's special tokens (pad 0, eos 1, unk 2), built in code."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in _WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=max_length
    )


def tiny_text_encoder(vocab_size: int) -> UMT5EncoderModel:
    return UMT5EncoderModel(
        UMT5Config(
            vocab_size=vocab_size,
            d_model=TEXT_DIM,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
        )
    )


def tiny_vae() -> AutoencoderKLWan:
    """Wan's causal 3D VAE at diffusers' test size (8x spatial, 4x temporal, 16 latent channels)."""
    return AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )


def tiny_transformer_config(num_layers: int = 3, vace_layers: tuple[int, ...] = (0, 2)) -> dict[str, Any]:
    return {
        "patch_size": (1, 2, 2),
        "num_attention_heads": 2,
        "attention_head_dim": 12,
        "in_channels": 16,
        "out_channels": 16,
        "text_dim": TEXT_DIM,
        "freq_dim": 256,
        "ffn_dim": 32,
        "num_layers": num_layers,
        "cross_attn_norm": True,
        "qk_norm": "rms_norm_across_heads",
        "rope_max_seq_len": 32,
        "vace_layers": list(vace_layers),
        "vace_in_channels": 96,
    }


def tiny_scheduler() -> FlowMatchEulerDiscreteScheduler:
    return FlowMatchEulerDiscreteScheduler(shift=3.0)


def tiny_vace_components(seed: int = 0, num_layers: int = 3, vace_layers: tuple[int, ...] = (0, 2)) -> dict[str, Any]:
    """``tokenizer, text_encoder, vae, scheduler, transformer`` of a WanVACEPipeline, random weights."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    vae = tiny_vae()
    torch.manual_seed(seed)
    text_encoder = tiny_text_encoder(len(tokenizer))
    torch.manual_seed(seed)
    transformer = WanVACETransformer3DModel(**tiny_transformer_config(num_layers, vace_layers))
    for module in (vae, text_encoder, transformer):
        module.eval()
    return {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": tiny_scheduler(),
        "transformer": transformer,
    }


def save_tiny_vace_pipeline(folder: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write a tiny Wan VACE pipeline folder in diffusers' layout (safetensors), as the hub has it."""
    from diffusers import WanVACEPipeline

    folder = Path(folder)
    WanVACEPipeline(**tiny_vace_components(seed)).save_pretrained(folder, safe_serialization=True)
    return folder
