"""Run every ``benchmarks/bench_*.py``, then assemble docs/benchmarks.md from the sections.

    python -m benchmarks.run_all                       # full runs (minutes); docs/ updated
    python -m benchmarks.run_all --quick --out DIR     # smoke runs; DIR/bench_sections/*.md
                                                       # and DIR/benchmarks.md, docs/ untouched
    python -m benchmarks.run_all --only video_io,interactive

Each benchmark runs in its own process (so one's memory and threads do not skew the
next) and writes ``<sections>/<name>.md`` (``bench_classic`` -> ``classic.md``). Scripts
take their output file as ``--out`` or ``--output``; the runner finds which by reading
the script. A script with neither writes ``docs/bench_sections/<name>.md`` itself in full
mode (copied to ``--out`` when that is elsewhere); in ``--quick`` mode scripts that write
nothing get their printed output recorded as their section, marked as a smoke run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import assemble

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
DOCS_SECTIONS = assemble.SECTIONS


@dataclass
class Outcome:
    """What one benchmark run did."""

    name: str
    returncode: int
    seconds: float
    section: Path | None
    note: str = ""


def discover() -> list[str]:
    """Names of the benchmark scripts present, e.g. ``["classic", "edits", ...]``."""
    return sorted(p.stem[len("bench_") :] for p in BENCH_DIR.glob("bench_*.py"))


def output_flag(name: str) -> str | None:
    """``--out`` or ``--output`` if the script declares one (read from its source)."""
    text = (BENCH_DIR / f"bench_{name}.py").read_text(encoding="utf-8")
    for flag in ("--output", "--out"):
        if re.search(rf"""add_argument\(\s*["']{flag}["']""", text):
            return flag
    return None


def run_one(name: str, quick: bool, sections: Path, timeout: float | None) -> Outcome:
    """Run ``bench_<name>`` in a subprocess; make sure ``sections/<name>.md`` holds its result."""
    target = sections / f"{name}.md"
    if target.exists():
        target.unlink()  # a stale section must not pass for this run's
    cmd = [sys.executable, "-m", f"benchmarks.bench_{name}"] + (["--quick"] if quick else [])
    flag = output_flag(name)
    if flag is not None:
        cmd += [flag, str(target)]
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    print(f"== {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome(name, -1, time.perf_counter() - start, None, f"timed out after {timeout:.0f} s")
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return Outcome(name, proc.returncode, seconds, None, "failed: " + " | ".join(tail))
    if not target.exists():
        default = DOCS_SECTIONS / f"{name}.md"
        if not quick and default.exists() and default.stat().st_mtime >= time.time() - seconds - 1:
            if default.resolve() != target.resolve():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(default, target)
        elif quick:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(
                f"## bench_{name} (quick smoke run, printed output)\n\n```\n{proc.stdout.strip()[-3000:]}\n```\n",
                encoding="utf-8",
            )
        else:
            return Outcome(name, proc.returncode, seconds, None, "ran but wrote no section")
    return Outcome(name, 0, seconds, target)


def assemble_into(sections: Path, target: Path) -> Path:
    """Stitch ``sections/*.md`` into ``target`` in ``benchmarks.assemble``'s order and header."""
    return assemble.write(sections, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's --quick smoke run")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for bench_sections/ and benchmarks.md (default: docs/; required with --quick)",
    )
    parser.add_argument("--only", default=None, help="comma-separated benchmark names (default: all present)")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names to leave out")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per benchmark before it is stopped")
    args = parser.parse_args(argv)
    if args.quick and args.out is None:
        parser.error("--quick needs --out DIR, so smoke-run figures never replace the measured ones in docs/")
    present = discover()
    wanted = present if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(present)) + sorted(set(filter(None, args.skip.split(","))) - set(present))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; present: {present}")
    skip = set(filter(None, args.skip.split(",")))
    names = [n for n in wanted if n not in skip]
    sections = DOCS_SECTIONS if args.out is None else args.out / "bench_sections"
    target = assemble.TARGET if args.out is None else args.out / "benchmarks.md"
    sections.mkdir(parents=True, exist_ok=True)
    outcomes = [run_one(n, args.quick, sections, args.timeout) for n in names]
    for o in outcomes:
        print(f"{o.name:16s} {'ok' if o.returncode == 0 else 'FAILED':6s} {o.seconds:7.1f} s  {o.note}")
    assemble_into(sections, target)
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
