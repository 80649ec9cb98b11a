"""The window with kept results (issue 16): memory per kept result, scrubbing, GUI-thread stalls.

    python -m benchmarks.bench_gui_streaming            # 640x360, 300-frame results; writes
                                                        # docs/bench_sections/gui_streaming.md
    python -m benchmarks.bench_gui_streaming --quick    # seconds: tiny, no file

For each way of keeping results, a fresh process opens the real window (Qt offscreen),
keeps three results one after another and reports its resident memory after each:

- ``handles``: results as the app keeps them now (``app.result_files.read_result``:
  frames read from the result store on demand);
- ``arrays``: the same results held as arrays (what the app kept before the store).

While keeping them it scrubs each result in the Review tab (``timeline.seek`` + the
events; since the Review tab renders on worker threads this counts requests, not frames
shown: ``benchmarks/bench_gui_stall.py`` measures frames shown while scrubbing). The ``handles`` process
then runs one real Propagate (classic engine, a track edit) followed by the autosave,
with a 2 ms timer on the event loop recording the longest gap between its ticks (the
longest the GUI thread was kept from its events). Separately, the store's read rate
at 1920x1080 (sequential and random order) is measured in this process: the ceiling of
scrubbing at 1080p.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_video_io import write_section

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench_sections" / "gui_streaming.md"

_CHILD = r"""
import json, os, sys, time
import numpy as np
import psutil
from PySide6.QtCore import QTimer, QElapsedTimer
from benchmarks.gui_wait import run_events
from PySide6.QtWidgets import QApplication
from app import result_files
from app.settings import Settings
from engine.engines.base import PropagationResult
from ui.main_window import MainWindow

mode, clip, stores, stall = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4] == "1"
proc = psutil.Process()
app = QApplication([])
win = MainWindow(Settings())
win.ask_on_close = False
win.show()
win.open_clip(clip, confirmed=True)
while win.session.frame is None:
    run_events(20)
run_events(200)
out = {"rss_mb": [proc.memory_info().rss / 2**20], "scrub_fps": []}
for folder in stores:
    result = result_files.read_result(__import__("pathlib").Path(folder))
    if mode == "arrays":
        result = PropagationResult(np.asarray(result.frames), np.asarray(result.masks), result.fps, result.engine, result.mode)
    win._propagation_done(result)
    QApplication.processEvents()
    n = len(result.frames)
    t0 = time.perf_counter()
    for i in range(n):
        win.review.timeline.seek(i)
        QApplication.processEvents()
    out["scrub_fps"].append(n / (time.perf_counter() - t0))
    while win.jobs.busy:
        run_events(20)
    run_events(300)  # the recovery writer copies the result on its worker
    out["rss_mb"].append(proc.memory_info().rss / 2**20)
if stall:
    gaps = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]
    def tick():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now
    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(2)
    h, w = win.session.frame.shape[:2]
    mask = np.zeros((h, w), np.uint8); mask[h // 3 : h // 2, w // 3 : w // 2] = 255
    win.edit_panel.set_selection(mask)
    win.edit_panel.add_track()
    run_events(500)
    gaps.clear(); last[0] = clock.elapsed()
    run_events(8000)  # the same timer with nothing running: what the machine's load alone costs
    out["idle_max_gap_ms"] = max(gaps) if gaps else None
    out["idle_gaps_over_50ms"] = sum(1 for g in gaps if g > 50)
    done = []
    win.job_finished.connect(done.append)
    gaps.clear(); last[0] = clock.elapsed()
    t0 = time.perf_counter()
    win.propagate()
    while not done:
        run_events(5)
    run_events(1500)  # the autosave and the recovery copy of the new result run on workers
    out["propagate_s"] = time.perf_counter() - t0
    out["outcome"] = done[0]
    out["max_gap_ms"] = max(gaps) if gaps else None
    out["gaps_over_50ms"] = sum(1 for g in gaps if g > 50)
    out["ticks"] = len(gaps)
print("RESULT " + json.dumps(out))
os._exit(0)
"""


def write_store(folder: Path, n: int, w: int, h: int, seed: int) -> Path:
    """A result folder of ``n`` synthetic frames, written frame by frame (as an engine would)."""
    from benchmarks.bench_long_clips import object_mask, synthetic_frames
    from engine.result_store import ResultWriter

    writer = ResultWriter(folder, 25.0, (w, h), expected_frames=n)
    mask = object_mask(w, h)
    for frame in synthetic_frames(n, w, h, seed):
        writer.put(frame, mask)
    writer.finish("classic", "classic")
    return folder


def store_read_rate(w: int, h: int, n: int) -> tuple[float, float]:
    """(sequential, random) frames per second reading a stored result of ``n`` frames at ``w``x``h``."""
    from engine.result_store import open_result

    with tempfile.TemporaryDirectory(prefix="bench_scrub_") as tmp:
        result = open_result(write_store(Path(tmp) / "r", n, w, h, 5))
        t0 = time.perf_counter()
        for i in range(n):
            result.frames[i]
        seq = n / (time.perf_counter() - t0)
        order = np.random.default_rng(0).permutation(n)
        t0 = time.perf_counter()
        for i in order:
            result.frames[int(i)]
        rnd = n / (time.perf_counter() - t0)
    return seq, rnd


def run_child(mode: str, clip: Path, stores: list[Path], stall: bool, home: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    env["GENPROP_STUDIO_HOME"] = str(home / mode)
    cmd = [sys.executable, "-c", _CHILD, mode, str(clip), json.dumps([str(s) for s in stores]), "1" if stall else "0"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{mode} run failed ({proc.returncode}): {proc.stderr[:4000]} ... {proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT ") :])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--size", default="640x360")
    p.add_argument("--frames", type=int, default=300, help="frames per kept result and in the clip")
    p.add_argument("--hd-frames", type=int, default=24, help="frames of the 1920x1080 read-rate test")
    p.add_argument("--modes", default="handles,arrays", help="handles and/or arrays (arrays of 1080p x 1,200 frames do not fit)")
    p.add_argument("--no-stall", action="store_true", help="skip the propagate + autosave run")
    p.add_argument("--out", type=Path, default=OUT, help=f"section to write (default {OUT.relative_to(ROOT)})")
    args = p.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    w, h = (96, 64) if args.quick else tuple(int(v) for v in args.size.lower().split("x"))
    n = 12 if args.quick else args.frames
    load_before = os.getloadavg()
    started = _dt.datetime.now(_dt.timezone.utc)
    from benchmarks.bench_long_clips import synthetic_frames
    from engine.video import write_video

    with tempfile.TemporaryDirectory(prefix="bench_gui_") as tmp:
        folder = Path(tmp)
        clip = write_video(folder / "clip.mp4", synthetic_frames(n, w, h), 25.0, quality=18)
        stores = [write_store(folder / f"r{k}", n, w, h, k) for k in range(3)]
        runs = {mode: run_child(mode, clip, stores, False, folder / "home") for mode in modes}
        stall: dict = {"skipped": True}
        try:  # its own process: a crash here (see docs/streaming.md) keeps the figures above
            if not args.no_stall:
                stall = run_child("handles", clip, stores[:1], True, folder / "home-stall")
        except RuntimeError as exc:
            fatal = next((x for x in str(exc).splitlines() if "Fatal" in x), str(exc).splitlines()[0])
            stall = {"crashed": fatal[:300]}
    hd_size = (192, 108) if args.quick else (1920, 1080)
    hd_n = 4 if args.quick else args.hd_frames
    hd = store_read_rate(*hd_size, hd_n)
    load_after = os.getloadavg()
    lines = [
        "## GUI with kept results: memory, scrubbing, GUI-thread stalls",
        "",
        f"- Date: {started:%Y-%m-%dT%H:%M} UTC",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Linux {platform.release()}, Python {platform.python_version()}",
        f"- Load (1-min average) before/after: {load_before[0]:.1f} / {load_after[0]:.1f} (shared machine: rates are noisy)",
        f"- Command: `python -m benchmarks.bench_gui_streaming --size {w}x{h} --frames {n} --hd-frames {args.hd_frames}"
        + (f" --modes {args.modes}" if modes != ["handles", "arrays"] else "")
        + (" --no-stall`" if args.no_stall else "`"),
        f"- The real window (Qt offscreen), a {w}x{h} clip of {n} frames; three kept results of {n} frames each.",
        "",
        "| results kept as | RSS, no result (MB) | 1 result | 2 results | 3 results | 3 / 1 | scrub frames/s (Review tab) |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, r in runs.items():
        rss = r["rss_mb"]
        scrub = ", ".join(f"{v:.0f}" for v in r["scrub_fps"])
        lines.append(f"| {mode} | {rss[0]:.0f} | {rss[1]:.0f} | {rss[2]:.0f} | {rss[3]:.0f} | {rss[3] / rss[1]:.2f}x | {scrub} |")
    s = stall
    lines += [""]
    if "skipped" in s:
        lines += ["- Propagate + autosave: not run (`--no-stall`)."]
    elif "crashed" in s:
        lines += [f"- Propagate + autosave with one kept result: the process crashed ({s['crashed']})."]
    else:
        lines += [
            f"- Propagate (classic, track, {n} frames) + autosave with one result kept as a handle: {s['propagate_s']:.1f} s, "
            f"outcome {s['outcome']}; longest GUI-thread gap {s['max_gap_ms']} ms over {s['ticks']} timer ticks "
            f"({s['gaps_over_50ms']} gaps over 50 ms); the same timer for 8 s with nothing running: longest gap "
            f"{s['idle_max_gap_ms']} ms ({s['idle_gaps_over_50ms']} over 50 ms), what the machine's load alone costs.",
        ]
    lines += [
        f"- Result store read rate at {hd_size[0]}x{hd_size[1]} ({hd_n} frames, one PNG each): "
        f"sequential {hd[0]:.1f} frames/s, "
        f"random order {hd[1]:.1f} frames/s.",
    ]
    write_section("\n".join(lines) + "\n", None if args.quick else args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
