"""The built-in engines, registered lazily: their specs are light, their modules load on first use.

Importing this package must not import torch or diffusers (the app's first paint and
``--help`` depend on it; ``tests/test_architecture.py`` checks). ``AUTO_ORDER`` is the
preference of ``--engine auto``: the first available engine wins.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from engine.engines.base import EngineSpec, register_spec
from engine.engines.classic.options import ClassicOptions
from engine.engines.genprop_options import GenPropOptions
from engine.engines.vace_options import VaceOptions


def _genprop_available(model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
    from engine.pipelines.weights_locator import genprop_availability

    return genprop_availability(True, model_dirs)


def _choice_available(option: str, choice: str, model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
    from engine.engines.classic.tracker_choice import tracker_choice_availability

    return tracker_choice_availability(option, choice, model_dirs)


def _training_free_available(model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
    from engine.pipelines.weights_locator import genprop_availability

    return genprop_availability(False, model_dirs)


CLASSIC = register_spec(
    EngineSpec(
        name="classic",
        label="Classic (optical flow, CPU)",
        description=(
            "Traditional propagation: dense optical flow tracking, flow-guided fill for removal, "
            "homography-following for inserts and outpainting. Runs anywhere, needs no weights."
        ),
        module="engine.engines.classic.engine",
        class_name="ClassicEngine",
        options=ClassicOptions,
        choice_availability=_choice_available,
    )
)
GENPROP = register_spec(
    EngineSpec(
        name="genprop",
        label="GenProp (SVD + SCE + MPD)",
        description=(
            "Generative propagation: Stable Video Diffusion conditioned on the edited first frame, with the "
            "Selective Content Encoder reading the original clip and the Mask Prediction Decoder's edit mask. "
            "Needs SVD and GenProp weights; a GPU is strongly recommended."
        ),
        module="engine.engines.genprop_engine",
        class_name="GenPropEngine",
        options=GenPropOptions,
        hidden_options=("mask_tracker", "sam2_model", "sam2_resolution", "sam2_checkpoint"),
        availability=_genprop_available,
    )
)
GENPROP_TRAINING_FREE = register_spec(
    EngineSpec(
        name="genprop-training-free",
        label="GenProp, training-free (SVD only)",
        description=(
            "For when only the public SVD weights exist: SVD generates inside the tracked edit mask while the "
            "original clip's noised latents are kept outside it at every step. No SCE, no MPD."
        ),
        module="engine.engines.genprop_engine",
        class_name="GenPropTrainingFreeEngine",
        options=GenPropOptions,
        hidden_options=("injection_weight", "weights"),
        availability=_training_free_available,
        choice_availability=_choice_available,
    )
)


def _vace_available(model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
    from engine.pipelines.vace_weights import vace_availability

    return vace_availability(model_dirs)


GENPROP_VACE = register_spec(
    EngineSpec(
        name="genprop-vace",
        label="GenProp VACE (Wan2.1-VACE, public weights)",
        description=(
            "Generative propagation with public weights: the classic engine tracks the edit, then Wan2.1-VACE "
            "regenerates the tracked region (grown by a margin) in every frame, continuing the edited first frame; "
            "inserted objects get lighting, shadows and motion, removals their background. Needs Wan2.1-VACE-1.3B "
            "or -14B (diffusers format); a GPU is strongly recommended."
        ),
        module="engine.engines.vace_engine",
        class_name="VaceEngine",
        options=VaceOptions,
        availability=_vace_available,
    )
)

#: ``--engine auto`` and the GUI's fallback take the first available of these.
AUTO_ORDER: tuple[str, ...] = ("genprop", "genprop-vace", "classic")

__all__ = ["AUTO_ORDER", "CLASSIC", "GENPROP", "GENPROP_TRAINING_FREE", "GENPROP_VACE"]
