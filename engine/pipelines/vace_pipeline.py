"""VacePropagationPipeline: Wan2.1-VACE regenerating a tracked region through a clip, windowed, cancellable.

It is diffusers' ``WanVACEPipeline`` (same components; the same preprocessing, VACE context
latents, masks, initial noise and denoising loop for the same seed) with a new ``__call__``:
long clips run in windows of 4k+1 frames whose first frames are the previous window's output
(fixed context), colour drift between windows is measured and removed, every denoising step
reports progress, cancellation is checked before every transformer call, prompt embeddings
are cached, and finished frames stream to a sink so memory does not grow with the clip.

With GenProp heads for Wan (:class:`engine.genprop.wan_heads.WanGenPropHeads`) attached, each
transformer call goes through :class:`engine.genprop.wan_model.WanGenPropModel`: the SCE reads
``originals`` (the ORIGINAL clip) and the MPD predicts the edited region.
"""

from __future__ import annotations

import html
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from diffusers import WanVACEPipeline
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import get_module_execution_device

from engine.genprop.backbones import wan
from engine.genprop.placement import move_like
from engine.genprop.wan_heads import WanGenPropHeads
from engine.genprop.weights import CorruptWeightsError, MissingWeightsError
from engine.pipelines.genprop_pipeline import StepReport
from engine.pipelines.memory import MemoryPlan
from engine.pipelines.vace_weights import is_vace_folder, missing_files
from engine.pipelines.vace_windows import ColourFix, VaceWindow, apply_colour, colour_match, plan_vace_windows
from engine.pipelines.windows import overlap_weights
from engine.tasks import Task

log = logging.getLogger(__name__)

Frames = Sequence[np.ndarray] | np.ndarray
FrameSink = Callable[[int, np.ndarray, "np.ndarray | None"], None]
DEFAULT_WINDOW = 81
PROMPT_CACHE_SIZE = 8


def clean_prompt(text: str) -> str:
    """diffusers' Wan prompt cleaning; ``ftfy`` is used when installed (diffusers needs it, we do not)."""
    try:
        import ftfy

        text = ftfy.fix_text(text)
    except ImportError:
        pass
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


def encode_t5(tokenizer: Any, text_encoder: torch.nn.Module, prompts: list[str], max_sequence_length: int) -> torch.Tensor:
    """umT5 embeddings ``[B, max_sequence_length, dim]`` as diffusers' Wan pipelines compute them.

    Tokens are padded to ``max_sequence_length``; the encoder's outputs after each prompt's
    last token are replaced by zeros. Runs where the text encoder is (e.g. the CPU).
    """
    inputs = tokenizer(
        [clean_prompt(p) for p in prompts],
        padding="max_length",
        max_length=max_sequence_length,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    ids, mask = inputs.input_ids, inputs.attention_mask
    seq_lens = mask.gt(0).sum(dim=1).long()
    model_device = get_module_execution_device(text_encoder)
    embeds = text_encoder(ids.to(model_device), mask.to(model_device)).last_hidden_state
    return torch.stack(
        [torch.cat([u[:v], u.new_zeros(max_sequence_length - int(v), u.size(1))]) for u, v in zip(embeds, seq_lens, strict=True)]
    )


@dataclass
class VacePipelineOutput(BaseOutput):
    """Result of a call (model size).

    frames: ``[T, H, W, 3]`` uint8, or ``None`` when a ``frame_sink`` received them.
    masks: ``[T, H, W]`` float32 MPD masks (GenProp heads only), else ``None``.
    windows: the windows that ran; colour: per window, the drift correction applied (``None``
        for the first window or when off).
    """

    frames: np.ndarray | None = None
    masks: np.ndarray | None = None
    windows: list[VaceWindow] = field(default_factory=list)
    colour: list[ColourFix | None] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


class VacePropagationPipeline(WanVACEPipeline):
    """``tokenizer, text_encoder, vae, scheduler, transformer`` as diffusers' WanVACEPipeline, plus ``heads``."""

    def __init__(self, tokenizer, text_encoder, vae, scheduler, transformer=None, transformer_2=None, boundary_ratio=None):  # type: ignore[no-untyped-def]
        super().__init__(tokenizer, text_encoder, vae, scheduler, transformer, transformer_2, boundary_ratio)
        self.heads: WanGenPropHeads | None = None
        self._prompt_cache: OrderedDict[tuple[Any, ...], tuple[torch.Tensor, torch.Tensor | None]] = OrderedDict()
        self._text_encoder_on_cpu = False

    # ------------------------------------------------------------------ building
    @classmethod
    def from_components(cls, heads: WanGenPropHeads | None = None, **components: Any) -> VacePropagationPipeline:
        pipe = cls(**components)
        pipe.set_heads(heads)
        return pipe

    def set_heads(self, heads: WanGenPropHeads | None) -> None:
        """Attach Wan GenProp heads (refused if built for another G architecture); ``None`` detaches."""
        if heads is not None:
            heads.check_backbone(self.transformer)
            heads = move_like(heads, self.transformer).eval()
        self.heads = heads

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls,
        path: str | os.PathLike[str],
        *,
        torch_dtype: torch.dtype | None = None,
        local_files_only: bool | None = None,
        genprop_weights: str | os.PathLike[str] | None = None,
    ) -> VacePropagationPipeline:
        """A diffusers Wan2.1-VACE folder, the HF cache or a hub id; the VAE stays float32 (Wan's advice).

        Missing files raise :class:`MissingWeightsError` naming what is needed and where.
        """
        from diffusers import AutoencoderKLWan

        if local_files_only is None:
            local_files_only = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
        folder = Path(path).expanduser()
        if folder.exists():
            if not is_vace_folder(folder):
                raise MissingWeightsError(
                    f"Wan2.1-VACE weights incomplete in {folder.resolve()}: missing {', '.join(missing_files(folder))} "
                    "(a diffusers folder of Wan-AI/Wan2.1-VACE-1.3B-diffusers or -14B-diffusers is needed)."
                )
            source, local_files_only = str(folder), True
        else:
            source = str(path)
        try:
            vae = AutoencoderKLWan.from_pretrained(
                source, subfolder="vae", dtype=torch.float32, use_safetensors=True, local_files_only=local_files_only
            )
            pipe = super().from_pretrained(
                source, vae=vae, dtype=torch_dtype, use_safetensors=True, local_files_only=local_files_only
            )
        except MissingWeightsError:
            raise
        except Exception as exc:  # noqa: BLE001 - diffusers/transformers raise many types; classify them
            text = str(exc)
            if folder.exists() and any(k in text.lower() for k in ("safetensor", "header", "deserializ", "invalid")):
                raise CorruptWeightsError(f"Wan2.1-VACE weights in {folder.resolve()} could not be read: {text}") from exc
            where = (
                str(folder.resolve())
                if folder.exists()
                else "the Hugging Face cache" + ("" if local_files_only else " and online")
            )
            raise MissingWeightsError(f"Could not load Wan2.1-VACE {str(path)!r} from {where}: {text}") from exc
        if genprop_weights is not None:
            pipe.set_heads(WanGenPropHeads.from_pretrained(genprop_weights))
        return pipe

    def set_flow_shift(self, shift: float | None) -> None:
        """Rebuild the scheduler with another timestep shift (``flow_shift`` for UniPC, ``shift`` for Euler)."""
        if shift is None:
            return
        config = dict(self.scheduler.config)
        key = "flow_shift" if "flow_shift" in config else "shift"
        if float(config.get(key, -1)) != float(shift):
            self.scheduler = type(self.scheduler).from_config(config, **{key: float(shift)})

    def apply_memory_plan(
        self, plan: MemoryPlan, device: torch.device | str, *, vae_tiling: bool = False, text_encoder_on: str = "device"
    ) -> None:
        """Place the models as ``plan`` says. The VAE stays float32; umT5 may stay on the CPU."""
        device = torch.device(device)
        self.remove_all_hooks()
        self._text_encoder_on_cpu = text_encoder_on == "cpu" or device.type == "cpu"
        (self.vae.enable_tiling if vae_tiling else self.vae.disable_tiling)()
        self._cast(self.transformer, plan.dtype)
        if self.heads is not None:
            self._cast(self.heads, plan.dtype)
        text_dtype = plan.dtype if device.type == "cuda" or plan.dtype == torch.bfloat16 else torch.float32
        self._cast(self.text_encoder, text_dtype)
        if text_encoder_on == "cpu":
            self.text_encoder.to("cpu")
        if plan.offload == "sequential" and device.type == "cuda":
            from accelerate import cpu_offload

            self.enable_sequential_cpu_offload(device=device)
            if self.heads is not None:
                cpu_offload(self.heads, execution_device=device)
        elif plan.offload == "model" and device.type == "cuda":
            self.enable_model_cpu_offload(device=device)
            if self.heads is not None:
                self.heads.to(device)  # small next to G for a few SCE blocks; see docs/pipeline.md
        else:
            for module in (self.transformer, self.vae, self.heads) + (() if text_encoder_on == "cpu" else (self.text_encoder,)):
                if module is not None:
                    module.to(device)

    def enable_model_cpu_offload(self, gpu_id: int | None = None, device: torch.device | str | None = None) -> None:
        """diffusers' model offload, leaving umT5 on the CPU when asked (diffusers would hook or move it)."""
        with self._text_encoder_aside():
            super().enable_model_cpu_offload(gpu_id=gpu_id, device=device)

    def enable_sequential_cpu_offload(self, gpu_id: int | None = None, device: torch.device | str | None = None) -> None:
        with self._text_encoder_aside():
            super().enable_sequential_cpu_offload(gpu_id=gpu_id, device=device)

    @contextmanager
    def _text_encoder_aside(self) -> Iterator[None]:
        """Hide umT5 from diffusers' offload set-up while it must stay on the CPU (excluded modules get moved)."""
        encoder = self.text_encoder
        if not self._text_encoder_on_cpu or encoder is None:
            yield
            return
        self.register_modules(text_encoder=None)
        try:
            yield
        finally:
            self.register_modules(text_encoder=encoder)
            encoder.to("cpu")

    @staticmethod
    def _cast(module: torch.nn.Module | None, dtype: torch.dtype) -> None:
        if module is not None and next(module.parameters()).dtype != dtype:
            torch.nn.Module.to(module, dtype=dtype)

    @property
    def compute_device(self) -> torch.device:
        return self._execution_device

    # ------------------------------------------------------------------ prompts
    def _get_t5_prompt_embeds(  # type: ignore[override]
        self,
        prompt: str | list[str] | None = None,
        num_videos_per_prompt: int = 1,
        max_sequence_length: int = 226,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """diffusers' umT5 encoding (padded to ``max_sequence_length``, zeros after the prompt), ftfy optional."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt or [""])
        embeds = encode_t5(self.tokenizer, self.text_encoder, prompts, max_sequence_length)
        embeds = embeds.to(dtype=dtype or self.text_encoder.dtype, device=device or self._execution_device)
        return embeds.repeat_interleave(num_videos_per_prompt, dim=0)

    def prompt_embeddings(
        self, prompt: str, negative_prompt: str, do_cfg: bool, max_sequence_length: int, device: torch.device, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(positive, negative) umT5 embeddings, cached on the CPU: a repeated prompt never reruns umT5."""
        key = (prompt, negative_prompt if do_cfg else None, max_sequence_length)
        hit = self._prompt_cache.get(key)
        if hit is None:
            encode_on = torch.device("cpu") if self._text_encoder_on_cpu else device
            with torch.no_grad():
                pos, neg = self.encode_prompt(
                    prompt, negative_prompt, do_cfg, 1, max_sequence_length=max_sequence_length, device=encode_on
                )
            hit = (pos.cpu(), None if neg is None else neg.cpu())
            self._prompt_cache[key] = hit
            while len(self._prompt_cache) > PROMPT_CACHE_SIZE:
                self._prompt_cache.popitem(last=False)
        else:
            self._prompt_cache.move_to_end(key)
        pos, neg = hit
        return pos.to(device, dtype), None if neg is None else neg.to(device, dtype)

    # ------------------------------------------------------------------ step 1
    def check_vace_inputs(
        self,
        context: Frames,
        masks: Sequence[np.ndarray] | np.ndarray,
        originals: Frames | None,
        num_inference_steps: int,
        window_size: int,
        overlap: int,
        guidance_scale: float,
    ) -> tuple[int, int, int]:
        """Validate everything before any model runs; returns (frames, height, width)."""
        n = len(context)
        if n < 2:
            raise ValueError(f"context has {n} frame(s); propagation needs at least 2")
        first = np.asarray(context[0])
        if first.ndim != 3 or first.shape[2] != 3 or first.dtype != np.uint8:
            raise ValueError(f"context frames must be [H, W, 3] uint8, got {first.shape} {first.dtype}")
        h, w = first.shape[:2]
        multiple = self.vae_scale_factor_spatial * self.transformer.config.patch_size[1]
        if h % multiple or w % multiple:
            raise ValueError(f"context frames are {w}x{h}; width and height must be multiples of {multiple}")
        if len(masks) != n or np.asarray(masks[0]).shape != (h, w):
            raise ValueError(f"masks must be {n} frames of [{h}, {w}], got {len(masks)} of {np.asarray(masks[0]).shape}")
        if originals is not None:
            if self.heads is None:
                raise ValueError("originals (the SCE's input) need GenProp heads for Wan; none are loaded")
            if len(originals) != n or np.asarray(originals[0]).shape != first.shape:
                raise ValueError(f"originals must be {n} frames of {first.shape}, like the context")
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be an integer >= 1, got {num_inference_steps!r}")
        if window_size % self.vae_scale_factor_temporal != 1 or window_size < 5:
            raise ValueError(f"window_size must be 4k+1 >= 5 frames, got {window_size}")
        if not 1 <= overlap < window_size:
            raise ValueError(f"overlap must be in [1, {window_size - 1}], got {overlap}")
        if guidance_scale < 0:
            raise ValueError(f"guidance_scale must be >= 0, got {guidance_scale}")
        return n, h, w

    # ------------------------------------------------------------------ helpers
    def _sce_input(self, frames: list[np.ndarray], height: int, width: int, device: torch.device) -> torch.Tensor:
        """The SCE's view of the original frames: latents (16 ch) or VACE's layout with an all-keep mask (96 ch)."""
        pils = [PIL.Image.fromarray(f) for f in frames]
        keep = [PIL.Image.new("L", (width, height), 0)] * len(frames)
        video, mask, refs = self.preprocess_conditions(pils, keep, None, 1, height, width, len(frames), torch.float32, device)
        if self.heads.sce.in_channels == self.transformer.config.in_channels:
            return wan.encode_video(self.vae, video)
        latents = self.prepare_video_latents(video, mask, refs, None, device)
        return torch.cat([latents, self.prepare_masks(mask, refs, None)], dim=1)

    def _decode(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised latents ``[1, 16, F', h, w]`` -> ``[F, H, W, 3]`` uint8 (diffusers' postprocessing)."""
        latents = latents.to(self.vae.dtype)
        mean = (
            torch.tensor(self.vae.config.latents_mean).view(1, self.vae.config.z_dim, 1, 1, 1).to(latents.device, latents.dtype)
        )
        std = 1.0 / torch.tensor(self.vae.config.latents_std).view(1, self.vae.config.z_dim, 1, 1, 1).to(
            latents.device, latents.dtype
        )
        video = self.vae.decode(latents / std + mean, return_dict=False)[0]
        frames = self.video_processor.postprocess_video(video, output_type="np")[0]
        return np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)

    # ------------------------------------------------------------------ call
    @torch.no_grad()
    def __call__(  # type: ignore[override]
        self,
        context: Frames,
        masks: Sequence[np.ndarray] | np.ndarray,
        *,
        originals: Frames | None = None,
        prompt: str = "",
        negative_prompt: str = "",
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        num_inference_steps: int = 30,
        guidance_scale: float = 5.0,
        conditioning_scale: float = 1.0,
        window_size: int = DEFAULT_WINDOW,
        overlap: int = 5,
        colour_correction: bool = True,
        task: Task | str = Task.NONE,
        injection_weight: float = 1.0,
        max_sequence_length: int = 512,
        generator: torch.Generator | None = None,
        callback: Callable[[StepReport], None] | None = None,
        interrupt: Callable[[], None] | None = None,
        frame_sink: FrameSink | None = None,
    ) -> VacePipelineOutput:
        """Regenerate ``masks`` in ``context``, frame 0 fixed, window by window.

        context: ``T`` frames ``[H, W, 3]`` uint8 at model size (any indexable, read per window):
            the clip with the edited frame 0 (and the classic engine's result, when wanted).
        masks: ``T`` masks ``[H, W]`` (uint8 0/255 or float in [0, 1]); > 0.5 is regenerated.
            Frame 0 is always fixed (the edit).
        originals: the ORIGINAL clip for the SCE (GenProp heads only).
        interrupt: called before every transformer call and VAE pass; raise from it to cancel
            within a denoising step. callback: after every step and every window decode.
        frame_sink: receives ``(index, frame, mpd_mask_or_None)`` once a frame is final.
        """
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        n, height, width = self.check_vace_inputs(
            context, masks, originals, num_inference_steps, window_size, overlap, float(guidance_scale)
        )
        check = interrupt or (lambda: None)
        windows = plan_vace_windows(n, window_size, overlap, self.vae_scale_factor_temporal)
        total = len(windows) * (num_inference_steps + 1)
        done = 0
        self._guidance_scale = float(guidance_scale)
        do_cfg = self.do_classifier_free_guidance
        device = self._execution_device
        transformer_dtype = self.transformer.dtype
        vace_scale = torch.full(
            (len(self.transformer.config.vace_layers),), float(conditioning_scale), device=device, dtype=transformer_dtype
        )
        if prompt_embeds is None:
            prompt_embeds, negative_prompt_embeds = self.prompt_embeddings(
                prompt, negative_prompt, do_cfg, max_sequence_length, device, transformer_dtype
            )
        else:
            prompt_embeds = prompt_embeds.to(device, transformer_dtype)
            if do_cfg:
                if negative_prompt_embeds is None:
                    raise ValueError("guidance_scale > 1 needs negative_prompt_embeds with prompt_embeds")
                negative_prompt_embeds = negative_prompt_embeds.to(device, transformer_dtype)
        model = None
        if self.heads is not None and originals is not None:
            from engine.genprop.wan_model import WanGenPropModel

            model = WanGenPropModel(self.transformer, self.heads)
        pending: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        frames_out: list[np.ndarray] = []
        masks_out: list[np.ndarray] = []
        colour: list[ColourFix | None] = []

        def emit(upto: int) -> None:
            for idx in sorted(i for i in pending if i < upto):
                frame, mask = pending.pop(idx)
                if frame_sink is not None:
                    frame_sink(idx, frame, mask)
                else:
                    frames_out.append(frame)
                    if mask is not None:
                        masks_out.append(mask)

        for k, win in enumerate(windows):
            # 2. The window's context video and masks: fixed frames (frame 0, the previous window's output) have mask 0.
            t0 = time.perf_counter()
            ctx_frames: list[np.ndarray] = []
            ctx_masks: list[np.ndarray] = []
            for j in range(win.length):
                idx = win.start + j
                if j < win.context:
                    ctx_frames.append(pending[idx][0])
                    ctx_masks.append(np.zeros((height, width), np.uint8))
                    continue
                frame = np.asarray(context[idx])
                if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                    raise ValueError(f"context frame {idx} is {frame.shape} {frame.dtype}, expected ({height}, {width}, 3) uint8")
                raw = np.asarray(masks[idx])
                m = raw.astype(np.float32) / (255.0 if raw.dtype == np.uint8 else 1.0)
                ctx_frames.append(frame)
                ctx_masks.append(np.zeros((height, width), np.uint8) if idx == 0 else np.where(m > 0.5, 255, 0).astype(np.uint8))
            ctx_frames += [ctx_frames[-1]] * win.pad
            ctx_masks += [ctx_masks[-1]] * win.pad
            num_frames = win.model_frames
            check()
            # 3. VACE context latents (inactive / reactive / mask), exactly as diffusers builds them.
            video, mask, refs = self.preprocess_conditions(
                [PIL.Image.fromarray(f) for f in ctx_frames],
                [PIL.Image.fromarray(m) for m in ctx_masks],
                None,
                1,
                height,
                width,
                num_frames,
                torch.float32,
                device,
            )
            conditioning = self.prepare_video_latents(video, mask, refs, generator, device)
            conditioning = torch.cat([conditioning, self.prepare_masks(mask, refs, generator)], dim=1).to(transformer_dtype)
            sce_input = None
            if model is not None:
                originals_win = [np.asarray(originals[win.start + j]) for j in range(win.length)]
                sce_input = self._sce_input(originals_win + [originals_win[-1]] * win.pad, height, width, device)
                sce_input = sce_input.to(transformer_dtype)
            latents = self.prepare_latents(
                1, self.transformer.config.in_channels, height, width, num_frames, torch.float32, device, generator
            )
            timings["encode"] = timings.get("encode", 0.0) + time.perf_counter() - t0
            # 4. Denoise (the loop of WanVACEPipeline, cancellable before every transformer call).
            t0 = time.perf_counter()
            self.scheduler.set_timesteps(num_inference_steps, device=device)
            timesteps = self.scheduler.timesteps
            mask_logits = None
            for step, t in enumerate(timesteps):
                latent_in = latents.to(transformer_dtype)
                timestep = t.expand(latents.shape[0])
                last = step == len(timesteps) - 1
                check()
                noise_pred, logits = self._predict(
                    model, latent_in, timestep, prompt_embeds, conditioning, vace_scale, sce_input, task, injection_weight, last
                )
                mask_logits = logits if logits is not None else mask_logits
                if do_cfg:
                    check()
                    noise_uncond, _ = self._predict(
                        model,
                        latent_in,
                        timestep,
                        negative_prompt_embeds,
                        conditioning,
                        vace_scale,
                        sce_input,
                        task,
                        injection_weight,
                        False,
                        "uncond",
                    )
                    noise_pred = noise_uncond + self._guidance_scale * (noise_pred - noise_uncond)
                latents = self.scheduler.step(noise_pred, t, latents, return_dict=False)[0]
                done += 1
                if callback is not None:
                    callback(StepReport("denoising", win.index, len(windows), step + 1, num_inference_steps, done, total))
            timings["denoise"] = timings.get("denoise", 0.0) + time.perf_counter() - t0
            # 5. Decode; drop padding; MPD masks at frame size.
            t0 = time.perf_counter()
            check()
            frames = self._decode(latents)[: win.length]
            mpd_masks = None
            if mask_logits is not None:
                probs = torch.sigmoid(F.interpolate(mask_logits[0].float(), size=(height, width), mode="bilinear"))
                mpd_masks = probs[: win.length, 0].cpu().numpy()
            # 6. Colour drift against the previous window in the shared frames, then blend them.
            fix = None
            if win.context and colour_correction:
                reference = np.stack([pending[win.start + j][0] for j in range(win.context)])
                fix = colour_match(reference, frames[: win.context])
                frames = apply_colour(frames, fix.gain, fix.offset)
            colour.append(fix)
            weights = overlap_weights(win.context) if win.context else np.zeros(0, np.float32)
            for j in range(win.length):
                idx = win.start + j
                new_mask = None if mpd_masks is None else mpd_masks[j]
                if j < win.context:
                    a = float(weights[j])
                    old_f, old_m = pending[idx]
                    blended = np.rint(old_f * (1.0 - a) + frames[j] * a).astype(np.uint8) if a > 0 else old_f
                    mixed = old_m if new_mask is None or old_m is None else old_m * (1.0 - a) + new_mask * a
                    pending[idx] = (blended, mixed)
                else:
                    pending[idx] = (frames[j], new_mask)
            del latents, conditioning, sce_input, video, mask
            emit(windows[k + 1].start if k + 1 < len(windows) else n)
            done += 1
            timings["decode"] = timings.get("decode", 0.0) + time.perf_counter() - t0
            if callback is not None:
                callback(StepReport("decoding", win.index, len(windows), num_inference_steps, num_inference_steps, done, total))
        emit(n)
        self.maybe_free_model_hooks()
        timings["total"] = time.perf_counter() - t_start
        return VacePipelineOutput(
            frames=None if frame_sink is not None else np.stack(frames_out),
            masks=None if frame_sink is not None or not masks_out else np.stack(masks_out).astype(np.float32),
            windows=windows,
            colour=colour,
            timings=timings,
        )

    def _predict(
        self,
        model: Any,
        latents: torch.Tensor,
        timestep: torch.Tensor,
        embeds: torch.Tensor,
        conditioning: torch.Tensor,
        vace_scale: torch.Tensor,
        sce_input: torch.Tensor | None,
        task: Task | str,
        injection_weight: float,
        predict_mask: bool,
        cache: str = "cond",
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One transformer call: diffusers' VACE transformer, or GenProp-Wan with the SCE and MPD."""
        if model is None:
            with self.transformer.cache_context(cache):
                out = self.transformer(
                    hidden_states=latents,
                    timestep=timestep,
                    encoder_hidden_states=embeds,
                    control_hidden_states=conditioning,
                    control_hidden_states_scale=vace_scale,
                    return_dict=False,
                )[0]
            return out, None
        res = model(
            latents,
            timestep,
            embeds,
            conditioning,
            vace_scale,
            sce_input=sce_input,
            task=task,
            injection_weight=injection_weight,
            predict_mask=predict_mask,
        )
        return res.sample, res.mask_logits
