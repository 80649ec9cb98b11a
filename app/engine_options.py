"""Engine options for the GUI and the CLI, derived from the engines' own option dataclasses.

The one definition of every option (default, range, label, help) is the engine's options
dataclass (``engine.options``); this module only views it: the engine panel's fields,
remembered settings checked with the engines' own rules, and the ``propagate`` command's
flags. ``tests/test_engine_options.py`` ties the three together.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from engine.engines.base import engine_names, engine_spec
from engine.options import OptionInfo, keep_valid

log = logging.getLogger(__name__)

AUTO = "auto"


def gui_options(engine: str) -> tuple[OptionInfo, ...]:
    """The options the engine panel shows for ``engine``, in declaration order."""
    return tuple(i for i in engine_spec(engine).option_infos() if i.gui)


def defaults(engine: str) -> dict[str, Any]:
    """The engine's defaults for the options the GUI shows."""
    return {i.name: i.default for i in gui_options(engine)}


def validate(engine: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with the remembered values that pass the engine's own checks.

    A value that fails (an older settings file, a hand-edited project) is dropped with a
    warning in the log, and the default is used: the same rule the engine applies, never
    a silent difference.
    """
    spec = engine_spec(engine)
    shown = {i.name for i in gui_options(engine)}
    if spec.options is None:
        return {}
    kept, problems = keep_valid(spec.options, {k: v for k, v in options.items() if k in shown})
    for problem in problems:
        log.warning("remembered setting ignored, default used: %s", problem)
    return {**defaults(engine), **kept}


def choice_states(
    engine: str, info: OptionInfo, model_dirs: Sequence[str | os.PathLike[str]] = ()
) -> list[tuple[str, bool, str]]:
    """``(choice, usable here, note)`` for each choice of ``info`` (``EngineSpec.choice_availability``).

    The engine panel disables an unusable choice with the note as the reason, and labels
    a usable one with its note (e.g. which SAM2 weights ``sam2`` will use). File checks only.
    """
    spec = engine_spec(engine)
    return [(c, *spec.choice_availability(info.name, c, model_dirs)) for c in info.choices]


# ---------------------------------------------------------------------- engine choice
def short_reason(why: str) -> str:
    """The first sentence of an availability reason (the details stay in the tooltip / log)."""
    first = why.split(";")[0].split(". ")[0].strip()
    return first if len(first) <= 90 else first[:87] + "..."


def pick_available(
    preferred: str | None, model_dirs: Sequence[str | os.PathLike[str]] = (), given: Sequence[str] = ()
) -> tuple[str, str]:
    """(engine to use, a one-line note) for ``preferred`` (a name or ``auto``).

    ``auto`` takes the first available engine of ``engine.engines.AUTO_ORDER``; an
    unavailable preferred engine falls back the same way. ``given``: the options the user
    set (e.g. ``svd`` from ``--svd``): only engines that take all of them are candidates,
    and when the search folders find none of those available the first one is still
    chosen, so that its own run names what is missing (``--svd`` means a GenProp engine,
    not an error about classic). The note says what happened ("" when the preferred
    engine runs as asked).
    """
    from engine.engines import AUTO_ORDER

    skipped: list[str] = []
    if preferred not in (None, AUTO):
        ok, why = engine_spec(preferred).availability(model_dirs)
        if ok:
            return preferred, ""
        skipped.append(f"{preferred}: {short_reason(why)}")
    if given:
        takes = [n for n in AUTO_ORDER if set(given) <= {i.name for i in engine_spec(n).option_infos()}]
        if not takes:
            raise ValueError(f"no engine takes all of the options given ({', '.join(sorted(given))})")
        flags = ", ".join(sorted(given))
        for name in takes:
            ok, why = engine_spec(name).availability(model_dirs)
            if ok:
                return name, f"using {engine_spec(name).label} (the options given: {flags})"
            skipped.append(f"{name}: {short_reason(why)}")
        return takes[0], f"using {engine_spec(takes[0]).label}, the first engine that takes {flags} ({'; '.join(skipped)})"
    for name in AUTO_ORDER:
        if name == preferred:
            continue
        ok, why = engine_spec(name).availability(model_dirs)
        if ok:
            head = f"using {engine_spec(name).label}"
            if preferred not in (None, AUTO):
                head = f"{engine_spec(preferred).label} is not available here; {head}"
            return name, head + (f" ({'; '.join(skipped)})" if skipped else "")
        skipped.append(f"{name}: {short_reason(why)}")
    raise RuntimeError("no engine is available: " + "; ".join(skipped))


# ---------------------------------------------------------------------- CLI flags
def _cli_infos() -> dict[str, list[tuple[str, OptionInfo]]]:
    """Option name -> [(engine, info)] for every engine's command-line options."""
    by_name: dict[str, list[tuple[str, OptionInfo]]] = {}
    for engine in engine_names():
        for info in engine_spec(engine).option_infos():
            if info.cli:
                by_name.setdefault(info.name, []).append((engine, info))
    return by_name


def add_engine_option_flags(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """One flag per engine option (``--flow-max-side``), generated from the options dataclasses.

    Flags default to "not given" so the engine's own default applies; the help text
    shows the default and which engines take the option.
    """
    for name, owners in sorted(_cli_infos().items()):
        info = owners[0][1]
        kinds = {i.kind for _, i in owners}
        if len(kinds) != 1:
            raise TypeError(f"option {name!r} has different kinds in different engines: {sorted(kinds)}")
        engines = ", ".join(e for e, _ in owners)
        defaults_text = "; ".join(sorted({_default_text(i) for _, i in owners}))
        rule = "" if info.kind == "str" else f"{info.rule()}; "
        help_text = f"{info.help} ({rule}default {defaults_text}; engines: {engines})".replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": f"opt_{name}", "default": None, "help": help_text}
        if info.kind == "bool":
            group.add_argument(info.flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if info.kind == "choice":
            kwargs["choices"] = list(info.choices)
        elif info.kind == "int":
            kwargs["type"] = int
            kwargs["metavar"] = "N"
        elif info.kind == "float":
            kwargs["type"] = float
            kwargs["metavar"] = "X"
        else:
            kwargs["metavar"] = name.upper() if not info.choices else "|".join(info.choices) + "|..."
        group.add_argument(info.flag, **kwargs)


def _default_text(info: OptionInfo) -> str:
    if info.default is None:
        return "automatic"
    if info.kind == "bool":
        return "on" if info.default else "off"
    return str(info.default)


def given_engine_options(args: argparse.Namespace) -> list[str]:
    """The engine options set on the command line (for ``--engine auto``'s choice)."""
    return [name for name in _cli_infos() if getattr(args, f"opt_{name}", None) is not None]


def engine_options_from_args(args: argparse.Namespace, engine: str) -> dict[str, Any]:
    """The options given on the command line for ``engine``, checked by the engine's rules.

    Raises ValueError naming the flag when it belongs to other engines only or when its
    value breaks the option's rule.
    """
    spec = engine_spec(engine)
    mine = {i.name: i for i in spec.option_infos() if i.cli}
    options: dict[str, Any] = {}
    for name, owners in _cli_infos().items():
        value = getattr(args, f"opt_{name}", None)
        if value is None:
            continue
        info = owners[0][1]
        if name not in mine:
            others = ", ".join(e for e, _ in owners)
            raise ValueError(f"{info.flag} is an option of the {others} engine(s), not of {engine}")
        options[name] = mine[name].check(value, f"{engine} engine")
    return options


def run_options(engine: str, options: Mapping[str, Any], model_dirs: Sequence[str | os.PathLike[str]] = ()) -> dict[str, Any]:
    """The options an engine run gets: the user's values plus the weight-search folders it takes."""
    import dataclasses

    out = dict(options)
    spec = engine_spec(engine)
    if spec.options is not None and "model_dirs" in {f.name for f in dataclasses.fields(spec.options)}:
        out["model_dirs"] = [str(d) for d in model_dirs]
    return out
