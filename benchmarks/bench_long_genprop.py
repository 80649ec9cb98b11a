"""Peak memory of ``propagate --engine genprop`` against clip length (issue 16), tiny random weights.

    python -m benchmarks.bench_long_genprop                       # 1920x1080, 48/192 frames, writes
                                                                  # docs/bench_sections/long_genprop.md
    python -m benchmarks.bench_long_genprop --quick               # seconds: 96x64, 8/16 frames, no file
    python -m benchmarks.bench_long_genprop --lengths 300,1200,4800   # the issue's lengths (hours on 2 cores)

The GenProp engine's own memory, not the model's: a tiny random-weight GenProp pipeline
(``engine.pipelines.dummy.tiny_components``, saved with ``save_pretrained`` and loaded by
the engine from that folder, as a user's weights would be) runs through the real CLI on
the synthetic clip of ``bench_long_clips`` (one fresh process per run; peak = its
``ru_maxrss``). What could grow with length is everything around the model: the source
read through ``FrameSource``, the windows' frames at source size, the composite with the
original, the result store and the transcode. ``in-memory`` = the engine's ``propagate()``
arrays exported directly (the reference, shortest length only).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_long_clips import Run, make_inputs, run_measured
from benchmarks.bench_video_io import write_section

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench_sections" / "long_genprop.md"

_REFERENCE = """
import sys
import engine.engines  # noqa: F401
from engine.edits.edit_file import load_edit
from engine.engines.base import get_engine
from engine.video import open_video
from engine.video.export import ExportPlan, SourceFacts, write_result
video, edit_path, out, svd, steps, long_side, window = sys.argv[1:8]
reader = open_video(video)
_, edit = load_edit(edit_path, original_frame=reader[0], frame_count=len(reader))
options = {"svd": svd, "steps": int(steps), "long_side": int(long_side), "window": int(window)}
result = get_engine("genprop")().propagate(reader, edit, options)
plan = ExportPlan.from_paths(out, "auto")
write_result(plan, result, edit=edit, reader=reader, facts=SourceFacts.of(reader))
"""


def save_tiny_weights(folder: Path) -> Path:
    """A tiny random-weight GenProp pipeline (SVD parts + heads) saved as a model folder."""
    from engine.pipelines import GenPropPipeline
    from engine.pipelines.dummy import tiny_components

    components = tiny_components(0, randomize_heads=True)
    heads = components.pop("heads")
    GenPropPipeline.from_components(heads=heads, **components).save_pretrained(folder)
    return folder


def run_all(size: tuple[int, int], lengths: list[int], op: str, steps: int, long_side: int, window: int) -> list[Run]:
    w, h = size
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_long_genprop_") as tmp:
        folder = Path(tmp)
        weights = save_tiny_weights(folder / "tiny")
        for n in lengths:
            clip, edits = make_inputs(folder, n, w, h)
            out = folder / f"out_{n}.mp4"
            flags = ["--svd", str(weights), "--steps", str(steps), "--long-side", str(long_side), "--window", str(window)]
            paths = ["cli", "in-memory"] if n == min(lengths) else ["cli"]
            for path in paths:
                if path == "cli":
                    cmd = [sys.executable, "main.py", "propagate", "--engine", "genprop", *flags]
                    cmd += ["--video", str(clip), "--edit", str(edits[op]), "--out", str(out)]
                else:
                    cmd = [sys.executable, "-c", _REFERENCE, str(clip), str(edits[op]), str(out)]
                    cmd += [str(weights), str(steps), str(long_side), str(window)]
                run_measured(runs, path, op, n, cmd, out)
            clip.unlink()
    return runs


def render(runs: list[Run], size: tuple[int, int], cmd: str, load: tuple[str, str], window: int, started: str) -> str:
    w, h = size
    shortest = {r.path: r for r in runs if r.frames == min(x.frames for x in runs if x.path == r.path)}
    lines = [
        "## Long clips with the GenProp engine: peak memory against clip length (issue 16, tiny random weights)",
        "",
        f"- Date: {started} UTC (start)",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"- Load (1-min average) before/after: {load[0]} / {load[1]} (shared machine: seconds are noisy, peak memory is not)",
        f"- Command: `{cmd}`",
        f"- Clip: synthetic {w}x{h} H.264 (the `bench_long_clips` clip), a recolour edit of the moving ellipse; "
        f"tiny random-weight GenProp saved and loaded as a model folder; windows of {window} frames.",
        "",
        "| path | frames | raw clip MB | peak RSS MB | peak / shortest | wall s | CPU s | frames per CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        raw = r.frames * w * h * 3 / 2**20
        ratio = r.peak_mb / shortest[r.path].peak_mb
        lines.append(
            f"| {r.path} | {r.frames} | {raw:.0f} | {r.peak_mb:.0f} | {ratio:.2f}x | {r.seconds:.1f} | {r.cpu_seconds:.1f} | "
            f"{r.frames / max(r.cpu_seconds, 1e-9):.2f} |"
        )
    ref = [r for r in runs if r.path == "in-memory"]
    cli = [r for r in runs if r.path == "cli" and ref and r.frames == ref[0].frames]
    if ref and cli:
        lines += [
            "",
            f"- {ref[0].frames} frames: the store path's throughput is {ref[0].cpu_seconds / cli[0].cpu_seconds:.2f}x "
            "the in-memory path's by CPU time",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny clips, no file written")
    p.add_argument("--size", default="1920x1080", help="WxH of the synthetic clip")
    p.add_argument("--lengths", default="48,192", help="frame counts")
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--long-side", type=int, default=64, help="the model's working long side (tiny weights)")
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    size = (96, 64) if args.quick else tuple(int(v) for v in args.size.lower().split("x"))
    lengths = [8, 16] if args.quick else [int(v) for v in args.lengths.split(",")]
    before = f"{os.getloadavg()[0]:.1f}"
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M")
    runs = run_all(size, lengths, "recolour", args.steps, args.long_side, args.window)  # type: ignore[arg-type]
    after = f"{os.getloadavg()[0]:.1f}"
    cmd = "python -m benchmarks.bench_long_genprop" + ("" if args.quick else f" --size {args.size} --lengths {args.lengths}")
    for flag, value, default in (("--steps", args.steps, 1), ("--long-side", args.long_side, 64), ("--window", args.window, 8)):
        cmd += f" {flag} {value}" if value != default else ""
    text = render(runs, size, cmd, (before, after), args.window, started)  # type: ignore[arg-type]
    write_section(text, None if args.quick else args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
