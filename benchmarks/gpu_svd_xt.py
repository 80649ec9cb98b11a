"""GPU benchmark (issue 16): GenProp on SVD-XT at full size, random weights, against diffusers' own pipeline.

For each shape (14 frames at 576x1024 and 32 frames at 320x576 by default), both pipelines are
built from the SAME full-size random components (SVD-XT's U-Net, SVD's temporal-decoder VAE, a
ViT-H/14 image tower) in bf16, run with the same inputs, steps and seed, and report seconds per
run and peak VRAM (``torch.cuda.max_memory_allocated``). Then the out-of-memory retry path: with
the process capped at a fraction of the GPU (``set_per_process_memory_fraction``), GenProp runs
through ``run_with_oom_retry`` as the engine does, and the plan it ended on is reported.

Prepared to run in a few minutes on one large GPU (H100/H200 class):

    python -m benchmarks.gpu_svd_xt --out /tmp/gpu_svd_xt.json
    python -m benchmarks.gpu_svd_xt --tiny --device cpu     # the same code on tiny components (tests)

Weights are random: the figures are speed and memory, never quality.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch

SHAPES = ((14, 576, 1024), (32, 320, 576))


def full_components(seed: int = 0) -> dict[str, Any]:
    """Full-size SVD-XT parts with random weights (fp32 on the CPU; the caller casts and moves them)."""
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    from engine.genprop import GenPropHeads, svd_xt_unet_config
    from engine.pipelines.dummy import tiny_scheduler

    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(**svd_xt_unet_config())
    vae = AutoencoderKLTemporalDecoder(  # stabilityai/stable-video-diffusion-img2vid-xt's vae/config.json
        block_out_channels=[128, 256, 512, 512],
        down_block_types=["DownEncoderBlock2D"] * 4,
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=2,
        sample_size=768,
        scaling_factor=0.18215,
        force_upcast=True,
    )
    image_encoder = CLIPVisionModelWithProjection(  # ViT-H/14, the image tower SVD conditions on
        CLIPVisionConfig(
            hidden_size=1280,
            intermediate_size=5120,
            num_hidden_layers=32,
            num_attention_heads=16,
            patch_size=14,
            image_size=224,
            projection_dim=1024,
            hidden_act="gelu",
        )
    )
    heads = GenPropHeads.from_unet(unet)
    for module in (unet, vae, image_encoder, heads):
        module.eval()
    return {
        "vae": vae,
        "image_encoder": image_encoder,
        "feature_extractor": CLIPImageProcessor(crop_size=224, size=224),
        "unet": unet,
        "scheduler": tiny_scheduler(),
        "heads": heads,
    }


def _inputs(frames: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w]
    video = np.stack([np.dstack([(xx + 5 * t) % 256, (yy * 2) % 256, np.full_like(xx, 90)]) for t in range(frames)])
    video = video.astype(np.uint8)
    edited = video[0].copy()
    edited[h // 4 : h // 2, w // 4 : w // 2] = (255, 0, 0)
    return video, edited


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _measured(run: Callable[[], Any], device: torch.device) -> dict[str, float]:
    """Seconds and peak memory of one call (GPU: allocated bytes since a reset)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    t0 = time.perf_counter()
    run()
    _sync(device)
    out = {"seconds": time.perf_counter() - t0}
    if device.type == "cuda":
        out["peak_vram_gib"] = torch.cuda.max_memory_allocated(device) / 1024**3
    return out


def _compare_one(ours: Any, plain: Any, shape: tuple[int, int, int], steps: int, device: torch.device) -> dict:
    """One shape: a 2-step warm-up of each pipeline, then one measured run of each."""
    frames, h, w = shape
    video, edited = _inputs(frames, h, w)

    def run_ours(n: int = steps) -> Any:
        g = torch.Generator("cpu").manual_seed(0)
        return ours(list(video), edited, num_inference_steps=n, window_size=frames, decode_chunk_size=8, generator=g)

    def run_plain(n: int = steps) -> Any:
        g = torch.Generator("cpu").manual_seed(0)
        image = PIL.Image.fromarray(edited)
        return plain(image, height=h, width=w, num_frames=frames, num_inference_steps=n, decode_chunk_size=8, generator=g)

    run_ours(2), run_plain(2)  # warm-up: kernels, allocator
    row: dict[str, Any] = {"frames": frames, "height": h, "width": w, "steps": steps}
    row["svd"] = _measured(run_plain, device)
    row["genprop"] = _measured(run_ours, device)
    row["time_ratio"] = row["genprop"]["seconds"] / row["svd"]["seconds"]
    print(json.dumps(row), flush=True)
    return row


def compare(comps: dict[str, Any], shapes: tuple[tuple[int, int, int], ...], steps: int, device: torch.device) -> list[dict]:
    """GenProp against diffusers' SVD pipeline per shape, same components, inputs and seed (one warm-up each)."""
    from diffusers import StableVideoDiffusionPipeline

    from engine.pipelines import GenPropPipeline

    parts = dict(comps)
    heads = parts.pop("heads")
    ours = GenPropPipeline.from_components(heads=heads, **parts)
    plain = StableVideoDiffusionPipeline(**parts)
    for pipe in (ours, plain):
        pipe.set_progress_bar_config(disable=True)
    return [_compare_one(ours, plain, shape, steps, device) for shape in shapes]


def oom_retry(comps: dict[str, Any], shape: tuple[int, int, int], steps: int, device: torch.device, fraction: float) -> dict:
    """GenProp through ``run_with_oom_retry`` with the process capped at ``fraction`` of the GPU: which plan ran."""
    from engine.pipelines import GenPropPipeline
    from engine.pipelines.memory import OutOfMemoryAdviceError, plan_for_mode, run_with_oom_retry

    parts = dict(comps)
    heads = parts.pop("heads")
    pipe = GenPropPipeline.from_components(heads=heads, **parts)
    pipe.set_progress_bar_config(disable=True)
    frames, h, w = shape
    video, edited = _inputs(frames, h, w)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(fraction, device)
    tried: list[str] = []

    def job(plan: Any) -> Any:
        tried.append(plan.describe())
        pipe.apply_memory_plan(plan, device)
        g = torch.Generator("cpu").manual_seed(0)
        return pipe(list(video), edited, num_inference_steps=steps, window_size=frames, generator=g)

    out: dict[str, Any] = {"fraction": fraction, "frames": frames, "height": h, "width": w}
    try:
        out.update(_measured(lambda: run_with_oom_retry(job, plan_for_mode("bf16", device), device), device))
        out["result"] = "ran"
    except OutOfMemoryAdviceError as exc:
        out["result"] = f"advice: {exc}"
    finally:
        if device.type == "cuda":
            torch.cuda.set_per_process_memory_fraction(1.0, device)
    out["plans_tried"] = tried
    print(json.dumps(out), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--tiny", action="store_true", help="tiny random components and small shapes (a check of the code)")
    p.add_argument("--fraction", type=float, default=0.1, help="GPU share for the out-of-memory retry run")
    p.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if args.tiny:
        from engine.pipelines.dummy import tiny_components

        comps, shapes, dtype = tiny_components(0), ((4, 32, 32), (6, 32, 48)), torch.float32
    else:
        comps, shapes, dtype = full_components(0), SHAPES, torch.bfloat16
    for name in ("vae", "image_encoder", "unet", "heads"):
        comps[name].to(device=device, dtype=dtype)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    report: dict[str, Any] = {
        "date": started,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "compare": compare(comps, shapes, args.steps, device),
    }
    report["oom_retry"] = oom_retry(comps, shapes[0], args.steps, device, args.fraction)
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
