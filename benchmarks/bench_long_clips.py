"""Peak memory of ``propagate`` against clip length (issue 16): does a long clip stay flat?

    python -m benchmarks.bench_long_clips                 # full: 480x270, 60/240/960 frames, writes
                                                          # docs/bench_sections/long_clips.md
    python -m benchmarks.bench_long_clips --quick         # seconds: 96x64, 8/32 frames, no file
    python -m benchmarks.bench_long_clips --size 1920x1080 --lengths 300,1200,4800   # the issue's sizes

Each run is a fresh process, so its peak resident set (``ru_maxrss`` from ``os.wait4``
on that child alone) is the run's own:

- ``cli``: ``main.py propagate --engine classic`` (what a user runs: the engine writes
  through the result store and the output is transcoded from it);
- ``in-memory``: the reference path, the same engine's ``propagate()`` returning arrays,
  exported with ``engine.video.export.write_result`` from those arrays (the CLI before
  the store).

Lengths keep the issue's 1:4:16 ratio (300/1,200/4,800 frames); figures are ratios
against the shortest clip of the same path in the same run. The synthetic clip (a
textured background panning under an ellipse that moves on a circle) is generated
frame by frame into an H.264 file, never held whole in memory.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.bench_sam2_video import status_mb
from benchmarks.bench_video_io import write_section

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench_sections" / "long_clips.md"
OPS = ("track", "recolour", "remove", "insert", "outpaint")

_REFERENCE = """
import sys, time
import engine.engines  # noqa: F401
from engine.edits.edit_file import load_edit
from engine.engines.base import get_engine
from engine.video import open_video
from engine.video.export import ExportPlan, SourceFacts, write_result
video, edit_path, out = sys.argv[1:4]
reader = open_video(video)
_, edit = load_edit(edit_path, original_frame=reader[0], frame_count=len(reader))
result = get_engine("classic")().propagate(reader, edit, {})
plan = ExportPlan.from_paths(out, "auto")
write_result(plan, result, edit=edit, reader=reader, facts=SourceFacts.of(reader))
"""


@dataclass
class Run:
    path: str
    op: str
    frames: int
    peak_mb: float
    seconds: float
    cpu_seconds: float
    curve: list[tuple[float, float]]  # (seconds since start, resident MB), sampled while it ran


#: How often the resident set of a running child is sampled for its memory curve.
CURVE_INTERVAL_S = 2.0


def _sample_curve(pid: int, t0: float, curve: list[tuple[float, float]], done: threading.Event) -> None:
    while not done.wait(CURVE_INTERVAL_S):
        mb = status_mb("VmRSS", pid)
        if mb == mb:  # NaN once the child is gone
            curve.append((time.perf_counter() - t0, mb))


def curve_summary(curve: list[tuple[float, float]], seconds: float) -> str:
    """Resident MB at a quarter, half and three quarters of the run, and when the sampled peak came:
    which stage grows with the clip (a peak late in the run is the transcode's)."""
    if not curve:
        return "–"
    at = [min(curve, key=lambda c: abs(c[0] - f * seconds))[1] for f in (0.25, 0.5, 0.75)]
    top = max(curve, key=lambda c: c[1])
    return " / ".join(f"{v:.0f}" for v in at) + f"; max at {100 * top[0] / seconds:.0f}%"


def synthetic_frames(n: int, w: int, h: int, seed: int = 0):  # noqa: ANN201 - a generator of frames
    """A textured background panning right with an ellipse moving on a circle (one frame at a time)."""
    import cv2

    rng = np.random.default_rng(seed)
    tex = cv2.resize(rng.integers(0, 255, (h // 8 + 1, (2 * w) // 8 + 1, 3), dtype=np.uint8), (2 * w, h))
    tex = cv2.GaussianBlur(tex, (0, 0), 2.0)
    for t in range(n):
        x0 = int((t * 2) % w)
        frame = np.ascontiguousarray(tex[:, x0 : x0 + w])
        cx = int(w / 2 + w / 5 * np.cos(t / 25.0))
        cy = int(h / 2 + h / 6 * np.sin(t / 25.0))
        cv2.ellipse(frame, (cx, cy), (w // 10, h // 7), 0, 0, 360, (220, 60, 40), -1)
        yield frame


def object_mask(w: int, h: int) -> np.ndarray:
    import cv2

    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (int(w / 2 + w / 5), h // 2), (w // 10, h // 7), 0, 0, 360, 255, -1)
    return m


def make_inputs(folder: Path, n: int, w: int, h: int) -> tuple[Path, dict[str, Path]]:
    """The clip of ``n`` frames and one edit file per op."""
    from engine.edits.edit_file import save_edit
    from engine.edits.insert import InsertSpec
    from engine.edits.outpaint import OutpaintSpec
    from engine.edits.recolour import RecolourSpec
    from engine.edits.remove import RemoveSpec
    from engine.edits.track import TrackSpec
    from engine.video import write_video

    clip = folder / f"clip_{n}.mp4"
    write_video(clip, synthetic_frames(n, w, h), 25.0, quality=18)
    mask = object_mask(w, h)
    sticker = np.zeros((h // 5, w // 5, 4), np.uint8)
    sticker[...] = (250, 230, 40, 255)  # a yellow card on the panning background
    specs = {
        "track": TrackSpec(mask),
        "recolour": RecolourSpec(mask, hue_shift=120.0),
        "remove": RemoveSpec(mask),
        "insert": InsertSpec(sticker, x=w * 0.25, y=h * 0.25),
        "outpaint": OutpaintSpec(left=w // 10, right=w // 10),  # 480x270 -> 576x270
    }
    edits = {op: save_edit([spec], folder / f"edit_{op}") for op, spec in specs.items()}
    return clip, edits


def measure(cmd: list[str]) -> tuple[float, float, float, list[tuple[float, float]]]:
    """(peak RSS in MB, wall seconds, CPU seconds: user + system, RSS curve) of one child process, which
    must succeed.

    CPU seconds hardly depend on what else the machine runs, so throughput is compared by them."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    curve: list[tuple[float, float]] = []
    done = threading.Event()
    sampler = threading.Thread(target=_sample_curve, args=(proc.pid, t0, curve, done), daemon=True)
    sampler.start()
    err = proc.stderr.read() if proc.stderr else b""
    done.set()
    sampler.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    return usage.ru_maxrss / 1024.0, seconds, usage.ru_utime + usage.ru_stime, curve


def run_measured(runs: list[Run], path: str, op: str, frames: int, cmd: list[str], out: Path) -> None:
    """Run ``cmd`` in a fresh process, keep its figures in ``runs``, print them, remove its output."""
    peak, seconds, cpu, curve = measure(cmd)
    runs.append(Run(path, op, frames, peak, seconds, cpu, curve))
    print(
        f"{path:9s} {op:8s} {frames:5d} frames: peak {peak:7.0f} MB, {seconds:6.1f} s, cpu {cpu:6.1f} s, "
        f"curve {curve_summary(curve, seconds)}",
        flush=True,
    )
    out.unlink(missing_ok=True)


def run_all(size: tuple[int, int], lengths: list[int], ops: list[str], paths: list[str], reference_max: int) -> list[Run]:
    w, h = size
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench_long_") as tmp:
        folder = Path(tmp)
        for n in lengths:
            clip, edits = make_inputs(folder, n, w, h)
            for op in ops:
                out = folder / f"out_{n}_{op}.mp4"
                for path in paths:
                    if path == "in-memory" and n > reference_max:
                        continue
                    if path == "cli":
                        cmd = [sys.executable, "main.py", "propagate", "--engine", "classic"]
                        cmd += ["--video", str(clip), "--edit", str(edits[op]), "--out", str(out)]
                    else:
                        cmd = [sys.executable, "-c", _REFERENCE, str(clip), str(edits[op]), str(out)]
                    run_measured(runs, path, op, n, cmd, out)
            clip.unlink()
    return runs


def table(runs: list[Run], size: tuple[int, int]) -> list[str]:
    raw_mb = size[0] * size[1] * 3 / 2**20
    lines = [
        "| path | op | frames | raw clip MB | peak RSS MB | peak / shortest | wall s | CPU s | frames per CPU s "
        "| RSS MB at 25 / 50 / 75 % of the run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        base = min((x for x in runs if x.path == r.path and x.op == r.op), key=lambda x: x.frames)
        lines.append(
            f"| {r.path} | {r.op} | {r.frames} | {raw_mb * r.frames:.0f} | {r.peak_mb:.0f} | {r.peak_mb / base.peak_mb:.2f}x "
            f"| {r.seconds:.1f} | {r.cpu_seconds:.1f} | {r.frames / r.cpu_seconds:.1f} | {curve_summary(r.curve, r.seconds)} |"
        )
    return lines


def throughput_lines(runs: list[Run]) -> list[str]:
    """Store path against the in-memory reference, per op, at the longest length both ran (CPU seconds)."""
    out = []
    for op in sorted({r.op for r in runs}):
        both = {r.frames for r in runs if r.op == op and r.path == "cli"} & {
            r.frames for r in runs if r.op == op and r.path == "in-memory"
        }
        if not both:
            continue
        n = max(both)
        pair = {r.path: r for r in runs if r.op == op and r.frames == n}
        cpu = pair["in-memory"].cpu_seconds / pair["cli"].cpu_seconds
        wall = pair["in-memory"].seconds / pair["cli"].seconds
        out.append(
            f"- {op}, {n} frames: the store path's throughput is {cpu:.2f}x the in-memory path's by CPU time ({wall:.2f}x by wall time)"
        )
    return out


def write_curves(runs: list[Run], folder: Path) -> None:
    """One ``<path>_<op>_<frames>.csv`` per run: seconds since start, resident MB."""
    folder.mkdir(parents=True, exist_ok=True)
    for r in runs:
        rows = "".join(f"{t:.1f},{mb:.1f}\n" for t, mb in r.curve)
        (folder / f"{r.path}_{r.op}_{r.frames}.csv").write_text("seconds,rss_mb\n" + rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny clips, no file written")
    p.add_argument("--size", default="480x270", help="WxH of the synthetic clip (default %(default)s)")
    p.add_argument("--lengths", default="60,240,960", help="frame counts (default %(default)s)")
    p.add_argument("--ops", default=",".join(OPS), help="operations (default %(default)s)")
    p.add_argument("--paths", default="cli,in-memory", help="cli and/or in-memory (default %(default)s)")
    p.add_argument("--reference-max", type=int, default=1 << 30, help="run the in-memory path only up to this many frames")
    p.add_argument("--curves", type=Path, help="also write each run's sampled RSS curve as CSV into this folder")
    p.add_argument("--out", type=Path, default=OUT, help=f"section to write (default {OUT.relative_to(ROOT)})")
    args = p.parse_args(argv)
    size = (96, 64) if args.quick else tuple(int(v) for v in args.size.lower().split("x"))
    lengths = [8, 32] if args.quick else [int(v) for v in args.lengths.split(",")]
    ops = [o for o in args.ops.split(",") if o]
    paths = [x for x in args.paths.split(",") if x]
    load_before = os.getloadavg()
    started = _dt.datetime.now(_dt.timezone.utc)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    runs = run_all(size, lengths, ops, paths, args.reference_max)
    load_after = os.getloadavg()
    if args.curves:
        write_curves(runs, args.curves)
    lines = [
        "## Long clips: peak memory against clip length",
        "",
        f"- Date: {started:%Y-%m-%dT%H:%M} UTC; commit {commit or '?'}",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Linux {platform.release()}, Python {platform.python_version()}",
        f"- Load (1-min average) before/after: {load_before[0]:.1f} / {load_after[0]:.1f} "
        "(the machine is shared with other jobs; seconds are noisy, peak memory is not)",
        f"- Command: `python -m benchmarks.bench_long_clips --size {size[0]}x{size[1]} --lengths "
        f"{','.join(map(str, lengths))} --ops {','.join(ops)} --paths {','.join(paths)}"
        + (f" --reference-max {args.reference_max}`" if args.reference_max < 1 << 30 else "`"),
        f"- Clip: synthetic {size[0]}x{size[1]} H.264 at 25 fps; lengths in the issue's 1:4:16 ratio; "
        "one fresh process per run, peak = that process's `ru_maxrss`; its resident set sampled every "
        f"{CURVE_INTERVAL_S:g} s for the curve.",
        "- Paths: `cli` = `main.py propagate --engine classic --out out.mp4`; `in-memory` = the engine's arrays "
        "exported directly (the reference).",
        "",
        *table(runs, size),
        "",
        *throughput_lines(runs),
    ]
    write_section("\n".join(lines) + "\n", None if args.quick else args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
