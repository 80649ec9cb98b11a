"""Opt-in recorder of spatial / temporal self-attention maps for drawing over frames.

While recording, each chosen attention layer's processor is wrapped: the original
processor still computes the layer's output (so outputs are bit-identical with recording
on or off), and the wrapper additionally computes the attention probabilities, averages
them over heads and over the query tokens inside a query region, and stores the result
on the CPU. Outside :meth:`AttentionRecorder.record` nothing is installed: zero cost.

Map shapes (documented contract):

* spatial layer: ``[batch, frames, h_l, w_l]`` -- for every frame, where the region's
  query tokens look within the same frame, at the layer's resolution ``h_l x w_l``;
* temporal layer: ``[batch, frames, frames]`` -- row ``t`` says how much the region's
  tokens in frame ``t`` attend to each frame.

``batch`` is the batch G actually runs (doubled under classifier-free guidance).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.genprop.backbones import svd


@dataclass
class AttentionMap:
    """One recorded call of one layer."""

    layer: str
    kind: str  # "spatial" or "temporal"
    probs: torch.Tensor


@dataclass
class _Context:
    num_frames: int
    latent_size: tuple[int, int]
    region: torch.Tensor | None  # [frames or 1, H, W] float, at latent resolution
    maps: dict[str, list[AttentionMap]] = field(default_factory=dict)


def attention_layers(module: nn.Module) -> dict[str, str]:
    """All drawable self-attention layers of ``module``: name -> "spatial" | "temporal"."""
    found = {}
    for name, sub in module.named_modules():
        kind = svd.attention_layer_kind(name, sub)
        if kind is not None:
            found[name] = kind
    return found


def _level_size(latent_size: tuple[int, int], level: int) -> tuple[int, int]:
    """Spatial size after ``level`` stride-2 downsamplers (each rounds up)."""
    h, w = latent_size
    for _ in range(level):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    return h, w


def _region_weights(region: torch.Tensor | None, size: tuple[int, int], frames: int) -> torch.Tensor | None:
    """``[frames, h*w]`` normalised query weights at a layer's resolution (``None`` = all)."""
    if region is None:
        return None
    resized = F.adaptive_avg_pool2d(region[:, None], size)[:, 0].flatten(1).expand(frames, -1)
    total = resized.sum(dim=1, keepdim=True)
    # A frame where the region is empty gets an all-zero map rather than an error:
    # objects leave the frame.
    return resized / total.clamp_min(torch.finfo(resized.dtype).tiny)


class _RecordingProcessor:
    def __init__(self, inner: Any, name: str, kind: str, level: int, context: _Context) -> None:
        self.inner, self.name, self.kind, self.level, self.context = inner, name, kind, level, context

    def __call__(self, attn: nn.Module, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        out = self.inner(attn, hidden_states, *args, **kwargs)
        with torch.no_grad():
            self._record(attn, hidden_states)
        return out

    def _record(self, attn: Any, hidden: torch.Tensor) -> None:
        query = attn.head_to_batch_dim(attn.to_q(hidden))
        key = attn.head_to_batch_dim(attn.to_k(hidden))
        probs = attn.get_attention_scores(query, key, None).float()
        rows, tokens, heads = hidden.shape[0], hidden.shape[1], attn.heads
        probs = probs.reshape(rows, heads, tokens, tokens).mean(dim=1)  # [rows, q, k]
        ctx = self.context
        t = ctx.num_frames
        size = _level_size(ctx.latent_size, self.level)
        locations = size[0] * size[1]
        if self.kind == "spatial":
            if tokens != locations or rows % t:
                raise ValueError(f"{self.name}: {rows}x{tokens} tokens do not fit {t} frames of {size}.")
            batch = rows // t
            weights = _region_weights(ctx.region, size, t)
            if weights is None:
                result = probs.mean(dim=1)
            else:
                result = torch.einsum("btqk,tq->btk", probs.reshape(batch, t, tokens, tokens), weights.to(probs))
            result = result.reshape(batch, t, *size)
        else:
            if tokens != t or rows % locations:
                raise ValueError(f"{self.name}: {rows}x{tokens} tokens do not fit {t} frames of {size}.")
            batch = rows // locations
            weights = _region_weights(ctx.region, size, t)  # [t, locations]
            probs = probs.reshape(batch, locations, t, t)
            if weights is None:
                result = probs.mean(dim=1)
            else:
                result = torch.einsum("bsqk,qs->bqk", probs, weights.to(probs))
        self.context.maps.setdefault(self.name, []).append(AttentionMap(self.name, self.kind, result.cpu()))


class AttentionRecorder:
    """Record head-averaged self-attention maps of chosen layers of G (an SVD U-Net).

    Usage::

        recorder = AttentionRecorder(model.unet, layers=["up_blocks.1.attentions.0.transformer_blocks.0.attn1"])
        with recorder.record(num_frames=T, latent_size=(h, w), query_region=mask) as maps:
            model(...)
        maps["up_blocks.1.attentions.0.transformer_blocks.0.attn1"][0].probs
    """

    def __init__(self, unet: nn.Module, layers: Sequence[str] | None = None) -> None:
        available = attention_layers(unet)
        chosen = list(available) if layers is None else list(layers)
        unknown = [name for name in chosen if name not in available]
        if unknown:
            raise ValueError(f"Not self-attention layers of this model: {unknown}. Known: {list(available)[:8]} ...")
        modules = dict(unet.named_modules())
        arch = svd.architecture(unet.config)
        self.layers = {name: (modules[name], available[name], svd.attention_layer_level(name, arch)) for name in chosen}

    @contextmanager
    def record(
        self,
        *,
        num_frames: int,
        latent_size: tuple[int, int],
        query_region: torch.Tensor | None = None,
    ) -> Iterator[dict[str, list[AttentionMap]]]:
        """Install the recording processors for the duration of the block.

        query_region: ``[H, W]`` or ``[frames, H, W]`` mask (bool or weights) at any
            resolution proportional to the latent; ``None`` averages over all queries.
        """
        region = None
        if query_region is not None:
            region = query_region.detach().float().cpu()
            if region.ndim == 2:
                region = region[None]
            if region.ndim != 3 or region.shape[0] not in (1, num_frames):
                raise ValueError(f"query_region must be [H, W] or [frames, H, W], got {tuple(query_region.shape)}.")
            region = F.adaptive_avg_pool2d(region[:, None], latent_size)[:, 0]
            if not bool((region > 0).any()):
                raise ValueError("query_region is empty: select at least one pixel.")
        context = _Context(num_frames, tuple(latent_size), region)
        originals = {name: attn.processor for name, (attn, _, _) in self.layers.items()}
        try:
            for name, (attn, kind, level) in self.layers.items():
                attn.set_processor(_RecordingProcessor(originals[name], name, kind, level, context))
            yield context.maps
        finally:
            for name, (attn, _, _) in self.layers.items():
                attn.set_processor(originals[name])
