"""Typed training configuration: YAML validated into dataclasses, errors name the bad key.

Every choice the paper leaves open is a field here, so a preset file documents a run
completely. ``load_config(path, overrides)`` is the only entry point the trainer uses.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.tasks import Task
from training.wan.config import WAN_BACKBONES, WanConfig

PAIRINGS = ("synthetic_to_original", "original_to_synthetic")
SOURCE_KINDS = ("procedural", "davis", "youtube_vos", "sav", "folder")
BACKBONES = ("tiny", "svd", *WAN_BACKBONES)
MIXED_PRECISION = ("no", "fp16", "bf16")
GRAD_FEATURES = ("residuals", "features")
MPD_LOSSES = ("mse", "balanced_mse", "bce_dice")


class ConfigError(ValueError):
    """A config value or key is wrong; the message names the dotted key."""


@dataclass
class SourceConfig:
    """One clip source. ``kind`` picks the reader; ``root`` is its folder (not for procedural).

    procedural: ``count`` clips of ``width`` x ``height``, ``frames`` long, ``objects`` each.
    sav: ``annotation_stride`` = video frames per annotated masklet frame (4 for SA-V).
    youtube_vos / folder: ``fps`` = frame rate of the stored frames (YouTube-VOS JPEGs: 6).
    """

    kind: str = "procedural"
    root: str | None = None
    split: str | None = None
    fps: float | None = None
    annotation_stride: int = 4
    count: int = 16
    width: int = 96
    height: int = 64
    frames: int = 16
    objects: int = 2
    seed: int = 0

    def validate(self, key: str) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ConfigError(f"{key}.kind must be one of {SOURCE_KINDS}, got {self.kind!r}")
        if self.kind != "procedural" and not self.root:
            raise ConfigError(f"{key}.root is required for a {self.kind!r} source")
        if self.kind == "procedural":
            for name in ("count", "width", "height", "frames"):
                if getattr(self, name) < 1:
                    raise ConfigError(f"{key}.{name} must be >= 1, got {getattr(self, name)}")
        if self.annotation_stride < 1:
            raise ConfigError(f"{key}.annotation_stride must be >= 1, got {self.annotation_stride}")


@dataclass
class DataConfig:
    """Clip sampling and the synthetic-pair recipe (paper defaults)."""

    sources: list[SourceConfig] = field(default_factory=lambda: [SourceConfig()])
    validation_sources: list[SourceConfig] = field(default_factory=list)
    num_frames: int = 32
    fps: float = 12.0
    buckets: list[list[int]] = field(default_factory=lambda: [[640, 352], [352, 640], [480, 480]])
    hflip_p: float = 0.5
    task_probabilities: dict[str, float] = field(
        default_factory=lambda: {"copy_paste": 0.5, "mask_and_fill": 0.375, "color_fill": 0.125}
    )
    pairing: str = "synthetic_to_original"
    copy_paste_masks: str = "tracked"
    fill_pad: int = 5
    telea_fraction: float = 1.0 / 3.0
    telea_radius: int = 3
    color_fill_rgb: list[int] = field(default_factory=lambda: [255, 0, 0])
    second_instance_p: float = 0.3
    image_pool: str | None = None
    image_pool_p: float = 0.25
    none_task_p: float = 0.2
    """Fraction of items labelled ``Task.NONE`` (their pair is still drawn from the task mix), so the
    task row that inference uses when the edit's kind is unknown is trained (the paper does not say)."""
    pairing_swap_p: float = 0.0
    """Fraction of items built with the other entry of ``PAIRINGS`` (own random stream, the pair's
    content is unchanged). With the paper's pairing the MPD only ever sees the synthetic content in
    the SCE's input; swapped items have the inference shape (edit in G's first frame, original in
    the SCE), so the MPD must find the edit from the first-frame difference (a deviation)."""
    num_workers: int = 0
    pin_memory: bool = True
    prefetch_factor: int = 2

    def validate(self, key: str) -> None:
        if not self.sources:
            raise ConfigError(f"{key}.sources must list at least one source")
        for i, src in enumerate(self.sources):
            src.validate(f"{key}.sources[{i}]")
        for i, src in enumerate(self.validation_sources):
            src.validate(f"{key}.validation_sources[{i}]")
        if self.num_frames < 1:
            raise ConfigError(f"{key}.num_frames must be >= 1, got {self.num_frames}")
        if self.fps <= 0:
            raise ConfigError(f"{key}.fps must be positive, got {self.fps}")
        for i, b in enumerate(self.buckets):
            if len(b) != 2 or min(b) < 8:
                raise ConfigError(f"{key}.buckets[{i}] must be [width, height] >= 8, got {b}")
        if not self.buckets:
            raise ConfigError(f"{key}.buckets must list at least one [width, height]")
        valid = {t.value for t in Task if t is not Task.NONE}
        for name, p in self.task_probabilities.items():
            if name not in valid:
                raise ConfigError(f"{key}.task_probabilities has unknown task {name!r}; expected {sorted(valid)}")
            if p < 0:
                raise ConfigError(f"{key}.task_probabilities.{name} must be >= 0, got {p}")
        if sum(self.task_probabilities.values()) <= 0:
            raise ConfigError(f"{key}.task_probabilities must not all be zero")
        if self.pairing not in PAIRINGS:
            raise ConfigError(f"{key}.pairing must be one of {PAIRINGS}, got {self.pairing!r}")
        if self.copy_paste_masks not in ("tracked", "first_frame"):
            raise ConfigError(f"{key}.copy_paste_masks must be 'tracked' or 'first_frame', got {self.copy_paste_masks!r}")
        for name in ("hflip_p", "telea_fraction", "second_instance_p", "image_pool_p", "none_task_p", "pairing_swap_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{key}.{name} must be in [0, 1], got {getattr(self, name)}")
        if len(self.color_fill_rgb) != 3 or not all(0 <= c <= 255 for c in self.color_fill_rgb):
            raise ConfigError(f"{key}.color_fill_rgb must be three values in 0..255, got {self.color_fill_rgb}")
        if self.fill_pad < 0 or self.num_workers < 0 or self.telea_radius < 1:
            raise ConfigError(f"{key}: fill_pad and num_workers must be >= 0, telea_radius >= 1")


@dataclass
class ModelConfig:
    """Which G to wrap. ``backbone: svd`` loads ``pretrained_path`` (an SVD-XT pipeline folder
    with unet/, vae/, image_encoder/); ``tiny`` builds random tiny modules (tests, demos).
    ``wan`` loads a Wan2.1-VACE diffusers folder (transformer/, vae/, text_encoder/, tokenizer/);
    ``tiny_wan`` random tiny Wan modules; their own settings are the ``wan:`` section."""

    backbone: str = "tiny"
    pretrained_path: str | None = None
    num_sce_blocks: int = 2
    sce_include_mid: bool = False
    fuse_backbone_features: bool = True
    mpd_hidden_channels: int = 64
    mpd_edit_cue: bool = False
    """The MPD also reads G's and the SCE's input latents (a stated deviation, docs/training.md)."""
    gradient_checkpointing: bool = False
    seed: int = 0
    use_sce: bool = True
    """``False`` trains without the SCE (G + task embeddings + MPD only): the no-SCE ablation."""

    def validate(self, key: str) -> None:
        if self.backbone not in BACKBONES:
            raise ConfigError(f"{key}.backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.backbone in ("svd", "wan") and not self.pretrained_path:
            raise ConfigError(f"{key}.pretrained_path is required for backbone {self.backbone!r}")
        if self.mpd_edit_cue and self.backbone not in ("svd", "tiny"):
            raise ConfigError(f"{key}.mpd_edit_cue is implemented for the SVD backbones (svd, tiny), not {self.backbone!r}")


@dataclass
class DiffusionConfig:
    """SVD's EDM training (v-prediction, sigma_data = 1). Sigma ~ LogNormal(p_mean, p_std).

    The default N(1.0, 1.6^2) in log sigma is matched to SVD's Karras sampling schedule
    (sigma_max 700): see docs/training.md for the sigmas an 8- or 25-step sampler visits.
    """

    p_mean: float = 1.0
    p_std: float = 1.6
    noise_aug_strength: float = 0.02
    motion_bucket_id: int = 127
    conditioning_dropout_p: float = 0.0

    def validate(self, key: str) -> None:
        if self.p_std <= 0:
            raise ConfigError(f"{key}.p_std must be positive, got {self.p_std}")
        if self.noise_aug_strength < 0:
            raise ConfigError(f"{key}.noise_aug_strength must be >= 0, got {self.noise_aug_strength}")
        if not 0.0 <= self.conditioning_dropout_p <= 1.0:
            raise ConfigError(f"{key}.conditioning_dropout_p must be in [0, 1], got {self.conditioning_dropout_p}")


@dataclass
class LossConfig:
    """L = L_non-mask + mask_weight L_mask + grad_weight L_grad + mpd_weight L_MPD.

    grad_features: what L_grad's ``f`` is -- ``residuals`` (the projected SCE outputs G actually
        receives; zero at init) or ``features`` (the SCE blocks' raw outputs).
    mpd_loss: ``mse`` (the paper's plain MSE over all latent pixels), ``balanced_mse`` (mean
        squared error inside the mask + mean outside it) or ``bce_dice`` (balanced BCE + soft Dice).
    """

    mask_weight: float = 2.0
    grad_weight: float = 1.0
    mpd_weight: float = 1.0
    grad_delta: float = 0.05
    mask_blur_sigma: float | None = None
    grad_features: str = "residuals"
    mpd_loss: str = "balanced_mse"

    def validate(self, key: str) -> None:
        for name in ("mask_weight", "grad_weight", "mpd_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key}.{name} must be >= 0, got {getattr(self, name)}")
        if self.grad_delta <= 0:
            raise ConfigError(f"{key}.grad_delta must be positive, got {self.grad_delta}")
        if self.grad_features not in GRAD_FEATURES:
            raise ConfigError(f"{key}.grad_features must be one of {GRAD_FEATURES}, got {self.grad_features!r}")
        if self.mpd_loss not in MPD_LOSSES:
            raise ConfigError(f"{key}.mpd_loss must be one of {MPD_LOSSES}, got {self.mpd_loss!r}")


@dataclass
class OptimConfig:
    """AdamW + linear warm-up + cosine decay, EMA, clipping, accumulation, precision."""

    learning_rate: float = 5e-5
    weight_decay: float = 1e-2
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    warmup_steps: int = 500
    max_steps: int = 20000
    batch_size: int = 1
    gradient_accumulation_steps: int = 1
    max_grad_norm: float = 0.001
    ema_decay: float = 0.9999
    mixed_precision: str = "no"
    lr_multipliers: dict[str, float] = field(default_factory=dict)
    """Parameter-name prefix (of ``GenPropHeads``, e.g. ``sce.skip_projections``) -> multiplier of
    ``learning_rate``; the longest matching prefix wins, others get 1."""

    def validate(self, key: str) -> None:
        if self.learning_rate <= 0:
            raise ConfigError(f"{key}.learning_rate must be positive, got {self.learning_rate}")
        for prefix, factor in self.lr_multipliers.items():
            if factor <= 0:
                raise ConfigError(f"{key}.lr_multipliers.{prefix} must be positive, got {factor}")
        if self.max_steps < 1 or self.batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ConfigError(f"{key}: max_steps, batch_size and gradient_accumulation_steps must be >= 1")
        if self.warmup_steps < 0:
            raise ConfigError(f"{key}.warmup_steps must be >= 0, got {self.warmup_steps}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"{key}.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.max_grad_norm <= 0:
            raise ConfigError(f"{key}.max_grad_norm must be positive, got {self.max_grad_norm}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ConfigError(f"{key}.mixed_precision must be one of {MIXED_PRECISION}, got {self.mixed_precision!r}")
        if len(self.betas) != 2:
            raise ConfigError(f"{key}.betas must be two numbers, got {self.betas}")


@dataclass
class CheckpointConfig:
    """``checkpoint-<step>`` every ``every`` steps; keep the newest ``total_limit``."""

    every: int = 500
    total_limit: int | None = 3

    def validate(self, key: str) -> None:
        if self.every < 1:
            raise ConfigError(f"{key}.every must be >= 1, got {self.every}")
        if self.total_limit is not None and self.total_limit < 1:
            raise ConfigError(f"{key}.total_limit must be >= 1 or null, got {self.total_limit}")


@dataclass
class LoggingConfig:
    """TensorBoard always (when installed), W&B on request; validation cadence."""

    log_every: int = 10
    tensorboard: bool = True
    wandb: bool = False
    validate_every: int = 1000
    validation_clips: int = 2
    validation_steps: int = 25
    preview_video: bool = True

    def validate(self, key: str) -> None:
        if self.log_every < 1 or self.validate_every < 0 or self.validation_steps < 1:
            raise ConfigError(f"{key}: log_every and validation_steps must be >= 1, validate_every >= 0")


@dataclass
class TrainConfig:
    """A whole run. ``output_dir`` receives checkpoints, logs and previews."""

    output_dir: str = "runs/genprop"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    wan: WanConfig = field(default_factory=WanConfig)
    deepspeed_config: str | None = None
    torch_threads: int | None = None

    def validate(self) -> TrainConfig:
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ConfigError(f"torch_threads must be >= 1 or null, got {self.torch_threads}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if hasattr(value, "validate"):
                value.validate(f.name)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ------------------------------------------------------------------ YAML -> dataclasses
def _convert(tp: Any, value: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and build nested dataclasses."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {type(value).__name__}")
        return _build(tp, value, key)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        _, vt = typing.get_args(tp)
        return {str(k): _convert(vt, v, f"{key}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "5e-5" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                raise ConfigError(f"{key} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {tp!r}")


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if k not in names:
            raise ConfigError(f"unknown config key {key!r}; expected one of {sorted(names)}")
        kwargs[k] = _convert(hints[k], v, key)
    return cls(**kwargs)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {p!r} is not a section")
    node[parts[-1]] = value


def config_from_dict(data: dict[str, Any], overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Validate a plain mapping (and ``{"optim.learning_rate": 1e-3}`` style overrides)."""
    data = dict(data or {})
    data = yaml.safe_load(yaml.safe_dump(data))  # deep copy of plain data
    for k, v in (overrides or {}).items():
        _set_dotted(data, k, v)
    return _build(TrainConfig, data, "").validate()


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML preset; relative ``root``/paths stay as written (resolved by the caller's cwd)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return config_from_dict(data, overrides)


def parse_override(text: str) -> tuple[str, Any]:
    """``"optim.learning_rate=1e-3"`` -> ``("optim.learning_rate", 0.001)`` (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw)
