"""Typed GenProp configuration: the choices the paper leaves open, as config values."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from engine.tasks import TASK_NAMES


@dataclass(frozen=True)
class GenPropConfig:
    """What to build around a backbone G.

    num_sce_blocks: how many of G's down blocks the SCE copies (the paper's N).
    sce_include_mid: also copy G's mid block and inject a mid residual.
    sce_in_channels: channels of the SCE's input (the ORIGINAL video's VAE latents, 4 for
        SVD); the SCE's conv_in is initialised from G's conv_in weights of the first
        ``sce_in_channels`` input channels (G's noisy-latent channels).
    fuse_backbone_features: add a zero-initialised 1x1 projection of G's conv_in output to
        the SCE's conv_in output, so the SCE can see what G is being asked to produce.
    mpd_hidden_channels: width of the MPD's per-pixel MLP (1x1 convs) after the mirrored block.
    mpd_edit_cue: the MPD also reads the edit cue (G's input latents ++ the SCE's input latents,
        ``engine.genprop.mpd.edit_cue``) -- a stated deviation from the paper (docs/training.md);
        ``False`` is the paper's MPD (G's last-block inputs only).
    tasks: names of the task-embedding rows (order matters; see ``engine.tasks.Task``).
    """

    num_sce_blocks: int = 2
    sce_include_mid: bool = False
    sce_in_channels: int = 4
    fuse_backbone_features: bool = True
    mpd_hidden_channels: int = 64
    mpd_edit_cue: bool = False
    tasks: tuple[str, ...] = TASK_NAMES

    def __post_init__(self) -> None:
        if self.num_sce_blocks < 1:
            raise ValueError(f"num_sce_blocks must be >= 1, got {self.num_sce_blocks}.")
        if self.sce_in_channels < 1:
            raise ValueError(f"sce_in_channels must be >= 1, got {self.sce_in_channels}.")
        if self.mpd_hidden_channels < 1:
            raise ValueError(f"mpd_hidden_channels must be >= 1, got {self.mpd_hidden_channels}.")
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks must be a non-empty list of unique names, got {self.tasks!r}.")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tasks"] = list(self.tasks)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenPropConfig:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if "tasks" in known:
            known["tasks"] = tuple(known["tasks"])
        return cls(**known)
