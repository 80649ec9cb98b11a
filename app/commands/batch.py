"""``python main.py batch``: propagate many clip + edit pairs in one run.

Each job goes through ``propagate``'s own run path (:func:`app.commands.propagate.execute`)
with the same flags (one definition of each), so a batch job is exactly the ``propagate``
run it stands for. One progress bar counts the clips (a running clip counts by its
engine's progress); a failing clip is reported and the next one starts; a finished job
is not redone (see :mod:`app.batch_records`); every output is written atomically.

Under ``accelerate launch`` the jobs still to do are split between the processes
(:mod:`app.distributed`); each process shows its own bar and the first prints the
summary of all.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.batch_list import BatchJob, BatchListError, read_jobs
from app.batch_records import RECORDS_DIR, input_fingerprint, is_finished, settings_fingerprint, write_record
from app.cli import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILURE, EXIT_OK, command
from app.commands.propagate import add_engine_arguments, add_format_arguments, add_fps_argument, execute
from app.engine_options import AUTO, engine_options_from_args
from engine.video.formats import AUTO as AUTO_FORMAT
from engine.video.formats import FORMATS, MATTE_FORMATS

if TYPE_CHECKING:
    from app.distributed import Processes

#: Not settings: where the jobs come from and go, and how this run behaves.
_NOT_SETTINGS = {"jobs", "out_dir", "redo", "command", "verbose", "_run"}
SUMMARY_FILE = "batch_summary.json"
STATUS_DONE, STATUS_EARLIER, STATUS_FAILED, STATUS_BAD = "done", "finished earlier", "failed", "bad input"
STATUS_CANCELLED, STATUS_NOT_STARTED = "cancelled", "not started"


@command("batch", "propagate many clip + edit pairs (a folder or a CSV/JSON list): resumable, one summary")
def _batch_args(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "JOBS is a folder (each video NAME.mp4 with its edit NAME.json or NAME/edit.json) or a list: a .csv with "
        "the columns video,edit[,name] or a .json list of {video, edit, name} objects; relative paths are relative "
        "to the list. Outputs go to --out-dir as NAME.mp4 (or the --format's file or folder), NAME_masks/, "
        "NAME_matte.mov (or NAME_matte/), NAME_index/, plus batch_summary.json. A finished job is skipped when "
        "run again (unless --redo). Several GPUs or machines: accelerate launch [--multi_gpu --num_processes N] "
        "main.py batch ... (docs/formats.md). Exit codes: 0 every job done, 1 a job failed, 2 the job list "
        "cannot be used, 130 cancelled (Ctrl-C; the running job writes nothing)."
    )
    p.add_argument("jobs", type=Path, metavar="JOBS", help="a folder of clips with their edit files, or a .csv/.json list")
    out = p.add_argument_group("outputs")
    out.add_argument("--out-dir", required=True, type=Path, metavar="DIR", help="where every job's outputs are written")
    add_format_arguments(out)
    out.add_argument("--masks", action="store_true", help="also write each job's 8-bit edit masks as NAME_masks/")
    out.add_argument(
        "--matte",
        action="store_true",
        help="also write each job's alpha matte: NAME_matte.mov (ProRes 4444) or NAME_matte/ for a sequence --matte-format",
    )
    out.add_argument("--index-masks", action="store_true", help="also write DAVIS-style indexed PNGs as NAME_index/")
    add_fps_argument(out)
    out.add_argument("--redo", action="store_true", help="run every job again, even those finished by an earlier run")
    add_engine_arguments(p)


@dataclass
class Row:
    """One line of the summary."""

    name: str
    status: str
    engine: str = ""
    seconds: float = 0.0
    message: str = ""
    process: int = 0  # which launched process ran it (0 without accelerate)


def job_outputs(args: argparse.Namespace, name: str) -> dict[str, Path | None]:
    """The paths of one job's outputs, named after the job, for the flags given."""
    out_dir: Path = args.out_dir
    fmt = "lossless" if args.format == AUTO_FORMAT and args.lossless else ("video" if args.format == AUTO_FORMAT else args.format)
    result = FORMATS[fmt]
    matte = MATTE_FORMATS["prores-4444" if args.matte_format == AUTO_FORMAT else args.matte_format]
    return {
        "out": out_dir / (name if result.sequence else name + result.suffixes[0]),
        "masks_out": out_dir / f"{name}_masks" if args.masks else None,
        "matte_out": (out_dir / (f"{name}_matte" if matte.sequence else f"{name}_matte.mov")) if args.matte else None,
        "index_masks_out": out_dir / f"{name}_index" if args.index_masks else None,
    }


def job_args(args: argparse.Namespace, job: BatchJob) -> argparse.Namespace:
    """The ``propagate`` arguments this job stands for."""
    ns = argparse.Namespace(**vars(args))
    ns.video, ns.edit, ns.edited_frame, ns.mask, ns.task = job.video, job.edit, None, None, "copy_paste"
    for key, path in job_outputs(args, job.name).items():
        setattr(ns, key, path)
    # propagate: --matte-format without --matte-out is refused; here --matte decides
    ns.matte_format = args.matte_format if args.matte else AUTO_FORMAT
    # --lossless with a named --format is refused by the export plan, as in propagate
    return ns


def _check_batch(args: argparse.Namespace, jobs: list[BatchJob]) -> None:
    """Problems of the whole batch, before any job: where outputs go and whether they collide."""
    out_dir: Path = args.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise BatchListError(f"--out-dir {out_dir} exists and is a file; give a folder")
    if args.jobs.is_dir():
        src, dst = args.jobs.resolve(), out_dir.resolve()
        if dst == src or dst.is_relative_to(src):
            raise BatchListError(
                f"--out-dir {out_dir} is inside the job folder {args.jobs}: its outputs would be taken for clips next time"
            )
    if args.matte_format != AUTO_FORMAT and not args.matte:
        raise BatchListError("--matte-format needs --matte")
    if args.engine != AUTO:  # the same for every job: say it once, before any (auto is resolved per run)
        try:
            engine_options_from_args(args, args.engine)
        except ValueError as exc:
            raise BatchListError(str(exc)) from None
    seen: dict[Path, str] = {}
    for job in jobs:
        for path in job_outputs(args, job.name).values():
            if path is None:
                continue
            if path in seen:
                raise BatchListError(f"jobs {seen[path]!r} and {job.name!r} would both write {path}; rename one")
            seen[path] = job.name


def _settings(args: argparse.Namespace) -> str:
    return settings_fingerprint({k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS})


def _fingerprint(job: BatchJob) -> str | None:
    if job.edit is None:
        return None
    try:
        return input_fingerprint(job.video, job.edit)
    except OSError:
        return None  # a missing input: the job runs and fails with propagate's own message


class _BatchBar:
    """One tqdm bar over the clips; a running clip advances it by its engine's progress."""

    def __init__(self, total: int, label: str = "", position: int = 0) -> None:
        from tqdm import tqdm

        from app.jobs import describe_progress

        self._describe = describe_progress
        fmt = "{desc}{percentage:3.0f}%|{bar}| {n:.1f}/{total} clips [{elapsed}<{remaining}]"
        self._bar = tqdm(total=total, file=sys.stderr, dynamic_ncols=True, bar_format=fmt, position=position, leave=True)
        self._label = label
        self.at = 0

    def job(self, index: int, name: str) -> None:
        self.at = index
        self._move(index, f"{self._label}{name}")

    def __call__(self, p: Any) -> None:
        fraction = min(p.done / p.total, 1.0) if p.total > 0 else 0.0
        self._move(self.at + fraction, None)
        self._bar.set_postfix_str(self._describe(p), refresh=False)

    def _move(self, n: float, desc: str | None) -> None:
        if desc is not None:
            self._bar.set_description(desc, refresh=False)
        self._bar.update(n - self._bar.n)

    def write(self, line: str) -> None:
        self._bar.write(line, file=sys.stderr)

    def close(self, done: int) -> None:
        self._move(done, f"{self._label}done")
        self._bar.close()


def run_jobs(args: argparse.Namespace, jobs: list[BatchJob], cancel: Any, *, label: str = "", position: int = 0) -> list[Row]:
    """Run ``jobs`` one after another through propagate's run path; one row each, failures isolated.

    ``position``: this process's index under accelerate (its bar's line, and the rows' ``process``).
    """
    settings = _settings(args)
    bar = _BatchBar(len(jobs), label, position)
    engines: dict[str, Any] = {}
    said: set[str] = set()

    def say(line: str) -> None:
        if line not in said:  # "engine: classic (...)" once, not once per clip
            said.add(line)
            bar.write(line.strip())

    rows: list[Row] = []
    for i, job in enumerate(jobs):
        if cancel.cancelled:
            rows.append(Row(job.name, STATUS_NOT_STARTED))
            continue
        bar.job(i, job.name)
        if job.edit is None:
            rows.append(Row(job.name, STATUS_FAILED, message=job.problem))
            bar.write(f"{job.name}: {job.problem}")
            continue
        inputs = _fingerprint(job)
        start = time.monotonic()
        try:
            outcome = execute(job_args(args, job), progress=bar, cancel=cancel, say=say, engines=engines)
        except Exception as exc:  # noqa: BLE001 - one clip never stops the others
            rows.append(Row(job.name, STATUS_FAILED, seconds=time.monotonic() - start, message=f"{type(exc).__name__}: {exc}"))
            bar.write(f"{job.name}: failed: {type(exc).__name__}: {exc}")
            continue
        seconds = time.monotonic() - start
        for warning in outcome.warnings:
            bar.write(f"{job.name}: warning: {warning}")
        for note in outcome.notes:
            bar.write(f"{job.name}: note: {note}")
        if outcome.code == EXIT_OK:
            if inputs is not None:
                write_record(args.out_dir, job.name, inputs, settings, outcome.outputs, outcome.engine)
            rows.append(Row(job.name, STATUS_DONE, outcome.engine, seconds, ", ".join(p.name for p in outcome.outputs)))
            continue
        status = {EXIT_CANCELLED: STATUS_CANCELLED, EXIT_BAD_INPUT: STATUS_BAD}.get(outcome.code, STATUS_FAILED)
        rows.append(Row(job.name, status, outcome.engine, seconds, outcome.message))
        if status != STATUS_CANCELLED:
            bar.write(f"{job.name}: {status}: {outcome.message}")
    bar.close(len(jobs))
    for row in rows:
        row.process = position
    return rows


def pending_jobs(args: argparse.Namespace, jobs: list[BatchJob]) -> tuple[list[BatchJob], list[Row]]:
    """(jobs to run, rows of jobs an earlier run finished with these inputs and settings)."""
    if args.redo:
        return list(jobs), []
    settings = _settings(args)
    todo, earlier = [], []
    for job in jobs:
        inputs = _fingerprint(job)
        if inputs is not None and is_finished(args.out_dir, job.name, inputs, settings):
            earlier.append(Row(job.name, STATUS_EARLIER))
        else:
            todo.append(job)
    return todo, earlier


def summary_table(rows: list[Row]) -> str:
    """The rows as an aligned text table, then one line of counts."""
    header = ("job", "status", "engine", "time", "result")
    cells = [(r.name, r.status, r.engine, f"{r.seconds:.1f} s" if r.seconds else "", r.message) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header[:-1])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, [*widths, 0], strict=True)).rstrip()]
    for c in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, [*widths, 0], strict=True)).rstrip())
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines.append(f"{len(rows)} jobs: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)


def exit_code(rows: list[Row]) -> int:
    statuses = {r.status for r in rows}
    if statuses & {STATUS_CANCELLED, STATUS_NOT_STARTED}:
        return EXIT_CANCELLED
    if statuses & {STATUS_FAILED, STATUS_BAD}:
        return EXIT_FAILURE
    return EXIT_OK


def _write_summary(out_dir: Path, rows: list[Row], order: list[str]) -> None:
    from engine.video.atomic import write_bytes_atomic

    rank = {name: i for i, name in enumerate(order)}
    doc = {"jobs": [asdict(r) for r in sorted(rows, key=lambda r: rank.get(r.name, len(rank)))]}
    write_bytes_atomic(out_dir / SUMMARY_FILE, json.dumps(doc, indent=2).encode())


@_batch_args.runner
def run_batch(args: argparse.Namespace) -> int:
    from app.distributed import world_size

    if world_size() == 1:
        return _run_batch(args, None)
    from app.distributed import Processes

    processes = Processes()
    try:
        return _run_batch(args, processes)
    finally:
        processes.close()


def _run_batch(args: argparse.Namespace, processes: Processes | None) -> int:
    """The batch on this process: all jobs (``processes`` None) or its share of them."""
    problem = ""
    jobs: list[BatchJob] = []
    todo: list[BatchJob] = []
    earlier: list[Row] = []
    try:
        jobs = read_jobs(args.jobs)
        _check_batch(args, jobs)
        todo, earlier = pending_jobs(args, jobs)
    except BatchListError as exc:
        problem = str(exc)
    if processes is not None:
        # every process joins this (a barrier too: all have listed the jobs before any writes a record),
        # so one that cannot read the list stops them all instead of leaving them waiting for it
        problem = next((p for p in processes.gather([problem]) if p), "")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from engine.engines.base import CancelToken

    cancel = CancelToken()
    previous = None
    if threading.current_thread() is threading.main_thread():

        def on_sigint(signum: int, frame: Any) -> None:
            print("\ncancelling (waits for the current step; later jobs are not started)...", file=sys.stderr)
            cancel.cancel()

        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        if processes is None:
            rows = run_jobs(args, todo, cancel)
        else:
            with processes.share(todo) as mine:
                label = f"[{processes.index + 1}/{processes.count}] "
                mine_rows = run_jobs(args, mine, cancel, label=label, position=processes.index)
            rows = processes.gather(mine_rows)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    rows = earlier + rows
    if processes is None or processes.is_main:
        order = [j.name for j in jobs]
        rank = {name: i for i, name in enumerate(order)}
        rows.sort(key=lambda r: rank.get(r.name, len(rank)))
        args.out_dir.mkdir(parents=True, exist_ok=True)
        _write_summary(args.out_dir, rows, order)
        print(summary_table(rows))
    return exit_code(rows)


__all__ = ["RECORDS_DIR", "Row", "job_args", "job_outputs", "run_batch", "run_jobs", "summary_table"]
