"""Run an engine over a test set and score every case, then average per task.

Which pixels count as "edited" decides PSNRm: the ground-truth masks when the case has
them (an engine cannot inflate its own mask to hide damage), otherwise the engine's own
masks, and the report says which was used. Metrics that need something a case lacks
(a target, masks, a CLIP model) are ``None``, never a made-up number.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engine.evaluation.testset import TASKS, CaseData, CaseSpec, TestSet, TestSetError, load_case
from engine.metrics import (
    ClipScorer,
    iou,
    j_and_f,
    psnr,
    psnr_inside,
    psnr_outside,
    ssim_outside,
    temporal_consistency,
)

METRICS: tuple[str, ...] = (
    "psnr_m",
    "ssim_outside",
    "psnr_inside",
    "psnr_target",
    "temporal_consistency",
    "temporal_consistency_target",
    "mask_iou",
    "j",
    "f",
    "jf",
    "clip_t",
    "clip_i",
    "seconds",
    "fps",
)
"""Every metric a case can have, in report order."""

HIGHER_IS_BETTER = {m: m not in ("temporal_consistency", "temporal_consistency_target", "seconds") for m in METRICS}


@dataclass
class CaseResult:
    """Scores of one case (``None`` where the case lacks what a metric needs)."""

    id: str
    task: str
    set: str
    frames: int = 0
    size: tuple[int, int] = (0, 0)
    region: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Evaluation:
    """Everything a report needs: per-case results, per-task means, and how it ran."""

    testset: str
    engine: str
    cases: list[CaseResult]
    per_task: dict[str, dict[str, float | None]]
    overall: dict[str, float | None]
    meta: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def mean_metrics(results: list[CaseResult]) -> dict[str, float | None]:
    """Mean of each metric over the cases that have it (failed cases excluded)."""
    out: dict[str, float | None] = {}
    for m in METRICS:
        vals = [r.metrics[m] for r in results if r.error is None and r.metrics.get(m) is not None]
        out[m] = float(np.mean(vals)) if vals else None
    out["cases"] = float(sum(r.error is None for r in results))
    return out


def score_case(
    data: CaseData,
    frames: np.ndarray,
    masks: np.ndarray,
    seconds: float,
    scorer: ClipScorer | None = None,
) -> CaseResult:
    """Metrics of one engine output ``frames``/``masks`` against the case's clip and ground truth."""
    spec = data.spec
    w, h = data.edit.canvas_size
    if frames.shape != (len(data.frames), h, w, 3):
        raise ValueError(f"case {spec.id!r}: output is {frames.shape}, expected {(len(data.frames), h, w, 3)}")
    engine_masks = masks > 0
    region = data.masks if data.masks is not None else engine_masks
    ox, oy = data.edit.canvas_offset
    fh, fw = data.frames.shape[1:3]
    crop = frames[:, oy : oy + fh, ox : ox + fw]
    region_crop = region[:, oy : oy + fh, ox : ox + fw]
    m: dict[str, float | None] = dict.fromkeys(METRICS)
    m["psnr_m"] = _finite(psnr_outside(crop, data.frames, region_crop))
    m["ssim_outside"] = _finite(ssim_outside(crop, data.frames, region_crop))
    same_shape = crop.shape == frames.shape
    reference = data.frames if same_shape else None
    m["temporal_consistency"] = _finite(temporal_consistency(frames, reference=reference))
    if data.target is not None:
        if data.masks is not None:
            m["psnr_inside"] = _finite(psnr_inside(frames, data.target, data.masks))
        m["psnr_target"] = _finite(float(np.mean([psnr(a, b) for a, b in zip(frames, data.target, strict=True)])))
        m["temporal_consistency_target"] = _finite(temporal_consistency(data.target, reference=reference))
    if data.masks is not None:
        m["mask_iou"] = float(np.mean([iou(p, g) for p, g in zip(engine_masks[1:], data.masks[1:], strict=True)]))
        jf = j_and_f(engine_masks, data.masks)
        m["j"], m["f"], m["jf"] = jf.j_mean, jf.f_mean, jf.jf_mean
    if scorer is not None:
        m["clip_t"] = scorer.clip_t(frames, spec.prompt)
        m["clip_i"] = scorer.clip_i(frames)
    m["seconds"] = float(seconds)
    m["fps"] = len(frames) / seconds if seconds > 0 else None
    return CaseResult(
        id=spec.id,
        task=spec.task,
        set=spec.set,
        frames=len(frames),
        size=(w, h),
        region="ground truth" if data.masks is not None else "engine masks",
        metrics=m,
    )


def run_case(
    spec: CaseSpec,
    engine_name: str,
    options: dict[str, Any] | None = None,
    scorer: ClipScorer | None = None,
    keep_output: Callable[[CaseSpec, np.ndarray, np.ndarray, float], None] | None = None,
) -> CaseResult:
    """Load one case, propagate it with ``engine_name`` and score it.

    A bad case (unreadable files) raises :class:`TestSetError`; an engine failure on a
    good case is recorded in ``CaseResult.error`` so one failure does not hide the rest.
    """
    import engine.engines  # noqa: F401  (registers the engines)
    from engine.engines.base import EngineUnavailableError, get_engine
    from engine.video import ArrayClip

    data = load_case(spec)
    engine = get_engine(engine_name)()
    start = time.perf_counter()
    try:
        result = engine.propagate(ArrayClip(data.frames, data.fps), data.edit, dict(options or {}))
    except EngineUnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported per case, evaluation goes on
        return CaseResult(spec.id, spec.task, spec.set, error=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    if keep_output is not None:
        keep_output(spec, result.frames, result.masks, data.fps)
    return score_case(data, result.frames, result.masks, seconds, scorer)


def evaluate(
    testset: TestSet,
    engine_name: str,
    options: dict[str, Any] | None = None,
    scorer: ClipScorer | None = None,
    cases: list[CaseSpec] | None = None,
    on_case: Callable[[int, int, CaseResult], None] | None = None,
    keep_output: Callable[[CaseSpec, np.ndarray, np.ndarray, float], None] | None = None,
    meta: dict[str, Any] | None = None,
) -> Evaluation:
    """Evaluate ``engine_name`` on ``cases`` (default: all) of ``testset``."""
    chosen = list(testset.cases if cases is None else cases)
    if not chosen:
        raise TestSetError(f"no cases selected from test set {testset.name!r}")
    results = []
    for i, spec in enumerate(chosen):
        res = run_case(spec, engine_name, options, scorer, keep_output)
        results.append(res)
        if on_case is not None:
            on_case(i + 1, len(chosen), res)
    per_task = {t: mean_metrics([r for r in results if r.task == t]) for t in TASKS if any(r.task == t for r in results)}
    return Evaluation(testset.name, engine_name, results, per_task, mean_metrics(results), dict(meta or {}))
