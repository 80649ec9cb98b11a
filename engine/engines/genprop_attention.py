"""Attention maps of a GenProp run for a query region, ready to draw over frames.

The recorder (engine.genprop.attention_maps) averages each layer's attention over the
query tokens inside a region and over heads. Here we run it around one window of the
pipeline and keep, per layer, one map per denoising step and frame at the layer's own
resolution (small), plus the geometry needed to draw a map over the source frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from engine.genprop.attention_maps import AttentionRecorder, attention_layers
from engine.video import ModelSpace


@dataclass
class AttentionResult:
    """Recorded maps of one window.

    spatial: layer -> ``[steps, frames, h_l, w_l]`` float32 (where the region's tokens
        look within their own frame).
    temporal: layer -> ``[steps, frames, frames]`` float32 (how much the region in frame
        t attends to each frame).
    space: the model-space geometry, to draw spatial maps over the edited canvas.
    """

    spatial: dict[str, np.ndarray] = field(default_factory=dict)
    temporal: dict[str, np.ndarray] = field(default_factory=dict)
    space: ModelSpace | None = None

    @property
    def num_steps(self) -> int:
        maps = next(iter(self.spatial.values()), None)
        return 0 if maps is None else int(maps.shape[0])

    def overlay(self, layer: str, step: int, frame: int) -> np.ndarray:
        """``[H, W]`` float32 in 0..1 at the edited canvas size: a spatial map to draw."""
        if layer not in self.spatial:
            raise KeyError(f"no spatial attention recorded for layer {layer!r}; recorded: {sorted(self.spatial)}")
        maps = self.spatial[layer]
        if not (0 <= step < maps.shape[0] and 0 <= frame < maps.shape[1]):
            raise IndexError(f"step {step} / frame {frame} outside the recorded {maps.shape[0]} steps x {maps.shape[1]} frames")
        m = maps[step, frame].astype(np.float32)
        m = (m - m.min()) / max(float(m.max() - m.min()), 1e-12)
        if self.space is None:
            return m
        model = cv2.resize(m, self.space.model_size, interpolation=cv2.INTER_LINEAR)
        return np.clip(self.space.from_model(model), 0.0, 1.0)


def default_layers(unet: torch.nn.Module) -> list[str]:
    """Every spatial and temporal self-attention layer of G (each map is small)."""
    return list(attention_layers(unet))


@contextmanager
def record_attention(
    unet: torch.nn.Module, query_model: np.ndarray, num_frames: int, latent_size: tuple[int, int], layers: list[str] | None = None
) -> Iterator[dict]:
    """Record while the block runs; yields the recorder's live ``maps`` dict."""
    recorder = AttentionRecorder(unet, layers or default_layers(unet))
    region = torch.from_numpy((query_model > 0).astype(np.float32))
    with recorder.record(num_frames=num_frames, latent_size=latent_size, query_region=region) as maps:
        yield maps


def collect(maps: dict, steps: int, space: ModelSpace) -> AttentionResult:
    """Keep the conditional batch entry of the first ``steps`` calls of every layer."""
    result = AttentionResult(space=space)
    for layer, calls in maps.items():
        if not calls:
            continue
        stacked = np.stack([c.probs[-1].float().numpy() for c in calls[:steps]])  # [-1]: the guided (conditional) half
        target = result.spatial if calls[0].kind == "spatial" else result.temporal
        target[layer] = stacked
    return result
