"""The "genprop-vace" engine's options: the one definition the engine, the GUI and the CLI share.

Light on purpose (no torch): the GUI's engine panel and ``propagate --help`` import it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.options import option, parse_options
from engine.pipelines.memory_modes import ALL_MODES

VACE_MODELS: tuple[str, ...] = ("auto", "1.3B", "14B")
"""``auto`` takes the first found of 14B, 1.3B (see ``engine.pipelines.vace_weights``)."""
REGION_CONTEXTS: tuple[str, ...] = ("auto", "classic", "grey")
"""What the context video shows inside the region VACE regenerates: ``classic`` = the classic
engine's result (the pasted / recoloured / warped content as a hint), ``grey`` = nothing
(VACE's inpainting convention), ``auto`` = grey for removals, classic for everything else."""
TEXT_ENCODER_PLACEMENTS: tuple[str, ...] = ("device", "cpu")
MASK_TRACKERS: tuple[str, ...] = ("flow", "sam2")
AUTO_PROMPT = "auto"
DEFAULT_PROMPTS: dict[str, str] = {
    "remove": "The same scene without the removed object: clean background, natural light and shadows, "
    "consistent texture and motion.",
    "insert": "The inserted object belongs in the scene: natural lighting, realistic shadows and reflections, "
    "consistent motion with the camera.",
    "replace": "The new object belongs in the scene: natural lighting, realistic shadows and reflections, "
    "consistent motion with the camera.",
    "recolour": "The recoloured object keeps its new colour in every frame, with natural lighting and shading.",
    "track": "The object keeps its new appearance in every frame, with natural lighting and shading.",
    "outpaint": "A wider view of the same scene, seamlessly extended beyond the original frame, consistent "
    "perspective and lighting.",
}
"""``prompt: auto`` -> the sentence for the edit's first operation (``engine.edit.EditKind`` values)."""
DEFAULT_NEGATIVE_PROMPT = (
    "blurry, distorted, flickering, low quality, artifacts, watermark, text, static, overexposed, "
    "deformed object, inconsistent lighting"
)
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class VaceOptions:
    """Options of the genprop-vace engine (the ``options`` dict, validated by :meth:`from_dict`).

    ``model_dirs`` (folders searched for weights besides the environment and the Hugging Face
    cache) is passed by the caller, as for the other generative engines.
    """

    vace: str | None = option(
        None,
        "Wan2.1-VACE weights",
        "Wan2.1-VACE weights: a diffusers folder or a hub id (offline: must be in the HF cache)",
        gui=False,
    )
    weights: str | None = option(
        None,
        "GenProp-Wan weights",
        "Trained GenProp heads for this Wan model (a folder from `main.py train` with backbone wan): the SCE reads "
        "the original clip and the MPD finds the edited region; no tracker, no prompt needed",
        gui=False,
    )
    injection_weight: float = option(
        1.0,
        "Injection weight",
        "With GenProp-Wan weights: how strongly the original clip is injected (0..1)",
        minimum=0.0,
        maximum=1.0,
    )
    model: str = option(
        "auto",
        "VACE model",
        "Which Wan2.1-VACE checkpoint to use when several are found (auto: 14B, then 1.3B)",
        choices=VACE_MODELS,
    )
    prompt: str = option(
        AUTO_PROMPT,
        "Prompt",
        "What the regenerated region should show; auto: a default sentence for the edit's task",
        choices=(AUTO_PROMPT,),
        open_choices=True,
    )
    negative_prompt: str = option(
        AUTO_PROMPT,
        "Negative prompt",
        "What to avoid (classifier-free guidance); auto: a short list of common video artefacts",
        choices=(AUTO_PROMPT,),
        open_choices=True,
        gui=False,
    )
    steps: int = option(30, "Denoising steps", "More steps: slower, usually cleaner", minimum=1, maximum=200)
    seed: int | None = option(0, "Seed", "The same seed gives the same result", minimum=0, maximum=2**31 - 1)
    guidance_scale: float = option(
        5.0, "Guidance scale", "Classifier-free guidance on the prompt; 1 turns it off (twice as fast)", minimum=0.0, maximum=30.0
    )
    conditioning_scale: float = option(
        1.0,
        "Context strength",
        "How strongly VACE follows the context video (its per-layer hint scale)",
        minimum=0.0,
        maximum=2.0,
    )
    margin: int = option(
        8,
        "Region margin (px)",
        "Pixels the tracked edit region is grown by before VACE regenerates it (shadows, reflections, tracking error)",
        minimum=0,
        maximum=200,
    )
    region_context: str = option(
        "auto",
        "Inside the region",
        "What VACE sees inside the region: the classic engine's result, grey, or auto (grey for removals)",
        choices=REGION_CONTEXTS,
    )
    keep_original: bool = option(
        True, "Keep original outside region", "Outside the (feathered) region keep the context pixels exactly"
    )
    feather: int = option(
        8, "Feather (px)", "Pixels by which the region is grown and softened for keep-original", minimum=0, maximum=200
    )
    long_side: int = option(
        832,
        "Model size (long side)",
        "The model works at this long side (px, multiple of 16; Wan2.1 is trained at 832x480); results come back at the clip's size",
        minimum=16,
        maximum=2048,
    )
    window: int | None = option(
        None, "Window", "Frames per model call, 4k+1 (default 81, Wan's own)", minimum=5, maximum=257, gui=False
    )
    overlap: int = option(
        5,
        "Window overlap",
        "Frames each window takes from the previous one as fixed context on long clips (4k+1 aligns with the VAE)",
        minimum=1,
        maximum=64,
    )
    colour_correction: bool = option(
        True, "Correct colour drift", "Match each window's colours to the previous window in the frames they share"
    )
    flow_shift: float | None = option(
        None,
        "Flow shift",
        "The scheduler's timestep shift (default: the checkpoint's own; Wan uses 3 at 480p, 5 at 720p)",
        minimum=0.1,
        maximum=20.0,
        gui=False,
    )
    device: str = option(
        "auto",
        "Device",
        "auto (the GPU when there is one), cpu, cuda or cuda:N",
        choices=("auto", "cpu", "cuda"),
        open_choices=True,
    )
    memory: str = option(
        "auto",
        "Memory mode",
        "Precision and offloading; auto picks by free GPU memory (docs/pipeline.md)",
        choices=ALL_MODES,
    )
    vae_tiling: bool = option(False, "VAE tiling", "Encode and decode in spatial tiles: much less memory, a little slower")
    text_encoder: str = option(
        "device",
        "Text encoder on",
        "Where umT5 runs: with the other models, or on the CPU (saves ~11 GB of GPU memory; prompts are cached)",
        choices=TEXT_ENCODER_PLACEMENTS,
    )
    mask_tracker: str = option(
        "flow",
        "Mask tracker",
        "How the edit region is tracked through the clip (the classic engine's tracker)",
        choices=MASK_TRACKERS,
        gui=False,
        cli=False,
    )
    sam2_checkpoint: str | None = None
    model_dirs: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, options: Mapping[str, Any] | None) -> VaceOptions:
        opts = dict(options or {})
        if "model_dirs" in opts:
            opts["model_dirs"] = tuple(str(p) for p in opts["model_dirs"] or ())
        o = parse_options(cls, opts, "genprop-vace engine")
        if not _DEVICE.match(o.device):
            raise ValueError(f"genprop-vace engine option 'device' must be auto, cpu, cuda or cuda:N, got {o.device!r}")
        if o.window is not None and o.window % 4 != 1:
            raise ValueError(
                f"genprop-vace engine option 'window' must be 4k+1 frames (Wan's VAE groups 4 frames after the first), "
                f"got {o.window}; try {o.window // 4 * 4 + 1}"
            )
        if not o.prompt.strip():
            raise ValueError("genprop-vace engine option 'prompt' is empty; give a sentence or 'auto'")
        return o
