"""``python main.py train --config training/configs/tiny_cpu.yaml``: train GenProp's heads.

Multi-GPU / multi-node: ``accelerate launch [--multi_gpu --num_processes N ...] main.py train
--config training/configs/paper_svd.yaml``. ``--resume latest`` continues from the newest
complete ``checkpoint-<step>`` in the output folder; ``--extend-from CHECKPOINT --max-steps N``
trains a finished run on to step N under a fresh warm-up + cosine schedule (a warm restart).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli import EXIT_BAD_INPUT, EXIT_OK, command


@command("train", "train GenProp's SCE, MPD and task embeddings (accelerate; see docs/training.md)")
def _train_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="YAML preset, e.g. training/configs/tiny_cpu.yaml")
    parser.add_argument("--output-dir", type=Path, default=None, help="override the config's output_dir")
    parser.add_argument("--max-steps", type=int, default=None, help="override optim.max_steps (changes the LR schedule)")
    parser.add_argument(
        "--stop-after", type=int, default=None, metavar="STEP", help="stop at this step, keeping the schedule of max_steps"
    )
    parser.add_argument("--resume", default=None, help="'latest' or a checkpoint folder")
    parser.add_argument(
        "--extend-from",
        default=None,
        metavar="CHECKPOINT",
        help="train on from a finished run's checkpoint to --max-steps, with a fresh lr schedule over the added steps",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override any config key, e.g. optim.learning_rate=1e-4"
    )


@_train_args.runner
def _train_run(args: argparse.Namespace) -> int:
    from training.config import ConfigError, load_config, parse_override
    from training.data import DatasetLayoutError
    from training.trainer import train

    try:
        overrides = dict(parse_override(s) for s in args.set)
        if args.output_dir is not None:
            overrides["output_dir"] = str(args.output_dir)
        if args.max_steps is not None:
            overrides["optim.max_steps"] = args.max_steps
        config = load_config(args.config, overrides)
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from engine.genprop.weights import GenPropWeightsError
    from training.checkpoint import CheckpointError, require_checkpoint, resolve_and_verify, verify_checkpoint

    try:
        # a damaged, truncated or malicious checkpoint is refused before any model is built
        if args.resume and args.extend_from:
            raise ValueError("--resume and --extend-from exclude each other (resume an extended run with --resume)")
        resolve_and_verify(Path(config.output_dir), args.resume)
        if args.extend_from:
            verify_checkpoint(require_checkpoint(Path(args.extend_from), "--extend-from"))
        result = train(config, resume=args.resume, stop_after=args.stop_after, extend_from=args.extend_from)
    except (DatasetLayoutError, FileNotFoundError, CheckpointError, GenPropWeightsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as err:  # e.g. a checkpoint of another configuration (optimizer groups, EMA shapes)
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    last = result.history[-1]["total"] if result.history else float("nan")
    print(
        f"trained to step {result.final_step} in {config.output_dir}: last loss {last:.4f}, "
        f"{result.samples_per_second:.2f} samples/s"
    )
    return EXIT_OK
