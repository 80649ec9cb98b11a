"""GenPropHeads: everything GenProp trains (SCE, MPD, task embeddings), saved as ONE folder.

G is never saved here: it stays the untouched SVD checkpoint. The folder holds
``config.json`` (this class's config, including the architecture of the G it was built
for) and ``diffusion_pytorch_model.safetensors`` with keys ``sce.*``, ``mpd.*``,
``task_embedding.*``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from engine.genprop import weights
from engine.genprop.backbones import svd
from engine.genprop.config import GenPropConfig
from engine.genprop.mpd import MaskPredictionDecoder
from engine.genprop.placement import move_like
from engine.genprop.sce import SelectiveContentEncoder
from engine.genprop.task_embedding import TaskEmbedding
from engine.tasks import TASK_NAMES


class GenPropHeads(ModelMixin, ConfigMixin):
    """The trainable GenProp parts for one backbone architecture."""

    config_name = weights.CONFIG_NAME

    @register_to_config
    def __init__(
        self,
        unet_architecture: dict[str, Any],
        backbone: str = svd.BACKBONE_NAME,
        num_sce_blocks: int = 2,
        sce_include_mid: bool = False,
        sce_in_channels: int = 4,
        fuse_backbone_features: bool = True,
        mpd_hidden_channels: int = 64,
        tasks: tuple[str, ...] = TASK_NAMES,
        mpd_edit_cue: bool = False,
    ) -> None:
        super().__init__()
        if backbone != svd.BACKBONE_NAME:
            raise ValueError(f"Unknown backbone {backbone!r}; this build supports {svd.BACKBONE_NAME!r}.")
        arch = svd.architecture(unet_architecture)
        self.sce = SelectiveContentEncoder(arch, num_sce_blocks, sce_include_mid, sce_in_channels, fuse_backbone_features)
        cue_channels = arch["in_channels"] + sce_in_channels if mpd_edit_cue else 0
        self.mpd = MaskPredictionDecoder(arch, mpd_hidden_channels, cue_channels)
        self.task_embedding = TaskEmbedding(tasks, svd.time_embed_dim(arch))

    @property
    def genprop_config(self) -> GenPropConfig:
        return GenPropConfig.from_dict(dict(self.config))

    @classmethod
    def from_unet(cls, unet: nn.Module, config: GenPropConfig | None = None) -> GenPropHeads:
        """Fresh heads for G: SCE/MPD copied from G, projections and task table at zero."""
        config = config or GenPropConfig()
        arch = svd.architecture(unet.config)
        heads = cls(arch, svd.BACKBONE_NAME, **config.to_dict())
        heads.sce.load_from_unet(unet)
        heads.mpd.load_from_unet(unet)
        return move_like(heads, unet)

    def save_pretrained(self, save_directory: str | os.PathLike[str], **_: Any) -> None:  # type: ignore[override]
        """Write config.json + safetensors (never pickle) to ``save_directory``."""
        weights.save_weights(self, save_directory)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike[str], **_: Any) -> GenPropHeads:  # type: ignore[override]
        """Load a folder written by :meth:`save_pretrained`; refuses anything that does not fit."""
        config = weights.read_config(folder)
        try:
            heads = cls.from_config(config)
        except (TypeError, ValueError, KeyError) as exc:
            raise weights.WeightsMismatchError(
                f"{Path(folder) / weights.CONFIG_NAME} does not describe GenProp heads: {exc}"
            ) from exc
        return weights.load_weights_into(heads, folder)

    def check_backbone(self, unet: nn.Module) -> None:
        """Refuse a G whose architecture differs from the one these heads were built for."""
        problems = svd.architecture_mismatch(self.config.unet_architecture, unet.config)
        if problems:
            raise weights.WeightsMismatchError("GenProp heads do not fit this backbone: " + "; ".join(problems))
