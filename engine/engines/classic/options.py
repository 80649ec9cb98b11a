"""The classic engine's options: the one definition the engine, the GUI and the CLI share."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.engines.classic.tracker_choice import (
    TRACKER_CHOICES,
    sam2_checkpoint_field,
    sam2_model_field,
    sam2_resolution_field,
    tracker_field,
)
from engine.options import option, parse_options

FLOW_PRESETS: tuple[str, ...] = ("ultrafast", "fast", "medium")
"""DIS optical-flow presets, fastest first (``engine.engines.classic.flow`` maps them to OpenCV's)."""

TRACKER_NAMES: tuple[str, ...] = TRACKER_CHOICES
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class ClassicOptions:
    """Options of the classic engine (the ``options`` dict, validated by :meth:`from_dict`).

    ``tracker="auto"`` uses SAM2's video predictor when SAM2 weights are found (in
    ``model_dirs``, ``$GENPROP_SAM2_DIR`` or the Hugging Face cache), else optical flow
    (``engine.engines.classic.tracker_choice``). ``model_dirs`` is passed by the caller.
    """

    flow_preset: str = option(
        "medium", "Flow quality", "Optical-flow preset: faster or more accurate tracking", choices=FLOW_PRESETS
    )
    flow_max_side: int = option(
        320,
        "Flow resolution",
        "Long side (px) at which motion is estimated; higher is slower and finer",
        minimum=64,
        maximum=1920,
    )
    anchor_every: int = option(
        1,
        "Re-anchor every",
        "Re-anchor tracking to frame 1 every N frames to limit drift (0 = never)",
        minimum=0,
        maximum=1000,
    )
    remove_grow: int = option(
        5,
        "Removal margin",
        "Pixels the tracked removal region is grown by (soft edges, tracking error)",
        minimum=0,
        maximum=50,
    )
    refine_masks: bool = option(
        True,
        "Snap masks to the object",
        "Correct tracked masks every frame with the object's colours, its motion and image edges",
    )
    refind: bool = option(
        True, "Re-find lost objects", "Search for a tracked object again by its appearance after a shot cut or when it is lost"
    )
    detect_cuts: bool = option(True, "Detect shot cuts", "Find cuts in the clip (colour and motion tests) so no edit crosses one")
    temporal_reach: int = option(
        60,
        "Temporal reach (frames)",
        "How many frames before and after a frame removal and outpaint may copy hidden or new content from",
        minimum=1,
        maximum=10000,
    )
    tracker: str = tracker_field(
        "How edit masks follow the clip: SAM2's video predictor (sam2), optical flow (flow), "
        "or auto: SAM2 when its weights are found, else flow"
    )
    sam2_model: str = sam2_model_field()
    sam2_resolution: int = sam2_resolution_field()
    sam2_device: str = option(
        "auto",
        "SAM2 device",
        "Where the sam2 tracker runs: auto (the GPU when there is one), cpu, cuda or cuda:N",
        choices=("auto", "cpu", "cuda"),
        open_choices=True,
    )
    sam2_checkpoint: str | None = sam2_checkpoint_field()
    model_dirs: tuple[str, ...] = ()
    remove_backward: bool = True
    """Internal (ablation): also take background from later frames (the backward pass)."""
    remove_cover: bool = True
    """Internal (ablation): a removal region keeps its rigidly moved frame-1 footprint (soft shadows)."""
    remove_extras_apart: bool = True
    """Internal (ablation): a removal's painted extras (its shadow) follow the object's motion instead of being tracked with it."""
    remove_lift_unseen: bool = True
    """Internal (ablation): the moved shadow is lifted from each frame over hole pixels no frame shows bare."""
    remove_moving_check: bool = True
    """Internal (ablation): pixels near the hole that move unlike the background are never copied."""
    insert_reanchor: bool = True
    """Internal (ablation): the layer's homography is measured against frame 1 every frame (else chained)."""
    outpaint_seam: bool = True
    """Internal (ablation): the fill is blended into each frame in the gradient domain at the source area's border."""

    @classmethod
    def from_dict(cls, options: Mapping[str, Any] | None) -> ClassicOptions:
        opts = dict(options or {})
        if "model_dirs" in opts:
            opts["model_dirs"] = tuple(str(p) for p in opts["model_dirs"] or ())
        o = parse_options(cls, opts, "classic engine")
        if not _DEVICE.match(o.sam2_device):
            raise ValueError(f"classic engine option 'sam2_device' must be auto, cpu, cuda or cuda:N, got {o.sam2_device!r}")
        return o
