"""The one interface every propagation engine implements, and the engine registry.

An engine takes a clip, a first-frame edit and options; it reports progress through a
callback, checks a cancel token between units of work (a frame, a denoising step), and
returns the edited clip at the source's size and frame rate with a per-frame edit mask.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from engine.disk_room import DiskNeed
from engine.edit import FirstFrameEdit
from engine.options import OptionInfo, option_infos
from engine.video.source import FrameSource


class PropagationCancelled(Exception):
    """Raised inside an engine when its cancel token is set; nothing is written."""


class EngineUnavailableError(RuntimeError):
    """The engine cannot run here (missing weights, missing package); message says why."""


class CancelToken:
    """Thread-safe flag a GUI or Ctrl-C handler sets; engines poll it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise PropagationCancelled("propagation cancelled by the user")


@dataclass(frozen=True)
class Progress:
    """One progress report. ``done``/``total`` count the finest unit of work.

    ``fraction`` is monotonic over a run; window/step fields are filled by engines
    that have them (GenProp), ``None`` otherwise.
    """

    stage: str
    done: int
    total: int
    message: str = ""
    window: int | None = None
    num_windows: int | None = None
    step: int | None = None
    num_steps: int | None = None

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)


ProgressCallback = Callable[[Progress], None]


@dataclass
class PropagationResult:
    """What an engine returns.

    ``frames`` and ``masks`` are arrays, or array-likes with the same ``shape``/``dtype``/
    indexing read from disk (``engine.result_store.StoredFrames``: a run written to the
    result store); read them by index, not with ``np.asarray`` (which loads all).

    Attributes:
        frames: ``[T, H, W, 3]`` uint8 edited clip, at the edited canvas size
            (the source size unless the edit outpainted).
        masks: ``[T, H, W]`` uint8 (0/255) per-frame edit mask (MPD output for
            GenProp, the tracked mask for the classical engine).
        fps: the source's frame rate.
        engine: name of the engine that ran.
        mode: which mode ran, in words (e.g. "classic", "genprop", "training-free").
        extras: optional outputs (attention maps, per-operation masks, ...).
        timings: seconds per stage.
    """

    frames: np.ndarray
    masks: np.ndarray
    fps: float
    engine: str
    mode: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise ValueError(f"frames must be [T, H, W, 3] uint8, got {self.frames.shape} {self.frames.dtype}")
        if self.masks.shape != self.frames.shape[:3]:
            raise ValueError(f"masks {self.masks.shape} do not match frames {self.frames.shape[:3]}")


class Engine(ABC):
    """Base class of propagation engines.

    An engine is registered by an :class:`EngineSpec` (``register_spec``, lazily: its
    module is imported when the engine is first built) or, for engines defined in code
    that is already imported (tests, plug-ins), with the ``@register_engine`` decorator.
    """

    name: ClassVar[str]
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: True when the engine follows an edit's keyframes (``FirstFrameEdit.keyframes``, issue 19);
    #: a run of an engine that does not is told so (the CLI warns).
    follows_keyframes: ClassVar[bool] = False
    #: True when :meth:`propagate_to` hands frames to the sink as they become final (memory
    #: does not hold the whole output); False: the whole result is built, then handed over.
    streams: ClassVar[bool] = False
    #: The options whose values decide which models an instance loads (weights, search folders,
    #: precision, device): an app keeps one instance per engine and these values between jobs
    #: (``app/engine_cache.py``), so a run with the same ones reuses the loaded models.
    load_options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def availability(cls, model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
        """(can run here, reason if not) with these weight-search folders. Cheap: must not load models."""
        return True, ""

    def disk_needs(self, frames: int, size: tuple[int, int], edit: FirstFrameEdit) -> list[DiskNeed]:
        """What :meth:`propagate_to` keeps on disk besides the sink, at most (``engine.disk_room``).

        ``frames`` of ``size`` (w, h) in the clip. Default: nothing (the engine holds its frames in memory).
        """
        return []

    @abstractmethod
    def propagate(
        self,
        clip: FrameSource,
        edit: FirstFrameEdit,
        options: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PropagationResult:
        """Propagate ``edit`` (made on ``clip[0]``) through every frame of ``clip``."""

    def propagate_to(
        self,
        sink: Any,
        clip: FrameSource,
        edit: FirstFrameEdit,
        options: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PropagationResult:
        """Propagate into ``sink`` (an ``engine.engines.sink.FrameSink``, e.g. the on-disk result
        store) and return what ``sink.finish`` returns. Streaming engines override this."""
        from engine.engines.sink import hand_over

        return hand_over(self.propagate(clip, edit, options, progress, cancel), sink)


def _always_available(model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
    return True, ""


def _every_choice_available(option: str, choice: str, model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
    return True, ""


@dataclass(frozen=True)
class EngineSpec:
    """What the app knows about an engine without importing it (no torch for ``--help`` or the GUI).

    Attributes:
        name / label / description: the registry key, the GUI's label and tooltip.
        module / class_name: where the :class:`Engine` subclass lives (imported on first use).
        options: the engine's options dataclass (``engine.options``: one definition for
            the engine, the GUI and the CLI).
        hidden_options: fields of ``options`` this engine does not use (a shared dataclass).
        availability: cheap check (file lookups only) given the weight-search folders.
        choice_availability: the same for one value of a choice option:
            ``(option, choice, model_dirs) -> (usable here, note)``; the note labels a usable
            choice (e.g. which weights it will use) or says why it is not (the GUI disables it).
    """

    name: str
    label: str
    description: str
    module: str
    class_name: str
    options: type | None = None
    hidden_options: tuple[str, ...] = ()
    availability: Callable[..., tuple[bool, str]] = _always_available
    choice_availability: Callable[..., tuple[bool, str]] = _every_choice_available

    def option_infos(self) -> tuple[OptionInfo, ...]:
        """The user-facing options of this engine, in declaration order."""
        if self.options is None:
            return ()
        return tuple(i for i in option_infos(self.options) if i.name not in self.hidden_options)

    def load(self) -> type[Engine]:
        cls = getattr(importlib.import_module(self.module), self.class_name)
        if not (isinstance(cls, type) and issubclass(cls, Engine)) or cls.name != self.name:
            raise TypeError(f"{self.module}.{self.class_name} is not the {self.name!r} engine")
        return cls


_SPECS: dict[str, EngineSpec] = {}
_CLASSES: dict[str, type[Engine]] = {}


def register_spec(spec: EngineSpec) -> EngineSpec:
    """Make an engine known by its spec; its module is imported on first ``get_engine``."""
    if spec.name in _SPECS and _SPECS[spec.name] != spec:
        raise ValueError(f"engine name {spec.name!r} is registered twice")
    _SPECS[spec.name] = spec
    return spec


def register_engine(cls: type[Engine]) -> type[Engine]:
    """Class decorator: make an already-imported engine class available by its ``name``."""
    if cls.name in _CLASSES and _CLASSES[cls.name] is not cls:
        raise ValueError(f"engine name {cls.name!r} is registered twice")
    _CLASSES[cls.name] = cls
    if cls.name not in _SPECS:
        _SPECS[cls.name] = EngineSpec(
            cls.name, cls.label or cls.name, cls.description, cls.__module__, cls.__name__, availability=cls.availability
        )
    return cls


def _ensure_builtin_specs() -> None:
    import engine.engines  # noqa: F401  (registers the built-in engines' specs; light)


def engine_names() -> list[str]:
    _ensure_builtin_specs()
    return sorted(_SPECS)


def engine_spec(name: str) -> EngineSpec:
    """The spec of engine ``name`` (no heavy import); KeyError naming the known engines."""
    _ensure_builtin_specs()
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(f"unknown engine {name!r}; known engines: {', '.join(engine_names()) or 'none'}") from None


def get_engine(name: str) -> type[Engine]:
    """The engine class ``name``, importing its module on first use."""
    if name not in _CLASSES:
        _CLASSES[name] = engine_spec(name).load()
    return _CLASSES[name]


class StageTimer:
    """Accumulates wall time per stage for ``PropagationResult.timings``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def stage(self, name: str) -> _Stage:
        return _Stage(self, name)


class _Stage:
    def __init__(self, timer: StageTimer, name: str) -> None:
        self._timer, self._name = timer, name

    def __enter__(self) -> None:
        self._t0 = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._timer.timings[self._name] = self._timer.timings.get(self._name, 0.0) + time.perf_counter() - self._t0
