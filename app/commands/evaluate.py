"""``python main.py evaluate``: score an engine on a test set, write JSON + Markdown reports.

The test-set format is in docs/evaluation.md; ``scripts/make_testset.py`` writes one and
the app bundles a small procedural set in resources/testsets/procedural.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from app.cli import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, command

BUNDLED = Path(__file__).resolve().parents[2] / "resources" / "testsets" / "procedural"


@command("evaluate", "run an engine on a test set and report PSNRm, SSIM, GT PSNR, J&F, CLIP and time per case and task")
def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "Writes OUT/evaluation.json and OUT/evaluation.md. CLIP-T/CLIP-I need a local CLIP model folder "
        "(--clip-model or GENPROP_CLIP_MODEL); without one they are reported as n/a. Exit codes: 0 done "
        "(even if some cases failed: see the report), 1 every case failed, 2 bad input."
    )
    p.add_argument(
        "--testset", type=Path, default=BUNDLED, metavar="DIR", help="test-set folder (default: the bundled procedural set)"
    )
    p.add_argument(
        "--engine", default="classic", help="engine name: classic, genprop, genprop-training-free (default: %(default)s)"
    )
    p.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="report folder (default: ./evaluation-<testset>-<engine>)"
    )
    p.add_argument("--cases", default=None, help="comma-separated case ids to run (default: all)")
    p.add_argument("--tasks", default=None, help="comma-separated tasks to run, e.g. remove,track (default: all)")
    p.add_argument(
        "--options", default=None, metavar="JSON", help='engine options as a JSON object, e.g. \'{"flow_preset": "fast"}\''
    )
    p.add_argument("--clip-model", type=Path, default=None, metavar="DIR", help="local CLIP model folder for CLIP-T / CLIP-I")
    p.add_argument(
        "--save-outputs", action="store_true", help="also write each case's output clip (lossless) and masks under OUT/outputs/"
    )


def _machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"


def _versions() -> str:
    import cv2
    import numpy as np

    parts = [f"GenProp Studio {_app_version()}", f"NumPy {np.__version__}", f"OpenCV {cv2.__version__}"]
    for mod in ("torch", "diffusers", "transformers"):
        loaded = sys.modules.get(mod)
        if loaded is not None:
            parts.append(f"{mod} {getattr(loaded, '__version__', '?')}")
    return ", ".join(parts)


def _app_version() -> str:
    from app.version import __version__

    return __version__


def _command_line(args: argparse.Namespace, out: Path) -> str:
    """The command as typed, rebuilt from the parsed arguments (the runner has no argv)."""
    parts = ["python main.py evaluate", f"--testset {args.testset}", f"--engine {args.engine}", f"--out {out}"]
    for flag in ("cases", "tasks", "options", "clip_model"):
        value = getattr(args, flag)
        if value is not None:
            parts.append(f"--{flag.replace('_', '-')} {json.dumps(value) if flag == 'options' else value}")
    if args.save_outputs:
        parts.append("--save-outputs")
    return " ".join(parts)


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


@_evaluate_args.runner
def run_evaluate(args: argparse.Namespace) -> int:
    import engine.engines  # noqa: F401  (registers the engines)
    from engine.engines.base import EngineUnavailableError, get_engine
    from engine.evaluation import TestSetError, evaluate, load_testset, write_json, write_markdown
    from engine.metrics import load_clip_scorer

    try:
        get_engine(args.engine)
        options: dict[str, Any] = {} if args.options is None else json.loads(args.options)
        if not isinstance(options, dict):
            raise ValueError(f"--options must be a JSON object, got {args.options!r}")
        testset = load_testset(args.testset)
        cases = testset.select(_split(args.cases), _split(args.tasks))
        if not cases:
            raise TestSetError(f"--cases/--tasks select no case of {testset.name!r}")
    except json.JSONDecodeError as exc:
        print(f"error: --options is not valid JSON ({exc.msg}): {args.options!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    scorer, note = load_clip_scorer(args.clip_model)
    out = args.out or Path(f"evaluation-{testset.name}-{args.engine}")
    keep = None
    if args.save_outputs:
        from engine.video import write_png_sequence, write_video

        def keep(spec, frames, masks, fps) -> None:  # type: ignore[no-untyped-def]
            write_video(out / "outputs" / f"{spec.id}.mkv", frames, fps, lossless=True)
            write_png_sequence(out / "outputs" / f"{spec.id}_masks", masks, prefix="mask_")

    def report(i: int, n: int, res: Any) -> None:
        status = f"failed: {res.error}" if res.error else f"{res.metrics['seconds']:.2f} s"
        print(f"[{i}/{n}] {res.id} ({res.task}): {status}", file=sys.stderr)

    meta = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": _machine(),
        "command": _command_line(args, out),
        "clip": "CLIP model: " + (str(args.clip_model or os.environ.get("GENPROP_CLIP_MODEL")) if scorer else note),
        "options": options,
        "testset_path": str(testset.root),
    }
    try:
        evaluation = evaluate(testset, args.engine, options, scorer, cases, on_case=report, keep_output=keep, meta=meta)
    except EngineUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TestSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    evaluation.meta["versions"] = _versions()
    json_path = write_json(evaluation, out / "evaluation.json")
    md_path = write_markdown(evaluation, out / "evaluation.md")
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    if not scorer:
        print(note, file=sys.stderr)
    return EXIT_OK if any(c.error is None for c in evaluation.cases) else EXIT_FAILURE
