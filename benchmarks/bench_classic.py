"""Frames per second of the classic engine per task, with the decode rate as ceiling.

    python -m benchmarks.bench_classic            # full: 640x360 and 1280x720, writes
                                                  # docs/bench_sections/classic.md
    python -m benchmarks.bench_classic --quick    # seconds: tiny procedural clip, no file

Full mode uses ../shared/data/clips/cockatoo.mp4 (resized for 640x360) when present,
else a procedural clip. Each figure is frames / wall seconds of one propagate() call,
reading from memory (decode is measured separately with cv2.VideoCapture).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from engine.edit import EditKind, EditOperation, FirstFrameEdit
from engine.edits.recolour import recolour
from engine.edits.remove import remove
from engine.edits.track import track
from engine.engines.classic import ClassicEngine
from engine.evaluation.composite.sources import default_data_dir
from engine.procedural import generate_clip
from engine.video.source import ArrayClip

ROOT = Path(__file__).resolve().parents[1]
CLIP = default_data_dir() / "clips" / "cockatoo.mp4"
OUT = ROOT / "docs" / "bench_sections" / "classic.md"


def read_clip(path: Path, n: int, size: tuple[int, int]) -> tuple[np.ndarray, float, float]:
    """(frames resized to ``size``, fps, decode fps at native size)."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames, t0 = [], time.perf_counter()
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    decode = len(frames) / (time.perf_counter() - t0)
    cap.release()
    rgb = [
        cv2.cvtColor(cv2.resize(f, size, interpolation=cv2.INTER_AREA) if f.shape[1::-1] != size else f, cv2.COLOR_BGR2RGB)
        for f in frames
    ]
    return np.stack(rgb), fps, decode


def decode_rate(path: Path, size: tuple[int, int], n: int) -> float:
    """Decode (+ resize when needed) rate with cv2.VideoCapture, frames per second."""
    cap = cv2.VideoCapture(str(path))
    t0, k = time.perf_counter(), 0
    while k < n:
        ok, f = cap.read()
        if not ok:
            break
        if f.shape[1::-1] != size:
            f = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
        k += 1
    cap.release()
    return k / (time.perf_counter() - t0)


def edits(frame: np.ndarray) -> dict[str, FirstFrameEdit]:
    h, w = frame.shape[:2]
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (w // 2, h // 2), (w // 8, h // 5), 0, 0, 360, 255, -1)
    out = {}
    f, op = track(frame, m)
    out["track"] = FirstFrameEdit(frame, f, op.mask, [op])
    f, op = recolour(frame, m, hue_shift=90)
    out["recolour"] = FirstFrameEdit(frame, f, op.mask, [op])
    f, op = remove(frame, m, method="telea")
    out["remove"] = FirstFrameEdit(frame, f, op.mask, [op])
    layer = np.zeros((h, w, 4), np.uint8)
    layer[h // 4 : h // 4 + h // 6, w // 5 : w // 5 + w // 6] = (255, 255, 0, 255)
    ins = EditOperation(EditKind.INSERT, mask=(layer[..., 3] > 0).astype(np.uint8) * 255, layer_rgba=layer)
    comp = np.where(layer[..., 3:4] > 0, layer[..., :3], frame)
    out["insert"] = FirstFrameEdit(frame, comp, ins.mask, [ins])
    pad = w // 8
    canvas = cv2.copyMakeBorder(frame, 0, 0, pad, pad, cv2.BORDER_REFLECT)
    cm = np.full(canvas.shape[:2], 255, np.uint8)
    cm[:, pad : pad + w] = 0
    op = EditOperation(EditKind.OUTPAINT, mask=cm, params={"left": pad, "top": 0, "right": pad, "bottom": 0})
    out["outpaint"] = FirstFrameEdit(frame, canvas, cm, [op], canvas_offset=(pad, 0))
    return out


def run(sizes: list[tuple[int, int]], n: int, use_real: bool) -> list[dict]:
    rows = []
    for size in sizes:
        if use_real and CLIP.is_file():
            frames, fps, _ = read_clip(CLIP, n, size)
            source = f"{CLIP.name} ({len(frames)} frames)"
            dec = decode_rate(CLIP, size, n)
        else:
            c = generate_clip(size[0], size[1], n, num_objects=3, seed=0)
            frames, fps, source, dec = c.frames, c.fps, f"procedural ({n} frames)", float("nan")
        clip = ArrayClip(frames, fps)
        row = {"size": f"{size[0]}x{size[1]}", "source": source, "decode": dec}
        for task, edit in edits(frames[0]).items():
            t0, c0 = time.perf_counter(), time.process_time()
            ClassicEngine().propagate(clip, edit)
            row[task] = len(frames) / (time.perf_counter() - t0)
            row[f"{task}_cpu"] = len(frames) / max(1e-9, time.process_time() - c0)
        rows.append(row)
        print(row, flush=True)
    return rows


TASKS = ["track", "recolour", "remove", "insert", "outpaint"]


def _load() -> str:
    la = os.getloadavg()
    return f"{la[0]:.1f} / {la[1]:.1f} / {la[2]:.1f} (1 / 5 / 15 min)"


def markdown(rows: list[dict], command: str, load: tuple[str, str] = ("n/a", "n/a")) -> str:

    lines = [
        "## Classic engine speed",
        "",
        f"- Date: {_dt.datetime.now().isoformat(timespec='minutes')}",
        f"- Machine: {platform.processor() or platform.machine()}, {cv2.getNumberOfCPUs()} CPU cores, {platform.system()} {platform.release()}",
        f"- Versions: Python {platform.python_version()}, OpenCV {cv2.__version__}, NumPy {np.__version__}",
        "- Engine defaults: DIS `medium` flow at longer side 320, re-anchored to frame 1 every frame.",
        f"- Command: `{command}`",
        f"- Load average before / after: {load[0]} -> {load[1]} (the machine is shared: compare the ratios below)",
        "",
        "Frames per second of one `propagate()` call (clip already in memory); decode = "
        "`cv2.VideoCapture` read (+ resize) rate of the same clip, the ceiling of any pipeline.",
        "",
        "| size | source | decode | " + " | ".join(TASKS) + " |",
        "|---|---|---|" + "---|" * len(TASKS),
    ]
    for r in rows:
        lines.append(f"| {r['size']} | {r['source']} | {r['decode']:.1f} | " + " | ".join(f"{r[t]:.1f}" for t in TASKS) + " |")
    lines += [
        "",
        "The same rates as a share of the decode rate measured in the same run (load slows both alike; "
        "multiply by an idle machine's decode rate for an idle estimate):",
        "",
        "| size | " + " | ".join(TASKS) + " |",
        "|---|" + "---|" * len(TASKS),
    ]
    for r in rows:
        lines.append(f"| {r['size']} | " + " | ".join(f"{r[t] / r['decode']:.3f}" for t in TASKS) + " |")
    lines += [
        "",
        "Frames per CPU-second of the same calls (all threads of the process; other processes' load does not "
        "count): an idle machine's wall-clock rate is at least this, since a run's wall time there is at most its "
        "CPU time (more where OpenCV uses both cores at once):",
        "",
        "| size | " + " | ".join(TASKS) + " |",
        "|---|" + "---|" * len(TASKS),
    ]
    for r in rows:
        lines.append(f"| {r['size']} | " + " | ".join(f"{r.get(t + '_cpu', float('nan')):.1f}" for t in TASKS) + " |")
    lines += ["", "Targets (issue #5): track/recolour >= 15 fps and removal >= 3 fps at 640x360.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny procedural clip, prints only")
    parser.add_argument("--frames", type=int, default=60, help="frames per clip in full mode")
    args = parser.parse_args(argv)
    if args.quick:
        run([(128, 72)], 8, use_real=False)
        return 0
    before = _load()
    rows = run([(640, 360), (1280, 720)], args.frames, use_real=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(markdown(rows, "python -m benchmarks.bench_classic " + " ".join(sys.argv[1:]), (before, _load())))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
