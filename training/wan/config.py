"""The ``wan:`` section of a training config (light: no torch). Used when ``model.backbone`` is Wan."""

from __future__ import annotations

from dataclasses import dataclass

WAN_BACKBONES = ("tiny_wan", "wan")
SCE_INITS = ("copy", "vace")
INPUT_PROJECTIONS = ("identity", "zero")


@dataclass
class WanConfig:
    """GenProp-on-Wan choices the paper leaves open (docs/training.md, "The Wan backbone").

    sce_init: ``copy`` (SCE block i = G's block i, the paper's recipe) or ``vace`` (the SCE starts
        from G's pretrained VACE blocks; N = G's VACE layer count, ``model.num_sce_blocks`` ignored).
    sce_in_channels: 16 (the original video's latents) or 96 (VACE's context layout, all "keep");
        ``null``: 16 for ``copy``, 96 for ``vace``.
    sce_input_projection: block 0's fusion of G's tokens, ``c = proj_in(c) + x``: ``identity`` or ``zero``.
    prompt: the text G is conditioned on during training (encoded once by umT5; GenProp is image-driven).
    flow_shift: timesteps are sampled as ``s u / (1 + (s - 1) u)``, u ~ U(0, 1) (Wan's shift; 3 at 480p).
    max_sequence_length: umT5 tokens (Wan: 512).
    tiny_layers: blocks of the random ``tiny_wan`` transformer (tests, CPU demos).
    """

    sce_init: str = "copy"
    sce_in_channels: int | None = None
    sce_input_projection: str = "identity"
    prompt: str = ""
    flow_shift: float = 3.0
    max_sequence_length: int = 512
    tiny_layers: int = 3

    def validate(self, key: str) -> None:
        from training.config import ConfigError  # imported here: training.config imports this module

        if self.sce_init not in SCE_INITS:
            raise ConfigError(f"{key}.sce_init must be one of {SCE_INITS}, got {self.sce_init!r}")
        if self.sce_in_channels not in (None, 16, 96):
            raise ConfigError(f"{key}.sce_in_channels must be 16, 96 or null, got {self.sce_in_channels!r}")
        if self.sce_init == "vace" and self.sce_in_channels == 16:
            raise ConfigError(f"{key}.sce_in_channels must be 96 (VACE's layout) with sce_init 'vace'")
        if self.sce_input_projection not in INPUT_PROJECTIONS:
            raise ConfigError(f"{key}.sce_input_projection must be one of {INPUT_PROJECTIONS}, got {self.sce_input_projection!r}")
        if self.flow_shift <= 0:
            raise ConfigError(f"{key}.flow_shift must be positive, got {self.flow_shift}")
        if self.max_sequence_length < 1 or self.tiny_layers < 2:
            raise ConfigError(f"{key}: max_sequence_length must be >= 1 and tiny_layers >= 2")
