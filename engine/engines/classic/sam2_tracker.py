"""SAM2's video predictor as a mask tracker (the ``tracker="sam2"`` of the classic engine).

:class:`Sam2VideoTracker` follows every first-frame mask with ``sam2``'s own video
predictor: ``build_sam2_video_predictor`` from the checkpoint's config (size and version
told from its tensors), an inference state, ``add_new_mask`` per object on frame 0, then
``propagate_in_video``. Three things differ from sam2's demo path, all for long clips:

- frames are decoded on demand (:class:`FrameStream`) instead of sam2's
  ``load_video_frames``, which holds the whole clip as ``[T, 3, S, S]`` float32 (3 MB a
  frame at 512, 12 MB at 1024);
- the memory bank is trimmed as tracking goes (:func:`forget_old_frames`): sam2 keeps
  every frame's outputs, but only reads the conditioning frame, the last
  ``num_maskmem - 1`` frames' memories and the last ``max_obj_ptrs_in_encoder`` object
  pointers, so older ones are dropped and the masks stay bit-identical;
- the working resolution is configurable (``++model.image_size``; SAM2 was trained at
  1024, 512 is about 3x faster).

CUDA runs under bf16 autocast (as sam2's demos do), the CPU in fp32. Objects that SAM2
scores as absent (its object-score head: occluded, out of frame) get empty masks and
are reported in :attr:`Sam2VideoTracker.frame_notes` / :attr:`Sam2VideoTracker.warnings`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from PIL import Image

from engine.edits.selection.sam2_weights import Sam2Arch, Sam2WeightsError, identify_sam2, load_sam2_state, read_sam2_state
from engine.engines.base import EngineUnavailableError

log = logging.getLogger(__name__)

IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)
"""sam2's input normalisation (``sam2.utils.misc.load_video_frames``)."""


class FrameStream:
    """The ``images`` of a SAM2 inference state, made one frame at a time when the predictor asks.

    sam2's predictor only ever indexes ``images[t]`` for the frame it works on; this gives
    it the same ``[3, S, S]`` float32 tensor sam2's JPEG loader makes (PIL resize to
    ``S x S``, /255, ImageNet mean and std) from any random-access clip, without holding
    the clip.

    Args:
        frames: ``len()`` and ``frames[t] -> [H, W, 3]`` uint8 RGB (an array or a FrameSource).
        image_size: the predictor's ``image_size``.
    """

    def __init__(self, frames: Any, image_size: int) -> None:
        self.frames, self.image_size = frames, int(image_size)
        self._mean = torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None, None]
        self._std = torch.tensor(IMG_STD, dtype=torch.float32)[:, None, None]

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, t: int) -> torch.Tensor:
        frame = np.asarray(self.frames[int(t)])
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame {t} must be [H, W, 3] uint8 RGB, got {frame.shape} {frame.dtype}")
        resized = np.asarray(Image.fromarray(frame).resize((self.image_size, self.image_size))) / 255.0
        image = torch.from_numpy(resized).permute(2, 0, 1).float()
        return (image - self._mean) / self._std


def new_inference_state(
    predictor: Any, images: FrameStream, video_hw: tuple[int, int], offload_state_to_cpu: bool = False
) -> dict:
    """sam2's ``init_state`` with a :class:`FrameStream` as its images.

    ``SAM2VideoPredictor.init_state`` only reads MP4 files and JPEG folders, all frames
    at once; the state it builds is a plain dict, made here with the same keys (sam2
    1.1; ``tests/test_sam2_tracker.py`` compares them with sam2's own) and warmed up on
    frame 0 as sam2 does.
    """
    device = predictor.device
    state: dict[str, Any] = {
        "images": images,
        "num_frames": len(images),
        "offload_video_to_cpu": True,  # frames live on the CPU until the predictor moves one over
        "offload_state_to_cpu": offload_state_to_cpu,
        "video_height": int(video_hw[0]),
        "video_width": int(video_hw[1]),
        "device": device,
        "storage_device": torch.device("cpu") if offload_state_to_cpu else device,
        "point_inputs_per_obj": {},
        "mask_inputs_per_obj": {},
        "cached_features": {},
        "constants": {},
        "obj_id_to_idx": OrderedDict(),
        "obj_idx_to_id": OrderedDict(),
        "obj_ids": [],
        "output_dict_per_obj": {},
        "temp_output_dict_per_obj": {},
        "frames_tracked_per_obj": {},
    }
    predictor._get_image_feature(state, frame_idx=0, batch_size=1)
    return state


def memory_horizon(predictor: Any) -> int:
    """How many frames back the predictor reads non-conditioning outputs (masks memories, object pointers)."""
    stride = int(getattr(predictor, "memory_temporal_stride_for_eval", 1))
    return max(stride * int(predictor.num_maskmem), int(predictor.max_obj_ptrs_in_encoder)) + 1


def forget_old_frames(state: dict, frame_idx: int, horizon: int) -> None:
    """Drop outputs of frames more than ``horizon`` before ``frame_idx`` (forward tracking never reads them)."""
    oldest = frame_idx - horizon
    for outputs in state["output_dict_per_obj"].values():
        non_cond = outputs["non_cond_frame_outputs"]
        for t in [t for t in non_cond if t < oldest]:
            del non_cond[t]
    for tracked in state["frames_tracked_per_obj"].values():
        for t in [t for t in tracked if t < oldest]:
            del tracked[t]


def resolve_torch_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"SAM2 device must be auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"SAM2 device {name!r} was asked for, but no CUDA GPU is available here; use cpu")
    return device


# ---------------------------------------------------------------------- building (kept loaded)
_BUILD_LOCK = threading.Lock()
_LOADED: dict[tuple, tuple[Any, Sam2Arch]] = {}


def load_video_predictor(checkpoint: str | Path, image_size: int, device: torch.device) -> tuple[Any, Sam2Arch]:
    """sam2's video predictor for ``checkpoint`` at ``image_size`` on ``device``, and what the file holds.

    The last one built is kept (keyed by file, modification time, size and device), so
    the GUI's next run does not read and build it again.

    Raises:
        EngineUnavailableError: the sam2 package is missing, or the file is unreadable or
            not a SAM2 checkpoint (the message names the file).
    """
    path = Path(checkpoint).expanduser()
    try:
        stat = path.stat()
    except OSError:
        raise EngineUnavailableError(f"the sam2 tracker needs SAM2 weights: checkpoint {path} does not exist") from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, int(image_size), str(device))
    with _BUILD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        try:
            from sam2.build_sam import build_sam2_video_predictor
        except ImportError as exc:
            raise EngineUnavailableError(f"the sam2 tracker needs the sam2 package: {exc}") from exc
        try:
            state = read_sam2_state(path)  # a bad file fails here, before a build
            arch = identify_sam2(state, path)
            with warnings.catch_warnings():
                # sam2 calls torch.jit.script, which torch flags as deprecated: sam2's business.
                warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
                predictor = build_sam2_video_predictor(
                    arch.config, ckpt_path=None, device="cpu", hydra_overrides_extra=[f"++model.image_size={int(image_size)}"]
                )
            load_sam2_state(predictor, state, path)
        except Sam2WeightsError as exc:
            raise EngineUnavailableError(f"the sam2 tracker cannot use its weights: {exc}") from None
        del state
        predictor = predictor.to(device).eval()
        _LOADED.clear()  # keep one: a model is hundreds of MB
        _LOADED[key] = (predictor, arch)
        log.info("built the %s video predictor at %d px on %s from %s", arch.name, image_size, device, path)
        return predictor, arch


@contextlib.contextmanager
def _quiet_progress_bar() -> Iterator[None]:
    """sam2's ``propagate_in_video`` opens a tqdm bar on stderr; ours is the engine's progress."""
    import sam2.sam2_video_predictor as svp

    with mock.patch.object(svp, "tqdm", lambda iterable, **_kw: iterable):
        yield


# ---------------------------------------------------------------------- the tracker
@dataclass
class _Visibility:
    """When SAM2 scored one object absent (its object score <= 0), as spans of frame indices."""

    name: str
    spans: list[list[int]] = field(default_factory=list)

    def see(self, t: int, visible: bool) -> None:
        if visible:
            return
        if self.spans and self.spans[-1][1] == t - 1:
            self.spans[-1][1] = t
        else:
            self.spans.append([t, t])


MAX_SPANS_REPORTED = 3


class Sam2VideoTracker:
    """Tracks first-frame masks with SAM2's video predictor; a :class:`~engine.engines.classic.tracker.MaskTracker`.

    Args:
        checkpoint: a SAM2 / SAM2.1 checkpoint (``.pt`` as Meta publishes it, or
            ``.safetensors``); the model is built from the config its tensors say.
        image_size: the square side SAM2 works at (a multiple of 32).
        device: ``auto`` (CUDA when there is one), ``cpu``, ``cuda`` or ``cuda:N``.
        object_names: names for the objects in warnings, in the order they are tracked
            across calls (the classic engine tracks one operation per call).
        offload_state_to_cpu: keep the (trimmed) memory bank in CPU memory on a GPU run.

    After each :meth:`track`, :attr:`frame_notes` (frame index -> text) and
    :attr:`warnings` say where SAM2 scored an object absent.
    """

    def __init__(
        self,
        checkpoint: str | Path | None,
        image_size: int = 512,
        device: str = "auto",
        object_names: Sequence[str] = (),
        offload_state_to_cpu: bool = False,
    ) -> None:
        if checkpoint is None or not Path(checkpoint).expanduser().is_file():
            raise EngineUnavailableError(
                f"the SAM2 video tracker needs SAM2 weights (a checkpoint file); none found at {checkpoint!r}. "
                "Download SAM2.1 in Models, or use tracker='flow'."
            )
        if int(image_size) % 32 or int(image_size) < 64:
            raise ValueError(f"SAM2 image_size must be a multiple of 32 and at least 64, got {image_size}")
        self.device = resolve_torch_device(device)
        self.predictor, self.arch = load_video_predictor(checkpoint, int(image_size), self.device)
        self.checkpoint = Path(checkpoint)
        self.image_size = int(image_size)
        self.offload_state_to_cpu = offload_state_to_cpu
        self.object_names = list(object_names)
        self.frame_notes: dict[int, str] = {}
        self.warnings: list[str] = []
        self._objects_seen = 0

    @property
    def backend(self) -> str:
        return f"{self.arch.name} video predictor at {self.image_size} px on {self.device.type}"

    @contextlib.contextmanager
    def _step(self) -> Iterator[None]:
        """One predictor call: bf16 autocast on CUDA (as sam2's demos run), fp32 on the CPU."""
        with warnings.catch_warnings():
            # Without sam2's compiled CUDA extension its hole-filling post-step is skipped, with a
            # warning per run; sam2 documents that this does not change results in most cases.
            warnings.filterwarnings("ignore", message=r".*cannot import name '_C'.*", category=UserWarning)
            if self.device.type == "cuda":
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    yield
            else:
                yield

    def _names(self, count: int) -> list[str]:
        start, self._objects_seen = self._objects_seen, self._objects_seen + count
        return [self.object_names[i] if i < len(self.object_names) else f"object {i + 1}" for i in range(start, start + count)]

    def track(
        self,
        frames: Any,
        first_masks: Sequence[np.ndarray],
        *,
        names: Sequence[str] | None = None,
        to_clip: Callable[[int], int] | None = None,
    ) -> Iterator[tuple[int, list[np.ndarray]]]:
        """Yield ``(t, masks)`` for every frame (frame 0: the first masks themselves).

        Args:
            frames: ``len()`` and ``frames[t] -> [H, W, 3]`` uint8 RGB; read one frame at a time.
            first_masks: ``[H, W]`` masks on frame 0 (nonzero = object), one per object.
            names: the objects' names in notes (default: the next of ``object_names``, one
                call per operation); given when one operation is tracked in several runs
                (from its keyframes, ``engine.engines.classic.keyframe_track``).
            to_clip: run frame -> clip frame for notes and warnings (a run that starts at a
                keyframe, or runs backward from one); default: the same index.
        """
        n = len(frames)
        if n < 1:
            raise ValueError("the clip has no frames")
        h, w = np.asarray(frames[0]).shape[:2]
        for i, m in enumerate(first_masks):
            if np.asarray(m).shape != (h, w):
                raise ValueError(f"first mask {i} is {m.shape[1]}x{m.shape[0]} but frames are {w}x{h}")
        names = list(names) if names is not None else self._names(len(first_masks))
        clip_t = to_clip or (lambda t: t)
        first = [np.where(np.asarray(m) > 0, np.uint8(255), np.uint8(0)) for m in first_masks]
        present = [k for k, m in enumerate(first) if m.any()]  # an empty object has nothing to follow
        empty = np.zeros((h, w), np.uint8)
        yield 0, [m.copy() for m in first]
        if n == 1:
            return
        if not present:
            for t in range(1, n):
                yield t, [empty.copy() for _ in first]
            return
        p = self.predictor
        with torch.inference_mode(), self._step():
            state = new_inference_state(p, FrameStream(frames, self.image_size), (h, w), self.offload_state_to_cpu)
            for k in present:
                p.add_new_mask(state, 0, k, torch.from_numpy(first[k] > 0))
        visibility = {k: _Visibility(names[k]) for k in present}
        horizon = memory_horizon(p)
        steps = p.propagate_in_video(state)
        try:
            with _quiet_progress_bar(), self._step():
                next(steps)  # frame 0: the conditioning frame, given back as is
            for t in range(1, n):
                with self._step():
                    frame_idx, obj_ids, logits = next(steps)
                if frame_idx != t:  # pragma: no cover - sam2 tracks forward one frame at a time
                    raise RuntimeError(f"SAM2 returned frame {frame_idx} where frame {t} was expected")
                masks = [empty.copy() for _ in first]
                found = (logits[:, 0] > 0.0).cpu().numpy()
                for row, k in enumerate(obj_ids):
                    masks[k] = np.where(found[row], np.uint8(255), np.uint8(0))
                    out = state["output_dict_per_obj"][row]["non_cond_frame_outputs"][t]
                    score = float(out["object_score_logits"].float().max())
                    visibility[k].see(t, score > 0.0)
                    if score <= 0.0:
                        self._note(clip_t(t), f"{names[k]}: not visible (SAM2 object score {score:.1f})")
                forget_old_frames(state, t, horizon)
                yield t, masks
        finally:
            steps.close()
            del state
        if n < 2 or clip_t(1) > clip_t(0):  # a backward run's spans are left to its per-frame notes
            self._summarise(visibility.values(), n, clip_t)

    def _note(self, t: int, text: str) -> None:
        self.frame_notes[t] = f"{self.frame_notes[t]}; {text}" if t in self.frame_notes else text

    def _summarise(self, visibility: Any, n: int, clip_t: Callable[[int], int] = lambda t: t) -> None:
        for v in visibility:
            if not v.spans:
                continue
            parts = []
            for a, b in v.spans[:MAX_SPANS_REPORTED]:
                ca, cb = clip_t(a), clip_t(b)
                span = f"frame {ca + 1}" if a == b else f"frames {ca + 1}-{cb + 1}"
                parts.append(span + (f", back at frame {clip_t(b + 1) + 1}" if b + 1 < n else ", to the end"))
            more = f" and {len(v.spans) - MAX_SPANS_REPORTED} more spans" if len(v.spans) > MAX_SPANS_REPORTED else ""
            self.warnings.append(f"SAM2 lost {v.name} (occluded or out of frame): {'; '.join(parts)}{more}")
