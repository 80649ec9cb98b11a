"""One definition of each engine option: dataclass fields with metadata.

An engine's options are a frozen dataclass whose user-facing fields are declared with
:func:`option` (label, help, range, choices). The engine validates what it receives with
:func:`parse_options`, the GUI's engine panel builds its fields from :func:`option_infos`,
and the CLI generates its flags from the same list, so a default or a range can only
disagree with itself. Fields declared with a plain default are internal (set by the app
or by code, e.g. search folders) and are validated by type only.

This module is light on purpose (no torch, no cv2): the GUI and ``--help`` import it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
_META_KEY = "genprop_option"
KINDS = ("int", "float", "bool", "choice", "str")


@dataclass(frozen=True)
class OptionInfo:
    """What the GUI and the CLI need to know about one option.

    Attributes:
        name: the field name (``flow_max_side``); the CLI flag is ``--flow-max-side``.
        kind: ``int`` | ``float`` | ``bool`` | ``choice`` | ``str``.
        default: the engine's default (``None`` allowed when ``nullable``).
        label / help: the GUI's label and tooltip, the CLI's help text.
        minimum / maximum: inclusive range for numbers (``None`` = unbounded).
        choices: allowed values for ``choice``; for an ``open_choices`` string option,
            suggestions (the engine checks the value itself, e.g. ``cuda:1``).
        nullable: ``None`` is a valid value (e.g. "random seed", "the model's own").
        gui / cli: shown in the engine panel / offered as a command-line flag.
    """

    name: str
    kind: str
    default: Any
    label: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    open_choices: bool = False
    nullable: bool = False
    gui: bool = True
    cli: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any, owner: str = "engine") -> Any:
        """``value`` converted to the option's kind, or ValueError naming the option and the rule."""
        if value is None:
            if self.nullable:
                return None
            raise ValueError(f"{owner} option {self.name!r} needs a value ({self.rule()})")
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError(f"{owner} option {self.name!r} must be true or false, got {value!r}")
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise ValueError(f"{owner} option {self.name!r} must be one of {', '.join(self.choices)}, got {value!r}")
        if self.kind == "str":
            if isinstance(value, str):
                return value
            raise ValueError(f"{owner} option {self.name!r} must be a string, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{owner} option {self.name!r} must be a number ({self.rule()}), got {value!r}")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"{owner} option {self.name!r} must be a whole number ({self.rule()}), got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{owner} option {self.name!r} must be finite ({self.rule()}), got {value!r}")
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise ValueError(f"{owner} option {self.name!r} must be {self.rule()}, got {value!r}")
        return value

    def rule(self) -> str:
        """The allowed values in words, for messages and help."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind in ("bool", "str"):
            return self.kind
        word = "a whole number" if self.kind == "int" else "a number"
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"{word} in [{_num(lo)}, {_num(hi)}]"
        if lo is not None:
            return f"{word} >= {_num(lo)}"
        if hi is not None:
            return f"{word} <= {_num(hi)}"
        return word


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def option(
    default: Any,
    label: str,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
    open_choices: bool = False,
    gui: bool = True,
    cli: bool = True,
) -> Any:
    """A dataclass field that is a user-facing engine option (see :class:`OptionInfo`)."""
    meta = {
        _META_KEY: {
            "label": label,
            "help": help,
            "minimum": minimum,
            "maximum": maximum,
            "choices": tuple(choices),
            "open_choices": open_choices,
            "gui": gui,
            "cli": cli,
        }
    }
    return dataclasses.field(default=default, metadata=meta)


def _kind_of(annotation: Any, has_choices: bool) -> tuple[str, bool]:
    """(kind, nullable) from a field's type annotation (``int | None`` -> ("int", True))."""
    if isinstance(annotation, str):
        annotation = eval(annotation, {"typing": typing}, {})  # noqa: S307 - our own annotations only
    nullable = False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        nullable = type(None) in args
        rest = [a for a in args if a is not type(None)]
        annotation = rest[0] if len(rest) == 1 else str
    if has_choices:
        return "choice", nullable
    kind = {bool: "bool", int: "int", float: "float", str: "str"}.get(annotation)
    if kind is None:
        raise TypeError(f"option annotation {annotation!r} is not bool, int, float or str")
    return kind, nullable


def option_infos(cls: type) -> tuple[OptionInfo, ...]:
    """The user-facing options of an options dataclass, in declaration order."""
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(_META_KEY)
        if meta is None:
            continue
        kind, nullable = _kind_of(f.type, bool(meta["choices"]) and not meta["open_choices"])
        out.append(OptionInfo(name=f.name, kind=kind, default=f.default, nullable=nullable, **meta))
    return tuple(out)


def option_defaults(cls: type) -> dict[str, Any]:
    return {info.name: info.default for info in option_infos(cls)}


def parse_options(cls: type[T], options: Mapping[str, Any] | None, owner: str) -> T:
    """An instance of ``cls`` from a plain dict, every user-facing value checked.

    Unknown names are an error (a typo must not be silently ignored). ``owner`` names
    the engine in messages ("classic engine option 'flow_max_side' must be ...").
    """
    values = dict(options or {})
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {owner} option(s) {unknown}; known: {sorted(known)}")
    for info in option_infos(cls):
        if info.name in values:
            values[info.name] = info.check(values[info.name], owner)
    return cls(**values)


def keep_valid(cls: type, options: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The user-facing values of ``options`` that pass their checks, and why the others were dropped.

    For remembered settings (a settings file from an older version may hold a value
    that is out of range now): the GUI starts from defaults for those and says so.
    """
    kept: dict[str, Any] = {}
    problems: list[str] = []
    for info in option_infos(cls):
        if info.name not in options:
            continue
        try:
            kept[info.name] = info.check(options[info.name])
        except ValueError as exc:
            problems.append(str(exc))
    return kept, problems
