"""A miniature GenProp reproduction on procedural video, end to end through our own code.

No pretrained video model can be downloaded here, so the recipe is reproduced in small:

1. a tiny SVD-style temporal-decoder VAE (x4) is trained as an autoencoder of procedural frames;
2. a tiny SVD U-Net G is pretrained as a plain image-to-video model with SVD's EDM
   v-objective (the stand-in for the public SVD weights); stages 1-2 are saved as a
   diffusers SVD folder, exactly the layout the app loads;
3. GenProp (SCE, MPD, task embeddings; G frozen) is trained by ``training.trainer`` with the
   Region-Aware loss and the paper's task mix (``training/configs/mini_repro.yaml``), plus two
   ablations (no L_grad, no L_MPD);
4. held-out procedural cases with exact ground truth (remove with shadow, insert, replace,
   recolour, track) are propagated by G alone, GenProp, the ablations and the classic engine,
   through ``GenPropPipeline`` / the engine registry, and scored (PSNR outside the edit against
   the original, PSNR inside against the ground truth, mask IoU).

Run: ``python -m training.mini_repro --ship-to resources/demo_model --docs-dir docs``
(``--preset smoke`` runs every stage for 1-2 steps in seconds). Held-out cases use clip
seeds >= 100000; training uses seeds < train_clips; nothing is tuned on the held-out cases.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
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
from engine.genprop import GenPropHeads, tiny_unet_config
from engine.genprop.weights import save_weights
from engine.metrics import iou, psnr, psnr_inside, psnr_outside
from engine.pipelines.dummy import tiny_scheduler
from engine.pipelines.genprop_pipeline import GenPropPipeline
from engine.procedural import generate_clip
from engine.video.source import ArrayClip
from training.config import TrainConfig, config_from_dict
from training.diffusion import added_time_ids, edm_coefficients, sample_sigmas, v_target
from training.models import encode_condition, encode_image, encode_video

log = logging.getLogger("mini_repro")

ROOT = Path(__file__).resolve().parents[1]
STAGE3_CONFIG = ROOT / "training" / "configs" / "mini_repro.yaml"
TASKS = ("remove", "insert", "replace", "recolour", "track")
HELDOUT_SEED = 100_000
SOURCE_FPS = 24.0
NOISE_AUG = 0.02
MOTION_BUCKET = 127
LABEL = "procedural-domain demonstration model (GenProp miniature reproduction); not for real footage"


@dataclass(frozen=True)
class ReproSettings:
    """Every size and step count of a run (a preset, optionally changed with ``--set``)."""

    size: int = 64
    frames: int = 8
    stride: int = 3  # 24 fps procedural clips sampled every 3rd frame -> 8 fps, visible motion
    objects: int = 2
    train_clips: int = 64
    seed: int = 0
    threads: int = 2
    vae_steps: int = 1200
    vae_frames: int = 4  # frames per VAE step (the temporal decoder is the costly part)
    vae_lr: float = 2e-3
    g_steps: int = 1200
    g_batch: int = 2
    g_lr: float = 5e-4
    p_mean: float = 0.0
    p_std: float = 1.4
    genprop_steps: int = 500
    ablation_steps: int = 200
    cases_per_task: int = 3
    eval_seeds: tuple[int, ...] = (0, 1, 2)
    eval_steps: int = 8

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
        cases_per_task=1,
        eval_seeds=(0,),
        eval_steps=2,
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
    return dataclasses.replace(settings, **changes)


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
def build_vae() -> AutoencoderKLTemporalDecoder:
    """SVD's VAE class at a tiny size: 3 levels (x4 down), 4 latent channels."""
    return AutoencoderKLTemporalDecoder(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        block_out_channels=(32, 64, 64),
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


def build_unet(settings: ReproSettings) -> UNetSpatioTemporalConditionModel:
    """The tiny SVD U-Net (diffusers' test size), told its clip length."""
    return UNetSpatioTemporalConditionModel(
        **{**tiny_unet_config(), "num_frames": settings.frames, "sample_size": settings.size // 4}
    )


# ---------------------------------------------------------------------------- stage 1
def train_vae(settings: ReproSettings, clips: list[np.ndarray]) -> tuple[AutoencoderKLTemporalDecoder, dict[str, float]]:
    """L1 + MSE reconstruction (+ a tiny KL) of procedural windows; sets ``scaling_factor`` to 1/std."""
    torch.manual_seed(settings.seed)
    vae = build_vae()
    opt = torch.optim.AdamW(vae.parameters(), lr=settings.vae_lr, weight_decay=0.0)
    sched = get_cosine_schedule_with_warmup(opt, max(1, settings.vae_steps // 20), settings.vae_steps)
    rng = np.random.default_rng([settings.seed, 1])
    gen = torch.Generator().manual_seed(settings.seed + 1)
    vae.train()
    loss_value = float("nan")
    for step in range(settings.vae_steps):
        x = to_tensor(random_window(clips, settings, rng)[: settings.vae_frames])
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen)
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
    vae.eval().requires_grad_(False)
    with torch.no_grad():
        lat = torch.cat([vae.encode(to_tensor(window(c, settings))).latent_dist.mode() for c in clips[:16]])
    std = float(lat.std())
    vae.register_to_config(scaling_factor=1.0 / max(std, 1e-6))
    return vae, {"final_loss": loss_value, "latent_std": std, "scaling_factor": 1.0 / max(std, 1e-6)}


@torch.no_grad()
def vae_roundtrip(vae: AutoencoderKLTemporalDecoder, frames: np.ndarray) -> np.ndarray:
    """Encode (posterior mode) and decode a clip: the best any latent model here can reproduce it."""
    x = to_tensor(frames)
    return to_uint8(vae.decode(vae.encode(x).latent_dist.mode(), num_frames=x.shape[0]).sample)


# ---------------------------------------------------------------------------- stage 2
def train_g(
    settings: ReproSettings, clips: list[np.ndarray], vae: AutoencoderKLTemporalDecoder, encoder: CLIPVisionModelWithProjection
) -> tuple[UNetSpatioTemporalConditionModel, dict[str, float]]:
    """Plain image-to-video pretraining of G with SVD's EDM v-objective (first frame + CLIP conditioning)."""
    torch.manual_seed(settings.seed + 2)
    unet = build_unet(settings)
    unet.train()
    opt = torch.optim.AdamW(unet.parameters(), lr=settings.g_lr, weight_decay=0.01)
    sched = get_cosine_schedule_with_warmup(opt, max(1, settings.g_steps // 20), settings.g_steps)
    rng = np.random.default_rng([settings.seed, 2])
    gen = torch.Generator().manual_seed(settings.seed + 2)
    sf = float(vae.config.scaling_factor)
    losses: list[float] = []
    for step in range(settings.g_steps):
        video = torch.stack([to_tensor(random_window(clips, settings, rng)) for _ in range(settings.g_batch)])
        b, t = video.shape[:2]
        with torch.no_grad():
            x0 = encode_video(vae, video, sf)
            cond = video[:, 0]
            cond_lat = encode_condition(vae, cond + NOISE_AUG * torch.randn(cond.shape, generator=gen))
            embeds = encode_image(encoder, cond)
        c = edm_coefficients(sample_sigmas(b, settings.p_mean, settings.p_std, gen))
        noisy = x0 + c.sigma * torch.randn(x0.shape, generator=gen)
        sample = torch.cat([c.c_in * noisy, cond_lat[:, None].expand(-1, t, -1, -1, -1)], dim=2)
        ids = added_time_ids(torch.full((b,), settings.fps), MOTION_BUCKET, NOISE_AUG)
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
    unet.eval().requires_grad_(False)
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
def stage3_config(
    settings: ReproSettings, svd_dir: Path, out: Path, steps: int, grad_weight: float, mpd_weight: float
) -> TrainConfig:
    """The preset file with this run's sizes, paths, step count and ablation switches."""
    data = yaml.safe_load(STAGE3_CONFIG.read_text())
    data.update(output_dir=str(out), seed=settings.seed, torch_threads=settings.threads)
    data["data"]["sources"][0].update(
        count=settings.train_clips,
        width=settings.size,
        height=settings.size,
        frames=settings.clip_length,
        objects=settings.objects,
        seed=0,
    )
    data["data"].update(num_frames=settings.frames, fps=settings.fps, buckets=[[settings.size, settings.size]])
    data["model"]["pretrained_path"] = str(svd_dir)
    data["diffusion"].update(p_mean=settings.p_mean, p_std=settings.p_std)
    data["loss"].update(grad_weight=grad_weight, mpd_weight=mpd_weight)
    data["optim"].update(max_steps=steps, warmup_steps=max(1, min(20, steps // 10)))
    data["checkpoint"].update(every=max(1, min(settings.ablation_steps, steps)))
    return config_from_dict(data)


def train_genprop(cfg: TrainConfig) -> dict[str, Any]:
    """One run of the product's trainer; returns its loss history summary."""
    from training.trainer import Trainer  # accelerate import kept out of module import time

    result = Trainer(cfg).run()
    hist = result.history
    tail = hist[-20:] if hist else []
    return {
        "steps": result.final_step,
        "samples_per_s": result.samples_per_second,
        "final_loss_mean20": {k: float(np.mean([h[k] for h in tail])) for k in ("total", "non_mask", "mask", "grad", "mpd")}
        if tail
        else {},
    }


def checkpoint_heads(run_dir: Path, step: int) -> Path:
    return run_dir / f"checkpoint-{step}" / "genprop"


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
    """``cases_per_task`` cases per task from clip seeds ``HELDOUT_SEED + 1000 * task_index + i``."""
    cases = []
    for ti, task in enumerate(TASKS):
        seed, found = HELDOUT_SEED + 1000 * ti, 0
        while found < settings.cases_per_task:
            case = make_case(task, seed, settings)
            seed += 1
            if case is not None:
                cases.append(case)
                found += 1
    return cases


# ---------------------------------------------------------------------------- evaluation
def load_pipeline(svd_dir: Path, torch_dtype: torch.dtype = torch.float32) -> GenPropPipeline:
    return GenPropPipeline.from_pretrained(svd_dir, torch_dtype=torch_dtype, local_files_only=True)


def propagate(
    pipe: GenPropPipeline, heads: GenPropHeads, case: Case, seed: int, steps: int, injection_weight: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """One pipeline run, no guidance (G was trained without conditioning dropout), no keep-original.

    ``injection_weight=0`` is G alone conditioned on the edited first frame (the SCE's residuals
    are scaled to zero; the task row used at inference, ``none``, is never trained, so it is 0).
    """
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
        injection_weight=injection_weight,
        generator=gen,
    )
    return out.frames, out.masks


def scores(frames: np.ndarray, case: Case, pred_mask: np.ndarray | None) -> dict[str, float]:
    return {
        "psnr_outside": psnr_outside(frames, case.original, case.mask),
        "psnr_inside": psnr_inside(frames, case.target, case.mask),
        "mask_iou": float("nan") if pred_mask is None else iou(pred_mask, case.mask),
    }


METHODS = ("baseline_i2v", "genprop", "genprop_equal_steps", "genprop_no_grad", "genprop_no_mpd", "classic")
METHOD_LABELS = {
    "baseline_i2v": "(a) G alone (plain I2V on the edited frame)",
    "genprop": "(b) GenProp",
    "genprop_equal_steps": "(b') GenProp at the ablations' step count",
    "genprop_no_grad": "(c) GenProp without L_grad",
    "genprop_no_mpd": "(d) GenProp without L_MPD",
    "classic": "(e) classic engine",
    "vae_ceiling": "VAE round trip of the original (ceiling)",
}


def evaluate(
    settings: ReproSettings, svd_dir: Path, heads_dirs: dict[str, Path], cases: list[Case]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Score every method on every case (and sampling seed); returns raw records and preview material."""
    pipe = load_pipeline(svd_dir)
    heads = {name: GenPropHeads.from_pretrained(path) for name, path in heads_dirs.items()}
    classic = get_engine("classic")()
    records: list[dict[str, Any]] = []
    previews: dict[str, dict[str, np.ndarray]] = {}
    for ci, case in enumerate(cases):
        base = {"task": case.task, "clip_seed": case.seed, "object": case.obj}
        rt = vae_roundtrip(pipe.vae, case.original)
        records.append({**base, "method": "vae_ceiling", "sample_seed": None, **scores(rt, case, None)})
        res = classic.propagate(ArrayClip(case.original, case.fps), case.first_frame_edit(), {"tracker": "flow"})
        records.append({**base, "method": "classic", "sample_seed": None, **scores(res.frames, case, res.masks > 0)})
        for seed in settings.eval_seeds:
            frames, _ = propagate(pipe, heads["genprop"], case, seed, settings.eval_steps, injection_weight=0.0)
            records.append({**base, "method": "baseline_i2v", "sample_seed": seed, **scores(frames, case, None)})
            outs = {"baseline_i2v": frames}
            for name in ("genprop", "genprop_equal_steps", "genprop_no_grad", "genprop_no_mpd"):
                frames, masks = propagate(pipe, heads[name], case, seed, settings.eval_steps)
                records.append({**base, "method": name, "sample_seed": seed, **scores(frames, case, masks > 0.5)})
                outs[name], outs[name + "_mask"] = frames, masks
            if seed == settings.eval_seeds[0] and case.task not in previews:
                previews[case.task] = {"case": case, **outs}  # type: ignore[dict-item]
        log.info("evaluated case %d/%d (%s, clip %d)", ci + 1, len(cases), case.task, case.seed)
    return records, previews


def _mean(values: Sequence[float]) -> float:
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], np.float64)
    return float(arr.mean()) if arr.size else float("nan")


def _std(values: Sequence[float]) -> float:
    arr = np.asarray([v for v in values if not math.isnan(v)], np.float64)
    return float(arr.std(ddof=1)) if arr.size > 1 else float("nan")


def summarise(records: list[dict[str, Any]], seeds: Sequence[int]) -> dict[str, Any]:
    """Per method x task x metric: mean over cases and seeds, and the seed-to-seed spread
    (std over sampling seeds of the per-seed mean over cases; 0 for deterministic methods)."""
    out: dict[str, Any] = {}
    for method in [*METHODS, "vae_ceiling"]:
        rows = [r for r in records if r["method"] == method]
        out[method] = {}
        for task in [*TASKS, "all"]:
            sel = [r for r in rows if task == "all" or r["task"] == task]
            entry = {}
            for metric in ("psnr_outside", "psnr_inside", "mask_iou"):
                per_seed = []
                for seed in {r["sample_seed"] for r in sel}:
                    per_seed.append(_mean([r[metric] for r in sel if r["sample_seed"] == seed]))
                entry[metric] = {
                    "mean": _mean([r[metric] for r in sel]),
                    "seed_std": _std(per_seed) if len(per_seed) > 1 else 0.0,
                }
            out[method][task] = entry
    return out


def paired(records: list[dict[str, Any]], a: str, b: str, metric: str) -> dict[str, float]:
    """Difference a - b over matched (case, seed) pairs; deterministic methods match every seed."""

    def key(r: dict[str, Any]) -> tuple[int, Any]:
        return (r["clip_seed"], r["task"])

    diffs_by_seed: dict[Any, list[float]] = {}
    for ra in (r for r in records if r["method"] == a):
        for rb in (r for r in records if r["method"] == b and key(r) == key(ra)):
            if rb["sample_seed"] not in (None, ra["sample_seed"]) and ra["sample_seed"] is not None:
                continue
            seed = ra["sample_seed"] if ra["sample_seed"] is not None else rb["sample_seed"]
            if not (math.isnan(ra[metric]) or math.isnan(rb[metric])):
                diffs_by_seed.setdefault(seed, []).append(ra[metric] - rb[metric])
    all_diffs = [d for v in diffs_by_seed.values() for d in v]
    per_seed = [float(np.mean(v)) for v in diffs_by_seed.values()]
    return {
        "mean_diff": _mean(all_diffs),
        "seed_std_of_diff": _std(per_seed) if len(per_seed) > 1 else float("nan"),
        "pairs_won_fraction": float(np.mean([d > 0 for d in all_diffs])) if all_diffs else float("nan"),
        "pairs": len(all_diffs),
    }


COMPARISONS = (
    ("genprop", "baseline_i2v"),
    ("genprop", "classic"),
    ("genprop_equal_steps", "genprop_no_grad"),
    ("genprop_equal_steps", "genprop_no_mpd"),
)


# ---------------------------------------------------------------------------- report
def preview_image(previews: dict[str, dict[str, Any]], frame: int | None = None, scale: int = 3) -> np.ndarray:
    """Rows = tasks; columns = original | edited first frame | baseline | GenProp | MPD mask (last frame)."""
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


def _fmt(entry: dict[str, float], digits: int = 2) -> str:
    m, s = entry["mean"], entry["seed_std"]
    if math.isnan(m):
        return "–"
    return f"{m:.{digits}f}" if not s or math.isnan(s) else f"{m:.{digits}f} ± {s:.{digits}f}"


def report_markdown(result: dict[str, Any]) -> str:
    """The docs/bench_sections section: setup, tables, comparisons stated against the seed spread."""
    st, summ = result["settings"], result["summary"]
    lines = [
        "## Miniature GenProp reproduction on procedural video",
        "",
        f"- Date: {result['date']}",
        f"- Machine: {result['machine']}",
        f"- Command: `{result['command']}` (total {result['timings_s']['total'] / 60:.1f} min)",
        f"- Data: procedural clips {st['size']}x{st['size']}, {st['frames']} frames (every {st['stride']}rd frame of 24 fps, "
        f"so {st['size'] * 0 + 24 / st['stride']:.0f} fps), {st['objects']} objects; training clip seeds 0..{st['train_clips'] - 1}, "
        f"held-out cases from seeds >= {HELDOUT_SEED} ({st['cases_per_task']} per task), "
        f"sampling seeds {list(st['eval_seeds'])}, {st['eval_steps']} Euler steps, no guidance, no keep-original compositing.",
        f"- Stage 1, VAE (AutoencoderKLTemporalDecoder, x4, 4 latent channels): {st['vae_steps']} steps; "
        f"held-out reconstruction PSNR **{result['vae']['heldout_psnr']:.2f} dB** (whole frames).",
        f"- Stage 2, G (tiny SVD U-Net, {result['params']['unet'] / 1e6:.2f} M parameters) pretrained as plain I2V with SVD's "
        f"EDM v-objective: {st['g_steps']} steps of batch {st['g_batch']}.",
        f"- Stage 3, GenProp (SCE + MPD + task embeddings, {result['params']['heads'] / 1e6:.2f} M trained parameters, G frozen) "
        f"with `training.trainer` and `training/configs/mini_repro.yaml` (Region-Aware loss 1/2/1/1, task mix 0.5/0.375/0.125): "
        f"(b) {st['genprop_steps']} steps; ablations (c) L_grad weight 0 and (d) L_MPD weight 0 for {st['ablation_steps']} steps "
        f"each, compared with (b') = the full run's checkpoint at the same step.",
        "- Each cell: mean over cases and sampling seeds ± the seed-to-seed spread (standard deviation over "
        "sampling seeds of the per-seed mean). The classic engine and the VAE round trip are deterministic.",
        "",
    ]
    for metric, title in (
        ("psnr_outside", "PSNR outside the edit mask vs the original clip (PSNRm, dB, higher is better)"),
        ("psnr_inside", "PSNR inside the edit mask vs the ground-truth edited clip (dB, higher is better)"),
        ("mask_iou", "Mask IoU vs the true edit masks (GenProp: MPD > 0.5; classic: its tracked mask)"),
    ):
        lines += [f"### {title}", "", "| Method | " + " | ".join(TASKS) + " | all |", "|---|" + "---:|" * (len(TASKS) + 1)]
        for method in [*METHODS, "vae_ceiling"]:
            if metric == "mask_iou" and method in ("baseline_i2v", "vae_ceiling"):
                continue
            cells = [_fmt(summ[method][t][metric], 3 if metric == "mask_iou" else 2) for t in [*TASKS, "all"]]
            lines.append(f"| {METHOD_LABELS[method]} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### What beat what (all tasks pooled, paired by case and sampling seed)", ""]
    for a, b, metric, d in result["comparisons"]:
        verdict = "beat" if d["mean_diff"] > 0 else "did not beat"
        spread = d["seed_std_of_diff"]
        rel = (
            ""
            if math.isnan(spread) or spread == 0
            else f", {abs(d['mean_diff']) / spread:.1f}x the seed-to-seed spread of the difference ({spread:.3f})"
        )
        lines.append(
            f"- {METHOD_LABELS[a]} {verdict} {METHOD_LABELS[b]} on {metric}: {d['mean_diff']:+.3f}{rel}; "
            f"won {d['pairs_won_fraction'] * 100:.0f}% of {d['pairs']} pairs."
        )
    lines += [
        "",
        "![original | edited first frame | G alone | GenProp | MPD mask (last frame)](mini_repro_preview.png)",
        "",
        "Preview (last frame of the first case of each task, rows remove / insert / replace / recolour / track): "
        "original | edited first frame | G alone | GenProp | MPD mask over the original. Raw figures: `docs/mini_repro.json`.",
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
def run(settings: ReproSettings, out: Path, ship_to: Path | None, docs_dir: Path | None, command: str) -> dict[str, Any]:
    """All stages; reuses a stage's finished output in ``out`` (so a killed run can continue)."""
    torch.set_num_threads(settings.threads)
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
        state.update(vae=vae_info, g=g_info, timings_stage12=dict(timings))
        state_path.write_text(json.dumps(state, indent=2))
    else:
        log.info("reusing %s", svd_dir)
        timings.update(state.get("timings_stage12", {}))

    runs = {
        "full": (settings.genprop_steps, 1.0, 1.0),
        "no_grad": (settings.ablation_steps, 0.0, 1.0),
        "no_mpd": (settings.ablation_steps, 1.0, 0.0),
    }
    for name, (steps, gw, mw) in runs.items():
        run_dir = out / f"genprop_{name}"
        if (checkpoint_heads(run_dir, steps) / "config.json").is_file():
            log.info("reusing %s", run_dir)
            continue
        t0 = time.perf_counter()
        state[f"train_{name}"] = train_genprop(stage3_config(settings, svd_dir, run_dir, steps, gw, mw))
        timings[f"genprop_{name}"] = time.perf_counter() - t0
        state[f"timings_{name}"] = timings[f"genprop_{name}"]
        state_path.write_text(json.dumps(state, indent=2))
    for name in runs:
        timings.setdefault(f"genprop_{name}", state.get(f"timings_{name}", float("nan")))

    heads_dirs = {
        "genprop": checkpoint_heads(out / "genprop_full", settings.genprop_steps),
        "genprop_equal_steps": checkpoint_heads(out / "genprop_full", min(settings.ablation_steps, settings.genprop_steps)),
        "genprop_no_grad": checkpoint_heads(out / "genprop_no_grad", settings.ablation_steps),
        "genprop_no_mpd": checkpoint_heads(out / "genprop_no_mpd", settings.ablation_steps),
    }
    t0 = time.perf_counter()
    cases = heldout_cases(settings)
    records, previews = evaluate(settings, svd_dir, heads_dirs, cases)
    timings["evaluate"] = time.perf_counter() - t0

    pipe = load_pipeline(svd_dir)
    vae_psnr = _mean(
        [psnr(vae_roundtrip(pipe.vae, c.original)[t], c.original[t]) for c in cases[:5] for t in range(len(c.original))]
    )
    summary = summarise(records, settings.eval_seeds)
    comparisons = [
        (a, b, metric, paired(records, a, b, metric))
        for a, b in COMPARISONS
        for metric in ("psnr_outside", "psnr_inside", "mask_iou")
        if not (metric == "mask_iou" and b == "baseline_i2v")
    ]
    timings["total"] = time.perf_counter() - t_all
    result: dict[str, Any] = {
        "label": LABEL,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}; CPU shared with other jobs",
        "command": command,
        "settings": dataclasses.asdict(settings),
        "params": {
            "unet": sum(p.numel() for p in pipe.unet.parameters()),
            "vae": sum(p.numel() for p in pipe.vae.parameters()),
            "heads": sum(p.numel() for p in GenPropHeads.from_pretrained(heads_dirs["genprop"]).parameters()),
        },
        "vae": {**state.get("vae", {}), "heldout_psnr": vae_psnr},
        "g": state.get("g", {}),
        "training": {k: v for k, v in state.items() if k.startswith("train_")},
        "timings_s": timings,
        "summary": summary,
        "comparisons": comparisons,
        "records": records,
    }
    (out / "mini_repro.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    grid = preview_image(previews)
    cv2.imwrite(str(out / "mini_repro_preview.png"), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    md = report_markdown(result)
    (out / "mini_repro.md").write_text(md)
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        (docs_dir / "bench_sections").mkdir(exist_ok=True)
        shutil.copy(out / "mini_repro.json", docs_dir / "mini_repro.json")
        shutil.copy(out / "mini_repro_preview.png", docs_dir / "mini_repro_preview.png")
        (docs_dir / "bench_sections" / "mini_repro.md").write_text(md)
    if ship_to is not None:
        bundled = next(c for c in cases if c.task == "remove")
        note = {
            "label": LABEL,
            "psnr_outside_genprop_vs_baseline": paired(
                [r for r in records if r["clip_seed"] == bundled.seed], "genprop", "baseline_i2v", "psnr_outside"
            ),
        }
        ship(ship_to, svd_dir, heads_dirs["genprop"], bundled, note)
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
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
