"""GenProp network: G (SVD U-Net) + Selective Content Encoder + Mask Prediction Decoder.

See docs/genprop_model.md for the design. Backbone-specific code lives in
``engine.genprop.backbones``. Names are imported on first use (PEP 562), so that light
submodules (``file_names``) can be read without loading torch and diffusers.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AttentionMap": "attention_maps",
    "AttentionRecorder": "attention_maps",
    "attention_layers": "attention_maps",
    "load_unet": "backbones.svd",
    "svd_xt_unet_config": "backbones.svd",
    "tiny_unet_config": "backbones.svd",
    "GenPropConfig": "config",
    "freeze_backbone": "freezing",
    "trainable_parameter_names": "freezing",
    "GenPropHeads": "heads",
    "GenPropModel": "model",
    "GenPropOutput": "model",
    "MaskPredictionDecoder": "mpd",
    "upsample_mask_logits": "mpd",
    "SCEOutput": "sce",
    "SelectiveContentEncoder": "sce",
    "TaskEmbedding": "task_embedding",
    "CorruptWeightsError": "weights",
    "GenPropWeightsError": "weights",
    "MissingWeightsError": "weights",
    "WeightsMismatchError": "weights",
}

__all__ = sorted([*_WHERE, "Task"])


def __getattr__(name: str) -> Any:
    if name == "Task":
        from engine.tasks import Task

        return Task
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
