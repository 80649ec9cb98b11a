"""Benchmark: GenProp model size and CPU forward cost relative to G alone.

Builds an SVD-XT-shaped G (random weights; the real checkpoint's config written out in
``engine.genprop.backbones.svd.svd_xt_unet_config``) and fresh GenProp parts, reports
parameter counts (G, SCE, MPD, task embeddings) and the time of one forward pass for
G alone, G + SCE, and G + SCE + MPD. The ratio to G alone is the figure of interest.

    python -m benchmarks.bench_genprop_model            # full size, writes docs/bench_sections/genprop_model.md
    python -m benchmarks.bench_genprop_model --quick    # small model, prints only
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import diffusers
import torch
from diffusers import UNetSpatioTemporalConditionModel

from engine.genprop import GenPropConfig, GenPropModel, svd_xt_unet_config

DEFAULT_OUTPUT = Path("docs/bench_sections/genprop_model.md")
PAPER_UNET_PARAMS = 1.525e9


def quick_unet_config() -> dict:
    """SVD-XT's layout with a fifth of the channels: same block structure, runs in seconds."""
    return {
        **svd_xt_unet_config(),
        "block_out_channels": (64, 128, 256, 256),
        "num_attention_heads": (1, 2, 4, 4),
        "cross_attention_dim": 256,
        "addition_time_embed_dim": 64,
        "projection_class_embeddings_input_dim": 192,
    }


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def time_variants(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """One warm-up call each, then ``repeats`` rounds timing every variant once per round.

    Interleaving the variants spreads background load (shared CPUs, VM steal) evenly
    over them, so the ratios stay meaningful even when absolute times wobble.
    """
    for fn in variants.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
            print(f"round {round_index + 1}: {name} {times[name][-1]:.2f} s", flush=True)
    return times


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            kib = int(f.readline().split()[1])
        mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cpu = platform.processor() or platform.machine()
    return f"{platform.system()} {cpu}, {os.cpu_count()} CPU cores{mem}, torch threads {torch.get_num_threads()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small model, 4 frames of 128x128")
    parser.add_argument("--frames", type=int, default=None, help="frames (default 8, quick 4)")
    parser.add_argument("--size", type=int, default=None, help="pixel height = width (default 256, quick 128)")
    parser.add_argument("--sce-blocks", type=int, default=2, help="SCE down blocks N (default 2)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 3, quick 5)")
    parser.add_argument("--output", type=Path, default=None, help=f"Markdown file (full mode: {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)

    frames = args.frames or (4 if args.quick else 8)
    size = args.size or (128 if args.quick else 256)
    repeats = args.repeats or (5 if args.quick else 3)
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    unet_config = quick_unet_config() if args.quick else svd_xt_unet_config()
    config = GenPropConfig(num_sce_blocks=args.sce_blocks)

    torch.manual_seed(0)
    start = time.perf_counter()
    unet = UNetSpatioTemporalConditionModel(**unet_config).eval()
    model = GenPropModel.from_unet(unet, config).eval()
    build_s = time.perf_counter() - start
    params = {
        "G (SVD U-Net)": count(unet),
        "SCE": count(model.heads.sce),
        "MPD": count(model.heads.mpd),
        "task embeddings": count(model.heads.task_embedding),
    }

    latent = size // 8
    sample = torch.randn(1, frames, unet_config["in_channels"], latent, latent)
    original = torch.randn(1, frames, config.sce_in_channels, latent, latent)
    states = torch.randn(1, 1, unet_config["cross_attention_dim"])
    time_ids = torch.tensor([[6.0, 127.0, 0.02]])
    timestep = torch.tensor([700.0])

    variants: dict[str, Callable[[], object]] = {
        "G alone": lambda: unet(sample, timestep, states, time_ids),
        "G + SCE": lambda: model(sample, timestep, states, time_ids, original, predict_mask=False),
        "G + SCE + MPD": lambda: model(sample, timestep, states, time_ids, original),
    }
    with torch.inference_mode():
        timings = time_variants(variants, repeats)

    base = min(timings["G alone"])
    mode = "quick (SVD-XT layout, 1/5 channels)" if args.quick else "full size (SVD-XT U-Net config)"
    command = "python -m benchmarks.bench_genprop_model " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        "## GenProp model: size and CPU forward cost",
        "",
        f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- Machine: {machine()}",
        f"- Versions: Python {platform.python_version()}, torch {torch.__version__}, diffusers {diffusers.__version__}",
        f"- Model: {mode}, random weights, fp32; SCE N = {config.num_sce_blocks} down blocks, "
        f"MPD hidden {config.mpd_hidden_channels}; build time {build_s:.1f} s",
        f"- Input: batch 1, {frames} frames of {size}x{size} pixels ({latent}x{latent} latents); "
        f"one warm-up each, then {repeats} interleaved rounds, `torch.inference_mode()`; "
        "ratios use the fastest run of each variant",
        f"- Command: `{command.strip()}`",
        "",
        "| Part | Parameters |",
        "|---|---:|",
        *[f"| {name} | {n:,} ({n / 1e6:.1f} M) |" for name, n in params.items()],
        f"| GenProp trainable total | {sum(params.values()) - params['G (SVD U-Net)']:,} |",
        "",
        "| Forward | Fastest (s) | Median (s) | All runs (s) | Fastest vs G alone |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {name} | {min(t):.2f} | {statistics.median(t):.2f} | {', '.join(f'{x:.2f}' for x in t)} | {min(t) / base:.2f}x |"
            for name, t in timings.items()
        ],
    ]
    if not args.quick:
        ratio = params["G (SVD U-Net)"] / PAPER_UNET_PARAMS
        lines += [
            "",
            f"G has {params['G (SVD U-Net)'] / 1e9:.3f} B parameters (paper notes: 1.525 B; ratio {ratio:.3f}).",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
