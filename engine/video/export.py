"""Writing a propagation result in the formats an editor asked for, as one unit.

An :class:`ExportPlan` names the outputs (the result in a :data:`FORMATS` format, the
8-bit masks, an alpha matte, DAVIS indexed PNGs) and is checked before any work
(:meth:`ExportPlan.check`: formats fit their paths, encoders exist, sizes fit the
codec, destinations are writable and collide with nothing). :func:`write_result` then
writes every output to a temporary name and renames them all into place only when all
are complete: a failure or a cancel leaves none of them, and no earlier output is lost.

Full depth: a format with ``full_depth`` written from a source deeper than 8 bits gets
:class:`~engine.video.full_depth.FullDepthFrames` (the source's depth where the engine's
operations allow it); the matte is in sync with the result (same frames, rate and
timecode).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.disk_room import DiskNeed
from engine.video.atomic import atomic_file, atomic_folder, check_destinations
from engine.video.colour import ColourTags
from engine.video.errors import VideoError
from engine.video.formats import AUTO, OutputFormat, resolve_format
from engine.video.sequences import SEQUENCE_ENTRIES, labels_from_masks, write_indexed_into, write_sequence_into

log = logging.getLogger(__name__)

#: What an existing output folder may hold to be replaced (an earlier run's output).
OUTPUT_FOLDER_ENTRIES = rf"mask_\d+\.png|{SEQUENCE_ENTRIES}"


@dataclass(frozen=True)
class ExportPlan:
    """The outputs of one propagation (any of them ``None`` except ``out``).

    Build it with :meth:`from_paths`, which resolves ``auto`` formats from the paths.
    """

    out: Path
    format: OutputFormat
    masks_out: Path | None = None
    matte_out: Path | None = None
    matte_format: OutputFormat | None = None
    index_out: Path | None = None
    quality: int = 18

    @classmethod
    def from_paths(
        cls,
        out: str | Path,
        format: str = AUTO,
        *,
        lossless: bool = False,
        masks_out: str | Path | None = None,
        matte_out: str | Path | None = None,
        matte_format: str = AUTO,
        index_out: str | Path | None = None,
        quality: int = 18,
    ) -> ExportPlan:
        """Resolve and check the formats against the paths; ValueError naming the problem."""
        out = Path(out)
        fmt = resolve_format(out, format, lossless=lossless)
        matte = None
        if matte_out is not None:
            matte = resolve_format(matte_out, matte_format, matte=True)
        elif matte_format != AUTO:
            raise ValueError("--matte-format needs --matte-out")
        return cls(
            out,
            fmt,
            None if masks_out is None else Path(masks_out),
            None if matte_out is None else Path(matte_out),
            matte,
            None if index_out is None else Path(index_out),
            quality,
        )

    def _paths(self) -> tuple[list[Path], list[Path]]:
        files: list[Path] = []
        folders: list[Path] = []
        (folders if self.format.sequence else files).append(self.out)
        if self.masks_out is not None:
            folders.append(self.masks_out)
        if self.matte_out is not None and self.matte_format is not None:
            (folders if self.matte_format.sequence else files).append(self.matte_out)
        if self.index_out is not None:
            folders.append(self.index_out)
        return files, folders

    def disk_needs(self, frames: int, size: tuple[int, int]) -> list[DiskNeed]:
        """What these outputs of ``frames`` frames of ``size`` (w, h) take on disk, at most (the disk check)."""
        needs = [output_disk_need(self.out, frames, size, self.format, what="the result")]
        if self.masks_out is not None:
            needs.append(output_disk_need(self.masks_out, frames, size, None, what="the masks"))
        if self.matte_out is not None and self.matte_format is not None:
            needs.append(output_disk_need(self.matte_out, frames, size, self.matte_format, matte=True, what="the matte"))
        if self.index_out is not None:
            needs.append(output_disk_need(self.index_out, frames, size, None, what="the index masks"))
        return needs

    @property
    def outputs(self) -> list[Path]:
        files, folders = self._paths()
        return files + folders

    def check(self, *, inputs: Sequence[str | Path] = (), size: tuple[int, int] | None = None) -> None:
        """Before any work: encoders exist, ``size`` (w, h) fits the codecs, destinations are fine.

        Raises:
            VideoError: naming the output and the problem.
        """
        from engine.video.pro_writer import MOV_CODECS, check_mov_size, encoder_for
        from engine.video.writer import check_output_path

        if not self.format.sequence and self.format.name in ("video", "lossless"):
            check_output_path(self.out)
        for path, fmt in ((self.out, self.format), (self.matte_out, self.matte_format)):
            if path is None or fmt is None or fmt.name not in MOV_CODECS:
                continue
            try:
                encoder_for(fmt.name)
                if size is not None:
                    check_mov_size(fmt.name, *size)
            except ValueError as exc:
                raise VideoError(path, str(exc)) from None
        files, folders = self._paths()
        check_destinations(files, folders, inputs=inputs, folder_entries=OUTPUT_FOLDER_ENTRIES)


def output_disk_need(
    target: Path, frames: int, size: tuple[int, int], fmt: OutputFormat | None, *, matte: bool = False, what: str
) -> DiskNeed:
    """What one output of ``frames`` frames of ``size`` (w, h) takes on disk, at most.

    ``fmt`` None: one-channel 8-bit PNGs (masks, index masks). A file is written beside its
    name and a sequence as a sibling folder before the rename (``engine.video.atomic``), so
    both count on the target's disk; an earlier output it replaces is removed only afterwards.
    A PNG's bound is its raw rows (a filter byte each) plus zlib's stored-block overhead; every
    frame also gets 4 KB for headers (and a file's share of the source's audio).
    """
    w, h = size
    per_pixel = 1.0 if fmt is None else fmt.max_bytes_per_pixel * (4 / 3 if matte and fmt.sequence else 1)
    per_frame = w * h * per_pixel * 1.01 + h + 4096
    return DiskNeed(Path(target), int(frames * per_frame), what)


@dataclass(frozen=True)
class SourceFacts:
    """What the outputs copy from the source: frame times, colour tags, timecode, audio, depth."""

    colour: ColourTags = ColourTags()
    timecode: str = ""
    bit_depth: int = 8
    audio_from: Path | None = None
    timestamps: Sequence[float] | None = None

    @classmethod
    def of(cls, reader: Any, timestamps: Sequence[float] | None = None) -> SourceFacts:
        """From a reader (``info`` and ``path``); plain clips (ArrayClip) give the defaults."""
        info = getattr(reader, "info", None)
        path = getattr(reader, "path", None)
        audio = Path(path) if path is not None and Path(path).is_file() and getattr(info, "has_audio", False) else None
        if info is None:
            return cls(timestamps=timestamps)
        return cls(info.colour, info.timecode, info.bit_depth, audio, timestamps)


@dataclass
class ExportReport:
    """What :func:`write_result` wrote and what the user should know."""

    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    encoders: dict[str, str] = field(default_factory=dict)


def _open_full_depth(reader: Any) -> Any:
    """The source read again at 16 bits (same size and frames as the 8-bit reading)."""
    from engine.video import open_video

    return open_video(reader.path, fps=reader.fps, depth=16)


@contextlib.contextmanager
def result_frames(plan: ExportPlan, result: Any, edit: Any, reader: Any, facts: SourceFacts, report: ExportReport):  # noqa: ANN201
    """The frames to encode: the engine's 8-bit ones, or full-depth ones when the format and source allow.

    A context manager (the 16-bit reading of the source is closed after it); the
    full-depth summary joins ``report.notes`` at the end.
    """
    if not plan.format.full_depth or facts.bit_depth <= 8 or getattr(reader, "path", None) is None or edit is None:
        if plan.format.full_depth and facts.bit_depth <= 8:
            report.notes.append(f"{plan.out.name}: the source is 8-bit; the {plan.format.name} output holds 8-bit values")
        elif plan.format.full_depth and edit is None:
            report.notes.append(
                f"{plan.out.name}: written from the engine's 8-bit frames (the edit this result was made with is not "
                f"known, e.g. a result of a reopened project: propagate again to carry the {facts.bit_depth}-bit source)"
            )
        yield result.frames
        return
    from engine.video.full_depth import FullDepthFrames

    hi = _open_full_depth(reader)
    try:
        try:
            carried = FullDepthFrames(result.frames, reader, hi, edit, result.extras.get("operation_masks"))
        except ValueError as exc:
            report.notes.append(f"{plan.out.name}: written from the 8-bit result ({exc})")
            yield result.frames
            return
        yield carried
        report.notes.append(f"{plan.out.name}: {carried.report.describe()}")
    finally:
        hi.close()


def _matte_frames(masks: np.ndarray) -> tuple[Any, Any]:
    """(RGB grey frames, alpha frames) of a matte: both the mask, so NLEs key by luma or alpha."""
    return (np.repeat(m[..., None], 3, axis=2) for m in masks), iter(masks)


def _index_labels(result: Any, edit: Any) -> tuple[Any, list[str]]:
    """Per-frame indices (index k = operation k, in the edit's order) and the objects' names.

    Engines without per-operation masks (GenProp) give one object: the edit mask.
    """
    op_masks = result.extras.get("operation_masks")
    ops = list(getattr(edit, "operations", []) or [])
    if not op_masks or any(np.shape(m) != tuple(result.masks.shape) for m in op_masks):  # shape only: stored masks stay on disk
        return (labels_from_masks([m]) for m in result.masks), ["edit"]
    names = [f"{ops[k].kind.value}" if k < len(ops) else f"operation {k + 1}" for k in range(len(op_masks))]
    return (labels_from_masks([np.asarray(m[t]) for m in op_masks]) for t in range(len(result.masks))), names


def write_result(
    plan: ExportPlan,
    result: Any,
    *,
    edit: Any = None,
    reader: Any = None,
    facts: SourceFacts | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> ExportReport:
    """Write every output of ``plan`` for ``result`` (a ``PropagationResult``), as one unit.

    Args:
        edit: the ``FirstFrameEdit`` propagated (its operations drive the full-depth carry).
        reader: the 8-bit clip the engine read (``path``, ``info``); ``None`` for clips in
            memory (no full depth, no audio, no tags).
        facts: colour tags, timecode, audio and frame times to copy (default: from ``reader``).
        on_frame: called with a running count per output (cancellation checks).

    Raises:
        VideoError: an output could not be written completely; nothing was kept.
    """
    from engine.video.pro_writer import MOV_CODECS, encode_mov_into
    from engine.video.writer import _encode_into, _pngs_into

    facts = facts or SourceFacts.of(reader)
    report = ExportReport()
    fps = float(result.fps)
    with contextlib.ExitStack() as stack:
        frames = stack.enter_context(result_frames(plan, result, edit, reader, facts, report))
        if plan.masks_out is not None:
            tmp = stack.enter_context(atomic_folder(plan.masks_out))
            _pngs_into(tmp, plan.masks_out, iter(result.masks), "mask_", 5, on_frame)
        if plan.index_out is not None:
            tmp = stack.enter_context(atomic_folder(plan.index_out))
            labels, names = _index_labels(result, edit)
            write_indexed_into(tmp, plan.index_out, labels, objects=names, on_frame=on_frame)
        if plan.matte_out is not None and plan.matte_format is not None:
            mf = plan.matte_format
            grey, alpha = _matte_frames(result.masks)
            if mf.sequence:
                tmp = stack.enter_context(atomic_folder(plan.matte_out))
                write_sequence_into(
                    tmp,
                    plan.matte_out,
                    grey,
                    mf.name,
                    fps=fps,
                    colour=facts.colour,
                    timecode=facts.timecode,
                    alpha=alpha,
                    linear_values=False,
                    on_frame=on_frame,
                )
            else:
                tmp = stack.enter_context(atomic_file(plan.matte_out))
                report.encoders[str(plan.matte_out)] = encode_mov_into(
                    tmp, plan.matte_out, grey, fps, mf.name, colour=facts.colour, timecode=facts.timecode, alpha=alpha,
                    timestamps=facts.timestamps, on_frame=on_frame,
                )  # fmt: skip
        fmt = plan.format
        if fmt.sequence:
            tmp = stack.enter_context(atomic_folder(plan.out))
            report.notes += write_sequence_into(
                tmp, plan.out, iter(frames), fmt.name, fps=fps, colour=facts.colour, timecode=facts.timecode, on_frame=on_frame
            )
        elif fmt.name in MOV_CODECS:
            tmp = stack.enter_context(atomic_file(plan.out))
            report.encoders[str(plan.out)] = encode_mov_into(
                tmp, plan.out, iter(frames), fps, fmt.name, colour=facts.colour, timecode=facts.timecode,
                timestamps=facts.timestamps, audio_from=facts.audio_from, on_frame=on_frame,
            )  # fmt: skip
        else:
            tmp = stack.enter_context(atomic_file(plan.out))
            _encode_into(
                tmp, plan.out, iter(frames), fps, plan.quality, fmt.lossless, facts.audio_from, facts.timestamps, None, on_frame
            )
    report.written = plan.outputs
    return report


__all__ = ["OUTPUT_FOLDER_ENTRIES", "ExportPlan", "ExportReport", "SourceFacts", "write_result"]
