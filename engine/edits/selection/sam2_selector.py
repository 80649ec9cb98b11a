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
from pathlib import Path
from typing import Any

import numpy as np

from engine.edits.masks import check_frame
from engine.edits.selection.base import SelectionResult, SelectorUnavailableError, check_prompt, frame_key
from engine.edits.selection.sam2_weights import (
    SAM2_MODELS,
    Sam2Model,
    identify_sam2,
    load_sam2_state,
    read_sam2_state,
    sam2_model,
)

log = logging.getLogger(__name__)


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
        # Read the file first: a bad path or file fails in milliseconds, not after a build;
        # the model is built from the checkpoint's own config (its size wins over ``size``).
        state = None if checkpoint is None else read_sam2_state(Path(checkpoint))
        if state is not None:
            arch = identify_sam2(state, checkpoint)
            if arch.size != size:
                log.info("SAM2 checkpoint %s holds %s (asked for %s): using the checkpoint's own", checkpoint, arch.name, size)
            size, config = arch.size, arch.config
        else:
            config = spec.config
        with warnings.catch_warnings():
            # sam2's modules call torch.jit.script, which torch now flags as deprecated;
            # that is sam2's business and says nothing to our users.
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
            model = build_sam2(config, ckpt_path=None, device="cpu")
            if state is not None:
                load_sam2_state(model, state, Path(checkpoint))
            self.model = model.to(device).eval()
            self._predictor = SAM2ImagePredictor(self.model)
        self.size = size
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        version = "2.1" if state is None else arch.version
        self.backend = f"sam{version}-hiera-{size}" + (" (random weights)" if checkpoint is None else "")
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


__all__ = ["SAM2_MODELS", "Sam2Model", "Sam2Selector", "sam2_model"]
