#!/usr/bin/env python3
"""GenProp Studio's entry point: ``python main.py [COMMAND] [options]``.

No command opens the desktop app (with the bundled sample clip on first start).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

# Our packages must win over same-named ones in site-packages: sam2 installs a
# top-level ``training`` package, which would shadow ours when the app is started
# from another directory (e.g. through the ``genprop-studio`` entry point).
_ROOT = str(Path(__file__).resolve().parent)
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)

from app.cli import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILURE, Command, build_parser, load_command_modules  # noqa: E402
from app.logging_setup import setup_logging  # noqa: E402

log = logging.getLogger("genprop")


def _gui_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", nargs="?", type=Path, help="clip to open (default: the last one, or the sample clip)")
    parser.add_argument("--project", type=Path, help="a project file to open")
    parser.add_argument("--no-sample", action="store_true", help="start empty instead of opening the sample clip")


def display_problem() -> str | None:
    """Why a window cannot be shown here, or None if it can."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc")):
        return None
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display found (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    return None


def _gui_run(args: argparse.Namespace) -> int:
    problem = display_problem()
    if problem:
        from app.cli import COMMANDS

        lines = [f"  python main.py {name} --help".ljust(38) + cmd.help for name, cmd in sorted(COMMANDS.items())]
        print(
            f"GenProp Studio cannot open its window: {problem}.\n"
            "Headless alternatives:\n" + "\n".join(lines) + "\n"
            "Or run the GUI under a virtual display: xvfb-run python main.py",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from ui.application import run_gui  # Qt is imported only when a window is wanted

    return run_gui(clip=args.clip, project=args.project, open_sample=not args.no_sample)


GUI = Command("gui", "open the desktop app (the default when no command is given)", _gui_args, _gui_run)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    load_command_modules()
    parser = build_parser({"gui": GUI})
    known = {"gui", "-h", "--help", "--version", *parser._subparsers._group_actions[0].choices}  # type: ignore[union-attr]
    # Bare `python main.py` or `python main.py clip.mp4` opens the GUI.
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None or first not in known:
        flags = [a for a in argv if a in ("-v", "--verbose")]
        rest = [a for a in argv if a not in ("-v", "--verbose")]
        if not any(a in ("-h", "--help", "--version") for a in rest):
            argv = [*flags, "gui", *rest]
    args = parser.parse_args(argv)
    log_file = setup_logging(verbose=args.verbose)
    log.debug("command line: %s (log file %s)", argv, log_file)
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception:  # noqa: BLE001 - last resort: a readable line plus the log, not a bare traceback
        log.exception("unexpected error")
        print(f"error: unexpected failure; details are in {log_file}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
