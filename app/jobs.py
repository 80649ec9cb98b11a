"""Long work as plain Python jobs (no Qt): propagation, export, attention recording.

A job is a callable taking a progress callback and a cancel token; the GUI runs it on
a worker thread (ui/workers.py), the CLI in the foreground. ``EtaEstimator`` turns
progress reports into a remaining-time estimate for the whole job. Saving and opening
projects are jobs too (``app.project_io``).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.disk_check import require_room_for_run
from app.engine_cache import EngineCache
from app.engine_options import run_options
from app.result_cache import new_result_folder
from engine.disk_room import require_disk_room
from engine.edit import FirstFrameEdit
from engine.engines.base import CancelToken, Progress, ProgressCallback, PropagationResult, get_engine
from engine.result_store import ResultWriter
from engine.video import FrameSource, write_png_sequence
from engine.video.export import ExportPlan, output_disk_need, write_result
from engine.video.formats import AUTO


@dataclass
class PropagationJob:
    """Propagate ``edit`` through ``clip`` with the named engine."""

    engine: str
    clip: FrameSource
    edit: FirstFrameEdit
    options: dict[str, Any] = field(default_factory=dict)
    model_dirs: tuple[str, ...] = ()
    engines: EngineCache | None = None  # the window's loaded engines (None: a fresh engine, as the CLI)

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> PropagationResult:
        progress(Progress("loading", 0, 1, "loading the engine"))  # importing an engine's models takes seconds
        engine_cls = load_engine(self.engine, cancel)
        options = run_options(self.engine, self.options, self.model_dirs)
        # Written to disk as it is made (issue 16): the app keeps a handle, not the frames.
        folder = new_result_folder()
        try:
            with leased_engine(self.engines, self.engine, engine_cls, options, cancel) as engine:
                require_room_for_run(engine, self.clip, self.edit, folder, proxies=True)
                with ResultWriter(folder, self.clip.fps, expected_frames=len(self.clip)) as sink:
                    result = engine.propagate_to(sink, self.clip, self.edit, options, progress=progress, cancel=cancel)
            # The edit this result was made with (the session's may change): a full-depth export
            # needs it (ExportJob); kept in memory only (not a plain extra, so not saved).
            result.extras["edit"] = self.edit
            return result
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # a cancelled or failed run leaves nothing behind
            raise


@contextmanager
def leased_engine(
    engines: EngineCache | None, name: str, engine_cls: type[Any], options: dict[str, Any], cancel: CancelToken
) -> Iterator[Any]:
    """The cache's engine for these options, held for the run; without a cache, a new instance."""
    if engines is None:
        yield engine_cls()
        return
    with engines.lease(name, engine_cls, options, cancel) as engine:
        yield engine


def load_engine(name: str, cancel: CancelToken, poll: float = 0.1) -> type[Any]:
    """The engine class, imported on a helper thread so Cancel need not wait for it.

    A GenProp engine's first import loads torch and diffusers: 5 s on an idle 2-core
    machine, 15 s and more under load, in one library call with no place to stop. The
    import goes on in its daemon thread (the next run finds it done); the job stops
    waiting within ``poll`` seconds of Cancel.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = get_engine(name)
        except BaseException as exc:  # noqa: BLE001 - raised again on the job's thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"import-{name}", daemon=True).start()
    while not done.wait(poll):
        cancel.raise_if_cancelled()
    cancel.raise_if_cancelled()
    if "error" in box:
        raise box["error"]
    return box["value"]


EXPORT_KINDS = ("video", "frames", "masks")


@dataclass
class ExportJob:
    """Write a result in any output format of ``engine.video.formats`` (the CLI's ``--format``),
    or its masks as PNGs.

    The result goes through the CLI's own writer (``engine.video.export.write_result``): the
    source's audio, colour tags and timecode are kept, ProRes/DNxHR/EXR work, and the output
    appears only when complete. ``source`` is the clip's reader the result was propagated from;
    with the edit the run recorded (``result.extras["edit"]``) a 10-bit or deeper source is
    carried at full depth, as in the CLI. ``format``: ``None`` lets a file's suffix decide
    ("video") and writes "frames" as 8-bit PNGs.
    """

    result: PropagationResult
    kind: str
    target: Path
    source: Any = None
    format: str | None = None
    quality: int = 18
    notes: list[str] = field(default_factory=list)  # what the export reported (e.g. 8-bit values in a 10-bit format)

    def __post_init__(self) -> None:
        if self.kind not in EXPORT_KINDS:
            raise ValueError(f"export kind must be one of {EXPORT_KINDS}, got {self.kind!r}")

    def plan(self) -> ExportPlan:
        """The outputs to write; ValueError naming the path and the format when they do not fit."""
        name = self.format or ("png" if self.kind == "frames" else AUTO)
        return ExportPlan.from_paths(self.target, name, quality=self.quality)

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> Path:
        total = len(self.result.frames)
        height, width = self.result.frames.shape[1:3]

        def on_frame(done: int) -> None:
            cancel.raise_if_cancelled()
            progress(Progress("export", done, total, f"frame {done}/{total}"))

        if self.kind == "masks":
            # Refused before the first frame, not at a full disk after most of them (engine.disk_room).
            require_disk_room([output_disk_need(self.target, total, (width, height), None, what="the exported masks")])
            return write_png_sequence(self.target, iter(self.result.masks), prefix="mask_", on_frame=on_frame)
        plan = self.plan()
        inputs = [self.source.path] if getattr(self.source, "path", None) is not None else []
        plan.check(inputs=inputs, size=(width, height))
        require_disk_room([output_disk_need(self.target, total, (width, height), plan.format, what=f"the exported {self.kind}")])
        extras = getattr(self.result, "extras", {})
        report = write_result(plan, self.result, edit=extras.get("edit"), reader=self.source, on_frame=on_frame)
        self.notes = list(report.notes)
        return plan.out


#: Stages that prepare the work (reading frames, loading models, tracking a mask before GenProp
#: denoises): their pace says nothing about the rest of the job, so no estimate is made from them.
PREPARATION_STAGES = ("start", "starting", "read", "loading", "load", "tracking", "opening")


class EtaEstimator:
    """Time left for the whole job, from progress reports.

    Each stage's pace (seconds per unit of work) is measured while it runs; every unit
    still to do is costed at the slowest pace seen in a work stage, so a quick first
    stage (reading frames) does not promise "28 s left" for a job whose slow stage is
    still ahead. A work stage that has just begun has no pace of its own yet, and the
    quick stages before it say nothing about it (the classic engine's shot-cut scan
    before its tracking): for its first ``min_seconds`` the estimate is ``None``
    ("estimating…"); after that its pace is at least the time it has taken per unit so far.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, min_seconds: float = 0.5) -> None:
        self._clock = clock
        self._min_seconds = min_seconds
        self._stage: str | None = None
        self._stage_start = (0.0, 0)  # (time, units done) when the current stage began
        self._slowest = 0.0

    def update(self, p: Progress) -> float | None:
        now = self._clock()
        if p.stage != self._stage:
            self._close_stage(now, p.done)
            self._stage, self._stage_start = p.stage, (now, p.done)
        if self._is_work(self._stage):
            t0, d0 = self._stage_start
            if now - t0 < self._min_seconds:
                return None  # a new work stage: no pace of its own yet
            pace = max(self._slowest, (now - t0) / max(1, p.done - d0))
        else:
            pace = self._slowest  # preparing: only a work stage seen before says anything
        if pace <= 0:
            return None
        return max(0.0, (p.total - p.done) * pace)

    @staticmethod
    def _is_work(stage: str | None) -> bool:
        return stage is not None and stage.split(" ")[0] not in PREPARATION_STAGES

    def _close_stage(self, now: float, done: int) -> None:
        if self._is_work(self._stage):
            t0, d0 = self._stage_start
            if done > d0:
                self._slowest = max(self._slowest, (now - t0) / (done - d0))

    @staticmethod
    def format(seconds: float | None) -> str:
        if seconds is None:
            return "estimating…"
        seconds = int(round(seconds))
        return f"{seconds // 60}:{seconds % 60:02d} left" if seconds >= 60 else f"{seconds} s left"


def describe_progress(p: Progress) -> str:
    """One line for a progress bar: stage · window · step, each said once.

    ``p.step`` counts the denoising steps done in the window; the label names the step
    being worked on (``step 3/8`` while the third runs), and stops at the last.
    """
    parts = [p.stage]
    if p.window is not None and p.num_windows and p.num_windows > 1:
        parts.append(f"window {p.window + 1}/{p.num_windows}")
    if p.step is not None and p.num_steps and p.stage == "denoising":
        parts.append(f"step {min(p.step + 1, p.num_steps)}/{p.num_steps}")
    redundant = p.stage in p.message or "window " in p.message or "step " in p.message
    if p.message and not redundant:
        parts.append(p.message)
    return " · ".join(parts)


class ClipPrefix:
    """The first ``count`` frames of a clip, as a FrameSource (attention runs one window)."""

    def __init__(self, clip: FrameSource, count: int) -> None:
        if count < 2:
            raise ValueError(f"a clip prefix needs at least 2 frames, got {count}")
        self._clip, self._count = clip, min(count, len(clip))

    @property
    def fps(self) -> float:
        return self._clip.fps

    @property
    def size(self) -> tuple[int, int]:
        return self._clip.size

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> np.ndarray:
        if not -self._count <= index < self._count:
            raise IndexError(f"frame {index} out of range (prefix of {self._count} frames)")
        return self._clip[index % self._count]


@dataclass
class AttentionRecordJob:
    """Re-run the first window of a GenProp result once, recording G's attention for every
    query cell (``engine.engines.genprop_attention.AttentionRecord``); the review answers
    every Shift+click from that record."""

    engine: str
    clip: FrameSource
    edit: FirstFrameEdit
    options: dict[str, Any]
    frames: int  # the first window's length (from the result's extras)
    model_dirs: tuple[str, ...] = ()
    engines: EngineCache | None = None  # the window's loaded engines: the run's models are loaded already

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> Any:
        if not self.engine.startswith("genprop"):
            raise ValueError(f"attention maps exist only for the GenProp engines, not {self.engine!r}")
        progress(Progress("loading", 0, 1, "loading the engine"))
        from engine.engines.genprop_attention import GRID

        engine_cls = load_engine(self.engine, cancel)
        options = {**run_options(self.engine, self.options, self.model_dirs), "attention_query": GRID, "window": self.frames}
        with leased_engine(self.engines, self.engine, engine_cls, options, cancel) as engine:
            result = engine.propagate(ClipPrefix(self.clip, self.frames), self.edit, options, progress=progress, cancel=cancel)
        return result.extras["attention_record"]
