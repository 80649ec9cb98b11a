"""Long work as plain Python jobs (no Qt): propagation and export.

A job is a callable taking a progress callback and a cancel token; the GUI runs it on
a worker thread (ui/workers.py), the CLI in the foreground. ``EtaEstimator`` turns
progress fractions into a remaining-time estimate for the progress bar.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.engine_options import run_options
from engine.edit import FirstFrameEdit
from engine.engines.base import CancelToken, Progress, ProgressCallback, PropagationResult, get_engine
from engine.video import FrameSource, write_png_sequence, write_video


@dataclass
class PropagationJob:
    """Propagate ``edit`` through ``clip`` with the named engine."""

    engine: str
    clip: FrameSource
    edit: FirstFrameEdit
    options: dict[str, Any] = field(default_factory=dict)
    model_dirs: tuple[str, ...] = ()

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> PropagationResult:
        engine_cls = get_engine(self.engine)
        options = run_options(self.engine, self.options, self.model_dirs)
        return engine_cls().propagate(self.clip, self.edit, options, progress=progress, cancel=cancel)


EXPORT_KINDS = ("video", "frames", "masks")


@dataclass
class ExportJob:
    """Write a result as an mp4 (with the source's audio), a PNG sequence or masks."""

    result: PropagationResult
    kind: str
    target: Path
    audio_from: Path | None = None
    quality: int = 18

    def __post_init__(self) -> None:
        if self.kind not in EXPORT_KINDS:
            raise ValueError(f"export kind must be one of {EXPORT_KINDS}, got {self.kind!r}")

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> Path:
        total = len(self.result.frames)

        def on_frame(done: int) -> None:
            cancel.raise_if_cancelled()
            progress(Progress("export", done, total, f"frame {done}/{total}"))

        if self.kind == "video":
            return write_video(
                self.target,
                iter(self.result.frames),
                self.result.fps,
                quality=self.quality,
                audio_from=self.audio_from,
                on_frame=on_frame,
            )
        frames: np.ndarray = self.result.frames if self.kind == "frames" else self.result.masks
        prefix = "frame_" if self.kind == "frames" else "mask_"
        return write_png_sequence(self.target, iter(frames), prefix=prefix, on_frame=on_frame)


class EtaEstimator:
    """Remaining time from elapsed time and the fraction done (monotonic clock)."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def remaining(self, fraction: float) -> float | None:
        if fraction <= 0.02:
            return None
        elapsed = time.monotonic() - self._start
        return max(0.0, elapsed / fraction - elapsed)

    @staticmethod
    def format(seconds: float | None) -> str:
        if seconds is None:
            return "estimating…"
        seconds = int(round(seconds))
        return f"{seconds // 60}:{seconds % 60:02d} left" if seconds >= 60 else f"{seconds} s left"


def describe_progress(p: Progress) -> str:
    """One line for the progress bar: stage, window/step when known, message."""
    parts = [p.stage]
    if p.window is not None and p.num_windows:
        parts.append(f"window {p.window + 1}/{p.num_windows}")
    if p.step is not None and p.num_steps:
        parts.append(f"step {p.step + 1}/{p.num_steps}")
    if p.message and not p.message.startswith(p.stage):
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
class AttentionJob:
    """Re-run the first window of a GenProp result, recording attention for a region."""

    engine: str
    clip: FrameSource
    edit: FirstFrameEdit
    options: dict[str, Any]
    query: np.ndarray  # [H, W] mask on the edited canvas
    frames: int  # the first window's length (from the result's extras)
    model_dirs: tuple[str, ...] = ()

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> Any:
        if not self.engine.startswith("genprop"):
            raise ValueError(f"attention maps exist only for the GenProp engines, not {self.engine!r}")
        engine_cls = get_engine(self.engine)
        options = {
            **run_options(self.engine, self.options, self.model_dirs),
            "attention_query": self.query,
            "window": self.frames,
        }
        result = engine_cls().propagate(ClipPrefix(self.clip, self.frames), self.edit, options, progress=progress, cancel=cancel)
        return result.extras["attention"]
