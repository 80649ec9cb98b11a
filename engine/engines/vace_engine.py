"""The "genprop-vace" engine: Wan2.1-VACE (public weights, no training) regenerating the tracked edit region.

1. The classic engine propagates the edit (its tracker, its composite): per-frame edit masks
   and, for insert / replace / recolour / outpaint, a first result.
2. The region VACE regenerates = each operation's tracked mask grown by ``margin`` px (so a
   removal also regenerates the shadows and reflections around what the user painted); the
   outpaint op's mask is the new canvas. Frame 1 has no region: it is kept as edited.
3. The context video = the classic result with frame 1 = the edit; inside the region it shows
   the classic result (a hint: the pasted object's position, the new colour) or grey (removal;
   VACE's inpainting convention), see ``region_context``.
4. Windows of 4k+1 frames, each continuing the previous one's output; colours matched between
   windows; keep-original outside the feathered region at the canvas size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch

from engine.edit import EditKind, FirstFrameEdit
from engine.engines.base import (
    CancelToken,
    Engine,
    EngineUnavailableError,
    Progress,
    ProgressCallback,
    PropagationResult,
    StageTimer,
    get_engine,
)
from engine.engines.canvas_frames import InModelSpace, SourceOnCanvas
from engine.engines.genprop_engine import resolve_device
from engine.engines.vace_options import AUTO_PROMPT, DEFAULT_NEGATIVE_PROMPT, DEFAULT_PROMPTS, VaceOptions
from engine.genprop.weights import MissingWeightsError
from engine.pipelines.compositing import feather_mask, keep_original
from engine.pipelines.genprop_pipeline import StepReport
from engine.pipelines.memory import MemoryPlan, choose_plan, run_with_oom_retry
from engine.pipelines.vace_pipeline import DEFAULT_WINDOW, VacePropagationPipeline
from engine.pipelines.vace_weights import locate_vace, vace_availability, vace_missing_message
from engine.pipelines.vace_windows import plan_vace_windows
from engine.video.model_space import ModelSpace
from engine.video.source import FrameSource

log = logging.getLogger(__name__)

GREY = 128
MODEL_MULTIPLE = 16
"""Wan's VAE downsamples 8x and the transformer patches 2x2 tokens."""


def wan_precision(plan: MemoryPlan, mode: str) -> MemoryPlan:
    """Wan runs in bf16: half precision means bf16 unless the user asked for ``fp16`` itself."""
    return replace(plan, dtype=torch.bfloat16) if plan.dtype == torch.float16 and mode != "fp16" else plan


def vace_memory_plan(mode: str, device: torch.device) -> MemoryPlan:
    """The shared memory modes, with Wan's precision: ``auto`` and the offload modes use bf16, not fp16."""
    return wan_precision(choose_plan(mode, device), mode)


def grow(mask: np.ndarray, margin: int) -> np.ndarray:
    """Binary ``[H, W]`` uint8 mask grown by ``margin`` px (elliptic kernel)."""
    binary = np.where(mask > 127, 255, 0).astype(np.uint8)
    if margin <= 0 or not binary.any():
        return binary
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    return cv2.dilate(binary, kernel)


def default_prompt(edit: FirstFrameEdit) -> str:
    kind = edit.operations[0].kind if edit.operations else EditKind.INSERT
    return DEFAULT_PROMPTS[kind.value]


class _FirstFrameContext:
    """G's image-to-video context for GenProp-Wan: the edited frame 1 (and the user's edited keyframes),
    grey frames elsewhere (regenerated)."""

    def __init__(self, first: np.ndarray, n: int, known: dict[int, np.ndarray] | None = None) -> None:
        self.first, self.n, self.known = first, n, known or {}
        self.grey = np.full_like(first, GREY)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> np.ndarray:
        return self.first if index == 0 else self.known.get(index, self.grey)


class VaceEngine(Engine):
    """Wan2.1-VACE behind the Engine interface; spec (label, options) in ``engine.engines``."""

    name = "genprop-vace"
    #: Mask corrections reach VACE through the classic tracking; an edited keyframe is a known frame of the
    #: context (kept as the user made it, VACE continues it), like frame 1 (with GenProp-Wan weights too).
    follows_keyframes = True
    load_options: ClassVar[tuple[str, ...]] = ("vace", "model", "weights", "model_dirs", "memory", "device")

    def __init__(self, pipeline: VacePropagationPipeline | None = None) -> None:
        self._pipeline = pipeline
        self._loaded_key: tuple[Any, ...] | None = None

    @classmethod
    def availability(cls, model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
        return vace_availability(model_dirs)

    # ---------------------------------------------------------------- loading
    def _load(self, opts: VaceOptions, plan: MemoryPlan, device: torch.device) -> VacePropagationPipeline:
        if self._pipeline is not None and self._loaded_key is None:
            pipe = self._pipeline  # injected by the caller (tests, an app that already loaded it)
            if opts.weights is not None:
                raise ValueError(
                    "the 'weights' option loads GenProp-Wan heads with the Wan model; for a pipeline passed in, "
                    "attach them with pipeline.set_heads(WanGenPropHeads.from_pretrained(folder))"
                )
        else:
            located = locate_vace(opts.vace, opts.model_dirs, model=opts.model)
            if not located.loadable:
                raise MissingWeightsError(vace_missing_message(located))
            source = str(located.path or located.hub_id)
            key = (source, plan.dtype, opts.weights)
            if self._pipeline is None or self._loaded_key != key:
                self._pipeline = None  # free the old one before loading another
                self._pipeline = VacePropagationPipeline.from_pretrained(
                    source, torch_dtype=plan.dtype, genprop_weights=opts.weights
                )
                self._loaded_key = key
            pipe = self._pipeline
        pipe.set_flow_shift(opts.flow_shift)
        pipe.apply_memory_plan(plan, device, vae_tiling=opts.vae_tiling, text_encoder_on=opts.text_encoder)
        return pipe

    # ---------------------------------------------------------------- run
    def propagate(
        self,
        clip: FrameSource,
        edit: FirstFrameEdit,
        options: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PropagationResult:
        opts = VaceOptions.from_dict(options)
        cancel = cancel or CancelToken()
        timer = StageTimer()
        n = len(clip)
        if n < 2:
            raise ValueError(f"the clip has {n} frame(s); propagation needs at least 2")
        w, h = clip.size
        if edit.original_frame.shape[:2] != (h, w):
            raise ValueError(
                f"the edit was made on a {edit.original_frame.shape[1]}x{edit.original_frame.shape[0]} frame, "
                f"but the clip is {w}x{h}"
            )
        if not edit.operations:
            raise ValueError("the edit has no operations: there is nothing to propagate")
        if opts.weights is not None and not Path(opts.weights).is_dir():
            raise MissingWeightsError(f"GenProp-Wan weights folder {opts.weights} does not exist")
        device = resolve_device(opts.device)
        plan = vace_memory_plan(opts.memory, device)
        window = opts.window or DEFAULT_WINDOW
        overlap = min(opts.overlap, window - 1)
        num_windows = len(plan_vace_windows(n, window, overlap))

        def report(p: Progress) -> None:
            if progress is not None:
                progress(p)

        cancel.raise_if_cancelled()
        with timer.stage("load"):
            pipe = self._load(opts, plan, device)
        genprop = pipe.heads is not None
        track_units = 0 if genprop else n
        total = track_units + num_windows * (opts.steps + 1) + 1
        cw, ch = edit.canvas_size
        originals = None
        known: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}  # frame -> (the user's edited keyframe, its mask)
        if genprop:  # GenProp-Wan: G continues the edited frame 1, the SCE reads the original clip, the MPD finds the edit
            originals = SourceOnCanvas(clip, edit)
            regions = np.full((n, ch, cw), 255, np.uint8)
            regions[0] = 0
            keyed = {k.frame: k.edited_frame for k in edit.keyframes if k.edited_frame is not None}
            for k in keyed:  # a known frame, like frame 1; its mask is the MPD's
                regions[k] = 0
                known[k] = (keyed[k], None)
            context: Sequence[np.ndarray] = _FirstFrameContext(edit.edited_frame, n, keyed)
        else:
            with timer.stage("track"):
                classic = self._classic(clip, edit, opts, n, cancel, report, total)
            regions, greys = self._regions(edit, classic, opts)
            context = self._context(edit, classic.frames, greys)
            for k in edit.keyframes:
                if k.edited_frame is not None:  # a known frame, like frame 1: nothing regenerated there
                    context[k.frame], regions[k.frame] = k.edited_frame, 0
                    known[k.frame] = (k.edited_frame, classic.masks[k.frame])
        long_side = max(MODEL_MULTIPLE, opts.long_side // MODEL_MULTIPLE * MODEL_MULTIPLE)
        space = ModelSpace.fit((cw, ch), long_side=long_side, multiple=MODEL_MULTIPLE)

        out_frames = np.empty((n, ch, cw, 3), np.uint8)
        out_masks = np.empty((n, ch, cw), np.uint8)

        def sink(index: int, frame: np.ndarray, mpd: np.ndarray | None) -> None:
            if index == 0:  # frame 1 is kept exactly as edited; its mask is the edit's
                out_frames[0] = edit.edited_frame
                out_masks[0] = np.where(edit.edit_mask > 127, 255, 0).astype(np.uint8)
                return
            region = regions[index]
            if mpd is not None:  # GenProp-Wan: the MPD's edit region
                region = np.where(np.clip(space.from_model(mpd.astype(np.float32)), 0, 1) >= 0.5, 255, 0).astype(np.uint8)
            if index in known:  # an edited keyframe is kept exactly as the user made it
                frame, mask = known[index]
                out_frames[index], out_masks[index] = frame, region if mask is None else mask
                return
            frame = space.from_model(frame)
            if opts.keep_original:
                base = originals[index] if originals is not None else context[index]
                frame = keep_original(base, frame, feather_mask(region, opts.feather))
            out_frames[index] = frame
            out_masks[index] = region

        def on_step(r: StepReport) -> None:
            cancel.raise_if_cancelled()
            report(
                Progress(
                    "denoising" if r.stage == "denoising" else "decoding",
                    track_units + r.done,
                    total,
                    f"window {r.window + 1}/{r.num_windows}, step {r.step}/{r.num_steps}",
                    window=r.window,
                    num_windows=r.num_windows,
                    step=r.step,
                    num_steps=r.num_steps,
                )
            )

        prompt = default_prompt(edit) if opts.prompt == AUTO_PROMPT else opts.prompt
        negative = DEFAULT_NEGATIVE_PROMPT if opts.negative_prompt == AUTO_PROMPT else opts.negative_prompt

        def job(current: MemoryPlan) -> Any:
            if current is not plan:
                current = wan_precision(current, opts.memory)  # the OOM retry's leaner plan, in bf16 for Wan
                pipe.apply_memory_plan(current, device, vae_tiling=opts.vae_tiling, text_encoder_on=opts.text_encoder)
            generator = torch.Generator("cpu")
            generator.manual_seed(opts.seed) if opts.seed is not None else generator.seed()
            return pipe(
                InModelSpace(context, space),
                InModelSpace(regions, space, mask=True),
                originals=None if originals is None else InModelSpace(originals, space),
                task=edit.task,
                injection_weight=opts.injection_weight,
                prompt=prompt,
                negative_prompt=negative,
                num_inference_steps=opts.steps,
                guidance_scale=opts.guidance_scale,
                conditioning_scale=opts.conditioning_scale,
                window_size=window,
                overlap=overlap,
                colour_correction=opts.colour_correction,
                generator=generator,
                callback=on_step,
                interrupt=cancel.raise_if_cancelled,
                frame_sink=sink,
            )

        report(
            Progress("denoising", track_units, total, "starting", window=0, num_windows=num_windows, step=0, num_steps=opts.steps)
        )
        with timer.stage("generate"):
            out = run_with_oom_retry(job, plan, device)
        report(
            Progress(
                "done",
                total,
                total,
                "done",
                window=num_windows - 1,
                num_windows=num_windows,
                step=opts.steps,
                num_steps=opts.steps,
            )
        )
        warnings: list[str] = []
        if device.type == "cpu":
            warnings.append("Wan2.1-VACE ran on the CPU: a real checkpoint takes many minutes per denoising step")
        drift = [None if c is None else round(c.drift_before, 2) for c in out.colour]
        if genprop:
            message = f"GenProp-Wan (SCE + MPD on Wan2.1-VACE) ran in {len(out.windows)} window(s); the edit region is the MPD's."
        else:
            message = (
                f"Wan2.1-VACE regenerated the edit region (tracked by the classic engine's {opts.mask_tracker} tracker, "
                f"grown by {opts.margin} px) in {len(out.windows)} window(s); frame 1 kept as edited."
            )
        log.info(message)
        return PropagationResult(
            frames=out_frames,
            masks=out_masks,
            fps=clip.fps,
            engine=self.name,
            mode="genprop-wan" if genprop else "vace",
            extras={
                "message": message,
                "warnings": warnings,
                "memory": plan.describe(),
                "model_size": space.model_size,
                "windows": [(wi.start, wi.stop) for wi in out.windows],
                "colour_drift": drift,
                "prompt": prompt,
                "negative_prompt": negative,
                "mask_source": "mpd" if genprop else f"the classic engine's {opts.mask_tracker} tracker",
                "pipeline_timings": dict(out.timings),
            },
            timings=timer.timings,
        )

    # ---------------------------------------------------------------- steps 1-3
    def _classic(
        self,
        clip: FrameSource,
        edit: FirstFrameEdit,
        opts: VaceOptions,
        n: int,
        cancel: CancelToken,
        report: ProgressCallback,
        total: int,
    ) -> PropagationResult:
        """The classic engine's propagation (as ``genprop_engine`` tracks masks): masks and a first result."""
        try:
            classic = get_engine("classic")
        except KeyError:
            raise EngineUnavailableError(
                "the genprop-vace engine needs the 'classic' engine's tracker, which is not installed"
            ) from None
        classic_opts: dict[str, Any] = {"tracker": opts.mask_tracker}
        if opts.mask_tracker == "sam2":
            classic_opts["sam2_checkpoint"] = opts.sam2_checkpoint

        def sub(p: Progress) -> None:
            report(Progress("tracking", int(p.fraction * n), total, f"tracking the edit: {p.message}"))

        return classic().propagate(clip, edit, classic_opts, sub, cancel)

    @staticmethod
    def _regions(edit: FirstFrameEdit, classic: PropagationResult, opts: VaceOptions) -> tuple[np.ndarray, np.ndarray]:
        """Per frame: the region to regenerate (grown) and the part of it shown grey in the context."""
        op_masks = classic.extras.get("operation_masks") or [classic.masks]
        kinds = [op.kind for op in edit.operations] if len(op_masks) == len(edit.operations) else [None] * len(op_masks)
        n = len(classic.masks)
        regions = np.zeros(classic.masks.shape, np.uint8)
        greys = np.zeros(classic.masks.shape, np.uint8)
        for t in range(1, n):
            for kind, masks in zip(kinds, op_masks, strict=True):
                grown = grow(masks[t], opts.margin if kind != EditKind.OUTPAINT else 0)
                regions[t] = np.maximum(regions[t], grown)
                if opts.region_context == "grey" or (opts.region_context == "auto" and kind == EditKind.REMOVE):
                    greys[t] = np.maximum(greys[t], grown)
        return regions, greys

    @staticmethod
    def _context(edit: FirstFrameEdit, frames: np.ndarray, greys: np.ndarray) -> np.ndarray:
        """The classic result with frame 1 = the edit and grey where nothing should be hinted."""
        context = frames.copy()
        context[0] = edit.edited_frame
        context[greys > 0] = GREY
        return context


__all__ = ["VaceEngine", "VaceOptions", "vace_memory_plan"]
