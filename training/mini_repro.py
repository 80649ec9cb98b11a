"""A miniature GenProp reproduction on procedural video, end to end through our own code.

No pretrained video model can be downloaded here, so the recipe is reproduced in small:

1. a tiny SVD-style temporal-decoder VAE (x4) is trained as an autoencoder of procedural frames;
2. a tiny SVD U-Net G is pretrained as a plain image-to-video model with SVD's EDM
   v-objective (the stand-in for the public SVD weights); stages 1-2 are saved as a
   diffusers SVD folder, exactly the layout the app loads;
3. GenProp (SCE, MPD, task embeddings; G frozen) is trained by ``training.trainer`` with the
   Region-Aware loss and the paper's task mix (``training/configs/mini_repro.yaml``), for every
   training seed, together with the ablations (no L_grad, no L_MPD, no SCE, no Color Fill) at
   the same step count;
4. held-out procedural cases with exact ground truth (remove with shadow, insert, replace,
   recolour, track) are propagated by G alone, every GenProp variant and the classic engine,
   through ``GenPropPipeline`` / the engine registry, and scored: sampled PSNR outside the edit
   against the original, inside against the ground truth (and, for removals, against the
   original: does the object come back?), MPD IoU at 0.5 and at the best threshold, and the
   teacher-forced x0 PSNR at fixed noise levels.

Run: ``python -m training.mini_repro --ship-to resources/demo_model --docs-dir docs``
(``--preset smoke`` runs every stage for 1-2 steps in seconds; ``--preset gpu`` is the larger
miniature, 128x128 x 16 frames, for a GPU). Held-out cases use clip seeds >= 100000 and
development cases (for recipe diagnostics, ``--set case_seed=50000``) seeds 50000..; training
uses seeds < train_clips; nothing is tuned on the held-out cases.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
import yaml
from diffusers import AutoencoderKLTemporalDecoder, StableVideoDiffusionPipeline, UNetSpatioTemporalConditionModel
from diffusers.optimization import get_cosine_schedule_with_warmup
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

from engine.edit import EditKind, EditOperation, FirstFrameEdit
from engine.edits.recolour import apply_recolour, recolour
from engine.edits.track import track
from engine.engines.base import get_engine
from engine.genprop import GenPropHeads, GenPropModel, tiny_unet_config
from engine.genprop.weights import save_weights
from engine.metrics import iou, psnr, psnr_inside, psnr_outside
from engine.pipelines.dummy import tiny_scheduler
from engine.pipelines.genprop_pipeline import GenPropPipeline
from engine.pipelines.mask_readout import DEFAULT_MASK_SIGMA
from engine.procedural import generate_clip
from engine.tasks import Task
from engine.video.source import ArrayClip
from training.config import TrainConfig, config_from_dict, parse_override
from training.diffusion import added_time_ids, denoised, edm_coefficients, sample_sigmas, v_target
from training.models import encode_condition, encode_image, encode_video

log = logging.getLogger("mini_repro")

ROOT = Path(__file__).resolve().parents[1]
STAGE3_CONFIG = ROOT / "training" / "configs" / "mini_repro.yaml"
TASKS = ("remove", "insert", "replace", "recolour", "track")
HELDOUT_SEED = 100_000
DEV_SEED = 50_000
SOURCE_FPS = 24.0
NOISE_AUG = 0.02
MOTION_BUCKET = 127
LABEL = "procedural-domain demonstration model (GenProp miniature reproduction); not for real footage"
IOU_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))

#: Stage-3 variants: config overrides of training/configs/mini_repro.yaml (dotted keys).
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "no_grad": {"loss.grad_weight": 0.0},
    "no_mpd": {"loss.mpd_weight": 0.0},
    "no_sce": {"model.use_sce": False},
    "no_color_fill": {"data.task_probabilities": {"copy_paste": 0.5, "mask_and_fill": 0.375}},
}
VARIANT_LABELS = {
    "full": "(b) GenProp",
    "full_equal_steps": "(b') GenProp at the ablations' step count",
    "no_grad": "(c) without L_grad",
    "no_mpd": "(d) without L_MPD",
    "no_sce": "(e) without SCE",
    "no_color_fill": "(f) without Color Fill",
    "full_edit_task": "(b*) GenProp, the edit's task id (as the app)",
}


@dataclass(frozen=True)
class ReproSettings:
    """Every size and step count of a run (a preset, optionally changed with ``--set``)."""

    size: int = 64
    frames: int = 8
    stride: int = 3  # 24 fps procedural clips sampled every 3rd frame -> 8 fps, visible motion
    objects: int = 2
    train_clips: int = 64
    seed: int = 0  # stages 1-2 (the VAE and G: the stand-in for the public checkpoint)
    threads: int = 2
    vae_steps: int = 1200
    vae_frames: int = 4  # frames per VAE step (the temporal decoder is the costly part)
    vae_lr: float = 2e-3
    vae_channels: tuple[int, ...] = (32, 64, 64)
    g_steps: int = 1200
    g_batch: int = 2
    g_lr: float = 5e-4
    g_channels: tuple[int, ...] = (32, 64)
    g_p_mean: float = 0.0  # G's pretraining noise (stage 2); stage 3's is in the YAML
    g_p_std: float = 1.4
    genprop_steps: int = 600
    ablation_steps: int = 300  # ablations train this long and are compared with the full run's checkpoint here
    batch_size: int = 2
    train_seeds: tuple[int, ...] = (0, 1)
    variants: tuple[str, ...] = tuple(VARIANTS)
    stage3_set: tuple[str, ...] = ()  # extra "dotted.key=value" overrides of the stage-3 YAML
    extend_from: str = ""  # an earlier --out: a stage-3 run not begun here continues its run there (warm restart)
    cases_per_task: int = 3
    case_seed: int = HELDOUT_SEED
    eval_seeds: tuple[int, ...] = (0, 1, 2)
    eval_steps: int = 8
    tf_sigmas: tuple[float, ...] = (8.0, 31.0)
    edit_task_eval: bool = True  # also score the full recipe with the edit's own task id (what the app passes)

    @property
    def clip_length(self) -> int:
        """Frames generated per clip: one sampled window plus a little room to move its start."""
        return (self.frames - 1) * self.stride + 3

    @property
    def fps(self) -> float:
        return SOURCE_FPS / self.stride


PRESETS: dict[str, ReproSettings] = {
    "full": ReproSettings(),
    "smoke": ReproSettings(
        size=32,
        frames=4,
        train_clips=4,
        vae_steps=2,
        vae_frames=2,
        g_steps=2,
        genprop_steps=2,
        ablation_steps=1,
        batch_size=1,
        train_seeds=(0,),
        cases_per_task=1,
        eval_seeds=(0,),
        eval_steps=2,
        tf_sigmas=(8.0,),
    ),
    # The larger miniature for a GPU (not run on the project's CPU machines): 4x the pixels,
    # twice the frames, a G with 3 levels, many more steps. One command:
    #   python -m training.mini_repro --preset gpu --out runs/mini_repro_gpu --docs-dir runs/mini_repro_gpu/docs
    "gpu": ReproSettings(
        size=128,
        frames=16,
        stride=2,
        objects=2,
        train_clips=512,
        threads=8,
        vae_steps=6000,
        vae_frames=8,
        g_steps=20000,
        g_batch=8,
        g_channels=(32, 64, 128),  # 7.2 M parameters: 4x the CPU G, one more level
        g_p_mean=1.0,
        g_p_std=1.6,
        genprop_steps=6000,
        ablation_steps=3000,
        batch_size=8,
        train_seeds=(0, 1, 2),
        cases_per_task=8,
        eval_steps=12,
    ),
}


def apply_overrides(settings: ReproSettings, items: Sequence[str]) -> ReproSettings:
    """``["g_steps=300", "eval_seeds=[0,1]"]`` -> a changed copy (values parsed as YAML)."""
    changes: dict[str, Any] = {}
    names = {f.name: f for f in dataclasses.fields(settings)}
    for item in items:
        key, _, raw = item.partition("=")
        if key not in names or not raw:
            raise SystemExit(f"--set {item!r}: expected key=value with key in {sorted(names)}")
        value = yaml.safe_load(raw)
        changes[key] = tuple(value) if isinstance(value, list) else type(getattr(settings, key))(value)
    unknown = [v for v in changes.get("variants", ()) if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"--set variants: unknown {unknown}; expected some of {list(VARIANTS)}")
    out = dataclasses.replace(settings, **changes)
    if out.genprop_steps % out.ablation_steps:
        raise SystemExit(f"genprop_steps ({out.genprop_steps}) must be a multiple of ablation_steps ({out.ablation_steps})")
    return out


def steps_for(settings: ReproSettings, variant: str) -> int:
    return settings.genprop_steps if variant == "full" else settings.ablation_steps


# ---------------------------------------------------------------------------- data
def window(frames: np.ndarray, settings: ReproSettings, start: int = 0) -> np.ndarray:
    """The ``frames``-long window at ``stride`` starting at ``start``."""
    return frames[start : start + (settings.frames - 1) * settings.stride + 1 : settings.stride]


def train_clip_frames(settings: ReproSettings) -> list[np.ndarray]:
    """``[L, H, W, 3]`` uint8 training clips, seeds ``0 .. train_clips - 1`` (stage 3 reads the same)."""
    return [
        generate_clip(settings.size, settings.size, settings.clip_length, settings.objects, seed=s, fps=SOURCE_FPS).frames
        for s in range(settings.train_clips)
    ]


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``[T, H, W, 3]`` uint8 -> ``[T, 3, H, W]`` in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8(video: torch.Tensor) -> np.ndarray:
    return ((video.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def random_window(clips: list[np.ndarray], settings: ReproSettings, rng: np.random.Generator) -> np.ndarray:
    """A random clip's window at a random start, randomly flipped."""
    clip = clips[int(rng.integers(len(clips)))]
    span = (settings.frames - 1) * settings.stride + 1
    frames = window(clip, settings, int(rng.integers(0, len(clip) - span + 1)))
    return frames[:, :, ::-1] if rng.random() < 0.5 else frames


# ---------------------------------------------------------------------------- models
def compute_device() -> torch.device:
    """CUDA when present (the gpu preset), else the CPU. Random draws stay on CPU generators either way."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_vae(settings: ReproSettings) -> AutoencoderKLTemporalDecoder:
    """SVD's VAE class at a tiny size: 3 levels (x4 down), 4 latent channels."""
    return AutoencoderKLTemporalDecoder(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * len(settings.vae_channels),
        block_out_channels=tuple(settings.vae_channels),
        layers_per_block=1,
        latent_channels=4,
    )


def build_image_encoder(projection_dim: int) -> CLIPVisionModelWithProjection:
    """A tiny random CLIP vision tower at 224 px (the SVD pipeline's PIL path resizes to 224)."""
    return CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=projection_dim,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=224,
            intermediate_size=37,
            patch_size=32,
        )
    )


def unet_config(settings: ReproSettings) -> dict[str, Any]:
    """The tiny SVD U-Net config (diffusers' test size at ``g_channels=(32, 64)``), told its clip length."""
    config = {**tiny_unet_config(), "num_frames": settings.frames, "sample_size": settings.size // 4}
    levels = len(settings.g_channels)
    if tuple(settings.g_channels) != tuple(config["block_out_channels"]):
        config.update(
            block_out_channels=tuple(settings.g_channels),
            down_block_types=("CrossAttnDownBlockSpatioTemporal",) * (levels - 1) + ("DownBlockSpatioTemporal",),
            up_block_types=("UpBlockSpatioTemporal",) + ("CrossAttnUpBlockSpatioTemporal",) * (levels - 1),
        )
    return config


def build_unet(settings: ReproSettings) -> UNetSpatioTemporalConditionModel:
    return UNetSpatioTemporalConditionModel(**unet_config(settings))


# ---------------------------------------------------------------------------- stage 1
def train_vae(settings: ReproSettings, clips: list[np.ndarray]) -> tuple[AutoencoderKLTemporalDecoder, dict[str, float]]:
    """L1 + MSE reconstruction (+ a tiny KL) of procedural windows; sets ``scaling_factor`` to 1/std."""
    torch.manual_seed(settings.seed)
    dev = compute_device()
    vae = build_vae(settings).to(dev)
    opt = torch.optim.AdamW(vae.parameters(), lr=settings.vae_lr, weight_decay=0.0)
    sched = get_cosine_schedule_with_warmup(opt, max(1, settings.vae_steps // 20), settings.vae_steps)
    rng = np.random.default_rng([settings.seed, 1])
    gen = torch.Generator().manual_seed(settings.seed + 1)
    vae.train()
    loss_value = float("nan")
    for step in range(settings.vae_steps):
        x = to_tensor(random_window(clips, settings, rng)[: settings.vae_frames]).to(dev)
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen).to(dev)
        rec = vae.decode(z, num_frames=x.shape[0]).sample
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x) + 1e-6 * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        loss_value = float(loss.detach())
        if step % 100 == 0 or step == settings.vae_steps - 1:
            log.info("vae step %d/%d loss %.4f", step + 1, settings.vae_steps, loss_value)
    vae = vae.cpu().eval().requires_grad_(False)
    with torch.no_grad():
        lat = torch.cat([vae.encode(to_tensor(window(c, settings))).latent_dist.mode() for c in clips[:16]])
    std = float(lat.std())
    vae.register_to_config(scaling_factor=1.0 / max(std, 1e-6))
    return vae, {"final_loss": loss_value, "latent_std": std, "scaling_factor": 1.0 / max(std, 1e-6)}


@torch.no_grad()
def vae_roundtrip(vae: AutoencoderKLTemporalDecoder, frames: np.ndarray) -> np.ndarray:
    """Encode (posterior mode) and decode a clip: the best any latent model here can reproduce it."""
    x = to_tensor(frames).to(vae.device)
    return to_uint8(vae.decode(vae.encode(x).latent_dist.mode(), num_frames=x.shape[0]).sample)


# ---------------------------------------------------------------------------- stage 2
def train_g(
    settings: ReproSettings, clips: list[np.ndarray], vae: AutoencoderKLTemporalDecoder, encoder: CLIPVisionModelWithProjection
) -> tuple[UNetSpatioTemporalConditionModel, dict[str, float]]:
    """Plain image-to-video pretraining of G with SVD's EDM v-objective (first frame + CLIP conditioning)."""
    torch.manual_seed(settings.seed + 2)
    dev = compute_device()
    unet = build_unet(settings).to(dev)
    vae, encoder = vae.to(dev), encoder.to(dev)
    unet.train()
    opt = torch.optim.AdamW(unet.parameters(), lr=settings.g_lr, weight_decay=0.01)
    sched = get_cosine_schedule_with_warmup(opt, max(1, settings.g_steps // 20), settings.g_steps)
    rng = np.random.default_rng([settings.seed, 2])
    gen = torch.Generator().manual_seed(settings.seed + 2)
    sf = float(vae.config.scaling_factor)
    losses: list[float] = []
    for step in range(settings.g_steps):
        video = torch.stack([to_tensor(random_window(clips, settings, rng)) for _ in range(settings.g_batch)]).to(dev)
        b, t = video.shape[:2]
        with torch.no_grad():
            x0 = encode_video(vae, video, sf)
            cond = video[:, 0]
            cond_lat = encode_condition(vae, cond + NOISE_AUG * torch.randn(cond.shape, generator=gen).to(dev))
            embeds = encode_image(encoder, cond)
        c = edm_coefficients(sample_sigmas(b, settings.g_p_mean, settings.g_p_std, gen).to(dev))
        noisy = x0 + c.sigma * torch.randn(x0.shape, generator=gen).to(dev)
        sample = torch.cat([c.c_in * noisy, cond_lat[:, None].expand(-1, t, -1, -1, -1)], dim=2)
        ids = added_time_ids(torch.full((b,), settings.fps), MOTION_BUCKET, NOISE_AUG).to(dev)
        pred = unet(sample, c.c_noise, embeds, ids).sample
        loss = F.mse_loss(pred, v_target(x0, noisy, c))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if step % 100 == 0 or step == settings.g_steps - 1:
            log.info(
                "G step %d/%d loss %.4f (mean of last 50: %.4f)", step + 1, settings.g_steps, losses[-1], np.mean(losses[-50:])
            )
    unet = unet.cpu().eval().requires_grad_(False)
    vae.cpu(), encoder.cpu()
    return unet, {"final_loss_mean50": float(np.mean(losses[-50:]))}


def save_svd_folder(folder: Path, vae, encoder, unet, variant: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Write stages 1-2 in the public SVD layout (what the trainer's ``backbone: svd`` and the app load)."""
    pipe = StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=encoder,
        unet=unet,
        scheduler=tiny_scheduler(),
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
    )
    pipe.save_pretrained(folder, safe_serialization=True, variant=variant)


# ---------------------------------------------------------------------------- stage 3
def stage3_config(settings: ReproSettings, svd_dir: Path, out: Path, variant: str, train_seed: int) -> TrainConfig:
    """The preset file with this run's sizes, paths, step count, seed and the variant's switches."""
    data = yaml.safe_load(STAGE3_CONFIG.read_text())
    data.update(output_dir=str(out), seed=int(train_seed), torch_threads=settings.threads)
    data["data"]["sources"][0].update(
        count=settings.train_clips,
        width=settings.size,
        height=settings.size,
        frames=settings.clip_length,
        objects=settings.objects,
        seed=0,
    )
    data["data"].update(num_frames=settings.frames, fps=settings.fps, buckets=[[settings.size, settings.size]])
    data["model"].update(pretrained_path=str(svd_dir), num_sce_blocks=len(settings.g_channels))
    steps = steps_for(settings, variant)
    data["optim"].update(max_steps=steps, batch_size=settings.batch_size, warmup_steps=max(1, min(20, steps // 10)))
    data["checkpoint"].update(every=min(steps, settings.ablation_steps), total_limit=None)
    overrides = dict(parse_override(item) for item in settings.stage3_set)
    overrides.update(VARIANTS[variant])
    return config_from_dict(data, overrides)


def train_genprop(cfg: TrainConfig, resume: Path | None = None, extend: Path | None = None) -> dict[str, Any]:
    """One run of the product's trainer (from ``resume``, a checkpoint of this run, or on from
    ``extend``, another run's checkpoint, under a fresh schedule); returns its loss history
    summary, read from ``metrics.jsonl`` so a resumed run counts every step."""
    from training.trainer import Trainer  # accelerate import kept out of module import time

    result = Trainer(
        cfg, resume=None if resume is None else str(resume), extend_from=None if extend is None else str(extend)
    ).run()
    hist = read_metrics(Path(cfg.output_dir) / "metrics.jsonl") or result.history
    tail = hist[-50:] if hist else []
    return {
        "steps": result.final_step,
        "samples_per_s": result.samples_per_second,
        "resumed_from": None if resume is None else resume.name,
        "extended_from": None if extend is None else str(extend),
        "final_loss_mean50": {k: float(np.mean([h[k] for h in tail])) for k in ("total", "non_mask", "mask", "grad", "mpd")}
        if tail
        else {},
    }


def read_metrics(path: Path) -> list[dict[str, float]]:
    """The rows of a run's ``metrics.jsonl`` (none if it is missing)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def prepare_resume(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a killed run (its ``metrics.jsonl`` cut back to that step,
    since the trainer appends), or ``None`` after clearing the folder for a fresh start."""
    from training.checkpoint import latest_checkpoint, read_state

    start = latest_checkpoint(run_dir) if run_dir.is_dir() else None
    if start is None:
        shutil.rmtree(run_dir, ignore_errors=True)
        return None
    step = read_state(start).global_step
    metrics = run_dir / "metrics.jsonl"
    kept = [row for row in read_metrics(metrics) if row["step"] <= step]
    metrics.write_text("".join(json.dumps(row) + "\n" for row in kept))
    return start


def extension_start(earlier_out: Path, variant: str, train_seed: int) -> Path:
    """The newest checkpoint of the same variant and seed in an earlier ``--out`` (``extend_from``)."""
    from training.checkpoint import latest_checkpoint

    earlier = run_dir_for(earlier_out, variant, train_seed)
    start = latest_checkpoint(earlier) if earlier.is_dir() else None
    if start is None:
        raise FileNotFoundError(f"extend_from: {earlier} holds no complete checkpoint to continue")
    return start


def checkpoint_heads(run_dir: Path, step: int) -> Path:
    return run_dir / f"checkpoint-{step}" / "genprop"


def run_dir_for(out: Path, variant: str, train_seed: int) -> Path:
    return out / f"genprop_{variant}_s{train_seed}"


# ---------------------------------------------------------------------------- cases
@dataclass
class Case:
    """One held-out propagation problem with exact ground truth."""

    task: str
    seed: int
    obj: int
    original: np.ndarray  # [T, H, W, 3]
    target: np.ndarray  # [T, H, W, 3] ground truth of the edited clip
    mask: np.ndarray  # [T, H, W] bool, where target may differ from original
    op: EditOperation
    fps: float

    @property
    def edited(self) -> np.ndarray:
        return self.target[0]

    def first_frame_edit(self) -> FirstFrameEdit:
        return FirstFrameEdit(self.original[0], self.edited, self.op.mask, [self.op])


def _u8(mask: np.ndarray) -> np.ndarray:
    return mask.astype(np.uint8) * 255


def _sprite_layer(rng: np.random.Generator, size: int, centre: tuple[float, float], extent: tuple[int, int]) -> np.ndarray:
    """A textured ellipse RGBA layer at frame size (straight alpha), centred at ``centre``."""
    layer = np.zeros((size, size, 4), np.uint8)
    w, h = max(4, extent[0]), max(4, extent[1])
    colour = rng.uniform(30, 230, 3)
    colour[rng.integers(0, 3)] = rng.choice([15.0, 245.0])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    stripes = 35.0 * np.sin((xx + yy) * rng.uniform(0.5, 1.2))
    rgb = np.clip(colour[None, None] + stripes[..., None], 0, 255)
    alpha = np.zeros((size, size), np.uint8)
    cv2.ellipse(alpha, (int(centre[0]), int(centre[1])), (w // 2, h // 2), 0, 0, 360, 255, -1)
    layer[..., :3] = rgb.astype(np.uint8)
    layer[..., 3] = alpha
    return layer


def make_case(task: str, seed: int, settings: ReproSettings) -> Case | None:
    """The case for ``task`` on procedural clip ``seed`` (``None`` if its largest object is too small)."""
    clip = generate_clip(settings.size, settings.size, settings.clip_length, settings.objects, seed=seed, fps=SOURCE_FPS)
    areas = clip.object_masks[:, 0].sum(axis=(1, 2))
    k = int(np.argmax(areas))
    if areas[k] < 0.03 * settings.size**2:
        return None
    rng = np.random.default_rng([seed, 7])
    m0 = clip.object_masks[k, 0]
    ys, xs = np.nonzero(m0)
    if task == "remove":
        target, mask = clip.render(exclude=[k]), clip.removal_mask(k)
        op = EditOperation(EditKind.REMOVE, mask=_u8(mask[0]), source_mask=_u8(mask[0]))
    elif task == "insert":
        s = settings.size
        layer = _sprite_layer(rng, s, (rng.uniform(0.3, 0.7) * s, rng.uniform(0.3, 0.7) * s), (int(0.3 * s), int(0.25 * s)))
        target, alpha, _ = clip.with_layer(layer)
        mask = alpha > 0
        op = EditOperation(EditKind.INSERT, mask=_u8(layer[..., 3] > 0), layer_rgba=layer)
    elif task == "replace":
        removed = dataclasses.replace(clip, frames=clip.render(exclude=[k]))
        extent = (int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
        layer = _sprite_layer(rng, settings.size, (float(xs.mean()), float(ys.mean())), extent)
        target, alpha, _ = removed.with_layer(layer, anchor=k)
        mask = clip.removal_mask(k) | (alpha > 0)
        op = EditOperation(EditKind.REPLACE, mask=_u8(mask[0]), source_mask=_u8(clip.removal_mask(k)[0]), layer_rgba=layer)
    elif task == "recolour":
        _, op = recolour(clip.frames[0], _u8(m0), hue_shift=120.0, saturation=1.3, feather=0.0)
        params = dict(op.params)
        target, mask = clip.recoloured(k, lambda f, m: apply_recolour(f, m, params)), clip.object_masks[k]
    elif task == "track":
        colour = np.array([255, 0, 0], np.uint8)
        _, op = track(clip.frames[0], _u8(m0), colour=(255, 0, 0))
        target = clip.recoloured(k, lambda f, m: np.broadcast_to(colour, f.shape).copy())
        mask = clip.object_masks[k]
    else:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    sub = lambda a: window(a, settings)  # noqa: E731
    return Case(task, seed, k, sub(clip.frames), sub(target), sub(mask).astype(bool), op, settings.fps)


def heldout_cases(settings: ReproSettings) -> list[Case]:
    """``cases_per_task`` cases per task from clip seeds ``case_seed + 1000 * task_index + i``
    (``case_seed`` = 100000: the held-out set; 50000: development cases for diagnostics)."""
    return cases_from_seeds(settings, lambda ti: itertools.count(settings.case_seed + 1000 * ti), settings.cases_per_task)


def cases_from_seeds(settings: ReproSettings, seeds_of_task: Callable[[int], Iterable[int]], per_task: int) -> list[Case]:
    """Up to ``per_task`` cases per task, from the clip seeds ``seeds_of_task(task_index)`` in order;
    a clip without a usable case for the task is skipped."""
    cases = []
    for ti, task in enumerate(TASKS):
        found = 0
        for seed in seeds_of_task(ti):
            if found == per_task:
                break
            case = make_case(task, seed, settings)
            if case is not None:
                cases.append(case)
                found += 1
    return cases


# ---------------------------------------------------------------------------- evaluation
def load_pipeline(svd_dir: Path, torch_dtype: torch.dtype = torch.float32) -> GenPropPipeline:
    return GenPropPipeline.from_pretrained(svd_dir, torch_dtype=torch_dtype, local_files_only=True).to(compute_device())


def propagate(
    pipe: GenPropPipeline,
    heads: GenPropHeads,
    case: Case,
    seed: int,
    steps: int,
    task: Task = Task.NONE,
    mask_sigma: float | None = DEFAULT_MASK_SIGMA,
) -> tuple[np.ndarray, np.ndarray]:
    """One pipeline run, no guidance (G was trained without conditioning dropout), no keep-original."""
    pipe.set_heads(heads)
    gen = torch.Generator().manual_seed(seed)
    out = pipe(
        list(case.original),
        case.edited,
        num_inference_steps=steps,
        min_guidance_scale=1.0,
        max_guidance_scale=1.0,
        fps=int(round(case.fps)),
        motion_bucket_id=MOTION_BUCKET,
        noise_aug_strength=NOISE_AUG,
        task=task,
        mask_sigma=mask_sigma,
        generator=gen,
    )
    return out.frames, out.masks


@torch.no_grad()
def teacher_forced(
    pipe: GenPropPipeline, heads: GenPropHeads, case: Case, sigma: float, seed: int, task: Task = Task.NONE
) -> tuple[np.ndarray, np.ndarray]:
    """One denoising call on the ground truth noised to ``sigma`` (the pipeline's conditioning):
    returns the decoded x0 estimate ``[T, H, W, 3]`` and the MPD's probabilities ``[T, H, W]``."""
    device, t = pipe.compute_device, case.original.shape[0]
    h, w = case.original.shape[1:3]
    gen = torch.Generator().manual_seed(seed)
    cond = PIL.Image.fromarray(case.edited)
    embeds = pipe._encode_image(cond, device, 1, False)
    image = pipe.video_processor.preprocess(cond, height=h, width=w).to(device)
    image = image + NOISE_AUG * torch.randn(image.shape, generator=gen).to(device)
    cond_latents = pipe._encode_vae_image(image, device, 1, False)[:, None].expand(-1, t, -1, -1, -1)
    originals = pipe._encode_originals(list(case.original), t)
    x0 = pipe._encode_originals(list(case.target), t)
    ids = pipe._get_add_time_ids(int(round(case.fps)) - 1, MOTION_BUCKET, NOISE_AUG, embeds.dtype, 1, 1, False)
    c = edm_coefficients(torch.tensor([float(sigma)], device=device))
    noisy = x0 + c.sigma * torch.randn(x0.shape, generator=gen).to(device)
    model = GenPropModel(pipe.unet, heads)
    out = model(torch.cat([c.c_in * noisy, cond_latents], 2), c.c_noise, embeds, ids, original_latents=originals, task=task)
    frames = pipe._decode(denoised(noisy, out.sample.float(), c), t)
    probs = torch.sigmoid(F.interpolate(out.mask_logits[0].float(), size=(h, w), mode="bilinear"))[:, 0].cpu().numpy()
    return frames, probs


def iou_by_threshold(probs: np.ndarray, truth: np.ndarray) -> list[float]:
    return [iou(probs > th, truth) for th in IOU_THRESHOLDS]


def scores(frames: np.ndarray, case: Case, probs: np.ndarray | None) -> dict[str, Any]:
    """Sampled metrics of one output: PSNR outside vs the original, inside vs the ground truth and
    vs the original (high for a removal = the object came back), MPD IoU at 0.5 and per threshold."""
    out: dict[str, Any] = {
        "psnr_outside": psnr_outside(frames, case.original, case.mask),
        "psnr_inside": psnr_inside(frames, case.target, case.mask),
        "psnr_inside_original": psnr_inside(frames, case.original, case.mask),
        "mask_iou": float("nan"),
    }
    if probs is not None:
        out["mask_iou"] = iou(probs > 0.5, case.mask)
        out["mask_iou_by_threshold"] = iou_by_threshold(probs, case.mask)
    return out


def fresh_heads(pipe: GenPropPipeline) -> GenPropHeads:
    """Untrained heads: zero projections and task table, so GenProp's output is exactly G's."""
    return GenPropHeads.from_unet(pipe.unet)


def evaluate(
    settings: ReproSettings, svd_dir: Path, heads_dirs: dict[tuple[str, int], Path], cases: list[Case]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Score every method on every case (and sampling seed); returns raw records and preview material.

    ``heads_dirs`` maps (variant, training seed) to a trained heads folder. The baseline is G alone
    (fresh, all-zero heads) conditioned on the same edited frame.
    """
    pipe = load_pipeline(svd_dir)
    models: dict[tuple[str, int | None], tuple[GenPropHeads, str]] = {("baseline_i2v", None): (fresh_heads(pipe), "none")}
    for (variant, seed), path in heads_dirs.items():
        heads = GenPropHeads.from_pretrained(path)
        models[(variant, seed)] = (heads, "none")
        if variant == "full" and settings.edit_task_eval:
            models[("full_edit_task", seed)] = (heads, "edit")
    classic = get_engine("classic")()
    records: list[dict[str, Any]] = []
    previews: dict[str, dict[str, Any]] = {}
    first_full = min((k for k in models if k[0] == "full"), default=None, key=lambda k: k[1])
    for ci, case in enumerate(cases):
        base = {"task": case.task, "clip_seed": case.seed, "object": case.obj}
        rt = vae_roundtrip(pipe.vae, case.original)
        records.append({**base, "method": "vae_ceiling", "train_seed": None, "sample_seed": None, **scores(rt, case, None)})
        res = classic.propagate(ArrayClip(case.original, case.fps), case.first_frame_edit(), {"tracker": "flow"})
        classic_scores = scores(res.frames, case, (res.masks > 0).astype(np.float32))
        records.append({**base, "method": "classic", "train_seed": None, "sample_seed": None, **classic_scores})
        first_outputs: dict[tuple[str, int | None], tuple[np.ndarray, np.ndarray]] = {}
        for (method, train_seed), (heads, task_mode) in models.items():
            task = case.op.kind.task if task_mode == "edit" else Task.NONE
            for seed in settings.eval_seeds:
                frames, probs = propagate(pipe, heads, case, seed, settings.eval_steps, task=task)
                rec = {**base, "method": method, "train_seed": train_seed, "sample_seed": seed}
                rec.update(scores(frames, case, None if method == "baseline_i2v" else probs))
                for sigma in settings.tf_sigmas:
                    tf_frames, tf_probs = teacher_forced(pipe, heads, case, sigma, seed, task)
                    key = f"s{sigma:g}"
                    rec[f"tf_psnr_outside_{key}"] = psnr_outside(tf_frames, case.original, case.mask)
                    rec[f"tf_psnr_inside_{key}"] = psnr_inside(tf_frames, case.target, case.mask)
                    if method != "baseline_i2v":
                        rec[f"tf_mask_iou_{key}"] = iou(tf_probs > 0.5, case.mask)
                records.append(rec)
                if seed == settings.eval_seeds[0]:
                    first_outputs[(method, train_seed)] = (frames, probs)
        if case.task not in previews and first_full in first_outputs:
            gen_frames, gen_probs = first_outputs[first_full]
            previews[case.task] = {
                "case": case,
                "baseline_i2v": first_outputs[("baseline_i2v", None)][0],
                "genprop": gen_frames,
                "genprop_mask": gen_probs,
            }
        log.info("evaluated case %d/%d (%s, clip %d)", ci + 1, len(cases), case.task, case.seed)
    return records, previews


def _mean(values: Sequence[float]) -> float:
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], np.float64)
    return float(arr.mean()) if arr.size else float("nan")


def _std(values: Sequence[float]) -> float:
    arr = np.asarray([v for v in values if not math.isnan(v)], np.float64)
    return float(arr.std(ddof=1)) if arr.size > 1 else float("nan")


def _spread(rows: list[dict[str, Any]], metric: str, by: str) -> float:
    """Std over the values of ``by`` (train_seed / sample_seed) of the per-value mean; 0 if only one."""
    groups = sorted({r[by] for r in rows if r[by] is not None})
    if len(groups) < 2:
        return 0.0
    return _std([_mean([r[metric] for r in rows if r[by] == g]) for g in groups])


METRICS = (
    "psnr_outside",
    "psnr_inside",
    "psnr_inside_original",
    "mask_iou",
)


def metric_names(records: list[dict[str, Any]]) -> list[str]:
    extra = sorted({k for r in records for k in r if k.startswith("tf_")})
    return [*METRICS, *extra]


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method x task x metric: mean over cases, training seeds and sampling seeds, the
    training-seed spread (std over training seeds of the per-seed mean) and the sampling-seed
    spread (likewise over sampling seeds); 0 for deterministic methods."""
    out: dict[str, Any] = {}
    metrics = metric_names(records)
    for method in sorted({r["method"] for r in records}):
        rows = [r for r in records if r["method"] == method]
        out[method] = {}
        for task in [*TASKS, "all"]:
            sel = [r for r in rows if task == "all" or r["task"] == task]
            out[method][task] = {
                m: {
                    "mean": _mean([r.get(m, float("nan")) for r in sel]),
                    "train_std": _spread([r for r in sel if m in r], m, "train_seed"),
                    "sample_std": _spread([r for r in sel if m in r], m, "sample_seed"),
                }
                for m in metrics
                if any(m in r for r in sel)
            }
        curves = [r["mask_iou_by_threshold"] for r in rows if "mask_iou_by_threshold" in r]
        if curves:
            mean_curve = np.mean(np.asarray(curves, np.float64), axis=0)
            best = int(np.argmax(mean_curve))
            per_train = {}
            for ts in sorted({r["train_seed"] for r in rows if r["train_seed"] is not None}):
                c = [r["mask_iou_by_threshold"][best] for r in rows if r["train_seed"] == ts and "mask_iou_by_threshold" in r]
                per_train[ts] = _mean(c)
            out[method]["best_threshold"] = {
                "threshold": IOU_THRESHOLDS[best],
                "iou": float(mean_curve[best]),
                "train_std": _std(list(per_train.values())) if len(per_train) > 1 else 0.0,
                "curve": [float(v) for v in mean_curve],
            }
    return out


def paired(records: list[dict[str, Any]], a: str, b: str, metric: str) -> dict[str, float]:
    """Difference a - b over matched (case, training seed, sampling seed) pairs; a method without a
    training or sampling seed (G alone, classic, VAE) matches every seed of the other."""

    def index(method: str) -> dict[tuple, dict[str, Any]]:
        return {(r["clip_seed"], r["task"], r["train_seed"], r["sample_seed"]): r for r in records if r["method"] == method}

    ia, ib = index(a), index(b)
    rows = []
    for (clip, task, ts, ss), ra in ia.items():
        for (clip_b, task_b, ts_b, ss_b), rb in ib.items():
            if (clip_b, task_b) != (clip, task):
                continue
            if ts is not None and ts_b is not None and ts != ts_b:
                continue
            if ss is not None and ss_b is not None and ss != ss_b:
                continue
            va, vb = ra.get(metric, float("nan")), rb.get(metric, float("nan"))
            if not (math.isnan(va) or math.isnan(vb)):
                rows.append(
                    {"d": va - vb, "train_seed": ts if ts is not None else ts_b, "sample_seed": ss if ss is not None else ss_b}
                )
    diffs = [r["d"] for r in rows]
    return {
        "mean_diff": _mean(diffs),
        "train_std_of_diff": _spread(rows, "d", "train_seed"),
        "sample_std_of_diff": _spread(rows, "d", "sample_seed"),
        "pairs_won_fraction": float(np.mean([d > 0 for d in diffs])) if diffs else float("nan"),
        "pairs": len(diffs),
    }


def comparisons(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The claims the report states, each with its spreads."""
    methods = {r["method"] for r in records}
    pairs: list[tuple[str, str, str]] = [
        ("full", "baseline_i2v", "psnr_outside"),
        ("full", "baseline_i2v", "psnr_inside"),
        ("full", "vae_ceiling", "psnr_outside"),
        ("full", "classic", "psnr_outside"),
        ("full", "classic", "psnr_inside"),
    ]
    reference = "full_equal_steps" if "full_equal_steps" in methods else "full"
    for variant in VARIANTS:
        if variant != "full" and variant in methods:
            pairs += [(reference, variant, m) for m in ("psnr_outside", "psnr_inside", "mask_iou")]
    if "full_edit_task" in methods:
        pairs += [("full_edit_task", "full", m) for m in ("psnr_outside", "psnr_inside", "mask_iou")]
    return [{"a": a, "b": b, "metric": m, **paired(records, a, b, m)} for a, b, m in pairs if a in methods and b in methods]


def targets(summary: dict[str, Any], comps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 14's targets, each with its measured value and margin (positive = met)."""
    out = []

    def comp(a: str, b: str, metric: str) -> dict[str, Any] | None:
        return next((c for c in comps if (c["a"], c["b"], c["metric"]) == (a, b, metric)), None)

    vs_base, vs_vae = comp("full", "baseline_i2v", "psnr_outside"), comp("full", "vae_ceiling", "psnr_outside")
    if vs_base:
        out.append(
            {
                "target": "PSNR outside: GenProp >= G alone + 2.5 dB",
                "value": vs_base["mean_diff"],
                "margin": vs_base["mean_diff"] - 2.5,
            }
        )
    if vs_vae:
        out.append(
            {
                "target": "PSNR outside: GenProp within 1.5 dB of the VAE ceiling",
                "value": vs_vae["mean_diff"],
                "margin": vs_vae["mean_diff"] + 1.5,
            }
        )
    if "full" in summary:
        v = summary["full"]["all"]["mask_iou"]["mean"]
        out.append({"target": "MPD IoU (threshold 0.5) >= 0.6", "value": v, "margin": v - 0.6})
    return out


# ---------------------------------------------------------------------------- report
def preview_image(previews: dict[str, dict[str, Any]], frame: int | None = None, scale: int = 3) -> np.ndarray:
    """Rows = tasks; columns = original | edited first frame | G alone | GenProp | MPD mask (last frame)."""
    rows = []
    for task in TASKS:
        if task not in previews:
            continue
        p = previews[task]
        case: Case = p["case"]
        t = case.original.shape[0] - 1 if frame is None else frame
        mask = (np.clip(p["genprop_mask"][t], 0, 1) * 255).astype(np.uint8)
        overlay = case.original[t].copy()
        overlay[mask > 127] = (0.4 * overlay[mask > 127] + [0, 150, 0]).astype(np.uint8)
        tiles = [case.original[t], case.edited, p["baseline_i2v"][t], p["genprop"][t], overlay]
        row = np.concatenate([np.pad(x, ((2, 2), (2, 2), (0, 0)), constant_values=255) for x in tiles], axis=1)
        rows.append(row)
    grid = np.concatenate(rows, axis=0)
    return cv2.resize(grid, (grid.shape[1] * scale, grid.shape[0] * scale), interpolation=cv2.INTER_NEAREST)


METHOD_LABELS = {
    "baseline_i2v": "(a) G alone (plain I2V on the edited frame)",
    **VARIANT_LABELS,
    "classic": "(g) classic engine",
    "vae_ceiling": "VAE round trip of the original (ceiling)",
}
TABLE_ORDER = ("baseline_i2v", "full", "full_edit_task", "full_equal_steps", *list(VARIANTS)[1:], "classic", "vae_ceiling")


def _fmt(entry: dict[str, float] | None, digits: int = 2) -> str:
    if entry is None or math.isnan(entry["mean"]):
        return "–"
    text = f"{entry['mean']:.{digits}f}"
    spreads = [entry.get("train_std", 0.0), entry.get("sample_std", 0.0)]
    if any(s and not math.isnan(s) for s in spreads):
        text += " ± " + " / ".join("–" if not s or math.isnan(s) else f"{s:.{digits}f}" for s in spreads)
    return text


def _claim(c: dict[str, Any]) -> str:
    spread = max(v for v in (c["train_std_of_diff"], c["sample_std_of_diff"]) if not math.isnan(v))
    ratio = abs(c["mean_diff"]) / spread if spread > 0 else float("nan")
    if math.isnan(ratio):
        verdict = "no claim (no seed spread measured):"
    elif c["mean_diff"] > 0 and ratio > 3:
        verdict = "**beat**"
    elif c["mean_diff"] < 0 and ratio > 3:
        verdict = "**lost to**"
    else:
        verdict = "no claim (within 3x the spread):"
    label_a, label_b = METHOD_LABELS.get(c["a"], c["a"]), METHOD_LABELS.get(c["b"], c["b"])
    return (
        f"- {label_a} {verdict} {label_b} on {c['metric']}: {c['mean_diff']:+.3f} "
        f"(training-seed spread {c['train_std_of_diff']:.3f}, sampling-seed spread {c['sample_std_of_diff']:.3f}; "
        f"{'–' if math.isnan(ratio) else f'{ratio:.1f}'}x the larger; won {c['pairs_won_fraction'] * 100:.0f}% of {c['pairs']} pairs)"
    )


def report_markdown(result: dict[str, Any]) -> str:
    """The docs/bench_sections section: setup, tables, claims judged against the seed spreads."""
    st, summ = result["settings"], result["summary"]
    methods = [m for m in TABLE_ORDER if m in summ]
    tr = result["training"]
    lines = [
        "## Miniature GenProp reproduction on procedural video",
        "",
        f"- Date: {result['date']}",
        f"- Machine: {result['machine']}; load average {result['load']['before']} before, {result['load']['after']} after",
        f"- Command: `{result['command']}` (total {result['timings_s']['total'] / 60:.1f} min)",
        f"- Data: procedural clips {st['size']}x{st['size']}, {st['frames']} frames (every {st['stride']}rd frame of 24 fps, "
        f"so {24 / st['stride']:.0f} fps), {st['objects']} objects; training clip seeds 0..{st['train_clips'] - 1}, "
        f"cases from clip seeds >= {st['case_seed']} ({st['cases_per_task']} per task, "
        f"{'held out' if st['case_seed'] == HELDOUT_SEED else 'development set'}), sampling seeds {list(st['eval_seeds'])}, "
        f"{st['eval_steps']} Euler steps (SVD's Karras sigmas 700 → 0.002), no guidance, no keep-original compositing, "
        f"task id `none`, MPD read at the step nearest sigma {DEFAULT_MASK_SIGMA:g}.",
        f"- Stage 1, VAE (AutoencoderKLTemporalDecoder, x4, 4 latent channels): {st['vae_steps']} steps; "
        f"held-out reconstruction PSNR **{result['vae']['heldout_psnr']:.2f} dB** (whole frames).",
        f"- Stage 2, G (tiny SVD U-Net, {result['params']['unet'] / 1e6:.2f} M parameters) pretrained as plain I2V with SVD's "
        f"EDM v-objective: {st['g_steps']} steps of batch {st['g_batch']}, ln sigma ~ N({st['g_p_mean']}, {st['g_p_std']}²).",
        f"- Stage 3, GenProp (SCE + MPD + task embeddings, {result['params']['heads'] / 1e6:.2f} M trained parameters, G frozen) "
        f"with `training.trainer` and `training/configs/mini_repro.yaml` ({result['stage3_recipe']}): "
        f"(b) {st['genprop_steps']} steps of batch {st['batch_size']}, the ablations {st['ablation_steps']} steps each, "
        f"compared with (b') = the full run's own checkpoint at that step; every run for training seeds {list(st['train_seeds'])}"
        + (f"; extra overrides {list(st['stage3_set'])}" if st["stage3_set"] else "")
        + ". Raw (not EMA) weights of each checkpoint.",
        "- Each cell: mean over cases, training seeds and sampling seeds ± the training-seed spread / the sampling-seed "
        "spread (standard deviation over training seeds, resp. sampling seeds, of the per-seed mean). G alone, the classic "
        "engine and the VAE round trip have no training seed; the last two are deterministic.",
        "",
    ]
    tables = (
        ("psnr_outside", "Sampled PSNR outside the edit mask vs the original clip (PSNRm, dB)", 2),
        ("psnr_inside", "Sampled PSNR inside the edit mask vs the ground-truth edited clip (dB)", 2),
        ("mask_iou", "MPD IoU vs the true edit masks at threshold 0.5 (classic: its tracked mask)", 3),
    )
    for metric, title, digits in tables:
        lines += [f"### {title}", "", "| Method | " + " | ".join(TASKS) + " | all |", "|---|" + "---:|" * (len(TASKS) + 1)]
        for method in methods:
            if metric == "mask_iou" and method in ("baseline_i2v", "vae_ceiling"):
                continue
            cells = [_fmt(summ[method][t].get(metric), digits) for t in [*TASKS, "all"]]
            lines.append(f"| {METHOD_LABELS[method]} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "### Removal: does the object come back? (sampled PSNR inside the removed region, dB)",
        "",
        "| Method | vs the ground truth (object gone), higher is better | vs the original (object back), lower is better |",
        "|---|---:|---:|",
    ]
    for method in methods:
        if method == "vae_ceiling":
            continue
        e = summ[method]["remove"]
        lines.append(f"| {METHOD_LABELS[method]} | {_fmt(e.get('psnr_inside'))} | {_fmt(e.get('psnr_inside_original'))} |")
    lines += ["", "### MPD IoU at the best single threshold (oracle, chosen on these cases; all tasks pooled)", ""]
    lines += ["| Method | threshold | IoU | IoU at 0.5 |", "|---|---:|---:|---:|"]
    for method in methods:
        bt = summ[method].get("best_threshold")
        if bt is None or method in ("classic",):
            continue
        spread = f" ± {bt['train_std']:.3f}" if bt["train_std"] else ""
        lines.append(
            f"| {METHOD_LABELS[method]} | {bt['threshold']:.2f} | {bt['iou']:.3f}{spread} | {_fmt(summ[method]['all'].get('mask_iou'), 3)} |"
        )
    tf_keys = [f"s{s:g}" for s in st["tf_sigmas"]]
    if tf_keys:
        lines += [
            "",
            "### Teacher-forced x0 estimate (one denoising call on the noised ground truth; all tasks pooled)",
            "",
            "| Method | " + " | ".join(f"PSNR out σ={k[1:]} | PSNR in σ={k[1:]} | MPD IoU σ={k[1:]}" for k in tf_keys) + " |",
            "|---|" + "---:|" * (3 * len(tf_keys)),
        ]
        for method in methods:
            if method in ("classic", "vae_ceiling"):
                continue
            a = summ[method]["all"]
            cells = []
            for k in tf_keys:
                cells += [
                    _fmt(a.get(f"tf_psnr_outside_{k}")),
                    _fmt(a.get(f"tf_psnr_inside_{k}")),
                    _fmt(a.get(f"tf_mask_iou_{k}"), 3),
                ]
            lines.append(f"| {METHOD_LABELS[method]} | " + " | ".join(cells) + " |")
    lines += ["", "### Claims (all tasks pooled, paired by case, training seed and sampling seed)", ""]
    lines += [_claim(c) for c in result["comparisons"]]
    lines += ["", "### Targets (issue 14; sampled, all tasks pooled)", ""]
    for t in result["targets"]:
        verdict = "met" if t["margin"] >= 0 else f"**missed by {-t['margin']:.2f}**"
        lines.append(f"- {t['target']}: {t['value']:+.3f} → {verdict}")
    lines += ["", "### Training (mean of the last 50 steps)", "", "| Run | samples/s | total | non-mask | mask | grad | mpd |"]
    lines += ["|---|---:|---:|---:|---:|---:|---:|"]
    for name, info in tr.items():
        f = info.get("final_loss_mean50", {})
        if f:
            cells = [f"{info['samples_per_s']:.2f}", *(f"{f[k]:.4f}" for k in ("total", "non_mask", "mask", "grad", "mpd"))]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "![original | edited first frame | G alone | GenProp | MPD mask (last frame)](mini_repro_preview.png)",
        "",
        "Preview (last frame of the first case of each task, rows remove / insert / replace / recolour / track; "
        "training seed 0, sampling seed 0): original | edited first frame | G alone | GenProp | MPD mask (> 0.5) over the "
        "original. Raw figures: `docs/mini_repro.json`.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- shipping
def ship(dest: Path, svd_dir: Path, heads_dir: Path, case: Case, result_note: dict[str, Any]) -> None:
    """fp16 copies of G/VAE/CLIP (SVD layout, variant fp16) and the GenProp heads, plus one bundled case."""
    from engine.edits.edit_file import save_edit
    from engine.video import write_png_sequence

    if dest.exists():
        for sub in ("svd", "genprop", "case"):
            shutil.rmtree(dest / sub, ignore_errors=True)
    dest.mkdir(parents=True, exist_ok=True)
    pipe = StableVideoDiffusionPipeline.from_pretrained(svd_dir, torch_dtype=torch.float16, use_safetensors=True)
    pipe.save_pretrained(dest / "svd", safe_serialization=True, variant="fp16")
    heads = GenPropHeads.from_pretrained(heads_dir).half()
    save_weights(heads, dest / "genprop")
    c = dest / "case"
    write_png_sequence(c / "frames", list(case.original))
    write_png_sequence(c / "target", list(case.target))
    write_png_sequence(c / "masks", [_u8(m) for m in case.mask])
    cv2.imwrite(str(c / "edited_frame.png"), cv2.cvtColor(case.edited, cv2.COLOR_RGB2BGR))
    obj = case.op.source_mask if case.op.source_mask is not None else case.op.mask
    save_edit([{"op": "remove", "mask": obj, "method": "telea", "dilate": 1.0}], c)
    (c / "case.json").write_text(
        json.dumps(
            {
                "task": case.task,
                "clip_seed": case.seed,
                "object": case.obj,
                "fps": case.fps,
                "frames": "frames/ (the original clip)",
                "edited_frame": "edited_frame.png (exact ground-truth frame 1)",
                "target": "target/ (exact ground truth)",
                "masks": "masks/ (true edit masks: object + shadow)",
                "edit": "edit.json (the same removal as an edit file: Telea-filled frame 1, for the app and CLI)",
                **result_note,
            },
            indent=2,
        )
        + "\n"
    )


# ---------------------------------------------------------------------------- driver
def _load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _recipe_text(cfg: TrainConfig) -> str:
    lc, dc, oc, data = cfg.loss, cfg.diffusion, cfg.optim, cfg.data
    mult = ", ".join(f"{k} x{v:g}" for k, v in oc.lr_multipliers.items()) or "none"
    return (
        f"Region-Aware loss {1}/{lc.mask_weight:g}/{lc.grad_weight:g}/{lc.mpd_weight:g}, L_grad on the SCE's "
        f"{lc.grad_features}, L_MPD {lc.mpd_loss}, ln sigma ~ N({dc.p_mean:g}, {dc.p_std:g}²), lr {oc.learning_rate:g} "
        f"(multipliers: {mult}), task mix {'/'.join(f'{v:g}' for v in data.task_probabilities.values())} "
        f"with {data.none_task_p:g} of items labelled `none`"
        + (", the MPD reads the edit cue (G's input ++ the SCE's input latents)" if cfg.model.mpd_edit_cue else "")
    )


def update_state(state_path: Path, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge ``changes`` into ``stages.json`` as it is on disk now (several ``--train-only``
    processes may share one ``--out``, each training its own runs) and write it atomically."""
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    state.update(changes)
    tmp = state_path.with_name(f"{state_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, state_path)
    return state


def run(
    settings: ReproSettings,
    out: Path,
    ship_to: Path | None,
    docs_dir: Path | None,
    command: str,
    train_only: bool = False,
    existing_only: bool = False,
) -> dict[str, Any] | None:
    """All stages; reuses a stage's finished output in ``out`` (so a killed run can continue).
    ``train_only`` stops after stage 3 (no evaluation, nothing written outside ``out``);
    ``existing_only`` trains nothing and evaluates the stage-3 runs that are complete."""
    torch.set_num_threads(settings.threads)
    load_before = _load_average()
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    clips = train_clip_frames(settings)
    svd_dir = out / "svd"
    state_path = out / "stages.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}

    if not (svd_dir / "model_index.json").is_file():
        t0 = time.perf_counter()
        vae, vae_info = train_vae(settings, clips)
        timings["vae"] = time.perf_counter() - t0
        torch.manual_seed(settings.seed + 3)
        encoder = build_image_encoder(int(tiny_unet_config()["cross_attention_dim"])).eval().requires_grad_(False)
        t0 = time.perf_counter()
        unet, g_info = train_g(settings, clips, vae, encoder)
        timings["g"] = time.perf_counter() - t0
        save_svd_folder(svd_dir, vae, encoder, unet)
        state = update_state(state_path, {"vae": vae_info, "g": g_info, "timings_stage12": dict(timings)})
    else:
        log.info("reusing %s", svd_dir)
        timings.update(state.get("timings_stage12", {}))

    heads_dirs: dict[tuple[str, int], Path] = {}
    ablations = [v for v in settings.variants if v != "full"]
    for variant in settings.variants:
        for seed in settings.train_seeds:
            name = f"{variant}_s{seed}"
            run_dir = run_dir_for(out, variant, seed)
            heads_dirs[(variant, seed)] = checkpoint_heads(run_dir, steps_for(settings, variant))
            if variant == "full" and ablations and settings.ablation_steps < settings.genprop_steps:
                heads_dirs[("full_equal_steps", seed)] = checkpoint_heads(run_dir, settings.ablation_steps)
            if (heads_dirs[(variant, seed)] / "config.json").is_file() and (run_dir / "metrics.jsonl").is_file():
                log.info("reusing %s", run_dir)
                continue
            if existing_only:
                log.info("skipping %s: not trained to step %d (--existing-only)", name, steps_for(settings, variant))
                del heads_dirs[(variant, seed)]
                continue
            resume = prepare_resume(run_dir)  # a killed run continues from its last checkpoint
            extend = None
            if resume is not None:
                log.info("resuming %s from %s", run_dir, resume.name)
            elif settings.extend_from:
                extend = extension_start(Path(settings.extend_from), variant, seed)
                log.info("extending %s from %s", run_dir, extend)
            t0 = time.perf_counter()
            info = train_genprop(stage3_config(settings, svd_dir, run_dir, variant, seed), resume, extend)
            elapsed = time.perf_counter() - t0
            state = update_state(state_path, {f"train_{name}": info, f"timings_{name}": elapsed})
            timings[f"genprop_{name}"] = elapsed
            timings.setdefault(f"genprop_{name}", state.get(f"timings_{name}", float("nan")))
    for key in [k for k, path in heads_dirs.items() if k[0] == "full_equal_steps" and not (path / "config.json").is_file()]:
        del heads_dirs[key]
    if not heads_dirs:
        raise SystemExit(f"no trained stage-3 run to evaluate in {out}")
    if train_only:
        log.info("trained %s; stopping before the evaluation (--train-only)", sorted(f"{v}_s{s}" for v, s in heads_dirs))
        return None
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}  # runs other processes trained too
    for variant in settings.variants:
        for seed in settings.train_seeds:
            timings.setdefault(f"genprop_{variant}_s{seed}", state.get(f"timings_{variant}_s{seed}", float("nan")))

    t0 = time.perf_counter()
    cases = heldout_cases(settings)
    records, previews = evaluate(settings, svd_dir, heads_dirs, cases)
    timings["evaluate"] = time.perf_counter() - t0

    pipe = load_pipeline(svd_dir)
    vae_psnr = _mean(
        [psnr(vae_roundtrip(pipe.vae, c.original)[t], c.original[t]) for c in cases[:5] for t in range(len(c.original))]
    )
    summary = summarise(records)
    comps = comparisons(records)
    timings["total"] = time.perf_counter() - t_all
    first_cfg = stage3_config(settings, svd_dir, out / "unused", settings.variants[0], settings.train_seeds[0])
    result: dict[str, Any] = {
        "label": LABEL,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}",
        "load": {"before": load_before, "after": _load_average()},
        "command": command,
        "settings": dataclasses.asdict(settings),
        "stage3_recipe": _recipe_text(first_cfg),
        "params": {
            "unet": sum(p.numel() for p in pipe.unet.parameters()),
            "vae": sum(p.numel() for p in pipe.vae.parameters()),
            "heads": sum(p.numel() for p in GenPropHeads.from_pretrained(next(iter(heads_dirs.values()))).parameters()),
        },
        "vae": {**state.get("vae", {}), "heldout_psnr": vae_psnr},
        "g": state.get("g", {}),
        "training": {k[len("train_") :]: v for k, v in state.items() if k.startswith("train_")},
        "timings_s": timings,
        "summary": summary,
        "comparisons": comps,
        "targets": targets(summary, comps),
        "records": records,
    }
    (out / "mini_repro.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    if previews:
        grid = preview_image(previews)
        cv2.imwrite(str(out / "mini_repro_preview.png"), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    md = report_markdown(result)
    (out / "mini_repro.md").write_text(md)
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        (docs_dir / "bench_sections").mkdir(exist_ok=True)
        shutil.copy(out / "mini_repro.json", docs_dir / "mini_repro.json")
        if previews:
            shutil.copy(out / "mini_repro_preview.png", docs_dir / "mini_repro_preview.png")
        (docs_dir / "bench_sections" / "mini_repro.md").write_text(md)
    if ship_to is not None:
        if ("full", settings.train_seeds[0]) not in heads_dirs:
            raise SystemExit("--ship-to needs the 'full' variant")
        bundled = next(c for c in cases if c.task == "remove")
        mine = [r for r in records if r["clip_seed"] == bundled.seed and r["task"] == "remove"]
        full0 = [r for r in mine if r["method"] == "full" and r["train_seed"] == settings.train_seeds[0]]
        note = {
            "label": LABEL,
            "training_seed": settings.train_seeds[0],
            "psnr_outside_genprop_vs_baseline": paired(
                [r for r in mine if r["method"] == "baseline_i2v" or r in full0], "full", "baseline_i2v", "psnr_outside"
            ),
            "mpd_iou_at_0.5": _mean([r["mask_iou"] for r in full0]),
        }
        ship(ship_to, svd_dir, heads_dirs[("full", settings.train_seeds[0])], bundled, note)
    log.info("done in %.1f min", timings["total"] / 60)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.mini_repro", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full")
    parser.add_argument("--smoke", action="store_true", help="same as --preset smoke (every stage, 1-2 steps)")
    parser.add_argument("--out", default="runs/mini_repro", help="working folder (stages reuse finished outputs here)")
    parser.add_argument("--ship-to", default=None, help="write the demo weights + bundled case here (e.g. resources/demo_model)")
    parser.add_argument("--docs-dir", default=None, help="write mini_repro.json/.png and bench_sections/mini_repro.md here")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change a setting, e.g. g_steps=300")
    parser.add_argument(
        "--train-only",
        action="store_true",
        help="train stages 1-3 and stop; several such processes with disjoint --set variants/train_seeds may share one --out",
    )
    parser.add_argument(
        "--existing-only",
        action="store_true",
        help="train nothing in stage 3: evaluate the runs of --set variants/train_seeds that are complete (partial results)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout, force=True)
    settings = apply_overrides(PRESETS["smoke" if args.smoke else args.preset], args.set)
    command = "python -m training.mini_repro " + " ".join(argv if argv is not None else sys.argv[1:])
    run(
        settings,
        Path(args.out),
        None if args.ship_to is None else Path(args.ship_to),
        None if args.docs_dir is None else Path(args.docs_dir),
        command.strip(),
        train_only=args.train_only,
        existing_only=args.existing_only,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
