"""SAM2 video tracker: seconds per frame on the CPU and peak memory against clip length.

    python -m benchmarks.bench_sam2_video          # 512 px, 50 / 200 / 800 frames (tens of minutes);
                                                   # writes docs/bench_sections/sam2_video.md
    python -m benchmarks.bench_sam2_video --quick  # 128 px, 10 / 20 / 40 frames (about a minute)

SAM2.1 hiera-tiny with random weights (the same cost as trained ones; no weights can be
downloaded here), saved as a checkpoint and loaded the way users load theirs. Each run is
its own process, so its peak RSS (``ru_maxrss``) is its own:

- ours: ``Sam2VideoTracker`` (frames decoded on demand, memory bank trimmed) on a
  streamed clip that is generated frame by frame (640x360, a textured background and a
  moving ellipse: the clip itself takes no memory);
- reference, in the same run: sam2's own path on the same frames: ``init_state`` on a
  JPEG folder (every frame loaded as ``[T, 3, S, S]`` float32 up front), ``add_new_mask``,
  ``propagate_in_video`` keeping every frame's outputs.

Seconds per frame is the median over the tracked frames (frame 1 is the edit itself).
``--threads`` sets torch's threads (default 1: on a shared 2-core machine two threads ran
SAM2 many times slower than one).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_video_io import load_note, machine, now, write_section

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "bench_sections" / "sam2_video.md"
WIDTH, HEIGHT = 640, 360


class StreamedClip:
    """A clip made frame by frame: ``len()`` and ``[t] -> [H, W, 3]`` uint8 (nothing is held but a texture)."""

    def __init__(self, n: int, w: int = WIDTH, h: int = HEIGHT) -> None:
        self.n, self.w, self.h = n, w, h
        rng = np.random.default_rng(0)
        small = rng.integers(40, 200, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        self.texture = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)[:h, : w + 8 * n // 4]
        self.yy, self.xx = np.mgrid[0:h, 0:w]

    def __len__(self) -> int:
        return self.n

    def centre(self, t: int) -> tuple[float, float]:
        return self.w * (0.3 + 0.4 * np.sin(t / 40.0) ** 2), self.h * (0.5 + 0.2 * np.cos(t / 25.0))

    def object_mask(self, t: int) -> np.ndarray:
        cx, cy = self.centre(t)
        return (((self.xx - cx) / 60) ** 2 + ((self.yy - cy) / 40) ** 2 <= 1).astype(np.uint8) * 255

    def __getitem__(self, t: int) -> np.ndarray:
        shift = (t // 4) % (self.texture.shape[1] - self.w + 1)
        frame = np.ascontiguousarray(self.texture[:, shift : shift + self.w])
        frame[self.object_mask(t) > 0] = (230, 60, 40)
        return frame


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def status_mb(key: str, pid: int | str = "self") -> float:
    """A ``/proc/<pid>/status`` size (VmRSS, VmHWM) in MB; NaN when absent or the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return float("nan")
    for line in lines:
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def current_rss_mb() -> float:
    return status_mb("VmRSS")


def reset_peak_rss() -> bool:
    """Start the kernel's peak-RSS count (VmHWM) again from now (Linux >= 4.0), so a peak is the tracking's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def tracking_peak_mb() -> float:
    return status_mb("VmHWM")


# ---------------------------------------------------------------------- one run (a child process)
def child(mode: str, n: int, size: int, checkpoint: Path, threads: int, jpeg_dir: Path | None) -> dict:
    import torch

    torch.set_num_threads(threads)
    from engine.engines.classic.sam2_tracker import Sam2VideoTracker

    t = time.perf_counter()
    tracker = Sam2VideoTracker(checkpoint, image_size=size, device="cpu")
    build = time.perf_counter() - t
    model_rss = current_rss_mb()
    process_peak = peak_rss_mb()  # the build's own peak (checkpoint and model both in memory)
    reset = reset_peak_rss()
    clip = StreamedClip(n)
    mask = clip.object_mask(0)
    stamps = [time.perf_counter()]
    if mode == "ours":
        for _t, _masks in tracker.track(clip, [mask]):
            stamps.append(time.perf_counter())
    else:
        p = tracker.predictor
        with torch.inference_mode():
            state = p.init_state(str(jpeg_dir))
            p.add_new_mask(state, 0, 0, torch.from_numpy(mask > 0))
            stamps.append(time.perf_counter())
            for _item in p.propagate_in_video(state):
                stamps.append(time.perf_counter())
    steps = np.diff(stamps)[2:]  # tracked frames only (not set-up, not frame 1)
    return {
        "mode": mode,
        "frames": n,
        "size": size,
        "build_s": build,
        "s_per_frame": float(statistics.median(steps)) if len(steps) else float("nan"),
        "total_s": stamps[-1] - stamps[0],
        "model_rss_mb": model_rss,
        "build_peak_rss_mb": process_peak,
        "peak_rss_mb": tracking_peak_mb() if reset else peak_rss_mb(),
    }


def run_child(mode: str, n: int, size: int, checkpoint: Path, threads: int, jpeg_dir: Path | None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_sam2_video", "--child", mode, str(n), str(size), str(checkpoint)]
    cmd += ["--threads", str(threads)] + (["--jpeg-dir", str(jpeg_dir)] if jpeg_dir else [])
    env = {"OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    import os

    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} {n} frames at {size} failed:\n{proc.stderr[-3000:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"{mode:9s} {n:4d} frames at {size}: {row['s_per_frame']:.3f} s/frame, peak RSS {row['peak_rss_mb']:.0f} MB",
        file=sys.stderr,
    )
    return row


def random_checkpoint(path: Path, threads: int) -> Path:
    """SAM2.1 tiny from sam2's own config, random weights (seed 0), saved as Meta's ``{"model": state_dict}``."""
    import warnings

    import torch
    from sam2.build_sam import build_sam2_video_predictor

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        model = build_sam2_video_predictor("configs/sam2.1/sam2.1_hiera_t.yaml", None, device="cpu")
    torch.save({"model": model.state_dict()}, path)
    return path


def write_jpegs(n: int, folder: Path) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    clip = StreamedClip(n)
    for t in range(n):
        Image.fromarray(clip[t]).save(folder / f"{t:05d}.jpg", quality=95)
    return folder


# ---------------------------------------------------------------------- the section
def section(
    rows: list[dict], fine: dict | None, args: argparse.Namespace, load_before: str, started: str, ended: str = ""
) -> str:
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in ("torch", "sam2", "numpy"))
    ours = [r for r in rows if r["mode"] == "ours"]
    ref = [r for r in rows if r["mode"] == "reference"]
    lines = [
        "## SAM2 video tracker (CPU)",
        "",
        f"- Date: {started} (start) to {ended or now()} (end)",
        f"- Machine: {machine()}; torch threads: {args.threads}",
        f"- Load average: {load_before} before, {load_note()} after",
        f"- Versions: Python {sys.version.split()[0]}, {versions}",
        f"- Command: `python -m benchmarks.bench_sam2_video{' --quick' if args.quick else ''}`",
        f"- Model: SAM2.1 hiera-tiny, random weights (seed 0) saved as a checkpoint; working size {args.size}x{args.size} "
        f"(`++model.image_size={args.size}`); one object; clip {WIDTH}x{HEIGHT}, generated frame by frame",
        "- ours = `Sam2VideoTracker` (frames decoded on demand, memory bank trimmed to the frames SAM2 reads); "
        "reference = sam2's own `init_state` on a JPEG folder + `propagate_in_video` (all frames loaded, all outputs kept)",
        "- Memory: the kernel's peak-RSS mark (VmHWM) restarted once the model is built, minus the RSS of the built "
        "model: what tracking itself adds. Absolute RSS is dominated by torch's shared libraries, whose file-backed "
        "pages the kernel drops under memory pressure (the same built model measured "
        f"{min(r['model_rss_mb'] for r in rows):.0f} to {max(r['model_rss_mb'] for r in rows):.0f} MB in this run), "
        "so it is listed but not compared",
        "",
        "| path | frames | s / frame (median) | tracking adds MB (peak) | peak RSS MB | built model RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['frames']} | {r['s_per_frame']:.3f} | {r['peak_rss_mb'] - r['model_rss_mb']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {r['model_rss_mb']:.0f} |"
        )
    lines.append("")

    def added(r: dict) -> float:
        return r["peak_rss_mb"] - r["model_rss_mb"]

    def slope(rs: list[dict]) -> float:
        return (added(rs[-1]) - added(rs[0])) / max(1, rs[-1]["frames"] - rs[0]["frames"]) * 100

    if len(ours) > 1 and len(ref) > 1:
        lines.append(
            f"What tracking adds: ours {' / '.join(f'{added(r):.0f}' for r in ours)} MB at "
            f"{' / '.join(str(r['frames']) for r in ours)} frames ({slope(ours):+.1f} MB per 100 frames overall: "
            f"flat once the first frames have warmed the allocator), reference {slope(ref):+.1f} MB per 100 frames "
            f"({ref[0]['frames']} -> {ref[-1]['frames']} "
            f"frames; its frames alone take {3 * args.size * args.size * 4 / 2**20:.1f} MB each at {args.size} px, "
            f"so {ours[-1]['frames']} frames would add about {added(ref[0]) + slope(ref) * (ours[-1]['frames'] - ref[0]['frames']) / 100:.0f} MB). "
            f"Time per frame, ours / reference: {ours[0]['s_per_frame'] / ref[0]['s_per_frame']:.2f} at {ref[0]['frames']} "
            f"frames, {ours[1]['s_per_frame'] / ref[1]['s_per_frame']:.2f} at {ref[1]['frames']} frames. Both do the same "
            "model work per frame (ours also decodes and resizes the frame when SAM2 asks for it); on this shared machine "
            "the runs were minutes apart under different loads, so the time ratio mostly shows the load."
        )
    if fine is not None:
        lines.append(
            f"At SAM2's own 1024 px: {fine['s_per_frame']:.3f} s / frame ({fine['frames']} frames, measured last, "
            f"under the run's highest load), {fine['s_per_frame'] / ours[0]['s_per_frame']:.1f}x the time per frame at {args.size} px."
        )
    lines += [
        "",
        "Random weights measure cost, not quality: SAM2's masks on real footage need its weights "
        "(docs/sam2.md says how to measure them with one command once downloaded).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="128 px and 10/20/40 frames: a smoke run")
    parser.add_argument("--out", type=Path, default=None, help=f"section file (default in full mode: {DEFAULT_OUT})")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", nargs=4, metavar=("MODE", "N", "SIZE", "CKPT"), help=argparse.SUPPRESS)
    parser.add_argument("--jpeg-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, n, size, ckpt = args.child
        print(json.dumps(child(mode, int(n), int(size), Path(ckpt), args.threads, args.jpeg_dir)))
        return 0
    args.size = 128 if args.quick else 512
    lengths = (10, 20, 40) if args.quick else (50, 200, 800)
    ref_lengths = lengths[:2]
    out = args.out if args.out is not None else (None if args.quick else DEFAULT_OUT)
    started, load_before = now(), load_note()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = random_checkpoint(Path(tmp) / "sam2.1_hiera_tiny.pt", args.threads)
        rows = [run_child("ours", n, args.size, ckpt, args.threads, None) for n in lengths]
        for n in ref_lengths:
            jpegs = write_jpegs(n, Path(tmp) / f"jpg{n}")
            rows.append(run_child("reference", n, args.size, ckpt, args.threads, jpegs))
        fine = None if args.quick else run_child("ours", 20, 1024, ckpt, args.threads, None)
    write_section(section(rows, fine, args, load_before, started), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
