"""SAM2 selector: the primary click-to-mask tool, wrapping ``sam2``'s image predictor.

``set_image`` runs the Hiera image encoder (the expensive part: ~1.6 s for hiera-tiny on
a laptop CPU at SAM2's fixed 1024x1024 input) and caches the embedding per frame content,
so returning to a frame is free; ``predict`` runs only the prompt encoder and mask
decoder (tens of milliseconds).
"""

from __future__ import annotations

import logging
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.edits.masks import check_frame
from engine.edits.selection.base import SelectionResult, SelectorUnavailableError, check_prompt, frame_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sam2Model:
    """One SAM2.1 size: package config, checkpoint file name, hub id."""

    config: str
    filename: str
    hub_id: str


SAM2_MODELS: dict[str, Sam2Model] = {
    "tiny": Sam2Model("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt", "facebook/sam2.1-hiera-tiny"),
    "small": Sam2Model("configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt", "facebook/sam2.1-hiera-small"),
    "base+": Sam2Model("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt", "facebook/sam2.1-hiera-base-plus"),
    "large": Sam2Model("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt", "facebook/sam2.1-hiera-large"),
}


def sam2_model(size: str) -> Sam2Model:
    """The model entry for ``size`` (tiny / small / base+ / large)."""
    if size not in SAM2_MODELS:
        raise ValueError(f"unknown SAM2 size {size!r}; choose one of {list(SAM2_MODELS)}")
    return SAM2_MODELS[size]


def _read_state_dict(checkpoint: Path) -> dict[str, Any]:
    """Read a SAM2 checkpoint safely (``weights_only``) with errors that say what failed."""
    import torch

    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle/zip/runtime errors for bad files
        raise SelectorUnavailableError(f"cannot read SAM2 checkpoint {checkpoint}: {exc}") from exc
    if isinstance(state, dict) and "model" in state:
        state = state["model"]
    if not isinstance(state, dict):
        raise SelectorUnavailableError(f"SAM2 checkpoint {checkpoint} holds no state dict")
    return state


def _load_state_dict(model: Any, state: dict[str, Any], checkpoint: Path) -> None:
    """Copy ``state`` into ``model``; a key mismatch usually means the wrong size."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SelectorUnavailableError(
            f"SAM2 checkpoint {checkpoint} does not match the model config "
            f"({len(missing)} missing keys e.g. {list(missing)[:3]}, "
            f"{len(unexpected)} unexpected e.g. {list(unexpected)[:3]}); is it the right size?"
        )


class Sam2Selector:
    """SAM2.1 image predictor with the :class:`~engine.edits.selection.base.Selector` API.

    Args:
        size: tiny / small / base+ / large.
        checkpoint: path to the ``.pt`` checkpoint. ``None`` is allowed only with
            ``random_weights=True`` (tests and benchmarks: same cost, meaningless masks).
        device: torch device string.
        cache_size: how many frame embeddings to keep.
    """

    is_fallback = False

    def __init__(
        self,
        size: str = "tiny",
        checkpoint: str | Path | None = None,
        device: str = "cpu",
        random_weights: bool = False,
        cache_size: int = 4,
    ) -> None:
        spec = sam2_model(size)
        if checkpoint is None and not random_weights:
            raise SelectorUnavailableError(
                f"Sam2Selector needs a checkpoint ({spec.filename}, hub id {spec.hub_id}); "
                "pass random_weights=True only for tests"
            )
        if not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cache_size must be an int >= 1, got {cache_size!r}")
        try:
            from sam2.build_sam import build_sam2
            from sam2.sam2_image_predictor import SAM2ImagePredictor
        except ImportError as exc:
            raise SelectorUnavailableError(f"the sam2 package cannot be imported: {exc}") from exc
        # Read the file first: a bad path or file fails in milliseconds, not after a build.
        state = None if checkpoint is None else _read_state_dict(Path(checkpoint))
        with warnings.catch_warnings():
            # sam2's modules call torch.jit.script, which torch now flags as deprecated;
            # that is sam2's business and says nothing to our users.
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
            model = build_sam2(spec.config, ckpt_path=None, device="cpu")
            if state is not None:
                _load_state_dict(model, state, Path(checkpoint))
            self.model = model.to(device).eval()
            self._predictor = SAM2ImagePredictor(self.model)
        self.size = size
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.backend = f"sam2.1-hiera-{size}" + (" (random weights)" if checkpoint is None else "")
        self._cache: OrderedDict[str, tuple[Any, list[tuple[int, int]]]] = OrderedDict()
        self._cache_size = cache_size
        self._key: str | None = None

    def set_image(self, frame: np.ndarray) -> None:
        """Encode ``frame`` (``[H, W, 3]`` uint8 RGB) unless its embedding is cached."""
        check_frame(frame)
        key = frame_key(frame)
        if key == self._key:
            return
        p = self._predictor
        if key in self._cache:
            # SAM2ImagePredictor keeps its state in these attributes; restoring them is
            # what set_image would compute, without re-running the encoder.
            p._features, p._orig_hw = self._cache[key]
            p._is_image_set, p._is_batch = True, False
            self._cache.move_to_end(key)
        else:
            p.set_image(frame)
            self._cache[key] = (p._features, p._orig_hw)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        self._key = key

    def predict(
        self,
        points: np.ndarray | list | None,
        labels: np.ndarray | list | None,
        box: np.ndarray | list | None = None,
        multimask: bool = True,
    ) -> SelectionResult:
        """Masks for clicks and/or a box, best first (3 with ``multimask``, else 1)."""
        if self._key is None:
            raise RuntimeError("call set_image(frame) before predict()")
        h, w = self._predictor._orig_hw[0]
        prompt = check_prompt(points, labels, box, (h, w))
        has_points = len(prompt.points) > 0
        masks, scores, _ = self._predictor.predict(
            point_coords=prompt.points if has_points else None,
            point_labels=prompt.labels if has_points else None,
            box=prompt.box,
            multimask_output=multimask,
        )
        order = np.argsort(scores)[::-1]
        return SelectionResult(
            masks=np.where(masks[order] > 0, np.uint8(255), np.uint8(0)),
            scores=np.asarray(scores[order], np.float32),
            backend=self.backend,
            is_fallback=False,
        )
