"""The GUI never waits (issue 16): Review scrubbing at 1080p and GUI-thread stalls.

    python -m benchmarks.bench_gui_stall              # 1080p scrub + 640x360x300 propagate;
                                                      # writes docs/bench_sections/gui_stall.md
    python -m benchmarks.bench_gui_stall --quick --out /tmp/s.md   # seconds, tiny sizes

Each part runs the real window (Qt offscreen) in a fresh process:

- ``scrub``: a stored 1920x1080 result is kept (as the app keeps one: a handle on the
  result store); the Review tab's slider is moved by a timer at 60 steps/s for a few
  seconds, in "Result" with the mask overlay and in "A/B wipe" against the original clip.
  Figures: frames actually shown per second (``ReviewView.frame_shown``, i.e. images put
  on screen), the steps per second the timer achieved, and the longest gap of a 5 ms timer
  on the event loop meanwhile (how long the GUI thread was kept from its events).
- ``stall``: one real Propagate (classic engine, a track edit) on a synthetic clip,
  followed by the result's handover, the Review tab showing it, the recovery copy (autosave
  and the result's copy) and an edit made after it; a 5 ms timer records the longest gap.
  A sampler thread records the GUI thread's Python stack whenever the timer is late by
  more than 30 ms: where the GUI thread was while it stalled (the repo's innermost frame).
  The same timer with nothing running gives what the machine's load alone costs.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench_sections" / "gui_stall.md"

_CHILD = r"""
import collections, json, os, sys, threading, time, traceback
import numpy as np
from PySide6.QtCore import QElapsedTimer, QTimer
from benchmarks.gui_wait import run_events
from PySide6.QtWidgets import QApplication
from app import result_files
from app.settings import Settings
from ui.main_window import MainWindow

part, clip, store, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
ROOT = os.getcwd()
app = QApplication([])
win = MainWindow(Settings())
win.ask_on_close = False
win.resize(1600, 1000)
win.show()
win.open_clip(clip, confirmed=True)
while win.session.frame is None:
    run_events(20)
run_events(300)


class GapTimer:
    # A 5 ms timer on the event loop: the gaps between its ticks; a sampler thread keeps the
    # GUI thread's stack whenever a tick is late by more than 30 ms.
    def __init__(self):
        self.clock = QElapsedTimer(); self.clock.start()
        self.gaps = []; self.last = time.perf_counter(); self.sites = collections.Counter()
        self.timer = QTimer(); self.timer.timeout.connect(self.tick); self.timer.start(5)
        self.gui = threading.get_ident(); self.stop = False
        threading.Thread(target=self.sample, daemon=True).start()
    def tick(self):
        now = time.perf_counter(); self.gaps.append((now - self.last) * 1000); self.last = now
    def reset(self):
        self.gaps.clear(); self.last = time.perf_counter(); self.sites.clear()
    def sample(self):
        while not self.stop:
            time.sleep(0.005)
            if (time.perf_counter() - self.last) * 1000 > 30:
                frame = sys._current_frames().get(self.gui)
                stack = traceback.extract_stack(frame) if frame is not None else []
                ours = [f for f in stack if f.filename.startswith(ROOT) and "/.venv/" not in f.filename]
                inner = ours[-1] if ours else (stack[-1] if stack else None)
                where = f"{os.path.relpath(inner.filename, ROOT)}:{inner.lineno} {inner.name}" if inner else "?"
                if stack and stack[-1] is not inner:
                    where += f" -> {os.path.basename(stack[-1].filename)}:{stack[-1].lineno} {stack[-1].name}"
                self.sites[where] += 1
    def summary(self):
        g = self.gaps
        return {"max_gap_ms": round(max(g), 1) if g else None, "over_50": sum(1 for x in g if x > 50),
                "ticks": len(g), "sites": self.sites.most_common(8)}

gaps = GapTimer()
out = {}
if part == "scrub":
    first, second = store.split(",")
    win._propagation_done(result_files.read_result(__import__("pathlib").Path(first)))
    result = result_files.read_result(__import__("pathlib").Path(second))
    win._propagation_done(result)
    review = win.review
    run_events(500)
    n = len(result.frames)
    for mode, versus in (("Result", 0), ("A/B wipe", 0), ("A/B wipe", 1)):
        review.mode_box.setCurrentText(mode)
        review.compare_box.setCurrentIndex(versus)  # 0: the original clip, 1: the first kept result
        review.mask_check.setChecked(True)
        run_events(500)
        shown, steps = [], [0]
        review.frame_shown.connect(lambda i: shown.append((i, review.shown_preview, time.perf_counter())))
        def step():
            steps[0] += 1
            review.timeline.slider.setValue(steps[0] % n)
        timer = QTimer(); timer.setTimerType(__import__("PySide6.QtCore", fromlist=["Qt"]).Qt.TimerType.PreciseTimer)
        timer.timeout.connect(step)
        gaps.reset(); shown.clear()
        t0 = time.perf_counter(); timer.start(16)
        run_events(int(seconds * 1000))
        timer.stop(); t1 = time.perf_counter(); dt = t1 - t0
        during = list(shown)
        summary = gaps.summary()
        while not any(not p and t > t1 for _, p, t in shown) and time.perf_counter() - t1 < 10:
            run_events(5)
        exact = next((t for _, p, t in shown if not p and t > t1), None)
        review.frame_shown.disconnect()
        out[f"{mode} {versus}"] = {"shown_fps": len(during) / dt, "steps_per_s": steps[0] / dt, "distinct": len({i for i, _, _ in during}),
                     "shown": len(during), "previews": sum(1 for _, p, _ in during if p), "exact_after_ms": None if exact is None else (exact - t1) * 1000,
                     **summary}
elif part == "stall":
    h, w = win.session.frame.shape[:2]
    mask = np.zeros((h, w), np.uint8); mask[h // 3 : h // 2, w // 3 : w // 2] = 255
    win.edit_panel.set_selection(mask)
    win.edit_panel.add_track()
    run_events(3000)  # the edit's autosave (debounced) is written
    gaps.reset()
    run_events(int(seconds * 1000))
    out["idle"] = gaps.summary()
    done = []
    win.job_finished.connect(done.append)
    gaps.reset()
    t0 = time.perf_counter()
    win.propagate()
    while not done:
        run_events(5)
    out["propagate_s"] = time.perf_counter() - t0
    out["outcome"] = done[0]
    run_events(1000)
    win.edit_panel.set_selection(mask[::-1].copy())  # a change after the result: another autosave, with the result kept
    win.edit_panel.add_track()
    run_events(4000)  # the debounced autosave and the result's recovery copy run on workers
    while not win.jobs.background.idle:
        run_events(20)
    out["cycle"] = gaps.summary()
gaps.stop = True
print("RESULT " + json.dumps(out))
os._exit(0)
"""


def run_child(part: str, clip: Path, store: Path | None, seconds: float, home: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    env["GENPROP_STUDIO_HOME"] = str(home / part)
    cmd = [sys.executable, "-c", _CHILD, part, str(clip), str(store or ""), str(seconds)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{part} run failed ({proc.returncode}): {proc.stderr[-4000:]}")
    return json.loads(line[len("RESULT ") :])


def _sites(sites: list) -> str:
    return "; ".join(f"`{where}` ({count} samples)" for where, count in sites) or "none"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=None, help=f"section file (default {OUT}; --quick writes only here)")
    p.add_argument("--scrub-size", default="1920x1080")
    p.add_argument("--scrub-frames", type=int, default=120)
    p.add_argument("--scrub-seconds", type=float, default=8.0)
    p.add_argument("--stall-size", default="640x360")
    p.add_argument("--stall-frames", type=int, default=300)
    p.add_argument("--parts", default="scrub,stall")
    args = p.parse_args(argv)
    sw, sh = (192, 108) if args.quick else tuple(int(v) for v in args.scrub_size.lower().split("x"))
    tw, th = (96, 64) if args.quick else tuple(int(v) for v in args.stall_size.lower().split("x"))
    sn, tn = (12, 12) if args.quick else (args.scrub_frames, args.stall_frames)
    seconds = 1.0 if args.quick else args.scrub_seconds
    parts = args.parts.split(",")
    load_before = os.getloadavg()
    started = _dt.datetime.now(_dt.timezone.utc)
    from benchmarks.bench_gui_streaming import write_store
    from benchmarks.bench_long_clips import synthetic_frames
    from engine.video import write_video

    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_stall_") as tmp:
        folder = Path(tmp)
        if "scrub" in parts:
            clip = write_video(folder / "scrub.mp4", synthetic_frames(sn, sw, sh), 25.0, quality=18)
            stores = [write_store(folder / f"r{k}", sn, sw, sh, 3 + k) for k in range(2)]
            runs["scrub"] = run_child("scrub", clip, Path(f"{stores[0]},{stores[1]}"), seconds, folder / "home")
        if "stall" in parts:
            clip = write_video(folder / "stall.mp4", synthetic_frames(tn, tw, th), 25.0, quality=18)
            runs["stall"] = run_child("stall", clip, None, 4.0 if args.quick else 8.0, folder / "home")
    load_after = os.getloadavg()
    cmd = "python -m benchmarks.bench_gui_stall" + (" --quick" if args.quick else "")
    if not args.quick:
        cmd += f" --scrub-size {sw}x{sh} --scrub-frames {sn} --stall-size {tw}x{th} --stall-frames {tn}"
    lines = [
        "## The GUI never waits: Review scrubbing and GUI-thread stalls (issue 16)",
        "",
        f"- Date: {started:%Y-%m-%dT%H:%M} UTC",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Linux {platform.release()}, Python {platform.python_version()}",
        f"- Load (1-min average) before/after: {load_before[0]:.1f} / {load_after[0]:.1f} (shared machine)",
        f"- Command: `{cmd}`",
        "- The real window (Qt offscreen, 1600x1000); a 5 ms timer on the event loop measures the GUI thread's gaps.",
        "",
    ]
    if "scrub" in runs:
        lines += [
            f"Scrubbing a kept {sw}x{sh} result of {sn} frames (the result store, as the app keeps it; the clip: "
            f"H.264 as the app writes it), "
            f"the slider moved by a timer at 60 steps/s for {seconds:.0f} s:",
            "",
            "| view | steps/s achieved | frames shown/s | of them previews | distinct frames | exact frame after release (ms) "
            "| longest GUI gap (ms) | gaps > 50 ms |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for mode, r in runs["scrub"].items():
            label = {
                "Result 0": "Result + mask overlay",
                "A/B wipe 0": "A/B wipe vs the original clip (H.264) + mask overlay",
                "A/B wipe 1": "A/B wipe vs another kept result + mask overlay",
            }[mode]
            share = r["previews"] / max(1, r["shown"])
            exact = "never" if r["exact_after_ms"] is None else f"{r['exact_after_ms']:.0f}"
            lines.append(
                f"| {label} | {r['steps_per_s']:.0f} | {r['shown_fps']:.1f} | {share:.0%} | {r['distinct']} | {exact} "
                f"| {r['max_gap_ms']} | {r['over_50']} |"
            )
        lines.append("")
    if "stall" in runs:
        s = runs["stall"]
        c, idle = s["cycle"], s["idle"]
        lines += [
            f"- Propagate (classic, track, {tw}x{th}, {tn} frames) + result handover + Review + autosave + one more edit: "
            f"{s['propagate_s']:.1f} s, outcome {s['outcome']}; longest GUI-thread gap {c['max_gap_ms']} ms "
            f"over {c['ticks']} ticks ({c['over_50']} gaps over 50 ms).",
            f"- The same timer with nothing running: longest gap {idle['max_gap_ms']} ms ({idle['over_50']} over 50 ms), "
            "what the machine's load alone costs.",
            f"- Where the GUI thread was when late by > 30 ms: {_sites(c['sites'])}.",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    target = args.out or (None if args.quick else OUT)
    if target is not None:
        Path(target).write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
