"""What each engine's options are, for the engine panel: names, kinds, defaults, tips.

Kept apart from the engines so the GUI can show options (and disabled states) without
importing heavy model code; the engines still validate what they receive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OptionSpec:
    name: str
    label: str
    kind: str  # "int" | "float" | "choice" | "bool"
    default: Any
    tooltip: str
    choices: tuple[str, ...] = ()
    minimum: float = 0
    maximum: float = 1_000_000


ENGINE_OPTIONS: dict[str, tuple[OptionSpec, ...]] = {
    "classic": (
        OptionSpec(
            "flow_preset",
            "Flow quality",
            "choice",
            "medium",
            "Optical-flow preset: faster or more accurate tracking",
            ("ultrafast", "fast", "medium"),
        ),
        OptionSpec(
            "flow_max_side",
            "Flow resolution",
            "int",
            320,
            "Long side (px) at which motion is estimated; higher is slower and finer",
            minimum=64,
            maximum=1920,
        ),
        OptionSpec(
            "anchor_every",
            "Re-anchor every",
            "int",
            1,
            "Re-anchor tracking to frame 1 every N frames to limit drift (0 = never)",
            minimum=0,
            maximum=1000,
        ),
        OptionSpec(
            "remove_grow",
            "Removal margin",
            "int",
            3,
            "Pixels the tracked removal region is grown by (soft edges, tracking error)",
            minimum=0,
            maximum=50,
        ),
    ),
}


_GENPROP_COMMON = (
    OptionSpec("steps", "Denoising steps", "int", 25, "More steps: slower, usually cleaner", minimum=1, maximum=200),
    OptionSpec("seed", "Seed", "int", 0, "The same seed gives the same result", minimum=0, maximum=2**31 - 1),
    OptionSpec(
        "min_guidance",
        "Min guidance",
        "float",
        1.0,
        "SVD guidance at the first frame (rises linearly to max)",
        minimum=0.0,
        maximum=30.0,
    ),
    OptionSpec(
        "max_guidance", "Max guidance", "float", 3.0, "SVD guidance at the last frame of a window", minimum=0.0, maximum=30.0
    ),
    OptionSpec(
        "fps_id",
        "Frame-rate id",
        "int",
        7,
        "SVD's frame-rate conditioning (the demo model was trained with 8)",
        minimum=0,
        maximum=60,
    ),
    OptionSpec(
        "keep_original",
        "Keep original outside edit",
        "bool",
        True,
        "Outside the predicted edit mask (feathered) keep the source pixels exactly",
    ),
    OptionSpec("feather", "Feather (px)", "int", 8, "Soft edge between the edit and the kept original", minimum=0, maximum=200),
    OptionSpec(
        "long_side",
        "Model size (long side)",
        "int",
        512,
        "The model works at this size; results come back at the clip's size",
        minimum=64,
        maximum=2048,
    ),
    OptionSpec(
        "overlap",
        "Window overlap",
        "int",
        2,
        "Frames shared by consecutive windows on long clips (blended)",
        minimum=1,
        maximum=16,
    ),
    OptionSpec("device", "Device", "choice", "auto", "auto uses the GPU when there is one", ("auto", "cpu", "cuda")),
    OptionSpec(
        "memory",
        "Memory mode",
        "choice",
        "auto",
        "Precision and offloading; auto picks by free GPU memory",
        ("auto", "fp32", "bf16", "fp16", "offload", "sequential"),
    ),
)
ENGINE_OPTIONS["genprop"] = (
    OptionSpec(
        "injection_weight",
        "Injection weight",
        "float",
        1.0,
        "How strongly the original video is injected (SCE residual scale w, 0..1)",
        minimum=0.0,
        maximum=1.0,
    ),
    *_GENPROP_COMMON,
)
ENGINE_OPTIONS["genprop-training-free"] = (
    *_GENPROP_COMMON,
    OptionSpec(
        "mask_tracker",
        "Mask tracker",
        "choice",
        "flow",
        "How the edit mask is propagated: optical flow, or SAM2's video predictor (needs its weights)",
        ("flow", "sam2"),
    ),
)


def defaults(engine: str) -> dict[str, Any]:
    return {o.name: o.default for o in ENGINE_OPTIONS.get(engine, ())}


def validate(engine: str, options: dict[str, Any]) -> dict[str, Any]:
    """Keep known options with values of the right kind and range; drop the rest."""
    out = defaults(engine)
    for spec in ENGINE_OPTIONS.get(engine, ()):
        if spec.name not in options:
            continue
        value = options[spec.name]
        if spec.kind == "choice" and value in spec.choices:
            out[spec.name] = value
        elif spec.kind == "bool" and isinstance(value, bool):
            out[spec.name] = value
        elif spec.kind in ("int", "float") and isinstance(value, (int, float)) and not isinstance(value, bool):
            if spec.minimum <= value <= spec.maximum:
                out[spec.name] = int(value) if spec.kind == "int" else float(value)
    return out
