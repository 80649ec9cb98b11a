"""Command-line interface: ``python main.py <command>``.

Commands live in a registry (name -> builder + runner) so that later work adds
``propagate``, ``train`` and ``evaluate`` without touching a long if/elif chain. The
GUI command is added by ``main.py`` itself, because ``app`` never imports widgets.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.version import APP_NAME, __version__

log = logging.getLogger(__name__)

#: Exit codes: scripts can tell bad input from a failure.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def command(name: str, help: str) -> Callable[[Callable[[argparse.ArgumentParser], None]], Callable]:
    """Decorator on an ``add_arguments`` function; the runner is set with ``.runner``."""

    def register(add_arguments: Callable[[argparse.ArgumentParser], None]):  # type: ignore[no-untyped-def]
        def runner(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
            COMMANDS[name] = Command(name, help, add_arguments, run)
            return run

        add_arguments.runner = runner  # type: ignore[attr-defined]
        return add_arguments

    return register


# ---------------------------------------------------------------------- info
@command("info", "print what GenProp Studio knows about a clip (file or frame folder)")
def _info_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clips", nargs="+", type=Path, metavar="CLIP", help="video file(s) or folder(s) of numbered frames")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")
    parser.add_argument("--fps", type=float, default=None, help="frame rate to assume for frame folders (default 24)")


@_info_args.runner
def _info_run(args: argparse.Namespace) -> int:
    from engine.video import VideoError, open_video

    status = EXIT_OK
    results = []
    for i, clip in enumerate(args.clips):
        try:
            reader = open_video(clip, fps=args.fps)
        except VideoError as err:
            print(f"error: {err}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        if args.json:
            results.append(reader.info.to_dict())
        else:
            if i:
                print()
            print(reader.info.describe())
        reader.close()
    if args.json:
        print(json.dumps(results, indent=2))
    return status


# ---------------------------------------------------------------------- parser
def build_parser(extra: dict[str, Command] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genprop-studio",
        description=f"{APP_NAME}: propagate a first-frame edit through a whole video clip. "
        "With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to the console too (always logged to file)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in sorted({**COMMANDS, **(extra or {})}.values(), key=lambda c: c.name):
        cmd_parser = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(cmd_parser)
        cmd_parser.set_defaults(_run=cmd.run)
    return parser


def load_command_modules() -> None:
    """Import modules that register further commands (propagate, train, evaluate)."""
    import importlib

    for module in ("app.commands",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
