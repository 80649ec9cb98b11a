"""The "genprop" and "genprop-training-free" engines: GenPropPipeline behind the Engine interface.

They map a ``FrameSource`` + ``FirstFrameEdit`` into model space (``ModelSpace``), run
the pipeline window by window with progress and cancellation between denoising steps,
and map every frame back to the source's size and frame rate. Keep-original
compositing happens at source size, so pixels outside the feathered edit mask are the
source's own bytes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import cv2
import numpy as np
import torch

from engine.edit import FirstFrameEdit
from engine.engines.base import (
    CancelToken,
    Engine,
    EngineUnavailableError,
    Progress,
    ProgressCallback,
    PropagationResult,
    StageTimer,
    get_engine,
    register_engine,
)
from engine.engines.genprop_attention import collect, record_attention
from engine.genprop.weights import MissingWeightsError
from engine.pipelines.compositing import feather_mask, keep_original
from engine.pipelines.genprop_pipeline import MODE_GENPROP, MODE_TRAINING_FREE, GenPropPipeline, StepReport
from engine.pipelines.memory import ALL_MODES, MemoryPlan, choose_plan, run_with_oom_retry
from engine.pipelines.weights_locator import DEMO_MODEL_DIR, Located, demo_model_enabled, locate_genprop, locate_svd
from engine.pipelines.windows import plan_windows
from engine.tasks import Task
from engine.video.model_space import ModelSpace
from engine.video.source import FrameSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenPropOptions:
    """Options of the GenProp engines (the ``options`` dict, validated).

    svd / weights: SVD folder or hub id / GenProp heads folder (default: searched, see
        ``engine.pipelines.weights_locator``).
    model_dirs: extra folders to search (the app's models folder).
    steps, seed: denoising steps; seed for reproducible runs (``None`` = random).
    device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``.  memory: a memory mode (``auto`` ...).
    long_side: the model-space long side in pixels (512 by default; SVD's own is 1024).
    window, overlap: frames per model call (default the U-Net's ``num_frames``) and shared frames.
    keep_original, feather: keep source pixels outside the feathered edit mask exactly.
    injection_weight: the SCE's w in [0, 1].  min_guidance / max_guidance: SVD's per-frame guidance.
    fps_id, motion_bucket_id, noise_aug_strength: SVD's conditioning values.
    mask_tracker, sam2_checkpoint: how the training-free mode propagates the edit mask
        (the classic engine's ``flow`` tracker, or ``sam2`` with a checkpoint).
    """

    svd: str | None = None
    weights: str | None = None
    model_dirs: tuple[str, ...] = ()
    steps: int = 25
    seed: int | None = 0
    device: str = "auto"
    memory: str = "auto"
    long_side: int = 512
    window: int | None = None
    overlap: int = 2
    keep_original: bool = True
    feather: int = 8
    injection_weight: float = 1.0
    min_guidance: float = 1.0
    max_guidance: float = 3.0
    fps_id: int = 7
    motion_bucket_id: int = 127
    noise_aug_strength: float = 0.02
    mask_tracker: str = "flow"
    sam2_checkpoint: str | None = None
    #: ``[H, W]`` mask on the edited canvas: record G's attention for this region (one window).
    attention_query: Any = None

    @classmethod
    def from_dict(cls, options: dict[str, Any] | None) -> GenPropOptions:
        opts = {k: v for k, v in dict(options or {}).items() if v is not None or k in ("seed",)}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(opts) - known)
        if unknown:
            raise ValueError(f"unknown genprop engine option(s) {unknown}; known: {sorted(known)}")
        if "model_dirs" in opts:
            opts["model_dirs"] = tuple(str(p) for p in opts["model_dirs"])
        o = cls(**opts)
        if not isinstance(o.steps, int) or o.steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {o.steps!r}")
        if o.memory not in ALL_MODES:
            raise ValueError(f"memory must be one of {', '.join(ALL_MODES)}, got {o.memory!r}")
        if o.long_side < 8:
            raise ValueError(f"long_side must be >= 8 pixels, got {o.long_side}")
        if o.window is not None and o.window < 2:
            raise ValueError(f"window must be >= 2 frames, got {o.window}")
        if o.overlap < 1:
            raise ValueError(f"overlap must be >= 1 frame, got {o.overlap}")
        if not 0.0 <= o.injection_weight <= 1.0:
            raise ValueError(f"injection_weight must be in [0, 1], got {o.injection_weight}")
        if o.feather < 0:
            raise ValueError(f"feather must be >= 0 pixels, got {o.feather}")
        if o.mask_tracker not in ("flow", "sam2"):
            raise ValueError(f"mask_tracker must be 'flow' or 'sam2', got {o.mask_tracker!r}")
        resolve_device(o.device)
        return o


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but no CUDA GPU is available here; use --device cpu")
    return device


class _Canvas:
    """Source frames placed on the edited canvas (bigger after an outpaint; edges replicated)."""

    def __init__(self, clip: FrameSource, edit: FirstFrameEdit) -> None:
        self.clip = clip
        w, h = clip.size
        cw, ch = edit.canvas_size
        x, y = edit.canvas_offset
        self.pad = (y, ch - h - y, x, cw - w - x)  # top, bottom, left, right
        if min(self.pad) < 0:
            raise ValueError(f"edited canvas {cw}x{ch} at offset {edit.canvas_offset} does not contain the {w}x{h} clip")

    def __len__(self) -> int:
        return len(self.clip)

    def __getitem__(self, index: int) -> np.ndarray:
        frame = self.clip[index]
        if not any(self.pad):
            return frame
        return cv2.copyMakeBorder(frame, *self.pad, cv2.BORDER_REPLICATE)


class _InModelSpace:
    """A lazy view of a clip mapped to model space (read one window at a time)."""

    def __init__(self, frames: _Canvas, space: ModelSpace) -> None:
        self.frames, self.space = frames, space

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.space.to_model(self.frames[index])


class _GenPropEngineBase(Engine):
    """Shared by both modes: option parsing, weights, pipeline cache, mapping, progress."""

    #: Folders to search besides env vars and the hub cache; the app sets its models folder here.
    model_dirs: ClassVar[list[str]] = []
    requires_genprop: ClassVar[bool] = True

    def __init__(self, pipeline: GenPropPipeline | None = None) -> None:
        self._pipeline = pipeline
        self._loaded_key: tuple[Any, ...] | None = None

    @classmethod
    def set_model_dirs(cls, folders: Sequence[str | os.PathLike[str]]) -> None:
        _GenPropEngineBase.model_dirs = [str(f) for f in folders]

    @classmethod
    def locate(
        cls, svd: str | None = None, weights: str | None = None, extra_dirs: Sequence[str] = ()
    ) -> tuple[Located, Located]:
        dirs = [*extra_dirs, *cls.model_dirs]
        if demo_model_enabled():
            dirs.append(str(DEMO_MODEL_DIR))
        svd_loc = locate_svd(svd, dirs)
        return svd_loc, locate_genprop(weights, dirs, svd_folder=svd_loc.path)

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        svd_loc, gp_loc = cls.locate()
        problems = []
        if not svd_loc.loadable:
            problems.append(svd_loc.missing_message())
        if cls.requires_genprop and not gp_loc.found:
            problems.append(gp_loc.missing_message() + " Without them, use the 'genprop-training-free' engine.")
        return (not problems), " ".join(problems)

    # ---------------------------------------------------------------- loading
    def _load(self, opts: GenPropOptions, plan: MemoryPlan, device: torch.device) -> GenPropPipeline:
        if self._pipeline is not None and self._loaded_key is None:
            pipe = self._pipeline  # injected by the caller (tests, an app that already loaded it)
        else:
            svd_loc, gp_loc = self.locate(opts.svd, opts.weights, opts.model_dirs)
            if not svd_loc.loadable:
                raise MissingWeightsError(svd_loc.missing_message())
            genprop = None
            if self.requires_genprop:
                if not gp_loc.found:
                    raise MissingWeightsError(gp_loc.missing_message())
                genprop = gp_loc.path
            source = svd_loc.path or svd_loc.hub_id
            key = (str(source), str(genprop))
            if self._pipeline is None or self._loaded_key != key:
                self._pipeline = GenPropPipeline.from_pretrained(source, genprop, torch_dtype=plan.dtype)  # type: ignore[arg-type]
                self._loaded_key = key
            pipe = self._pipeline
        pipe.apply_memory_plan(plan, device)
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
        opts = GenPropOptions.from_dict(options)
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
        device = resolve_device(opts.device)
        plan = choose_plan(opts.memory, device)
        cancel.raise_if_cancelled()
        with timer.stage("load"):
            pipe = self._load(opts, plan, device)
        training_free = pipe.heads is None or not self.requires_genprop
        mode = MODE_TRAINING_FREE if training_free else MODE_GENPROP
        canvas = _Canvas(clip, edit)
        cw, ch = edit.canvas_size
        multiple = pipe.vae_scale_factor * 2 ** (len(pipe.unet.config.down_block_types) - 1)
        long_side = max(multiple, opts.long_side // multiple * multiple)
        space = ModelSpace.fit((cw, ch), long_side=long_side, multiple=multiple)
        window = opts.window or int(pipe.unet.config.num_frames)
        overlap = min(opts.overlap, window - 1)
        num_windows = len(plan_windows(n, window, overlap))
        track_units = n if training_free else 0
        total = track_units + num_windows * (opts.steps + 1) + 1

        def report(p: Progress) -> None:
            if progress is not None:
                progress(p)

        # Training-free: the edit mask propagated through the clip by the classic tracker.
        region_masks = None
        mask_source = ""
        if training_free:
            with timer.stage("track"):
                region_masks, mask_source = self._track_masks(clip, edit, opts, n, cancel, report, total)
        region_model = None
        if region_masks is not None:
            region_model = np.stack([space.to_model(m, mask=True) for m in region_masks])

        out_frames = np.empty((n, ch, cw, 3), np.uint8)
        out_masks = np.empty((n, ch, cw), np.uint8)
        keep_masks = region_masks if training_free else None

        def sink(index: int, frame: np.ndarray, mask: np.ndarray) -> None:
            frame = space.from_model(frame)
            soft = np.clip(space.from_model(mask.astype(np.float32)), 0.0, 1.0)
            if keep_masks is not None:
                soft = keep_masks[index].astype(np.float32) / 255.0
            if opts.keep_original:
                frame = keep_original(canvas[index], frame, feather_mask(soft, opts.feather))
            out_frames[index] = frame
            out_masks[index] = np.where(soft >= 0.5, 255, 0).astype(np.uint8)

        def on_step(r: StepReport) -> None:
            cancel.raise_if_cancelled()
            stage = "denoising" if r.stage == "denoising" else "decoding"
            report(
                Progress(
                    stage,
                    track_units + r.done,
                    total,
                    f"window {r.window + 1}/{r.num_windows}, step {r.step}/{r.num_steps}",
                    window=r.window,
                    num_windows=r.num_windows,
                    step=r.step,
                    num_steps=r.num_steps,
                )
            )

        edited_model = space.to_model(edit.edited_frame)
        video_model = _InModelSpace(canvas, space)

        attention_maps: dict | None = None
        if opts.attention_query is not None:
            query = np.asarray(opts.attention_query)
            if query.shape != (ch, cw) or not query.any():
                raise ValueError(f"attention_query must be a non-empty [{ch}, {cw}] mask on the edited canvas, got {query.shape}")
            if num_windows != 1:
                raise ValueError(f"attention maps are recorded for one window: pass at most {window} frames, got {n}")

        def job(current: MemoryPlan) -> Any:
            nonlocal attention_maps
            if current is not plan:
                pipe.apply_memory_plan(current, device)
            if opts.attention_query is not None:
                query_model = space.to_model((np.asarray(opts.attention_query) > 0).astype(np.uint8) * 255, mask=True)
                latent = (space.model_height // pipe.vae_scale_factor, space.model_width // pipe.vae_scale_factor)
                with record_attention(pipe.unet, query_model, n, latent) as maps:
                    out = run_pipe(current)
                attention_maps = dict(maps)
                return out
            return run_pipe(current)

        def run_pipe(current: MemoryPlan) -> Any:
            generator = torch.Generator("cpu")
            generator.manual_seed(opts.seed) if opts.seed is not None else generator.seed()
            return pipe(
                video_model,
                edited_model,
                region_masks=region_model,
                num_inference_steps=opts.steps,
                window_size=window,
                overlap=overlap,
                min_guidance_scale=opts.min_guidance,
                max_guidance_scale=opts.max_guidance,
                fps=opts.fps_id,
                motion_bucket_id=opts.motion_bucket_id,
                noise_aug_strength=opts.noise_aug_strength,
                injection_weight=opts.injection_weight,
                # the edit's own task embedding (removal -> mask_and_fill, ...), as trained
                task=edit.task if not training_free else Task.NONE,
                decode_chunk_size=current.decode_chunk_size,
                generator=generator,
                callback=on_step,
                frame_sink=sink,
                use_heads=not training_free,
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
        message = (
            "GenProp (SCE + MPD) ran."
            if not training_free
            else f"Training-free mode ran (no GenProp weights): SVD with the original clip's latents kept "
            f"outside the edit mask tracked by {mask_source}; SCE off, no MPD."
        )
        log.info(message)
        return PropagationResult(
            frames=out_frames,
            masks=out_masks,
            fps=clip.fps,
            engine=self.name,
            mode=mode,
            extras={
                "message": message,
                "memory": plan.describe(),
                "model_size": space.model_size,
                "windows": [(wi.start, wi.stop) for wi in out.windows],
                "conditioning": list(out.conditioning),
                "mask_source": mask_source or "mpd",
                "pipeline_timings": dict(out.timings),
                **({"attention": collect(attention_maps, opts.steps, space)} if attention_maps is not None else {}),
            },
            timings=timer.timings,
        )

    def _track_masks(
        self,
        clip: FrameSource,
        edit: FirstFrameEdit,
        opts: GenPropOptions,
        n: int,
        cancel: CancelToken,
        report: ProgressCallback,
        total: int,
    ) -> tuple[np.ndarray, str]:
        """The edit mask through the clip, at canvas size: the classic engine's tracked masks."""
        try:
            classic = get_engine("classic")
        except KeyError:
            classic = None
        if classic is None:
            raise EngineUnavailableError("the training-free mode needs the 'classic' engine's tracker, which is not installed")
        classic_opts: dict[str, Any] = {"tracker": opts.mask_tracker}
        if opts.mask_tracker == "sam2":
            classic_opts["sam2_checkpoint"] = opts.sam2_checkpoint

        def sub(p: Progress) -> None:
            report(Progress("tracking", int(p.fraction * n), total, f"tracking the edit mask: {p.message}"))

        result = classic().propagate(clip, edit, classic_opts, sub, cancel)
        return result.masks, f"the classic engine's {opts.mask_tracker} tracker"


@register_engine
class GenPropEngine(_GenPropEngineBase):
    name = "genprop"
    label = "GenProp (SVD + SCE + MPD)"
    description = (
        "Generative propagation: Stable Video Diffusion conditioned on the edited first frame, with the "
        "Selective Content Encoder reading the original clip and the Mask Prediction Decoder's edit mask. "
        "Needs SVD and GenProp weights; a GPU is strongly recommended."
    )
    requires_genprop = True


@register_engine
class GenPropTrainingFreeEngine(_GenPropEngineBase):
    name = "genprop-training-free"
    label = "GenProp, training-free (SVD only)"
    description = (
        "For when only the public SVD weights exist: SVD generates inside the tracked edit mask while the "
        "original clip's noised latents are kept outside it at every step. No SCE, no MPD."
    )
    requires_genprop = False


__all__ = ["GenPropEngine", "GenPropOptions", "GenPropTrainingFreeEngine", "resolve_device"]
