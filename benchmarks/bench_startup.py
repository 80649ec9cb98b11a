"""Start-up: from launching the app to its first painted window and to the first frame shown.

    python -m benchmarks.bench_startup          # 5 fresh processes each; writes docs/bench_sections/startup.md
    python -m benchmarks.bench_startup --quick  # 2 processes, prints only

Each run is a new Python process doing what ``python main.py`` does up to the event loop
(``ui.application``: QApplication, settings, theme, ``MainWindow``, show, open the
bundled sample clip), timed from just before the process is launched. References in the
same run: a bare ``QApplication`` start (the floor any Qt app pays) and ``import torch``
(what the window used to load before its first paint). Uses the platform Qt picks
(``QT_QPA_PLATFORM``; offscreen when there is no display).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_video_io import load_note, machine, now, write_section

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "bench_sections" / "startup.md"

APP = """
import sys, time
t0 = float(sys.argv[1])
sys.path.insert(0, {root!r})
from ui.application import create_application
from app.paths import SAMPLE_CLIP, user_dirs
from app.settings import Settings
from ui.main_window import MainWindow
from ui.theme import apply_theme
app = create_application()
settings = Settings.load(user_dirs().ensure().settings_file)
apply_theme(app, settings.theme)
window = MainWindow(settings)
window.show()
app.processEvents()
painted = time.time() - t0
window.frame_shown.connect(lambda _i: app.quit())
window.open_clip(SAMPLE_CLIP, confirmed=True)
app.exec()
shown = time.time() - t0
heavy = [m for m in ("torch", "diffusers") if m in sys.modules]
window.confirm_unsaved = False
window.close()
print(painted, shown, ",".join(heavy) or "-")
"""
QT_ONLY = """
import sys, time
t0 = float(sys.argv[1])
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
w = QWidget(); w.show(); app.processEvents()
print(time.time() - t0)
"""
TORCH = """
import sys, time
t0 = float(sys.argv[1])
import torch
print(time.time() - t0)
"""


def run(code: str, env: dict[str, str]) -> list[str]:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code, repr(t0)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return out.stdout.split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    out = None if args.quick and args.out is None else (args.out or DEFAULT_OUT)
    env = dict(os.environ)
    if not env.get("DISPLAY") and not env.get("QT_QPA_PLATFORM"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    load_before = load_note()
    painted, shown, qt_only, torch_import, heavy = [], [], [], [], set()
    with tempfile.TemporaryDirectory() as home:
        env["GENPROP_STUDIO_HOME"] = home  # a first start: no settings, no recent clips
        run(APP.format(root=str(ROOT)), env)  # warm the file cache once, untimed
        for _ in range(runs):
            p, s, h = run(APP.format(root=str(ROOT)), env)
            painted.append(float(p))
            shown.append(float(s))
            heavy.update(x for x in h.split(",") if x != "-")
            qt_only.append(float(run(QT_ONLY, env)[0]))
            torch_import.append(float(run(TORCH, env)[0]))
    med = statistics.median
    platform_name = env.get("QT_QPA_PLATFORM") or f"xcb (DISPLAY={env.get('DISPLAY')})"
    rows = [
        ("bare QApplication + one widget painted (reference)", qt_only),
        ("GenProp Studio: first window painted", painted),
        ("GenProp Studio: sample clip's first frame shown", shown),
        ("`import torch` alone (what the window used to wait for)", torch_import),
    ]
    table = "\n".join(f"| {name} | {med(v):.2f} | {min(v):.2f} | {max(v):.2f} | {len(v)} |" for name, v in rows)
    text = f"""## Start-up

- Date: {now()}
- Machine: {machine()}; load average before: {load_before}, after: {load_note()}
- Command: `python -m benchmarks.bench_startup` ({runs} fresh processes per row after one untimed warm-up; Qt platform {platform_name}; an empty user folder, as on a first start)
- Heavy modules loaded by the time the first frame was shown: {", ".join(sorted(heavy)) or "none (no torch, no diffusers)"}

| from launching the process to | median s | min s | max s | runs |
|---|---:|---:|---:|---:|
{table}

The window paints {med(painted) / med(qt_only):.1f}x the time of a bare Qt start and needs no torch: engines, SAM2 and the
attention recorder are imported when first used (a job, a click). Target: under 5 s to the first window on an idle machine.
"""
    write_section(text, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
