"""Benchmark the first-frame edit toolkit at 1280x720 on this machine's CPU.

Click-to-mask latency (SAM2 tiny set_image and predict separately, with random weights,
which cost the same as real ones; GrabCut fallback), mask refinement and every edit
operation. Writes a Markdown section to ``docs/bench_sections/edits.md``.

    python benchmarks/bench_edits.py            # full run (about a minute on 2 cores)
    python benchmarks/bench_edits.py --quick    # a few seconds: no SAM2, fewer repeats
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.edits import (  # noqa: E402
    InsertSpec,
    OutpaintSpec,
    RecolourSpec,
    RemoveSpec,
    apply_recolour,
    compose,
    insert,
    load_edit,
    outpaint,
    recolour,
    remove,
    replace,
    save_edit,
    track,
)
from engine.edits import masks as M  # noqa: E402
from engine.edits.selection import GrabCutSelector  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "bench_sections" / "edits.md"


def load_frame() -> tuple[np.ndarray, str]:
    """Frame 1 of cockatoo.mp4 (1280x720) when the shared data is present, else generated."""
    clip = DATA / "clips" / "cockatoo.mp4"
    if clip.is_file():
        cap = cv2.VideoCapture(str(clip))
        ok, bgr = cap.read()
        cap.release()
        if ok and bgr.shape[:2] == (720, 1280):
            return np.ascontiguousarray(bgr[..., ::-1]), "cockatoo.mp4 frame 0"
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8), (0, 0), 3)
    return frame, "generated noise (shared data absent)"


WARMUP = 1


def timed(fn: Callable[[], object], repeats: int, warmup: int | None = None) -> float:
    """Median wall time in milliseconds."""
    for _ in range(WARMUP if warmup is None else warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip SAM2 and use fewer repeats (seconds)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"Markdown file to write (default {OUT})")
    args = parser.parse_args()
    reps = 1 if args.quick else 7
    global WARMUP
    WARMUP = 0 if args.quick else 1

    frame, frame_name = load_frame()
    h, w = frame.shape[:2]
    obj = np.zeros((h, w), np.uint8)
    cv2.ellipse(obj, (640, 380), (150, 200), 0, 0, 360, 255, -1)  # ~7 % of the frame
    extras = np.zeros_like(obj)
    cv2.ellipse(extras, (700, 600), (160, 30), 0, 0, 360, 255, -1)  # a "shadow"
    layer = np.zeros((300, 200, 4), np.uint8)
    layer[..., :3] = (30, 120, 220)
    alpha = np.zeros((300, 200), np.uint8)
    cv2.ellipse(alpha, (100, 150), (95, 145), 0, 0, 360, 255, -1)
    layer[..., 3] = alpha
    rows: list[tuple[str, str, float]] = []

    def add(group: str, name: str, ms: float) -> None:
        rows.append((group, name, ms))
        print(f"{group:12s} {name:52s} {ms:9.1f} ms", flush=True)

    # --- selection ---------------------------------------------------------------
    if not args.quick:
        import torch

        from engine.edits.selection import Sam2Selector

        t = time.perf_counter()
        sam = Sam2Selector("tiny", random_weights=True)
        add("selection", "SAM2.1 tiny: build model (random weights)", (time.perf_counter() - t) * 1000)
        frames = [frame, np.ascontiguousarray(frame[:, ::-1])]
        i = iter(range(10**6))

        def set_new() -> None:  # alternate frames so every call misses the cache
            sam._key = None
            sam._cache.clear()
            sam.set_image(frames[next(i) % 2])

        add("selection", f"SAM2.1 tiny: set_image (encoder, {torch.get_num_threads()} threads)", timed(set_new, 3))
        sam.set_image(frames[1])
        add("selection", "SAM2.1 tiny: set_image, frame already cached", timed(lambda: sam.set_image(frame), reps))
        add("selection", "SAM2.1 tiny: predict, 1 click, 3 masks", timed(lambda: sam.predict([[640, 380]], [1]), reps))
        add(
            "selection",
            "SAM2.1 tiny: predict, box + 2 clicks, 1 mask",
            timed(lambda: sam.predict([[640, 380], [100, 100]], [1, 0], box=[490, 180, 790, 580], multimask=False), reps),
        )
    gc = GrabCutSelector()
    gc.set_image(frame)
    add("selection", "GrabCut fallback: set_image", timed(lambda: gc.set_image(frame), reps))
    add(
        "selection",
        "GrabCut fallback: predict, box 300x400",
        timed(lambda: gc.predict(None, None, box=[490, 180, 790, 580]), reps),
    )
    add("selection", "GrabCut fallback: predict, 1 click, 3 masks", timed(lambda: gc.predict([[640, 380]], [1]), reps))

    # --- refinement --------------------------------------------------------------
    stroke = [(400 + 10 * k, 300 + 3 * k) for k in range(30)]
    add("refinement", "brush stroke (30 points, radius 12)", timed(lambda: M.brush(obj, stroke, 12), reps))
    add("refinement", "grow 8 px", timed(lambda: M.grow(obj, 8), reps))
    add("refinement", "shrink 8 px", timed(lambda: M.shrink(obj, 8), reps))
    add("refinement", "feather 6 px", timed(lambda: M.feather(obj, 6), reps))
    holed = M.brush(obj, [(640, 380)], 20, add=False)
    add("refinement", "fill holes", timed(lambda: M.fill_holes(holed), reps))
    add("refinement", "keep largest component", timed(lambda: M.keep_largest_component(M.union(obj, extras)), reps))

    # --- operations --------------------------------------------------------------
    add(
        "operation",
        "remove, telea (object + shadow)",
        timed(lambda: remove(frame, obj, method="telea", extras_mask=extras), reps),
    )
    add("operation", "remove, ns (object + shadow)", timed(lambda: remove(frame, obj, method="ns", extras_mask=extras), reps))
    add(
        "operation",
        "insert 200x300 layer, scale 1.3, rotate 20, feather 4",
        timed(lambda: insert(frame, layer, x=300, y=300, scale=1.3, rotation=20, feather=4), reps),
    )
    add("operation", "replace (remove + insert)", timed(lambda: replace(frame, obj, layer), reps))
    add("operation", "recolour, adjust (hue +120)", timed(lambda: recolour(frame, obj, hue_shift=120), reps))
    add(
        "operation", "recolour, target colour", timed(lambda: recolour(frame, obj, mode="target", target_rgb=[200, 40, 40]), reps)
    )
    _, rec = recolour(frame, obj, mode="target", target_rgb=[200, 40, 40])
    add("operation", "apply_recolour on a later frame (engine)", timed(lambda: apply_recolour(frame, obj, rec.params), reps))
    add("operation", "track (flat colour fill)", timed(lambda: track(frame, obj), reps))
    narrow = np.ascontiguousarray(frame[:, 160:1120])
    add("operation", "outpaint 960x720 -> 16:9, telea", timed(lambda: outpaint(narrow, aspect="16:9", method="telea"), reps))
    add("operation", "outpaint 960x720 -> 16:9, reflect", timed(lambda: outpaint(narrow, aspect="16:9", method="reflect"), reps))
    specs = [
        RemoveSpec(mask=obj, extras_mask=extras),
        RecolourSpec(mask=M.grow(extras, 4), hue_shift=60.0),
        InsertSpec(layer=layer, x=300, y=300),
        OutpaintSpec(left=64, right=64),
    ]
    add("operation", "compose 4 ops (remove, recolour, insert, outpaint)", timed(lambda: compose(frame, specs), reps))
    with tempfile.TemporaryDirectory() as tmp:
        add("edit file", "save_edit (4 ops, PNG assets)", timed(lambda: save_edit(specs, tmp), reps))
        add("edit file", "load_edit + compose", timed(lambda: load_edit(Path(tmp) / "edit.json", frame), reps))

    write_markdown(args.out, rows, frame_name, args.quick)
    print(f"wrote {args.out}")


def write_markdown(path: Path, rows: list[tuple[str, str, float]], frame_name: str, quick: bool) -> None:
    import PIL
    import torch

    try:
        from importlib.metadata import version

        sam2_version = version("sam2")
    except Exception:  # metadata missing in odd installs; the figure table still stands
        sam2_version = "unknown"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## First-frame edit toolkit (`engine/edits`)",
        "",
        f"- Command: `python benchmarks/bench_edits.py{' --quick' if quick else ''}`"
        + (" (quick: no SAM2, 1 run each, no warm-up)" if quick else " (median of 7 runs; SAM2 set_image median of 3)"),
        f"- Date: {now}",
        f"- Machine: {cpu_name()}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, CPU only",
        f"- Versions: Python {platform.python_version()}, torch {torch.__version__}, sam2 {sam2_version}, "
        f"OpenCV {cv2.__version__}, NumPy {np.__version__}, Pillow {PIL.__version__}",
        f"- Load average at the end of the run (1/5/15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())} "
        "(other jobs on the machine inflate the figures when this exceeds the core count)",
        f"- Frame: 1280x720 ({frame_name}); object mask: ellipse 300x400 px; shadow: ellipse 320x60 px",
        "",
        "| group | what | median ms |",
        "|---|---|---:|",
    ]
    lines += [f"| {g} | {n} | {ms:.1f} |" for g, n, ms in rows]
    lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
