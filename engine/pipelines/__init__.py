"""Inference pipelines: GenProp on SVD (windowed, memory modes, training-free fallback).

Names are imported on first use (PEP 562): the weights locator and the memory-mode names
are read by the GUI and the CLI without loading torch and diffusers.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "MODE_GENPROP": "genprop_pipeline",
    "MODE_TRAINING_FREE": "genprop_pipeline",
    "GenPropPipeline": "genprop_pipeline",
    "GenPropPipelineOutput": "genprop_pipeline",
    "StepReport": "genprop_pipeline",
    "ALL_MODES": "memory_modes",
    "MemoryPlan": "memory",
    "OutOfMemoryAdviceError": "memory",
    "choose_plan": "memory",
    "run_with_oom_retry": "memory",
    "Window": "windows",
    "overlap_weights": "windows",
    "plan_windows": "windows",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
