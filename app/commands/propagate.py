"""``python main.py propagate``: propagate a first-frame edit through a clip, from the shell.

Ctrl-C sets the engine's cancel token: the engine stops within one denoising step (or
frame), nothing is written (outputs are atomic), and the exit code is 130.

Everything the user gave is checked before any heavy work, and without importing an
engine (torch, diffusers): the clip, the edit and its images, and every destination
(writable, not inside one another, not the input). A bad input costs what ``info``
costs and ends with one line and exit code 2.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import signal
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.cli import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILURE, EXIT_OK, command
from app.engine_options import (
    AUTO,
    add_engine_option_flags,
    engine_options_from_args,
    given_engine_options,
    pick_available,
    run_options,
)
from engine.edits.from_frame import TASKS
from engine.engines.base import engine_names
from engine.video.formats import AUTO as AUTO_FORMAT
from engine.video.formats import FORMATS, MATTE_FORMATS

log = logging.getLogger(__name__)

TASK_CHOICES = TASKS
#: The source is read in order, about once per pass: a small decoded-frame cache is enough
#: (the reader's default, 512 MB, would hold a second copy of a short clip).
READER_CACHE_BYTES = 32 * 1024 * 1024


class BadInput(Exception):
    """A problem with what the user gave us (exit code 2)."""


@command("propagate", "propagate a first-frame edit through a whole clip and write the result")
def _propagate_args(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Exit codes: 0 done, 1 failure, 2 bad input (missing/unreadable files, wrong sizes, missing weights), "
        "130 cancelled (Ctrl-C; nothing is written). Weights are searched in --svd/--weights, then "
        "GENPROP_SVD_PATH/GENPROP_WEIGHTS_PATH, then the app's models folder, then the Hugging Face cache."
    )
    io = p.add_argument_group("input and output")
    io.add_argument(
        "--video", required=True, type=Path, metavar="IN", help="the clip: a video file or a folder of numbered frames"
    )
    io.add_argument(
        "--edit", type=Path, metavar="EDIT", help="an edit file (JSON with PNG assets, see docs/edit_format.md) made on frame 1"
    )
    io.add_argument(
        "--edited-frame", type=Path, metavar="PNG", help="instead of --edit: frame 1 as edited, same size as the clip"
    )
    io.add_argument(
        "--mask",
        type=Path,
        metavar="PNG",
        help="with --edited-frame: the edited region (white); default: pixels that differ from frame 1",
    )
    io.add_argument(
        "--task",
        choices=TASK_CHOICES,
        default="copy_paste",
        help="with --edited-frame: what kind of edit it is (mask_and_fill = removal) (default: %(default)s)",
    )
    io.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="OUT",
        help="output video (.mp4 .mov .mkv .webm .avi; the source audio is kept), or a folder for --format png/png16/exr",
    )
    io.add_argument("--masks-out", type=Path, metavar="DIR", help="also write the per-frame edit masks as a PNG sequence here")
    add_fps_argument(io)
    add_format_arguments(io)
    io.add_argument(
        "--matte-out",
        type=Path,
        metavar="PATH",
        help="also write the edit mask as an alpha matte, in sync with the result: a .mov (ProRes 4444, the matte in "
        "alpha and as grey) or a folder (PNG/EXR sequence, see --matte-format)",
    )
    io.add_argument(
        "--index-masks-out",
        type=Path,
        metavar="DIR",
        help="also write DAVIS-style indexed PNGs here (palette images: 0 background, index k = the edit's operation k)",
    )
    add_engine_arguments(p)


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """``--engine``, every engine option's flag and ``--demo-model``; shared by ``propagate`` and ``batch``."""
    eng = p.add_argument_group("engine")
    eng.add_argument(
        "--engine",
        choices=(AUTO, *engine_names()),
        default=AUTO,
        help="auto picks the best engine that can run here and says which: genprop when its weights are found, "
        "else classic. genprop needs SVD + GenProp weights; genprop-training-free needs SVD only; classic needs "
        "nothing (default: %(default)s)",
    )
    opts = p.add_argument_group("engine options (each applies to the engines it names)")
    add_engine_option_flags(opts)
    eng.add_argument(
        "--demo-model",
        action="store_true",
        help="also search resources/demo_model: the bundled procedural-domain DEMONSTRATION model "
        "(64x64 toy clips; useless on real footage; see resources/demo_model/README.md)",
    )


def add_fps_argument(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """``--fps``: shared by ``propagate`` and ``batch``."""
    group.add_argument("--fps", type=float, default=None, help="frame rate for a frame-folder input (default 24)")


def add_format_arguments(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """``--format``, ``--lossless``, ``--matte-format``: shared by ``propagate`` and ``batch`` (the list is
    ``engine.video.formats``, the one the GUI's export choices read too)."""
    formats = "; ".join(f"{f.name}: {f.summary}" for f in FORMATS.values())
    group.add_argument(
        "--format",
        choices=(AUTO_FORMAT, *FORMATS),
        default=AUTO_FORMAT,
        help=f"how the result is written; auto: by the --out suffix (8-bit video). {formats} (default: %(default)s)".replace(
            "%", "%%"
        ).replace("%%(default)s", "%(default)s"),
    )
    group.add_argument("--lossless", action="store_true", help="with --format auto: encode the 8-bit video losslessly")
    group.add_argument(
        "--matte-format",
        choices=(AUTO_FORMAT, *MATTE_FORMATS),
        default=AUTO_FORMAT,
        help="the matte's format; auto: prores-4444 for a .mov, png16 for a folder (default: %(default)s)",
    )


def export_plan(args: argparse.Namespace) -> Any:
    """The outputs the flags ask for (``engine.video.export.ExportPlan``); BadInput when they do not fit."""
    from engine.video.export import ExportPlan

    try:
        return ExportPlan.from_paths(
            args.out,
            args.format,
            lossless=args.lossless,
            masks_out=args.masks_out,
            matte_out=args.matte_out,
            matte_format=args.matte_format,
            index_out=args.index_masks_out,
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _read_image(path: Path, what: str, grey: bool = False) -> np.ndarray:
    """An image the user named: PNGs fully verified; other formats size-checked from the header first."""
    from PIL import Image

    from engine.safe_paths import read_bytes
    from engine.video.png import MAX_PIXELS, PNG_SIGNATURE, PngError, decode_png

    data = read_bytes(path, what, max_bytes=256 * 1024 * 1024, error=BadInput)
    try:
        if data.startswith(PNG_SIGNATURE):
            return decode_png(data, "L" if grey else "RGB", path.name)
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise BadInput(f"{what} {path} is {img.width}x{img.height}; too large")
            img.load()
            return np.asarray(img.convert("L" if grey else "RGB"))
    except PngError as exc:
        raise BadInput(f"{what} {path}: {exc}") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadInput(f"{what} {path} is not a readable image: {exc}") from None


def build_edit(args: argparse.Namespace, first: np.ndarray, frame_count: int | None = None) -> Any:
    """The ``FirstFrameEdit`` from ``--edit`` or ``--edited-frame`` [``--mask``] ``--task``."""
    from engine.edits.edit_file import EditFileError, load_edit
    from engine.edits.from_frame import edit_from_edited_frame

    if (args.edit is None) == (args.edited_frame is None):
        raise BadInput("give exactly one of --edit EDIT.json or --edited-frame PNG")
    if args.edit is not None:
        try:
            spec, edit = load_edit(args.edit, original_frame=first, frame_count=frame_count)
        except EditFileError as exc:
            raise BadInput(f"edit file {args.edit}: {exc}") from None
        if spec.frame_index != 0:
            raise BadInput(
                f"edit file {args.edit}: the edit was made on frame {spec.frame_index}, but propagation starts at the "
                "clip's first frame; make the edit on frame 0 (or trim the clip to start at that frame)"
            )
        return edit
    edited = _read_image(args.edited_frame, "edited frame")
    if edited.shape != first.shape:
        raise BadInput(
            f"edited frame {args.edited_frame} is {edited.shape[1]}x{edited.shape[0]}, the clip is "
            f"{first.shape[1]}x{first.shape[0]}"
        )
    mask = None
    if args.mask is not None:
        mask = _read_image(args.mask, "mask", grey=True)
        if mask.shape != first.shape[:2]:
            raise BadInput(f"mask {args.mask} is {mask.shape[1]}x{mask.shape[0]}, the clip is {first.shape[1]}x{first.shape[0]}")
    try:
        return edit_from_edited_frame(first, edited, mask, task=args.task)
    except ValueError as exc:
        raise BadInput(str(exc).replace("the mask is black", "--mask is black")) from None


class _Bar:
    """A tqdm bar on stderr driven by engine ``Progress`` reports: denoising steps for the
    engines that have them (each window's steps and decode), else the clip's frames.

    An engine without steps (the classic one) counts passes over the clip (reading, the
    shot-cut scan, tracking, compositing: 360 units for 90 frames); "249/360 frame" would
    promise more frames than the clip has, so its progress is shown as the share of the
    clip's ``frames`` done ("62/90 frame", with frames/s and time left for the whole job).
    """

    def __init__(self, frames: int | None = None) -> None:
        from tqdm import tqdm

        from app.jobs import describe_progress

        self._describe = describe_progress
        self._frames = frames if frames and frames > 0 else None
        self._bar = tqdm(total=self._frames, file=sys.stderr, unit="frame", dynamic_ncols=True, leave=True)
        self._shown = 0

    def __call__(self, p: Any) -> None:
        if p.num_steps:
            unit, done, total = "step", p.done, p.total
        elif self._frames is not None:
            unit, done, total = "frame", int(p.fraction * self._frames), self._frames
        else:
            unit, done, total = "frame", p.done, p.total
        if self._bar.unit != unit:  # GenProp tracks the mask (frames) before it denoises (steps)
            self._bar.unit = unit
            self._bar.reset(total=total if total > 0 else None)
            self._shown = 0
        if total > 0 and self._bar.total != total:
            self._bar.total = total
        if done > self._shown:
            self._bar.update(done - self._shown)
            self._shown = done
        self._bar.set_description(self._describe(p), refresh=False)

    def close(self) -> None:
        self._bar.close()


def _check_inputs_and_outputs(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(reader, edit, export plan), everything checked before any engine is imported. Raises VideoError / BadInput."""
    from engine.video import open_video, require_propagatable

    plan = export_plan(args)
    reader = open_video(args.video, fps=args.fps, cache_bytes=READER_CACHE_BYTES)
    try:
        require_propagatable(reader)
        inputs = [p for p in (args.video, args.edit, args.edited_frame, args.mask) if p is not None]
        plan.check(inputs=inputs, size=reader.size)
        edit = build_edit(args, reader[0], len(reader))
    except BaseException:
        reader.close()
        raise
    return reader, edit, plan


def _bad_input_types() -> tuple[type[BaseException], ...]:
    """Errors that mean "what the user gave cannot be used" (exit 2), from modules already loaded.

    Checked lazily: importing the weights module to name its errors would import torch.
    """
    from engine.engines.base import EngineUnavailableError
    from engine.video import VideoError

    types: list[type[BaseException]] = [VideoError, EngineUnavailableError, BadInput, ValueError]
    weights = sys.modules.get("engine.genprop.weights")
    if weights is not None:
        types.append(weights.GenPropWeightsError)
    inpaint = sys.modules.get("engine.edits.inpaint")
    if inpaint is not None:
        types.append(inpaint.InpaintUnavailableError)
    return tuple(types)


def _output_timestamps(reader: Any, frame_count: int) -> list[float] | None:
    """The source's own frame times when the output maps 1:1 onto a variable-frame-rate source
    (so carried-over audio stays in sync); ``None`` (a constant rate) otherwise."""
    info = getattr(reader, "info", None)
    if info is None or not info.variable_frame_rate or not hasattr(reader, "timestamps") or len(reader) != frame_count:
        return None
    return list(reader.timestamps())


def run_store_folder(out: Path) -> Path:
    """A hidden folder beside the output for this run's result store (same disk as the output,
    never a RAM-backed temp folder); leftovers of killed runs are removed first."""
    from engine.video import remove_stale_partials

    final = out.with_name(f"{out.name}.result-store")
    remove_stale_partials(final, folder=True)
    return final.with_name(f".{final.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@dataclass
class Outcome:
    """How one propagation ended: the exit code and one line saying why, plus what the user should read."""

    code: int
    message: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    engine: str = ""
    outputs: list[Path] = field(default_factory=list)


def _keyframe_report(edit: Any, engine: Any, engine_name: str, say: Callable[[str], None]) -> list[str]:
    """Say which keyframes the run uses; a warning when the engine does not follow keyframes."""
    from engine.edit import describe_keyframes

    if not edit.keyframes:
        return []
    if not getattr(engine, "follows_keyframes", False):
        return [f"the {engine_name} engine does not use keyframes; {len(edit.keyframes)} keyframe(s) in the edit are ignored"]
    say(f"keyframes used: {describe_keyframes(edit.keyframes)}")
    return []


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


@_propagate_args.runner
def run_propagate(args: argparse.Namespace) -> int:
    outcome = execute(args)
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)
    print(outcome.message if outcome.code == EXIT_OK else f"error: {outcome.message}", file=sys.stderr)
    return outcome.code


def execute(
    args: argparse.Namespace,
    *,
    progress: Callable[[Any], None] | None = None,
    cancel: Any = None,
    say: Callable[[str], None] = _stderr,
    engines: dict[str, Any] | None = None,
) -> Outcome:
    """One propagation from parsed ``propagate`` arguments: check, run the engine, write every output.

    The one run path of ``propagate`` and ``batch``. ``progress`` receives the engine's
    ``Progress`` reports (default: a progress bar on stderr); with a ``cancel`` token the
    caller owns Ctrl-C, otherwise Ctrl-C cancels this run. ``say`` prints side remarks.
    ``engines``: engine instances kept between runs (name -> engine), so a batch loads a
    model once.
    """
    from engine.video import VideoError

    try:
        reader, edit, plan = _check_inputs_and_outputs(args)
    except (VideoError, BadInput) as exc:
        return Outcome(EXIT_BAD_INPUT, str(exc))
    try:
        return _run_checked(args, reader, edit, plan, progress, cancel, say, engines)
    finally:
        if hasattr(reader, "close"):
            reader.close()


def _run_checked(
    args: argparse.Namespace,
    reader: Any,
    edit: Any,
    plan: Any,
    progress: Callable[[Any], None] | None,
    cancel: Any,
    say: Callable[[str], None],
    engines: dict[str, Any] | None = None,
) -> Outcome:
    import engine.engines  # noqa: F401  (registers the engines)
    from app.disk_check import require_room_for_run
    from app.paths import user_dirs
    from engine.engines.base import CancelToken, PropagationCancelled, get_engine
    from engine.result_store import ResultWriter
    from engine.video.export import SourceFacts, write_result

    if args.demo_model:
        from engine.pipelines.weights_locator import DEMO_ENV

        os.environ[DEMO_ENV] = "1"
        say("using the procedural-domain demonstration model (resources/demo_model)")
    from app.model_manager import model_search_dirs

    model_dirs = model_search_dirs(user_dirs().models)
    try:
        engine_name, note = (
            pick_available(args.engine, model_dirs, given_engine_options(args)) if args.engine == AUTO else (args.engine, "")
        )
        options = engine_options_from_args(args, engine_name)
    except (RuntimeError, ValueError) as exc:
        return Outcome(EXIT_BAD_INPUT, str(exc))
    if args.engine == AUTO:
        say(f"engine: {engine_name} ({note})" if note else f"engine: {engine_name}")
    options = run_options(engine_name, options, model_dirs)
    previous = None
    if cancel is None:
        cancel = CancelToken()
        if threading.current_thread() is threading.main_thread():

            def on_sigint(signum: int, frame: Any) -> None:
                say("\ncancelling (waits for the current step)...")
                cancel.cancel()

            previous = signal.signal(signal.SIGINT, on_sigint)
    bar = _Bar(len(reader)) if progress is None else None
    store = run_store_folder(plan.out)
    try:
        engine = get_engine(engine_name)() if engines is None else engines.get(engine_name)
        if engine is None:
            engine = engines[engine_name] = get_engine(engine_name)()  # type: ignore[index]
        keyframe_warnings = _keyframe_report(edit, engine, engine_name, say)
        exports = plan.disk_needs(len(reader), edit.canvas_size)
        require_room_for_run(engine, reader, edit, store, proxies=False, exports=exports)
        # The engine writes into the result store as it goes; the outputs are transcoded from it
        # (no scrubbing proxies: nobody scrubs this store, it is removed afterwards).
        with ResultWriter(store, reader.fps, expected_frames=len(reader), proxies=False) as writer:
            result = engine.propagate_to(writer, reader, edit, options, bar or progress, cancel)
        if bar is not None:
            bar.close()
        cancel.raise_if_cancelled()

        def check(_: int) -> None:
            cancel.raise_if_cancelled()

        facts = SourceFacts.of(reader, _output_timestamps(reader, len(result.frames)))
        report = write_result(plan, result, edit=edit, reader=reader, facts=facts, on_frame=check)
    except PropagationCancelled:
        if bar is not None:
            bar.close()
        return Outcome(EXIT_CANCELLED, "cancelled; nothing was written", engine=engine_name)
    except Exception as exc:  # noqa: BLE001 - one readable line; details in the log
        if bar is not None:
            bar.close()
        if isinstance(exc, _bad_input_types()):
            return Outcome(EXIT_BAD_INPUT, str(exc), engine=engine_name)
        log.exception("propagation failed")
        return Outcome(EXIT_FAILURE, f"propagation failed: {type(exc).__name__}: {exc}", engine=engine_name)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        shutil.rmtree(store, ignore_errors=True)
    warnings = keyframe_warnings + (result.extras.get("warnings", []) if isinstance(result.extras, dict) else [])
    message = f"{result.mode or result.engine}: {result.extras.get('message', '')} wrote {args.out}"
    return Outcome(EXIT_OK, message, list(warnings), report.notes, engine_name, report.written)
