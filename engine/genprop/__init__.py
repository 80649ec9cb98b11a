"""GenProp network: G (SVD U-Net) + Selective Content Encoder + Mask Prediction Decoder.

See docs/genprop_model.md for the design. Backbone-specific code lives in
``engine.genprop.backbones``.
"""

from engine.genprop.attention_maps import AttentionMap, AttentionRecorder, attention_layers
from engine.genprop.backbones.svd import load_unet, svd_xt_unet_config, tiny_unet_config
from engine.genprop.config import GenPropConfig
from engine.genprop.freezing import freeze_backbone, trainable_parameter_names
from engine.genprop.heads import GenPropHeads
from engine.genprop.model import GenPropModel, GenPropOutput
from engine.genprop.mpd import MaskPredictionDecoder, upsample_mask_logits
from engine.genprop.sce import SCEOutput, SelectiveContentEncoder
from engine.genprop.task_embedding import TaskEmbedding
from engine.genprop.weights import (
    CorruptWeightsError,
    GenPropWeightsError,
    MissingWeightsError,
    WeightsMismatchError,
)
from engine.tasks import Task

__all__ = [
    "AttentionMap",
    "AttentionRecorder",
    "CorruptWeightsError",
    "GenPropConfig",
    "GenPropHeads",
    "GenPropModel",
    "GenPropOutput",
    "GenPropWeightsError",
    "MaskPredictionDecoder",
    "MissingWeightsError",
    "SCEOutput",
    "SelectiveContentEncoder",
    "Task",
    "TaskEmbedding",
    "WeightsMismatchError",
    "attention_layers",
    "freeze_backbone",
    "load_unet",
    "svd_xt_unet_config",
    "tiny_unet_config",
    "trainable_parameter_names",
    "upsample_mask_logits",
]
