"""Classic propagation engine (optical flow, tracking, warping, inpainting; CPU, no weights)."""

from engine.engines.classic.engine import ClassicEngine, ClassicOptions
from engine.engines.classic.tracker import TRACKERS, FlowMaskTracker, MaskTracker, Sam2VideoTracker

__all__ = ["TRACKERS", "ClassicEngine", "ClassicOptions", "FlowMaskTracker", "MaskTracker", "Sam2VideoTracker"]
