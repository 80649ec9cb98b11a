"""Classic propagation engine (optical flow, tracking, warping, inpainting; CPU, no weights).

Names are imported on first use (PEP 562): the engine registry reads ``options`` without
loading the engine.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ClassicEngine": "engine",
    "ClassicOptions": "options",
    "TRACKERS": "tracker",
    "FlowMaskTracker": "tracker",
    "MaskTracker": "tracker",
    "Sam2VideoTracker": "sam2_tracker",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
