"""Probe what the Mask Prediction Decoder's inputs know about the edit's location (issue 14).

Frozen G + trained SCE from a stage-3 checkpoint; many training pairs are pushed through once
(no backprop through G) and the tensors a mask head could read are cached: the MPD's current
input (the kwargs of G's last up block, with and without the SCE residuals in the skips), G's
and the SCE's features at each depth, and the explicit cue the edit is defined by (G's
condition latents vs the SCE's input latents). A fresh head is trained on each for a few
hundred fast steps and scored by IoU on pairs from other clips, at fixed noise levels.

    OMP_NUM_THREADS=1 python -m training.mpd_probe --svd runs/final/svd \
        --heads runs/final/genprop_full_s0/checkpoint-150/genprop --out runs/mpd_probe

Not product code: a diagnostic whose figures are quoted in docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.genprop import GenPropHeads
from engine.genprop.backbones import svd
from engine.genprop.mpd import MaskPredictionDecoder
from engine.tasks import Task
from training.diffusion import edm_coefficients
from training.losses import mpd_loss
from training.mini_repro import ReproSettings, heldout_cases, stage3_config, to_tensor
from training.models import build_components
from training.step import prepare_inputs, step_generator
from training.trainer import build_dataset

log = logging.getLogger("mpd_probe")
VAL_SIGMAS = (1.2, 7.3, 31.0)  # steps of the 8-step sampler; 1.2 is where the pipeline reads the MPD


def recover_x0(x) -> torch.Tensor:  # noqa: ANN001 - StepInputs
    """The clean target latents from a prepared step (x0 = c_skip x + c_out v)."""
    sigma = torch.exp(4.0 * x.timestep)
    c = edm_coefficients(sigma)
    noisy = x.sample[:, :, :4] / c.c_in
    return c.c_skip * noisy + c.c_out * x.target


@torch.no_grad()
def cache_item(model, x, sigma: torch.Tensor | None, gen: torch.Generator) -> list[dict[str, Any]]:  # noqa: ANN001
    """Run G (+SCE) on one prepared batch (re-noised at ``sigma`` when given); per-item tensors."""
    if sigma is not None:
        x0 = recover_x0(x)
        c = edm_coefficients(sigma.expand(x0.shape[0]))
        noisy = x0 + c.sigma * torch.randn(x0.shape, generator=gen)
        sample = torch.cat([c.c_in * noisy, x.sample[:, :, 4:]], dim=2)
        timestep = c.c_noise
    else:
        sample, timestep = x.sample, x.timestep
    b, t = sample.shape[:2]
    unet = model.unet
    task_vec = model.task_vectors(x.task, b)
    feats = model.backbone_features(sample)
    sce = model.heads.sce(x.sce_latents, timestep, x.embeds, x.time_ids, feats, task_vec)
    out: dict[str, dict[str, Any]] = {}
    for name, skips in (("sce", sce.skip_residuals), ("g", ())):
        with svd.inject(unet, skip_residuals=skips, task_embedding=task_vec, tap_last_up_block=True) as taps:
            unet(sample, timestep, x.embeds, x.time_ids, return_dict=False)
        out[name] = taps.last_up_block_kwargs
    items = []
    for i in range(b):
        sl = slice(i * t, (i + 1) * t)

        def kw(d: dict[str, Any], sl: slice = sl, i: int = i) -> dict[str, Any]:
            return {
                "hidden_states": d["hidden_states"][sl].clone(),
                "res_hidden_states_tuple": tuple(r[sl].clone() for r in d["res_hidden_states_tuple"]),
                "temb": d["temb"][sl].clone(),
                "encoder_hidden_states": d["encoder_hidden_states"][sl].clone(),
                "image_only_indicator": d["image_only_indicator"][i : i + 1].clone(),
            }

        items.append(
            {
                "kw_sce": kw(out["sce"]),
                "kw_g": kw(out["g"]),
                "sce_features": [f[sl].clone() for f in sce.features],
                "sce_residuals": [r[sl].clone() for r in sce.skip_residuals],
                "noisy_in": sample[i, :, :4].clone(),
                "cond": sample[i, :, 4:].clone(),
                "sce_latents": x.sce_latents[i].clone(),
                "mask": x.mask[i].clone(),  # [T, 1, h, w]
                "sigma": float(torch.exp(4.0 * timestep.reshape(-1)[i])),
            }
        )
    return items


class ConvProbe(nn.Module):
    """A small spatio-temporal conv head (3x3x3 convs, ~20k parameters) on a [T, C, h, w] tensor."""

    def __init__(self, channels: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(channels, hidden, 3, padding=1),
            nn.SiLU(),
            nn.Conv3d(hidden, hidden, 3, padding=1),
            nn.SiLU(),
            nn.Conv3d(hidden, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [B, T, C, h, w]
        return self.net(x.transpose(1, 2)).transpose(1, 2)


def upsample_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return x if x.shape[-2:] == size else F.interpolate(x, size=size, mode="nearest")


def tensor_inputs(name: str) -> Callable[[dict[str, Any]], torch.Tensor]:
    """Named [T, C, h, w] inputs for the conv probes (every map brought to latent size)."""

    def get(item: dict[str, Any]) -> torch.Tensor:
        size = tuple(item["mask"].shape[-2:])
        if name == "cue_cond_vs_sce":  # what the edit is defined by: G's condition frame vs the SCE's input
            return torch.cat([item["cond"], item["sce_latents"]], 1)
        if name == "cue_noisy_cond_sce":  # + G's noisy input (what G is producing)
            return torch.cat([item["noisy_in"], item["cond"], item["sce_latents"]], 1)
        if name == "sce_latents_only":
            return item["sce_latents"]
        if name == "skips_sce_l0":  # the full-resolution skips the MPD's block reads (with SCE residuals)
            return torch.cat(item["kw_sce"]["res_hidden_states_tuple"], 1)
        if name == "skips_g_l0":
            return torch.cat(item["kw_g"]["res_hidden_states_tuple"], 1)
        if name == "penultimate_sce":  # G's penultimate up-block output (the paper's MPD input)
            return item["kw_sce"]["hidden_states"]
        if name == "sce_features_l0":  # the SCE's raw full-resolution features (before projection)
            return torch.cat(item["sce_features"][:3], 1)
        if name == "sce_features_l1":  # the SCE's half-resolution features, upsampled
            return torch.cat([upsample_to(f, size) for f in item["sce_features"][3:]], 1)
        if name == "sce_residuals_l0":
            return torch.cat(item["sce_residuals"][:3], 1)
        raise KeyError(name)

    return get


def iou_at(probs: torch.Tensor, truth: torch.Tensor, th: float) -> float:
    p, m = probs > th, truth > 0.5
    union = (p | m).sum().item()
    return float((p & m).sum().item() / union) if union else 1.0


def train_probe(
    head: nn.Module,
    forward: Callable[[nn.Module, dict[str, Any]], torch.Tensor],
    train: list[dict[str, Any]],
    val: list[dict[str, Any]],
    dev: list[dict[str, Any]],
    steps: int,
    lr: float,
    seed: int,
    loss_kind: str = "balanced_mse",
) -> dict[str, Any]:
    """Adam on ``loss_kind`` for ``steps`` single-item steps; IoU per validation sigma at 0.5 and the best threshold."""
    rng = np.random.default_rng(seed)
    params = [p for p in head.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    t0 = time.perf_counter()
    for _ in range(steps):
        item = train[int(rng.integers(len(train)))]
        logits = forward(head, item)
        loss = mpd_loss(logits[None], item["mask"][None], loss_kind)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return {"train_s": time.perf_counter() - t0, **score_both(head, forward, val, dev)}


def score_both(head: nn.Module, forward: Callable, val: list[dict[str, Any]], dev: list[dict[str, Any]]) -> dict[str, Any]:
    out = score(head, forward, val)
    out["dev_cases"] = score(head, forward, dev)
    return out


@torch.no_grad()
def score(head: nn.Module, forward: Callable, val: list[dict[str, Any]]) -> dict[str, Any]:
    thresholds = [round(0.05 * i, 2) for i in range(1, 20)]
    per_sigma: dict[str, Any] = {}
    for sigma in sorted({it["sigma"] for it in val}):
        items = [it for it in val if it["sigma"] == sigma]
        probs = [torch.sigmoid(forward(head, it)) for it in items]
        by_th = [float(np.mean([iou_at(p, it["mask"], th) for p, it in zip(probs, items, strict=True)])) for th in thresholds]
        best = int(np.argmax(by_th))
        per_sigma[f"{sigma:g}"] = {"iou_05": by_th[thresholds.index(0.5)], "iou_best": by_th[best], "best_th": thresholds[best]}
    return {
        "per_sigma": per_sigma,
        "iou_05": float(np.mean([v["iou_05"] for v in per_sigma.values()])),
        "iou_best": float(np.mean([v["iou_best"] for v in per_sigma.values()])),
    }


def mpd_forward(kw_key: str) -> Callable[[nn.Module, dict[str, Any]], torch.Tensor]:
    def forward(head: nn.Module, item: dict[str, Any]) -> torch.Tensor:
        t = item["mask"].shape[0]
        return head(item[kw_key], 1, t)[0]

    return forward


def mpd_cue_forward(kw_key: str) -> Callable[[nn.Module, dict[str, Any]], torch.Tensor]:
    """The product MPD with its edit cue (``mpd_edit_cue``): G's input ++ the SCE's input."""

    def forward(head: nn.Module, item: dict[str, Any]) -> torch.Tensor:
        t = item["mask"].shape[0]
        cue = torch.cat([item["noisy_in"], item["cond"], item["sce_latents"]], 1)[None]
        return head(item[kw_key], 1, t, cue)[0]

    return forward


def conv_forward(name: str) -> Callable[[nn.Module, dict[str, Any]], torch.Tensor]:
    get = tensor_inputs(name)

    def forward(head: nn.Module, item: dict[str, Any]) -> torch.Tensor:
        return head(get(item)[None])[0]

    return forward


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svd", type=Path, required=True)
    parser.add_argument("--heads", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train-batches", type=int, default=48)
    parser.add_argument("--val-batches", type=int, default=8)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--probes", default="all")
    parser.add_argument("--dev-cases-per-task", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = ReproSettings(threads=1)
    cfg = stage3_config(settings, args.svd, args.out / "unused", "full", 0)
    comps = build_components(cfg.model)
    model = comps.model
    trained = GenPropHeads.from_pretrained(args.heads)
    model.heads.load_state_dict(trained.state_dict())
    model.eval()
    device = torch.device("cpu")

    t0 = time.perf_counter()
    train_ds = build_dataset(cfg.data.sources, cfg, 123, 2)
    train: list[dict[str, Any]] = []
    for k in range(args.train_batches):
        batch = torch.utils.data.default_collate([train_ds[2 * k], train_ds[2 * k + 1]])
        x = prepare_inputs(comps, batch, cfg, step_generator(123, k, 0), device)
        train += cache_item(model, x, None, torch.Generator().manual_seed(k))
    val_src = [s.__class__(**{**s.__dict__, "seed": 50_000, "count": 16}) for s in cfg.data.sources]
    val_ds = build_dataset(val_src, cfg, 456, 2)
    val: list[dict[str, Any]] = []
    for k in range(args.val_batches):
        batch = torch.utils.data.default_collate([val_ds[2 * k], val_ds[2 * k + 1]])
        x = prepare_inputs(comps, batch, cfg, step_generator(456, k, 0), device)
        for sigma in VAL_SIGMAS:
            val += cache_item(model, x, torch.tensor([sigma]), torch.Generator().manual_seed(1000 + k))
    # Development cases (clip seeds 50000.., as the app sees them): the SCE reads the ORIGINAL, G is
    # conditioned on the EDITED first frame, the target is the ground truth (teacher forcing).
    dev_settings = ReproSettings(threads=1, case_seed=50_000, cases_per_task=args.dev_cases_per_task)
    val_dev: list[dict[str, Any]] = []
    for k, case in enumerate(heldout_cases(dev_settings)):
        item = {
            "sce_video": to_tensor(case.original),
            "cond_frame": to_tensor(case.target[:1])[0],
            "target_video": to_tensor(case.target),
            "edit_masks": torch.from_numpy(case.mask[:, None].astype(np.float32)),
            "task": torch.tensor(Task.NONE.index, dtype=torch.long),
            "fps": torch.tensor(float(case.fps), dtype=torch.float32),
        }
        x = prepare_inputs(comps, torch.utils.data.default_collate([item]), cfg, step_generator(789, k, 0), device)
        for sigma in VAL_SIGMAS:
            val_dev += [
                {**it, "task_name": case.task}
                for it in cache_item(model, x, torch.tensor([sigma]), torch.Generator().manual_seed(2000 + k))
            ]
    log.info(
        "cached %d train / %d val / %d dev-case items in %.0f s", len(train), len(val), len(val_dev), time.perf_counter() - t0
    )
    mask_frac = float(np.mean([(it["mask"] > 0.5).float().mean().item() for it in val]))

    results: dict[str, Any] = {"mask_fraction_val": mask_frac, "steps": args.steps, "train_items": len(train)}
    unet = model.unet

    def fresh_mpd(cue_channels: int = 0) -> MaskPredictionDecoder:
        return MaskPredictionDecoder.from_unet(unet, cfg.model.mpd_hidden_channels, cue_channels)

    probes: dict[str, Callable[[], dict[str, Any]]] = {
        "checkpoint_mpd_as_trained": lambda: score_both(model.heads.mpd, mpd_forward("kw_sce"), val, val_dev),
        "mpd_fresh_kw_with_sce": lambda: train_probe(
            fresh_mpd(), mpd_forward("kw_sce"), train, val, val_dev, args.steps, 2e-3, 0
        ),
        "mpd_fresh_kw_g_only": lambda: train_probe(fresh_mpd(), mpd_forward("kw_g"), train, val, val_dev, args.steps, 2e-3, 0),
        "mpd_cue_kw_with_sce": lambda: train_probe(
            fresh_mpd(12), mpd_cue_forward("kw_sce"), train, val, val_dev, args.steps, 2e-3, 0
        ),
        "mpd_cue_kw_g_only": lambda: train_probe(
            fresh_mpd(12), mpd_cue_forward("kw_g"), train, val, val_dev, args.steps, 2e-3, 0
        ),
    }
    channels = {k: tensor_inputs(k)(train[0]).shape[1] for k in (
        "cue_cond_vs_sce", "cue_noisy_cond_sce", "sce_latents_only", "skips_sce_l0", "skips_g_l0",
        "penultimate_sce", "sce_features_l0", "sce_features_l1", "sce_residuals_l0",
    )}  # fmt: skip
    for name, c in channels.items():
        probes[f"conv_{name}"] = lambda name=name, c=c: train_probe(
            ConvProbe(c), conv_forward(name), train, val, val_dev, args.steps, 2e-3, 0
        )
    wanted = list(probes) if args.probes == "all" else args.probes.split(",")
    for name in wanted:
        t1 = time.perf_counter()
        torch.manual_seed(0)
        results[name] = probes[name]()
        r = results[name]
        log.info("%s: pairs IoU@0.5 %.3f best %.3f | dev cases IoU@0.5 %.3f best %.3f (%.0f s) %s", name, r["iou_05"],
                 r["iou_best"], r["dev_cases"]["iou_05"], r["dev_cases"]["iou_best"], time.perf_counter() - t1,
                 json.dumps(r["dev_cases"]["per_sigma"]))  # fmt: skip
        (args.out / "probe.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
