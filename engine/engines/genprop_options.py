"""The GenProp engines' options: the one definition the engines, the GUI and the CLI share.

Light on purpose (no torch): the GUI's engine panel and ``propagate --help`` import it.
"""

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
from engine.pipelines.mask_readout import DEFAULT_MASK_SIGMA
from engine.pipelines.memory_modes import ALL_MODES

MASK_TRACKERS: tuple[str, ...] = TRACKER_CHOICES
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class GenPropOptions:
    """Options of the GenProp engines (the ``options`` dict, validated by :meth:`from_dict`).

    ``model_dirs`` (folders to search for weights besides the environment and the Hugging
    Face cache) is passed by the caller: the app gives its models folders, the CLI the
    user's models folder. ``attention_query`` (an ``[H, W]`` mask on the edited canvas)
    asks the engine to record G's attention for that region (one window).
    """

    svd: str | None = option(
        None, "SVD weights", "SVD weights: a diffusers folder or a hub id (offline: must be in the HF cache)", gui=False
    )
    weights: str | None = option(
        None, "GenProp weights", "GenProp weights folder (config.json + diffusion_pytorch_model.safetensors)", gui=False
    )
    steps: int = option(25, "Denoising steps", "More steps: slower, usually cleaner", minimum=1, maximum=200)
    seed: int | None = option(0, "Seed", "The same seed gives the same result", minimum=0, maximum=2**31 - 1)
    min_guidance: float = option(
        1.0, "Min guidance", "SVD guidance at a window's first frame (rises linearly to max)", minimum=0.0, maximum=30.0
    )
    max_guidance: float = option(
        3.0, "Max guidance", "SVD guidance at a window's last frame; 1 turns guidance off", minimum=0.0, maximum=30.0
    )
    fps_id: int = option(
        7, "Frame-rate id", "SVD's frame-rate conditioning (the demo model was trained with 8)", minimum=0, maximum=60
    )
    injection_weight: float = option(
        1.0,
        "Injection weight",
        "How strongly the original video is injected (the SCE residual scale w, 0..1)",
        minimum=0.0,
        maximum=1.0,
    )
    keep_original: bool = option(
        True, "Keep original outside edit", "Outside the (feathered) edit mask keep the source pixels exactly"
    )
    feather: int = option(
        8, "Feather (px)", "Pixels by which the edit mask is grown and softened for keep-original", minimum=0, maximum=200
    )
    long_side: int = option(
        512,
        "Model size (long side)",
        "The model works at this long side (px); results come back at the clip's size",
        minimum=16,
        maximum=2048,
    )
    window: int | None = option(
        None, "Window", "Frames per model call (default: the model's own, 14 or 25)", minimum=2, maximum=256, gui=False
    )
    overlap: int = option(
        2, "Window overlap", "Frames shared by consecutive windows on long clips (blended)", minimum=1, maximum=16
    )
    device: str = option(
        "auto",
        "Device",
        "auto (the GPU when there is one), cpu, cuda or cuda:N",
        choices=("auto", "cpu", "cuda"),
        open_choices=True,
    )
    memory: str = option(
        "auto", "Memory mode", "Precision and offloading; auto picks by free GPU memory (docs/pipeline.md)", choices=ALL_MODES
    )
    mask_sigma: float | None = option(
        DEFAULT_MASK_SIGMA,
        "MPD read-out noise level",
        "The Mask Prediction Decoder's edit mask is read at the denoising step whose noise level (sigma) is nearest "
        "this; empty: the last step. Training covers sigma ~1 best (docs/training.md)",
        minimum=1e-4,
        maximum=1000.0,
        gui=False,
    )
    mask_tracker: str = tracker_field(
        "How the training-free mode propagates the edit mask (the region SVD generates in, and keep-original's mask): "
        "SAM2's video predictor (sam2), optical flow (flow), or auto: SAM2 when its weights are found"
    )
    sam2_model: str = sam2_model_field()
    sam2_resolution: int = sam2_resolution_field()
    sam2_checkpoint: str | None = sam2_checkpoint_field()
    motion_bucket_id: int = 127
    noise_aug_strength: float = 0.02
    model_dirs: tuple[str, ...] = ()
    attention_query: Any = None

    @classmethod
    def from_dict(cls, options: Mapping[str, Any] | None) -> GenPropOptions:
        opts = dict(options or {})
        if "model_dirs" in opts:
            opts["model_dirs"] = tuple(str(p) for p in opts["model_dirs"] or ())
        o = parse_options(cls, opts, "genprop engine")
        if not _DEVICE.match(o.device):
            raise ValueError(f"genprop engine option 'device' must be auto, cpu, cuda or cuda:N, got {o.device!r}")
        return o
