"""Attention maps of a GenProp run, ready to draw over frames.

Two ways to record one window of the pipeline: for one query region
(``record_attention``: engine.genprop.attention_maps averages each layer's attention
over the region's tokens and over heads), or for every query cell at once
(``record_attention_grid`` -> ``AttentionRecord``), so the review answers any click
from one recording instead of re-running the denoise. Maps are kept per layer, step and
frame at the layer's own (pooled) resolution, with the geometry to draw them over the
source frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

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


# ---------------------------------------------------------------------- a record for any click
#: ``attention_query`` value that records maps for every query cell (answer any click later).
GRID = "grid"
#: Query cells per side (at most; a layer with fewer tokens uses its own resolution).
QUERY_CELLS = 16
#: Key (map) resolution kept per side (at most); a map is drawn scaled to the frame anyway.
MAP_SIDE = 32
#: Memory the record may take; beyond it, evenly spaced steps (always the last) are kept.
RECORD_BUDGET_BYTES = 384 * 2**20


def _grid(size: tuple[int, int], cells: int) -> tuple[int, int]:
    h, w = size
    return min(h, cells), min(w, cells)


@dataclass
class AttentionRecord:
    """G's spatial self-attention of one window for every query cell: any click is answered from it.

    spatial: layer -> ``[steps, frames, qh, qw, kh, kw]`` float16: where the tokens of
        query cell (i, j) of a frame look within that frame, at the layer's resolution
        (query cells and keys average-pooled to at most ``QUERY_CELLS`` / ``MAP_SIDE``).
    steps: the denoising steps kept (1-based), in order.
    space: the model-space geometry, to map clicks and maps between canvas and model.
    """

    spatial: dict[str, np.ndarray] = field(default_factory=dict)
    steps: tuple[int, ...] = ()
    space: ModelSpace | None = None

    @property
    def num_frames(self) -> int:
        maps = next(iter(self.spatial.values()), None)
        return 0 if maps is None else int(maps.shape[1])

    @property
    def num_steps(self) -> int:
        """How many denoising steps were kept (see ``steps``)."""
        return len(self.steps)

    def query_weights(self, layer: str, x: float, y: float) -> np.ndarray:
        """``[qh, qw]`` bilinear weights of the query cells around canvas pixel (x, y)."""
        qh, qw = self.spatial[layer].shape[2:4]
        if self.space is not None:
            sp = self.space
            mx = sp.pad_left + (x + 0.5) * sp.content_width / sp.source_width
            my = sp.pad_top + (y + 0.5) * sp.content_height / sp.source_height
            u, v = mx / sp.model_width, my / sp.model_height
        else:
            u, v = x, y  # already normalised
        gx, gy = np.clip(u * qw - 0.5, 0, qw - 1), np.clip(v * qh - 0.5, 0, qh - 1)
        x0, y0 = int(np.floor(gx)), int(np.floor(gy))
        x1, y1 = min(x0 + 1, qw - 1), min(y0 + 1, qh - 1)
        fx, fy = gx - x0, gy - y0
        weights = np.zeros((qh, qw), np.float32)
        for yy, xx, wgt in ((y0, x0, (1 - fx) * (1 - fy)), (y0, x1, fx * (1 - fy)), (y1, x0, (1 - fx) * fy), (y1, x1, fx * fy)):
            weights[yy, xx] += wgt
        return weights

    def overlay(self, layer: str, step_index: int, frame: int, x: float, y: float) -> np.ndarray:
        """``[H, W]`` float32 in 0..1 at the edited canvas size: attention from the clicked point."""
        if layer not in self.spatial:
            raise KeyError(f"no spatial attention recorded for layer {layer!r}; recorded: {sorted(self.spatial)}")
        maps = self.spatial[layer]
        if not (0 <= step_index < maps.shape[0] and 0 <= frame < maps.shape[1]):
            raise IndexError(f"step {step_index} / frame {frame} outside the recorded {maps.shape[0]} x {maps.shape[1]}")
        m = np.einsum("ij,ijkl->kl", self.query_weights(layer, x, y), maps[step_index, frame].astype(np.float32))
        m = (m - m.min()) / max(float(m.max() - m.min()), 1e-12)
        if self.space is None:
            return m
        model = cv2.resize(m, self.space.model_size, interpolation=cv2.INTER_LINEAR)
        return np.clip(self.space.from_model(model), 0.0, 1.0)


class _GridProcessor:
    """Wraps a spatial attention processor: the output is the original one's, and the probabilities
    of the kept steps are pooled over query cells and keys and stored (conditional half only)."""

    def __init__(self, inner: Any, size: tuple[int, int], frames: int, keep: set[int], store: list) -> None:
        self.inner, self.size, self.frames, self.keep, self.store = inner, size, frames, keep, store
        self.calls = 0

    def __call__(self, attn: Any, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        out = self.inner(attn, hidden_states, *args, **kwargs)
        self.calls += 1
        if self.calls in self.keep:
            with torch.no_grad():
                self.store.append(self._pooled(attn, hidden_states))
        return out

    def _pooled(self, attn: Any, hidden: torch.Tensor) -> np.ndarray:
        rows, tokens = hidden.shape[:2]
        h, w = self.size
        if tokens != h * w or rows % self.frames:
            raise ValueError(f"{rows}x{tokens} tokens do not fit {self.frames} frames of {self.size}")
        last = hidden[-self.frames :]  # the guided (conditional) half under classifier-free guidance
        query = attn.head_to_batch_dim(attn.to_q(last))
        key = attn.head_to_batch_dim(attn.to_k(last))
        probs = attn.get_attention_scores(query, key, None).float()
        probs = probs.reshape(self.frames, attn.heads, tokens, tokens).mean(dim=1)  # [t, q, k]
        qh, qw = _grid(self.size, QUERY_CELLS)
        kh, kw = _grid(self.size, MAP_SIDE)
        # pool the query tokens into cells: [t, k, h, w] -> [t, k, qh, qw]
        by_query = torch.nn.functional.adaptive_avg_pool2d(probs.transpose(1, 2).reshape(self.frames, tokens, h, w), (qh, qw))
        # pool the keys: [t, qh*qw, h, w] -> [t, qh*qw, kh, kw]
        cells = by_query.reshape(self.frames, h * w, qh * qw).transpose(1, 2).reshape(self.frames, qh * qw, h, w)
        pooled = torch.nn.functional.adaptive_avg_pool2d(cells, (kh, kw))
        return pooled.reshape(self.frames, qh, qw, kh, kw).to(torch.float16).cpu().numpy()


def record_steps(num_steps: int, bytes_per_step: int, budget: int = RECORD_BUDGET_BYTES) -> tuple[int, ...]:
    """The 1-based steps to keep within ``budget``: all if they fit, else evenly spaced ones ending at the last."""
    fits = max(1, budget // max(1, bytes_per_step))
    if fits >= num_steps:
        return tuple(range(1, num_steps + 1))
    picks = np.linspace(num_steps, 1, fits).round().astype(int)
    return tuple(sorted({int(p) for p in picks}))


@contextmanager
def record_attention_grid(
    unet: torch.nn.Module, num_frames: int, latent_size: tuple[int, int], num_steps: int
) -> Iterator[AttentionRecord]:
    """Record every spatial self-attention layer of G for all query cells while the block runs.

    The yielded record is filled when the block exits (``space`` is left to the caller).
    """
    from engine.genprop.attention_maps import _level_size
    from engine.genprop.backbones import svd

    arch = svd.architecture(unet.config)
    modules = dict(unet.named_modules())
    layers = {n: _level_size(latent_size, svd.attention_layer_level(n, arch)) for n, k in attention_layers(unet).items()}
    layers = {n: s for n, s in layers.items() if attention_layers(unet)[n] == "spatial"}
    per_step = sum(num_frames * np.prod(_grid(s, QUERY_CELLS)) * np.prod(_grid(s, MAP_SIDE)) * 2 for s in layers.values())
    steps = record_steps(num_steps, int(per_step))
    stores: dict[str, list] = {n: [] for n in layers}
    originals = {n: modules[n].processor for n in layers}
    record = AttentionRecord(steps=steps)
    try:
        for n, size in layers.items():
            modules[n].set_processor(_GridProcessor(originals[n], size, num_frames, set(steps), stores[n]))
        yield record
    finally:
        for n in layers:
            modules[n].set_processor(originals[n])
    record.spatial = {n: np.stack(maps) for n, maps in stores.items() if maps}
