"""GenPropPipeline: SVD image-to-video + the GenProp heads (SCE, MPD), windowed, cancellable.

It is diffusers' ``StableVideoDiffusionPipeline`` (same components, same image
encoding, same guidance, same latents for the same seed) with a new ``__call__``:
the original clip feeds the Selective Content Encoder at every step, the Mask
Prediction Decoder predicts the edited region, long clips run in overlapping windows,
every step reports progress (and may cancel by raising from the callback), and a
keep-original option makes untouched pixels bit-identical to the source.

Without GenProp weights (``heads is None``) the pipeline runs the training-free mode
(see :mod:`engine.pipelines.training_free`), which needs ``region_masks``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from diffusers import StableVideoDiffusionPipeline
from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import retrieve_timesteps
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from engine.genprop import GenPropHeads, GenPropModel
from engine.genprop.placement import move_like
from engine.genprop.weights import CorruptWeightsError, MissingWeightsError, check_config_file, check_module_finite
from engine.pipelines import training_free
from engine.pipelines.compositing import feather_mask, keep_original
from engine.pipelines.mask_readout import DEFAULT_MASK_SIGMA, mask_readout_step
from engine.pipelines.memory import MemoryPlan, ModelPlacer, set_attention
from engine.pipelines.windows import Window, overlap_weights, plan_windows
from engine.tasks import Task

log = logging.getLogger(__name__)

MODE_GENPROP = "genprop"
MODE_TRAINING_FREE = "training-free"
GENPROP_SUBFOLDER = "genprop"
#: Files a local SVD pipeline folder must have (diffusers layout).
SVD_REQUIRED = (
    "model_index.json",
    "unet/config.json",
    "vae/config.json",
    "image_encoder/config.json",
    "scheduler/scheduler_config.json",
    "feature_extractor/preprocessor_config.json",
)


def _check_svd_configs(folder: Path) -> None:
    """Every config of a local SVD folder is a JSON object of the expected shape, before diffusers reads it."""
    for name in SVD_REQUIRED:
        check_config_file(folder / name)
    index = check_config_file(folder / "model_index.json")
    for key, value in index.items():
        if key.startswith("_") or value is None:
            continue
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (str, type(None))) for v in value)):
            raise CorruptWeightsError(
                f"{folder / 'model_index.json'}: component {key!r} must be [library, class], got {value!r}; refused."
            )


Frames = Sequence[np.ndarray] | np.ndarray


FrameSink = Callable[[int, np.ndarray, np.ndarray], None]


@dataclass(frozen=True)
class StepReport:
    """One progress report from the pipeline (``done``/``total`` count steps + decodes)."""

    stage: str
    window: int
    num_windows: int
    step: int
    num_steps: int
    done: int
    total: int


@dataclass
class GenPropPipelineOutput(BaseOutput):
    """Result of a pipeline call (all at model size).

    frames: ``[T, H, W, 3]`` uint8, or ``None`` when a ``frame_sink`` received them.
    masks: ``[T, H, W]`` float32 in [0, 1]: the MPD's edit mask (training-free: the
        region mask it was given), or ``None`` with a ``frame_sink``.
    mode: ``"genprop"`` or ``"training-free"``.
    windows: the windows that ran; ``conditioning`` holds, per window, the clip frame
        index whose generated frame conditioned it (0 = the edited first frame).
    """

    frames: np.ndarray | None = None
    masks: np.ndarray | None = None
    mode: str = MODE_GENPROP
    windows: list[Window] = field(default_factory=list)
    conditioning: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


class GenPropPipeline(StableVideoDiffusionPipeline):
    """SVD components (``vae``, ``image_encoder``, ``unet``, ``scheduler``,
    ``feature_extractor``) plus ``heads`` (:class:`GenPropHeads`, or ``None``)."""

    def __init__(self, vae, image_encoder, unet, scheduler, feature_extractor) -> None:  # type: ignore[no-untyped-def]
        super().__init__(vae, image_encoder, unet, scheduler, feature_extractor)
        self.heads: GenPropHeads | None = None
        self._placer: ModelPlacer | None = None

    # ------------------------------------------------------------------ building
    @classmethod
    def from_components(cls, heads: GenPropHeads | None = None, **svd_components: Any) -> GenPropPipeline:
        pipe = cls(**svd_components)
        if heads is not None:
            pipe.set_heads(heads)
        return pipe

    def set_heads(self, heads: GenPropHeads | None) -> None:
        """Attach GenProp heads (refused if built for another G architecture); ``None`` detaches."""
        if heads is not None:
            heads.check_backbone(self.unet)
            heads = move_like(heads, self.unet).eval()
        self.heads = heads

    @property
    def mode(self) -> str:
        return MODE_TRAINING_FREE if self.heads is None else MODE_GENPROP

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls,
        svd_path: str | os.PathLike[str],
        genprop_weights: str | os.PathLike[str] | None = None,
        *,
        torch_dtype: torch.dtype | None = None,
        local_files_only: bool | None = None,
        variant: str | None = None,
    ) -> GenPropPipeline:
        """SVD from a local diffusers folder, the HF cache or a hub id; GenProp heads from a folder.

        Offline unless a download is asked for: ``local_files_only`` defaults to ``True``
        (pass ``False`` to let diffusers fetch a hub id); a local folder is always read
        offline. A local folder's configs are checked before diffusers reads them, only
        safetensors are loaded, and NaN/Inf weights are refused. Missing files raise
        :class:`MissingWeightsError` naming what is needed and where; unreadable files
        :class:`CorruptWeightsError`.
        """
        if local_files_only is None:
            local_files_only = True
        path = Path(svd_path).expanduser()
        if path.exists():
            missing = [name for name in SVD_REQUIRED if not (path / name).is_file()]
            if missing:
                raise MissingWeightsError(
                    f"SVD weights incomplete in {path.resolve()}: missing {', '.join(missing)} "
                    "(a diffusers folder of stabilityai/stable-video-diffusion-img2vid[-xt] is needed)."
                )
            _check_svd_configs(path)
            if variant is None and not (path / "unet" / "diffusion_pytorch_model.safetensors").is_file():
                if (path / "unet" / "diffusion_pytorch_model.fp16.safetensors").is_file():
                    variant = "fp16"
            source: str = str(path)
            local_files_only = True
        else:
            source = str(svd_path)
        try:
            pipe = super().from_pretrained(
                source,
                dtype=torch_dtype,
                variant=variant,
                use_safetensors=True,
                local_files_only=local_files_only,
            )
        except MissingWeightsError:
            raise
        except Exception as exc:  # noqa: BLE001 - diffusers/transformers raise many types; classify them
            text = str(exc)
            if path.exists() and any(k in text.lower() for k in ("safetensor", "header", "deserializ", "invalid")):
                raise CorruptWeightsError(f"SVD weights in {path.resolve()} could not be read: {text}") from exc
            where = (
                str(path.resolve())
                if path.exists()
                else (
                    f"the Hugging Face cache ({os.environ.get('HF_HOME', '~/.cache/huggingface')})"
                    + ("" if local_files_only else " and online")
                )
            )
            raise MissingWeightsError(f"Could not load SVD {str(svd_path)!r} from {where}: {text}") from exc
        for name in ("unet", "vae", "image_encoder"):
            check_module_finite(getattr(pipe, name), f"SVD {name} ({svd_path})")
        if genprop_weights is not None:
            pipe.set_heads(GenPropHeads.from_pretrained(genprop_weights))
        return pipe

    def save_pretrained(self, save_directory: str | os.PathLike[str], **kwargs: Any) -> None:  # type: ignore[override]
        """SVD components in diffusers' layout (safetensors) + the heads in ``genprop/``."""
        kwargs.setdefault("safe_serialization", True)
        super().save_pretrained(save_directory, **kwargs)
        if self.heads is not None:
            self.heads.save_pretrained(Path(save_directory) / GENPROP_SUBFOLDER)

    def to(self, *args: Any, **kwargs: Any) -> GenPropPipeline:  # type: ignore[override]
        super().to(*args, **kwargs)
        if self.heads is not None:
            self.heads = move_like(self.heads, self.unet)
        return self

    def apply_memory_plan(self, plan: MemoryPlan, device: torch.device | str) -> None:
        """Place the models as ``plan`` says (dtype, offload, attention)."""
        device = torch.device(device)
        self.remove_all_hooks()
        self._placer = None
        set_attention([m for m in (self.unet, self.vae, self.heads) if m is not None], plan.attention)
        if plan.offload == "sequential" and device.type == "cuda":
            from accelerate import cpu_offload

            self._to_device_dtype("cpu", plan.dtype)
            self.enable_sequential_cpu_offload(device=device)
            if self.heads is not None:
                cpu_offload(self.heads, execution_device=device)
        elif plan.offload == "model" and device.type == "cuda":
            self._to_device_dtype("cpu", plan.dtype)
            self._placer = ModelPlacer(device, "model")
        else:
            self._to_device_dtype(device, plan.dtype)

    def _to_device_dtype(self, device: torch.device | str, dtype: torch.dtype) -> None:
        """Move and cast only what needs it (casting an fp32 model to fp32 warns in diffusers)."""
        for module in (self.vae, self.image_encoder, self.unet, self.heads):
            if module is None:
                continue
            if next(module.parameters()).dtype != dtype:
                module.to(dtype=dtype)
            module.to(device)

    @property
    def compute_device(self) -> torch.device:
        return self._placer.device if self._placer is not None else self._execution_device

    def _use(self, *modules: Any):  # type: ignore[no-untyped-def]
        return (self._placer or ModelPlacer(torch.device("cpu"))).use(*modules)

    # ------------------------------------------------------------------ step 1
    def check_genprop_inputs(
        self,
        video: Frames,
        edited_frame: np.ndarray | PIL.Image.Image,
        region_masks: np.ndarray | None,
        num_inference_steps: int,
        window_size: int,
        overlap: int,
        injection_weight: float,
        decode_chunk_size: int,
        use_heads: bool = True,
        mask_sigma: float | None = DEFAULT_MASK_SIGMA,
    ) -> tuple[int, int, int]:
        """Validate everything before any model runs; returns (frames, height, width)."""
        n = len(video)
        if n < 2:
            raise ValueError(f"video has {n} frame(s); propagation needs at least 2")
        first = np.asarray(video[0])
        if first.ndim != 3 or first.shape[2] != 3 or first.dtype != np.uint8:
            raise ValueError(f"video frames must be [H, W, 3] uint8, got {first.shape} {first.dtype}")
        h, w = first.shape[:2]
        multiple = self.vae_scale_factor * 2 ** (len(self.unet.config.down_block_types) - 1)
        if h % multiple or w % multiple:
            raise ValueError(f"video frames are {w}x{h}; width and height must be multiples of {multiple}")
        edited = np.asarray(edited_frame)
        if edited.shape != first.shape or edited.dtype != np.uint8:
            raise ValueError(
                f"edited_frame is {edited.shape} {edited.dtype} but the video frames are {first.shape} uint8 "
                "(the edited frame must have the clip's model size)"
            )
        if region_masks is not None and (region_masks.ndim != 3 or region_masks.shape != (n, h, w)):
            raise ValueError(f"region_masks has shape {region_masks.shape}; expected ({n}, {h}, {w})")
        if (self.heads is None or not use_heads) and region_masks is None:
            raise MissingWeightsError(
                "GenProp weights are not loaded (or not used), so only the training-free mode can run, and it needs "
                "region_masks (the edit mask propagated through the clip by a tracker)."
            )
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be an integer >= 1, got {num_inference_steps!r}")
        if window_size < 2:
            raise ValueError(f"window_size must be >= 2, got {window_size}")
        if not 1 <= overlap < window_size:
            raise ValueError(f"overlap must be in [1, {window_size - 1}], got {overlap}")
        if not 0.0 <= injection_weight <= 1.0:
            raise ValueError(f"injection_weight must be in [0, 1], got {injection_weight}")
        if decode_chunk_size < 1:
            raise ValueError(f"decode_chunk_size must be >= 1, got {decode_chunk_size}")
        if mask_sigma is not None and not (isinstance(mask_sigma, (int, float)) and mask_sigma > 0):
            raise ValueError(f"mask_sigma must be a positive number (or None for the last step), got {mask_sigma!r}")
        return n, h, w

    # ------------------------------------------------------------------ helpers
    def _encode_originals(
        self, frames: list[np.ndarray], chunk: int, check_cancel: Callable[[], None] | None = None
    ) -> torch.Tensor:
        """Clean, scaled VAE latents of clip frames: ``[1, n, 4, h, w]`` (the SCE's input)."""
        device = self.compute_device
        out = []
        for i in range(0, len(frames), chunk):
            if check_cancel is not None:
                check_cancel()
            batch = torch.from_numpy(np.stack(frames[i : i + chunk])).permute(0, 3, 1, 2)
            batch = batch.to(device=device, dtype=self.vae.dtype) / 127.5 - 1.0
            out.append(self.vae.encode(batch).latent_dist.mode() * self.vae.config.scaling_factor)
        return torch.cat(out)[None]

    def _decode(self, latents: torch.Tensor, chunk: int, check_cancel: Callable[[], None] | None = None) -> np.ndarray:
        """``[1, n, 4, h, w]`` latents -> ``[n, H, W, 3]`` uint8 (decoded ``chunk`` frames at a time)."""
        latents = latents.flatten(0, 1).to(self.vae.dtype) / self.vae.config.scaling_factor
        frames = []
        for i in range(0, latents.shape[0], chunk):
            if check_cancel is not None:
                check_cancel()
            part = latents[i : i + chunk]
            frames.append(self.vae.decode(part, num_frames=part.shape[0]).sample.float())
        video = torch.cat(frames)
        return ((video / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    @staticmethod
    def check_keyframes(keyframes: Mapping[int, np.ndarray] | None, n: int, height: int, width: int) -> dict[int, np.ndarray]:
        """``keyframes`` checked: indices inside ``1..n-1``, frames ``[height, width, 3]`` uint8."""
        out: dict[int, np.ndarray] = {}
        for index, frame in (keyframes or {}).items():
            if not isinstance(index, int | np.integer) or not 1 <= int(index) < n:
                raise ValueError(f"keyframe index must be in 1..{n - 1}, got {index!r}")
            arr = np.asarray(frame)
            if arr.shape != (height, width, 3) or arr.dtype != np.uint8:
                raise ValueError(f"keyframe {index} is {arr.shape} {arr.dtype}, expected ({height}, {width}, 3) uint8")
            out[int(index)] = arr
        return out

    # ------------------------------------------------------------------ call
    @torch.no_grad()
    def __call__(  # type: ignore[override]
        self,
        video: Frames,
        edited_frame: np.ndarray | PIL.Image.Image,
        *,
        region_masks: np.ndarray | None = None,
        num_inference_steps: int = 25,
        window_size: int | None = None,
        overlap: int = 2,
        min_guidance_scale: float = 1.0,
        max_guidance_scale: float = 3.0,
        fps: int = 7,
        motion_bucket_id: int = 127,
        noise_aug_strength: float = 0.02,
        injection_weight: float = 1.0,
        task: Task | str = Task.NONE,
        decode_chunk_size: int | None = None,
        keep_original_outside_mask: bool = False,
        feather: int = 4,
        generator: torch.Generator | None = None,
        callback: Callable[[StepReport], None] | None = None,
        frame_sink: FrameSink | None = None,
        use_heads: bool = True,
        mask_sigma: float | None = DEFAULT_MASK_SIGMA,
        check_cancel: Callable[[], None] | None = None,
        keyframes: Mapping[int, np.ndarray] | None = None,
    ) -> GenPropPipelineOutput:
        """Propagate the edit on frame 0 through ``video``.

        video: ``T`` frames ``[H, W, 3]`` uint8 at model size (any indexable; read one
            window at a time, so it may be lazy).
        edited_frame: the edited frame 0, ``[H, W, 3]`` uint8.
        region_masks: ``[T, H, W]`` edit region per frame (uint8 0/255 or float); required
            without GenProp weights (training-free mode), optional otherwise.
        window_size: frames per model call (default: the U-Net's ``num_frames``).
        overlap: frames shared by consecutive windows (>= 1), blended linearly.
        callback: called after every denoising step and every window decode; raise
            from it (e.g. ``PropagationCancelled``) to stop within one step.
        frame_sink: receives ``(index, frame, mask)`` as soon as a frame is final; the
            output then holds no frames, so memory does not grow with the clip.
        use_heads: ``False`` runs the training-free mode even when GenProp heads are loaded.
        mask_sigma: the MPD's mask is read at the step whose noise level is nearest this sigma
            (log scale; ``None`` = the last step). The default lies where training puts most samples.
        check_cancel: called before every denoising step and every VAE encode/decode
            chunk; raise from it to stop there (a cancel then waits for at most one step
            or one chunk, not for the rest of the window).
        keyframes: frame index (>= 1) -> the user's edited version of that frame, ``[H, W, 3]``
            uint8 at model size (issue 19). Windows are planned to start at them
            (``plan_windows(starts=)``); a window starting at one is conditioned on it instead
            of the generated frame, and that frame of the output is the keyframe itself.
            ``output.conditioning`` lists each window's conditioning frame.
        """
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        window_size = int(window_size or self.unet.config.num_frames)
        decode_chunk_size = int(decode_chunk_size or window_size)
        # 1. Validate inputs.
        n, height, width = self.check_genprop_inputs(
            video,
            edited_frame,
            region_masks,
            num_inference_steps,
            window_size,
            overlap,
            float(injection_weight),
            decode_chunk_size,
            use_heads,
            mask_sigma,
        )
        keyframes = self.check_keyframes(keyframes, n, height, width)
        heads = self.heads if use_heads else None
        mode = MODE_GENPROP if heads is not None else MODE_TRAINING_FREE
        # 2. Plan windows (keyframes start windows) and progress.
        windows = plan_windows(n, window_size, overlap, starts=sorted(keyframes))
        total = len(windows) * (num_inference_steps + 1)
        done = 0
        do_cfg = max_guidance_scale > 1.0
        self._guidance_scale = max_guidance_scale
        device = self.compute_device
        latent_size = (height // self.vae_scale_factor, width // self.vae_scale_factor)
        model = GenPropModel(self.unet, heads) if heads is not None else None
        pending: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        frames_out: list[np.ndarray] = []
        masks_out: list[np.ndarray] = []
        conditioning: list[int] = []
        soft_weights = overlap_weights(overlap)

        def emit(upto: int) -> None:
            for idx in sorted(i for i in pending if i < upto):
                frame, mask = pending.pop(idx)
                if keep_original_outside_mask:
                    frame = keep_original(np.asarray(video[idx]), frame, feather_mask(mask, feather))
                if frame_sink is not None:
                    frame_sink(idx, frame, mask)
                else:
                    frames_out.append(frame)
                    masks_out.append(mask)

        for win in windows:
            # 3. Conditioning frame: the edit for window 0, the user's keyframe where one starts this
            #    window (it replaces the generated frame there), else the frame generated at this window's start.
            t0 = time.perf_counter()
            if win.index > 0 and win.start in keyframes:
                pending[win.start] = (keyframes[win.start], pending[win.start][1])
            cond_np = np.asarray(edited_frame) if win.index == 0 else pending[win.start][0]
            conditioning.append(win.start)
            cond_image = PIL.Image.fromarray(cond_np)
            originals = [np.asarray(video[i]) for i in range(win.start, win.stop)]
            for i, f in enumerate(originals):
                if f.shape != (height, width, 3) or f.dtype != np.uint8:
                    raise ValueError(f"video frame {win.start + i} is {f.shape} {f.dtype}, expected ({height}, {width}, 3) uint8")
            with self._use(self.image_encoder):
                image_embeddings = self._encode_image(cond_image, device, 1, do_cfg)
            # 4. Encode the edited/conditioning frame with the VAE (SVD-style noise augmentation)
            #    and the original frames for the SCE / the training-free anchor.
            image = self.video_processor.preprocess(cond_image, height=height, width=width).to(device)
            noise = randn_tensor(image.shape, generator=generator, device=device, dtype=image.dtype)
            image = image + noise_aug_strength * noise
            with self._use(self.vae):
                needs_upcasting = self.vae.dtype == torch.float16 and self.vae.config.force_upcast
                if needs_upcasting:
                    self.vae.to(dtype=torch.float32)
                image_latents = self._encode_vae_image(image, device, 1, do_cfg).to(image_embeddings.dtype)
                original_latents = None
                if model is not None or region_masks is not None:
                    original_latents = self._encode_originals(originals, decode_chunk_size, check_cancel).to(
                        image_embeddings.dtype
                    )
                if needs_upcasting:
                    self.vae.to(dtype=torch.float16)
            image_latents = image_latents.unsqueeze(1).repeat(1, win.length, 1, 1, 1)
            added_time_ids = self._get_add_time_ids(
                fps - 1, motion_bucket_id, noise_aug_strength, image_embeddings.dtype, 1, 1, do_cfg
            ).to(device)
            timings["encode"] = timings.get("encode", 0.0) + time.perf_counter() - t0

            # 5. Denoise: SCE injection (GenProp) or anchoring to the original (training-free).
            t0 = time.perf_counter()
            timesteps, _ = retrieve_timesteps(self.scheduler, num_inference_steps, device)
            latents = self.prepare_latents(
                1, win.length, self.unet.config.in_channels, height, width, image_embeddings.dtype, device, generator
            )
            guidance = torch.linspace(min_guidance_scale, max_guidance_scale, win.length, device=device)
            guidance = guidance.to(latents.dtype)[None, :, None, None, None]
            region = anchor_noise = None
            if region_masks is not None:
                region = training_free.latent_region_mask(region_masks[win.start : win.stop], latent_size).to(device)
                anchor_noise = randn_tensor(latents.shape, generator=generator, device=device, dtype=latents.dtype)
                if model is None:
                    sigma0 = float(self.scheduler.sigmas[0])
                    latents = training_free.anchor_to_original(latents, original_latents, anchor_noise, sigma0, region)
            sce_input = None
            if model is not None and original_latents is not None:
                sce_input = torch.cat([original_latents] * 2) if do_cfg else original_latents
            mask_logits = None
            mask_step = mask_readout_step(self.scheduler.sigmas[: len(timesteps)].tolist(), mask_sigma)
            with self._use(self.unet, self.heads):
                for step, t in enumerate(timesteps):
                    if check_cancel is not None:
                        check_cancel()
                    model_input = torch.cat([latents] * 2) if do_cfg else latents
                    model_input = self.scheduler.scale_model_input(model_input, t)
                    model_input = torch.cat([model_input, image_latents], dim=2)
                    if model is not None:
                        out = model(
                            model_input,
                            t,
                            image_embeddings,
                            added_time_ids,
                            original_latents=sce_input,
                            task=task,
                            injection_weight=float(injection_weight),
                            predict_mask=step == mask_step,
                        )
                        noise_pred, mask_logits = out.sample, out.mask_logits if out.mask_logits is not None else mask_logits
                    else:
                        noise_pred = self.unet(
                            model_input,
                            t,
                            encoder_hidden_states=image_embeddings,
                            added_time_ids=added_time_ids,
                            return_dict=False,
                        )[0]
                    if do_cfg:
                        uncond, cond = noise_pred.chunk(2)
                        noise_pred = uncond + guidance * (cond - uncond)
                    latents = self.scheduler.step(noise_pred, t, latents).prev_sample
                    if region is not None and model is None:
                        sigma = float(self.scheduler.sigmas[self.scheduler.step_index])
                        latents = training_free.anchor_to_original(latents, original_latents, anchor_noise, sigma, region)
                    done += 1
                    if callback is not None:
                        callback(StepReport("denoising", win.index, len(windows), step + 1, num_inference_steps, done, total))
            timings["denoise"] = timings.get("denoise", 0.0) + time.perf_counter() - t0

            # 6. Decode in chunks; 7. masks at frame size.
            t0 = time.perf_counter()
            with self._use(self.vae):
                if needs_upcasting:
                    self.vae.to(dtype=torch.float32)
                frames = self._decode(latents, decode_chunk_size, check_cancel)
                if needs_upcasting:
                    self.vae.to(dtype=torch.float16)
            if mask_logits is not None:
                logits = mask_logits[-1:] if do_cfg else mask_logits  # the conditional half
                masks = torch.sigmoid(F.interpolate(logits[0].float(), size=(height, width), mode="bilinear"))
                masks_np = masks[:, 0].cpu().numpy()
            else:
                masks_np = region_masks[win.start : win.stop].astype(np.float32)
                if region_masks.dtype == np.uint8:
                    masks_np /= 255.0
            # 8. Blend overlaps into the pending frames, emit what is final.
            for j in range(win.length):
                idx = win.start + j
                if idx in pending and j < overlap:
                    a = float(soft_weights[j])
                    old_f, old_m = pending[idx]
                    blended = np.rint(old_f * (1.0 - a) + frames[j] * a).astype(np.uint8) if a > 0 else old_f
                    pending[idx] = (blended, old_m * (1.0 - a) + masks_np[j] * a)
                else:
                    pending[idx] = (frames[j], masks_np[j])
            del latents, original_latents, image_latents, frames, sce_input
            next_start = win.stop - overlap if win.stop < n else n
            emit(next_start)
            done += 1
            timings["decode"] = timings.get("decode", 0.0) + time.perf_counter() - t0
            if callback is not None:
                callback(StepReport("decoding", win.index, len(windows), num_inference_steps, num_inference_steps, done, total))
        emit(n)
        self.maybe_free_model_hooks()
        timings["total"] = time.perf_counter() - t_start
        return GenPropPipelineOutput(
            frames=None if frame_sink is not None else np.stack(frames_out),
            masks=None if frame_sink is not None else np.stack(masks_out).astype(np.float32),
            mode=mode,
            windows=windows,
            conditioning=conditioning,
            timings=timings,
        )
