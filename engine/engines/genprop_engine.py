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
from typing import Any, ClassVar

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
)
from engine.engines.canvas_frames import InModelSpace, SourceOnCanvas
from engine.engines.genprop_attention import GRID, collect, record_attention, record_attention_grid
from engine.engines.genprop_options import GenPropOptions
from engine.engines.sink import MemorySink
from engine.genprop.weights import MissingWeightsError
from engine.pipelines.cancel_points import cancel_points
from engine.pipelines.compositing import feather_mask, keep_original
from engine.pipelines.genprop_pipeline import MODE_GENPROP, MODE_TRAINING_FREE, GenPropPipeline, StepReport
from engine.pipelines.memory import MemoryPlan, choose_plan, run_with_oom_retry
from engine.pipelines.weights_locator import Located, genprop_availability, locate_weights
from engine.pipelines.windows import plan_windows, unplaced_starts
from engine.tasks import Task
from engine.video.model_space import ModelSpace
from engine.video.source import FrameSource

log = logging.getLogger(__name__)


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


class _GenPropEngineBase(Engine):
    """Shared by both modes: option parsing, weights, pipeline cache, mapping, progress."""

    requires_genprop: ClassVar[bool] = True
    follows_keyframes = True  # edited keyframes condition the windows that start at them
    load_options: ClassVar[tuple[str, ...]] = ("svd", "weights", "model_dirs", "memory", "device")

    def __init__(self, pipeline: GenPropPipeline | None = None) -> None:
        self._pipeline = pipeline
        self._loaded_key: tuple[Any, ...] | None = None

    @classmethod
    def locate(
        cls, svd: str | None = None, weights: str | None = None, model_dirs: Sequence[str | os.PathLike[str]] = ()
    ) -> tuple[Located, Located]:
        return locate_weights(svd, weights, model_dirs)

    @classmethod
    def availability(cls, model_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[bool, str]:
        return genprop_availability(cls.requires_genprop, model_dirs)

    # ---------------------------------------------------------------- loading
    def _load(
        self, opts: GenPropOptions, plan: MemoryPlan, device: torch.device, cancel: CancelToken | None = None
    ) -> GenPropPipeline:
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
                # a hub id comes from the locator only when online loading is allowed (HF_HUB_OFFLINE unset)
                self._pipeline = _load_cancellable(
                    lambda: GenPropPipeline.from_pretrained(  # type: ignore[arg-type]
                        source, genprop, torch_dtype=plan.dtype, local_files_only=svd_loc.path is not None
                    ),
                    cancel,
                )
                self._loaded_key = key
            pipe = self._pipeline
        pipe.apply_memory_plan(plan, device)
        return pipe

    # ---------------------------------------------------------------- run
    streams = True  # frames go to the sink as each window finalises them

    def propagate(
        self,
        clip: FrameSource,
        edit: FirstFrameEdit,
        options: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PropagationResult:
        return self.propagate_to(MemorySink(clip.fps, len(clip), edit.canvas_size), clip, edit, options, progress, cancel)

    def propagate_to(
        self,
        target: Any,
        clip: FrameSource,
        edit: FirstFrameEdit,
        options: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PropagationResult:
        """Propagate into ``target`` (``engine.engines.sink.FrameSink``): each frame as its window finalises it."""
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
        if progress is not None:
            progress(Progress("loading", 0, 1, "loading the models"))
        with timer.stage("load"):
            pipe = self._load(opts, plan, device, cancel)
        training_free = pipe.heads is None or not self.requires_genprop
        mode = MODE_TRAINING_FREE if training_free else MODE_GENPROP
        canvas = SourceOnCanvas(clip, edit)
        cw, ch = edit.canvas_size
        multiple = pipe.vae_scale_factor * 2 ** (len(pipe.unet.config.down_block_types) - 1)
        long_side = max(multiple, opts.long_side // multiple * multiple)
        space = ModelSpace.fit((cw, ch), long_side=long_side, multiple=multiple)
        window = opts.window or int(pipe.unet.config.num_frames)
        overlap = min(opts.overlap, window - 1)
        keyframe_starts = edit.edited_keyframe_frames
        planned = plan_windows(n, window, overlap, starts=keyframe_starts)
        num_windows = len(planned)
        keyframe_warnings = _keyframe_warnings(edit, planned, keyframe_starts, overlap, training_free)
        track_units = n if training_free else 0
        total = track_units + num_windows * (opts.steps + 1) + 1

        def report(p: Progress) -> None:
            if progress is not None:
                progress(p)

        # Training-free: the edit mask propagated through the clip by the classic tracker.
        region_masks = None
        mask_source = ""
        track_notes: dict[str, Any] = {}
        if training_free:
            with timer.stage("track"):
                region_masks, mask_source, track_notes = self._track_masks(clip, edit, opts, n, cancel, report, total)
        region_model = None
        if region_masks is not None:
            region_model = np.stack([space.to_model(m, mask=True) for m in region_masks])

        keep_masks = region_masks if training_free else None
        emitted = 0

        def sink(index: int, frame: np.ndarray, mask: np.ndarray) -> None:
            nonlocal emitted
            if index < emitted:  # an OOM retry runs the windows again: the frames already handed over stay
                return
            if index != emitted:
                raise RuntimeError(f"the pipeline finalised frame {index} before frame {emitted}")
            frame = space.from_model(frame)
            soft = np.clip(space.from_model(mask.astype(np.float32)), 0.0, 1.0)
            if keep_masks is not None:
                soft = keep_masks[index].astype(np.float32) / 255.0
            if opts.keep_original:
                frame = keep_original(canvas[index], frame, feather_mask(soft, opts.feather))
            target.put(frame, np.where(soft >= 0.5, 255, 0).astype(np.uint8))
            emitted += 1

        def on_step(r: StepReport) -> None:
            cancel.raise_if_cancelled()
            stage = "denoising" if r.stage == "denoising" else "decoding"
            report(
                Progress(
                    stage,
                    track_units + r.done,
                    total,
                    "",
                    window=r.window,
                    num_windows=r.num_windows,
                    step=r.step,
                    num_steps=r.num_steps,
                )
            )

        edited_model = space.to_model(edit.edited_frame)
        keyframes_model = {k.frame: space.to_model(k.edited_frame) for k in edit.keyframes if k.edited_frame is not None}
        video_model = InModelSpace(canvas, space)

        attention_maps: dict | None = None
        attention_record = None
        grid = isinstance(opts.attention_query, str) and opts.attention_query == GRID
        if opts.attention_query is not None and grid and num_windows != 1:
            raise ValueError(f"attention maps are recorded for one window: pass at most {window} frames, got {n}")
        if opts.attention_query is not None and not grid:
            query = np.asarray(opts.attention_query)
            if query.shape != (ch, cw) or not query.any():
                raise ValueError(f"attention_query must be a non-empty [{ch}, {cw}] mask on the edited canvas, got {query.shape}")
            if num_windows != 1:
                raise ValueError(f"attention maps are recorded for one window: pass at most {window} frames, got {n}")

        def job(current: MemoryPlan) -> Any:
            nonlocal attention_maps, attention_record
            if current is not plan:
                pipe.apply_memory_plan(current, device)
            latent = (space.model_height // pipe.vae_scale_factor, space.model_width // pipe.vae_scale_factor)
            if grid:
                with record_attention_grid(pipe.unet, n, latent, opts.steps) as record:
                    out = run_pipe(current)
                record.space = space
                attention_record = record
                return out
            if opts.attention_query is not None:
                query_model = space.to_model((np.asarray(opts.attention_query) > 0).astype(np.uint8) * 255, mask=True)
                with record_attention(pipe.unet, query_model, n, latent) as maps:
                    out = run_pipe(current)
                attention_maps = dict(maps)
                return out
            return run_pipe(current)

        def run_pipe(current: MemoryPlan) -> Any:
            generator = torch.Generator("cpu")
            generator.manual_seed(opts.seed) if opts.seed is not None else generator.seed()
            with cancel_points(pipe, cancel.raise_if_cancelled):  # Cancel stops within one block of a step
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
                    mask_sigma=opts.mask_sigma,
                    # the edit's own task embedding (removal -> mask_and_fill, ...), as trained
                    task=edit.task if not training_free else Task.NONE,
                    decode_chunk_size=current.decode_chunk_size,
                    generator=generator,
                    callback=on_step,
                    check_cancel=cancel.raise_if_cancelled,
                    frame_sink=sink,
                    use_heads=not training_free,
                    keyframes=keyframes_model,
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
        if keyframe_warnings:
            warnings = list(track_notes.get("warnings", [])) + keyframe_warnings
            track_notes = {**track_notes, "warnings": warnings}
        return target.finish(
            self.name,
            mode,
            {
                "message": message,
                "memory": plan.describe(),
                "model_size": space.model_size,
                "windows": [(wi.start, wi.stop) for wi in out.windows],
                "conditioning": list(out.conditioning),
                "keyframes": [w for w in keyframe_starts if w in {wi.start for wi in out.windows}],
                "mask_source": mask_source or "mpd",
                **track_notes,
                "pipeline_timings": dict(out.timings),
                **({"attention": collect(attention_maps, opts.steps, space)} if attention_maps is not None else {}),
                **({"attention_record": attention_record} if attention_record is not None else {}),
            },
            timer.timings,
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
    ) -> tuple[np.ndarray, str, dict[str, Any]]:
        """The edit mask through the clip, at canvas size: the classic engine's tracked masks.

        ``mask_tracker="auto"`` makes them SAM2's (its video predictor) when SAM2 weights are
        found in ``model_dirs`` / ``$GENPROP_SAM2_DIR`` / the Hugging Face cache, else optical
        flow's. Returns the masks, where they came from in words, and the tracker's
        ``warnings`` / ``frame_notes`` for the result's extras.
        """
        try:
            classic = get_engine("classic")
        except KeyError:
            classic = None
        if classic is None:
            raise EngineUnavailableError("the training-free mode needs the 'classic' engine's tracker, which is not installed")
        classic_opts: dict[str, Any] = {
            "tracker": opts.mask_tracker,
            "sam2_model": opts.sam2_model,
            "sam2_checkpoint": opts.sam2_checkpoint,
            "sam2_resolution": opts.sam2_resolution,
            "sam2_device": opts.device,
            "model_dirs": opts.model_dirs,
        }

        def sub(p: Progress) -> None:
            report(Progress("tracking", int(p.fraction * n), total, f"tracking the edit mask: {p.message}"))

        result = classic().propagate(clip, edit, classic_opts, sub, cancel)
        tracker = result.extras.get("tracker", opts.mask_tracker)
        notes = {k: result.extras[k] for k in ("warnings", "frame_notes") if result.extras.get(k)}
        source = "SAM2's video predictor" if tracker == "sam2" else "optical flow"
        return result.masks, f"the classic engine's {tracker} tracker ({source})", notes


def _keyframe_warnings(edit: FirstFrameEdit, windows: list, starts: list[int], overlap: int, training_free: bool) -> list[str]:
    """What the user should know about the edit's keyframes in this run (1-based frame numbers)."""
    out = [
        f"keyframe on frame {k + 1} is in the clip's last {overlap} frame(s): no window can start there, "
        "so its edited frame is not used"
        for k in unplaced_starts(windows, starts)
    ]
    masks_only = [k.frame + 1 for k in edit.keyframes if k.masks and k.edited_frame is None]
    if masks_only and not training_free:
        out.append(
            f"keyframe mask corrections (frames {', '.join(map(str, masks_only))}) are not used with GenProp weights: "
            "the model predicts the masks; give an edited frame there instead"
        )
    return out


def _load_cancellable(load: Any, cancel: CancelToken | None, poll: float = 0.1) -> GenPropPipeline:
    """Run ``load()`` on a helper thread and give up waiting as soon as ``cancel`` is set.

    Loading SVD from disk is one long library call with no place to stop; a cancelled
    load is left to finish in its daemon thread and its result dropped, so Cancel (and
    quitting) takes effect within ``poll`` seconds instead of after the whole load.
    """
    if cancel is None:
        return load()
    import threading

    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = load()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread below
            box["error"] = exc

    thread = threading.Thread(target=run, name="genprop-load", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(poll)
        cancel.raise_if_cancelled()
    if "error" in box:
        raise box["error"]
    return box["value"]


class GenPropEngine(_GenPropEngineBase):
    """GenProp with its trained heads (SCE, MPD, task embeddings); spec in ``engine.engines``."""

    name = "genprop"
    requires_genprop = True


class GenPropTrainingFreeEngine(_GenPropEngineBase):
    """SVD alone with the original latents kept outside the tracked mask; spec in ``engine.engines``."""

    name = "genprop-training-free"
    requires_genprop = False


__all__ = ["GenPropEngine", "GenPropOptions", "GenPropTrainingFreeEngine", "resolve_device"]
