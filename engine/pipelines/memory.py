"""Memory modes for the pipeline: precision, offloading, VAE decode chunk size, attention.

A :class:`MemoryPlan` says how to place the models; :func:`choose_plan` turns a mode
name (``auto`` picks by free GPU memory) into a plan, and :func:`run_with_oom_retry`
runs a job once, retries once in the next leaner plan when the GPU runs out of memory,
and otherwise raises :class:`OutOfMemoryAdviceError` that says what to change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TypeVar

import torch
from torch import nn

from engine.pipelines.memory_modes import ALL_MODES, MEMORY_MODES

log = logging.getLogger(__name__)

GIB = 1024**3


_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class MemoryPlan:
    """How the pipeline places its models.

    mode: the named mode this plan came from.
    dtype: weights and activations precision.
    offload: ``none`` | ``model`` (a whole model moves to the GPU only while it runs) |
        ``sequential`` (layer by layer; slowest, smallest).
    decode_chunk_size: frames the VAE decodes at once.
    attention: ``sdpa`` (PyTorch scaled-dot-product attention) or ``eager`` (plain matmuls).
    """

    mode: str
    dtype: torch.dtype
    offload: str = "none"
    decode_chunk_size: int = 8
    attention: str = "sdpa"

    def describe(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        return f"{self.mode} ({dtype}, offload={self.offload}, decode chunk {self.decode_chunk_size}, {self.attention})"


def plan_for_mode(mode: str, device: torch.device | str = "cpu") -> MemoryPlan:
    """The plan of a named mode (not ``auto``). On CPU, offloading means nothing and is dropped."""
    if mode not in MEMORY_MODES:
        raise ValueError(f"memory mode must be one of {', '.join(ALL_MODES)}; got {mode!r}")
    on_gpu = torch.device(device).type == "cuda"
    if mode in _DTYPES:
        plan = MemoryPlan(mode, _DTYPES[mode], "none", 8)
    elif mode == "offload":
        plan = MemoryPlan(mode, torch.float16, "model", 4)
    else:
        plan = MemoryPlan(mode, torch.float16, "sequential", 2)
    if not on_gpu and plan.offload != "none":
        # No GPU to offload from; half precision on CPU is only fast as bf16.
        plan = replace(plan, offload="none", dtype=torch.bfloat16)
    return plan


def choose_plan(mode: str = "auto", device: torch.device | str = "cpu", free_bytes: int | None = None) -> MemoryPlan:
    """Resolve ``mode``; ``auto`` picks by the GPU's free memory (fp32 on CPU, for exactness).

    Thresholds are for SVD-XT at 576x1024, 14 frames: fp16 fits in ~20 GiB with the
    VAE decoding 8 frames at a time; model offload needs ~12 GiB; below that, sequential.
    """
    if mode != "auto":
        return plan_for_mode(mode, device)
    device = torch.device(device)
    if device.type != "cuda":
        return plan_for_mode("fp32", device)
    if free_bytes is None:
        free_bytes, _ = torch.cuda.mem_get_info(device)
    if free_bytes >= 24 * GIB:
        return replace(plan_for_mode("fp16", device), mode="auto:fp16")
    if free_bytes >= 12 * GIB:
        return replace(plan_for_mode("offload", device), mode="auto:offload")
    return replace(plan_for_mode("sequential", device), mode="auto:sequential")


def leaner(plan: MemoryPlan, device: torch.device | str = "cpu") -> MemoryPlan | None:
    """The next plan that uses less GPU memory, or ``None`` when there is none."""
    order = {"none": 0, "model": 1, "sequential": 2}[plan.offload]
    if order == 0 and plan.dtype == torch.float32:
        return replace(plan_for_mode("fp16", device), decode_chunk_size=max(1, plan.decode_chunk_size // 2))
    if order == 0:
        return plan_for_mode("offload", device)
    if order == 1:
        return plan_for_mode("sequential", device)
    if plan.decode_chunk_size > 1:
        return replace(plan, decode_chunk_size=1)
    return None


class OutOfMemoryAdviceError(RuntimeError):
    """The GPU ran out of memory even in a leaner mode; the message says what to change."""


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


T = TypeVar("T")


def run_with_oom_retry(
    job: Callable[[MemoryPlan], T],
    plan: MemoryPlan,
    device: torch.device | str = "cpu",
    on_retry: Callable[[MemoryPlan, MemoryPlan], None] | None = None,
) -> T:
    """Run ``job(plan)``; on out-of-memory retry ONCE with ``leaner(plan)``, then advise."""
    try:
        return job(plan)
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        if not is_oom(exc):
            raise
        first = exc
    _empty_cache()
    lean = leaner(plan, device)
    if lean is None:
        raise OutOfMemoryAdviceError(_advice(plan, None)) from first
    log.warning("out of GPU memory in %s; retrying in %s", plan.describe(), lean.describe())
    if on_retry is not None:
        on_retry(plan, lean)
    try:
        return job(lean)
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        if not is_oom(exc):
            raise
        _empty_cache()
        raise OutOfMemoryAdviceError(_advice(plan, lean)) from exc


def _advice(plan: MemoryPlan, lean: MemoryPlan | None) -> str:
    tried = plan.describe() + (f", then {lean.describe()}" if lean else "")
    return (
        f"Out of GPU memory (tried {tried}). Try, in this order: --memory sequential; a smaller "
        "model size (--long-side 384 or 256); a shorter window (--window 8); fewer frames; "
        "closing other programs that use the GPU; or --device cpu (slow but always fits)."
    )


def _empty_cache() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def set_attention(modules: Sequence[nn.Module], attention: str) -> None:
    """Switch every diffusers attention layer in ``modules`` to SDPA or eager processors."""
    from diffusers.models.attention_processor import Attention, AttnProcessor, AttnProcessor2_0

    if attention not in ("sdpa", "eager"):
        raise ValueError(f"attention must be 'sdpa' or 'eager', got {attention!r}")
    for module in modules:
        for sub in module.modules():
            if isinstance(sub, Attention):
                sub.set_processor(AttnProcessor2_0() if attention == "sdpa" else AttnProcessor())


class ModelPlacer:
    """Puts models on the compute device for a stage and back on the CPU afterwards.

    With ``offload == "model"`` only the models a stage needs sit on the GPU (the U-Net
    and the GenProp heads together, since the SCE feeds the U-Net within one step);
    otherwise :meth:`use` does nothing.
    """

    def __init__(self, device: torch.device, offload: str = "none") -> None:
        self.device = torch.device(device)
        self.offload = offload
        self._on_device: list[nn.Module] = []

    @contextmanager
    def use(self, *modules: nn.Module | None) -> Iterator[None]:
        if self.offload != "model":
            yield
            return
        wanted = [m for m in modules if m is not None]
        for m in self._on_device:
            if all(m is not w for w in wanted):
                m.to("cpu")
        for m in wanted:
            m.to(self.device)
        self._on_device = wanted
        yield
