"""Benchmark: GenProp on the Wan (DiT) backbone -- forward cost and memory relative to plain Wan VACE.

CPU (default): a Wan2.1-VACE-1.3B-shaped transformer (30 blocks, VACE layers every 2nd block,
8 x 64 = 512-wide instead of 1536, random weights, fp32), 17 frames of 128x128 (320 tokens), 512
text tokens. Variants, timed interleaved in one process: plain Wan VACE (diffusers' forward),
GenProp with N = 2 SCE blocks, N = 2 + MPD, and the paper's N = 24 + MPD. Peak memory: each
variant again in its own process (peak RSS after one forward).

GPU (``--gpu``): the full Wan2.1-VACE-1.3B transformer config with random weights in bf16, 33 and
81 frames at 480x832: seconds per denoising step (two transformer calls: classifier-free
guidance) and peak VRAM, for plain Wan VACE and GenProp N = 24 + MPD. One command on a GPU:

    python -m benchmarks.bench_wan                 # CPU, writes docs/bench_sections/wan.md
    python -m benchmarks.bench_wan --quick         # smoke run, prints only
    python -m benchmarks.bench_wan --gpu           # GPU, writes docs/bench_sections/wan_gpu.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
CPU_OUTPUT = ROOT / "docs" / "bench_sections" / "wan.md"
GPU_OUTPUT = ROOT / "docs" / "bench_sections" / "wan_gpu.md"
VARIANTS = ("plain", "genprop_n2", "genprop_n2_mpd", "genprop_n24_mpd")
LABELS = {
    "plain": "Wan VACE alone (diffusers forward)",
    "genprop_n2": "GenProp, N = 2 SCE blocks",
    "genprop_n2_mpd": "GenProp, N = 2 + MPD",
    "genprop_n24_mpd": "GenProp, N = 24 + MPD (paper scale)",
}


def cpu_config(quick: bool) -> dict[str, Any]:
    from engine.genprop.backbones.wan import wan_vace_1_3b_config

    cfg = {**wan_vace_1_3b_config(), "num_attention_heads": 4, "attention_head_dim": 64, "ffn_dim": 1024, "text_dim": 1024}
    if quick:
        cfg.update(num_attention_heads=2, attention_head_dim=32, ffn_dim=128, text_dim=64)
    return cfg


def build(variant: str, config: dict[str, Any], device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    """(plain transformer, GenProp model or None) with random weights on ``device``."""
    from diffusers import WanVACETransformer3DModel

    from engine.genprop.wan_model import WanGenPropModel

    torch.manual_seed(0)
    with torch.device(device):
        g = WanVACETransformer3DModel(**config).eval()
    if dtype != torch.float32:
        g = torch.nn.Module.to(g, dtype=dtype)  # nn.Module.to: diffusers' to() warns about fp32 modules
    if variant == "plain":
        return g, None
    n = 24 if "n24" in variant else 2
    model = WanGenPropModel.from_transformer(g, num_sce_blocks=n).eval()
    return g, model


def inputs(
    config: dict[str, Any], frames: int, height: int, width: int, text_tokens: int, device: torch.device, dtype: torch.dtype
):  # type: ignore[no-untyped-def]
    lat_t, lat_h, lat_w = (frames - 1) // 4 + 1, height // 8, width // 8
    g = torch.Generator("cpu").manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=g).to(device, dtype)

    return {
        "hidden_states": randn(1, 16, lat_t, lat_h, lat_w),
        "timestep": torch.tensor([700.0], device=device),
        "encoder_hidden_states": randn(1, text_tokens, config["text_dim"]),
        "control_hidden_states": randn(1, config["vace_in_channels"], lat_t, lat_h, lat_w),
        "sce_input": randn(1, 16, lat_t, lat_h, lat_w),
    }


def forward_fn(variant: str, g: Any, model: Any, x: dict[str, torch.Tensor]) -> Callable[[], object]:
    plain = {k: v for k, v in x.items() if k != "sce_input"}
    if model is None:
        return lambda: g(**plain, return_dict=False)[0]
    mpd = variant.endswith("_mpd")
    return lambda: model(**plain, sce_input=x["sce_input"], predict_mask=mpd).sample


def forward_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of one forward, counted by torch (independent of the machine's load)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def count(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            mem = f", {int(f.readline().split()[1]) / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.system()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores{mem}"


def command(args: argparse.Namespace) -> str:
    return " ".join(["python -m benchmarks.bench_wan", *args.argv])


def current_rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def load_note(label: str) -> str:
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    return f"{label} load average {load:.2f} on {cores} cores" + (" (other jobs shared the CPU)" if load > cores else "")


# ---------------------------------------------------------------------- CPU
def child(variant: str, quick: bool, frames: int, size: int, text_tokens: int) -> None:
    """One variant in a fresh process: build, one forward, print its memory above the imports as JSON."""
    import diffusers  # noqa: F401  (imports are part of the baseline, not of the model)

    import engine.genprop.wan_model  # noqa: F401

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    cfg = cpu_config(quick)
    base = current_rss_mib()
    g, model = build(variant, cfg, torch.device("cpu"), torch.float32)
    x = inputs(cfg, frames, size, size, text_tokens, torch.device("cpu"), torch.float32)
    built = current_rss_mib()
    peak = [built]
    done = threading.Event()

    def sample() -> None:  # ru_maxrss would report the import-time peak; poll the resident size instead
        while not done.is_set():
            peak[0] = max(peak[0], current_rss_mib())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with torch.inference_mode():
        forward_fn(variant, g, model, x)()
    done.set()
    sampler.join()
    print(json.dumps({"variant": variant, "built_mib": built - base, "peak_mib": max(peak[0], current_rss_mib()) - base}))


def run_cpu(args: argparse.Namespace) -> str:
    torch.set_num_threads(args.threads)
    cfg = cpu_config(args.quick)
    frames, size, text_tokens = (5, 64, 32) if args.quick else (args.frames, args.size, args.text_tokens)
    device, dtype = torch.device("cpu"), torch.float32
    load_before = load_note("before:")
    built: dict[str, tuple[Any, Any]] = {}
    g0, _ = build("plain", cfg, device, dtype)
    for variant in VARIANTS:
        if variant == "plain":
            built[variant] = (g0, None)
            continue
        from engine.genprop.wan_model import WanGenPropModel

        n = 24 if "n24" in variant else 2
        built[variant] = (g0, WanGenPropModel.from_transformer(g0, num_sce_blocks=n).eval())
    x = inputs(cfg, frames, size, size, text_tokens, device, dtype)
    fns = {v: forward_fn(v, *built[v], x) for v in VARIANTS}
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with torch.inference_mode():
        for fn in fns.values():
            fn()
        for r in range(args.repeats):
            for v, fn in fns.items():
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                times[v].append(time.perf_counter() - t0)
                cpu[v].append(time.process_time() - c0)
                print(f"round {r + 1}: {v} wall {times[v][-1]:.3f} s, CPU {cpu[v][-1]:.3f} s", flush=True)
    load_after = load_note("after:")
    flops = {v: forward_flops(fns[v]) for v in VARIANTS}
    memory: dict[str, dict[str, float]] = {}
    for v in VARIANTS:
        cmd = [sys.executable, "-m", "benchmarks.bench_wan", "--child", v, "--frames", str(frames), "--size", str(size)]
        cmd += ["--text-tokens", str(text_tokens)] + (["--quick"] if args.quick else [])
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200, env=env, check=True)
        memory[v] = json.loads(out.stdout.strip().splitlines()[-1])
    base = min(cpu["plain"])
    params = {v: count(built[v][1].heads) if built[v][1] is not None else 0 for v in VARIANTS}
    tokens = ((frames - 1) // 4 + 1) * (size // 16) ** 2
    lines = [
        "## GenProp on Wan (DiT): forward cost and memory vs plain Wan VACE (CPU, reduced width)",
        "",
        f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- Machine: {machine()}, torch threads {args.threads}; {load_before}, {load_after}",
        f"- Versions: Python {platform.python_version()}, torch {torch.__version__}",
        f"- Model: Wan2.1-VACE-1.3B block layout ({cfg['num_layers']} blocks, {len(cfg['vace_layers'])} VACE blocks) at width "
        f"{cfg['num_attention_heads'] * cfg['attention_head_dim']} (1.3B: 1536), ffn {cfg['ffn_dim']}, text width "
        f"{cfg['text_dim']}, random weights, fp32; "
        f"G has {count(g0) / 1e6:.1f} M parameters",
        f"- Input: {frames} frames of {size}x{size} ({tokens} video tokens), {text_tokens} text tokens; one warm-up each, "
        f"{args.repeats} interleaved rounds, `torch.inference_mode()`. 'FLOPs' = operations of one forward counted by "
        "`torch.utils.flop_counter` (exact, load-independent); times are the process CPU time (user + system, all "
        "threads) and wall time of each forward, which other jobs on a shared CPU inflate",
        "- Memory: each variant built and run once in its own process; resident size above the process's size after its "
        "imports (MiB): after building, and the peak during one forward (sampled every 5 ms)",
        f"- Command: `{command(args)}`",
        "",
        "| Forward | Trained params | GFLOPs | FLOPs vs plain | CPU time, fastest (s) | CPU time vs plain | "
        "Wall, fastest (s) | Peak memory (MiB) | After build (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v in VARIANTS:
        t = times[v]
        lines.append(
            f"| {LABELS[v]} | {params[v] / 1e6:.1f} M | {flops[v] / 1e9:.1f} | {flops[v] / flops['plain']:.2f}x | "
            f"{min(cpu[v]):.2f} | {min(cpu[v]) / base:.2f}x | {min(t):.2f} | "
            f"{memory[v]['peak_mib']:.0f} | {memory[v]['built_mib']:.0f} |"
        )
    lines += [
        "",
        "No GPU was available where this ran. `python -m benchmarks.bench_wan --gpu` measures the full-size "
        "Wan2.1-VACE-1.3B transformer (bf16, 33 and 81 frames at 480x832) into `docs/bench_sections/wan_gpu.md`.",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- GPU
def time_steps(
    fn: Callable[[], torch.Tensor], x: dict[str, torch.Tensor], steps: int, device: torch.device, label: str
) -> list[float]:
    """Seconds of each denoising step (two transformer calls for guidance + an Euler step); the first is warm-up."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    sched = FlowMatchEulerDiscreteScheduler(shift=3.0)
    sched.set_timesteps(steps + 1, device=device)
    latents = x["hidden_states"].float()
    times = []
    with torch.inference_mode():
        for i, t in enumerate(sched.timesteps[: steps + 1]):
            t0 = time.perf_counter()
            x["timestep"] = t.expand(1)
            cond, uncond = fn(), fn()
            pred = uncond.float() + 5.0 * (cond.float() - uncond.float())
            latents = sched.step(pred, t, latents, return_dict=False)[0]
            x["hidden_states"] = latents.to(x["hidden_states"].dtype)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i:
                times.append(time.perf_counter() - t0)
            print(f"{label} step {i}: {time.perf_counter() - t0:.2f} s", flush=True)
    return times


def run_gpu(args: argparse.Namespace) -> str:
    from engine.genprop.backbones.wan import wan_vace_1_3b_config

    device = torch.device(args.device)
    dtype = torch.bfloat16
    cfg = wan_vace_1_3b_config() if not args.quick else {**cpu_config(True), "num_layers": 30}
    frame_counts = [5] if args.quick else [33, 81]
    height, width = (64, 64) if args.quick else (480, 832)
    text_tokens = 32 if args.quick else 512
    rows = []
    for variant in ("plain", "genprop_n24_mpd"):
        g, model = build(variant, cfg, device, dtype)
        for frames in frame_counts:
            x = inputs(cfg, frames, height, width, text_tokens, device, dtype)
            fn = forward_fn(variant, g, model, x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
            times = time_steps(fn, x, args.steps, device, f"{variant} {frames} frames")
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
            rows.append(
                (variant, frames, statistics.median(times), min(times), peak, count(g), count(model.heads if model else None))
            )
        del g, model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU (smoke run on CPU)"
    base = {f: r[2] for r in rows if r[0] == "plain" for f in [r[1]]}
    lines = [
        "## GenProp on Wan (DiT): full-size Wan2.1-VACE-1.3B on a GPU",
        "",
        f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- GPU: {gpu}; torch {torch.__version__}",
        "- Model: Wan2.1-VACE-1.3B transformer config, random weights, bf16, SDPA attention; GenProp N = 24 SCE blocks + MPD",
        f"- Input: {', '.join(map(str, frame_counts))} frames at {width}x{height}, {text_tokens} text tokens; a step = two transformer "
        f"calls (guidance) + one Euler step; {args.steps} timed steps after one warm-up step; peak = max allocated VRAM",
        f"- Command: `{command(args)}`",
        "",
        "| Model | Frames | s/step (median) | s/step (fastest) | vs plain Wan | Peak VRAM (GiB) | G params | Heads params |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {LABELS[v]} | {f} | {med:.2f} | {fast:.2f} | {med / base[f]:.2f}x | {peak:.1f} | {gp / 1e9:.2f} B | {hp / 1e9:.2f} B |"
            for v, f, med, fast, peak, gp, hp in rows
        ],
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny model and input (seconds), prints only")
    parser.add_argument("--gpu", action="store_true", help="full-size Wan2.1-VACE-1.3B in bf16 on --device")
    parser.add_argument("--device", default="cuda", help="device for --gpu (default cuda)")
    parser.add_argument("--steps", type=int, default=3, help="timed denoising steps per case with --gpu (default 3)")
    parser.add_argument("--frames", type=int, default=9, help="CPU: frames (4k+1, default 9)")
    parser.add_argument("--size", type=int, default=96, help="CPU: height = width in pixels (default 96)")
    parser.add_argument("--text-tokens", type=int, default=512, help="CPU: text tokens (default 512, Wan's)")
    parser.add_argument("--repeats", type=int, default=5, help="CPU: timed rounds (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="CPU: torch threads (default 2)")
    parser.add_argument("--output", type=Path, default=None, help="Markdown file (default docs/bench_sections/wan[_gpu].md)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.child:
        child(args.child, args.quick, args.frames, args.size, args.text_tokens)
        return 0
    if args.gpu and args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --gpu needs a CUDA GPU (or --device cpu for a smoke run)", file=sys.stderr)
        return 2
    text = run_gpu(args) if args.gpu else run_cpu(args)
    print(text)
    output = args.output or (None if args.quick else (GPU_OUTPUT if args.gpu else CPU_OUTPUT))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
