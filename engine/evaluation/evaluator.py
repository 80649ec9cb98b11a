"""Run an engine over a test set and score every case, then average per task.

Scores cover frames 2..T (indices 1..T-1): frame 1 is the user's own edit, given to
the engine. Which pixels count as "edited" decides PSNRm: the ground-truth masks when
the case has them (an engine cannot inflate its own mask to hide damage), otherwise the
engine's own masks, and the report says which was used. Metrics that need something a
case lacks (a target, masks, corners, a CLIP model) are ``None``, never a made-up number.

Some scores hold *by construction* rather than by merit, and are kept out of the
means (the case still shows them, and the report says why): PSNRm/SSIM measured
outside the engine's own mask, PSNRm of an output identical to the source outside the
region (the engine copied it), and J/F when the true region is the same every frame as
on frame 1 (keeping the frame-1 mask scores 1).
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
    MAX_PSNR,
    ClipScorer,
    black_fractions,
    corner_errors,
    flicker,
    j_and_f,
    psnr,
    psnr_inside,
    psnr_outside,
    seam_ratio,
    ssim_inside,
    ssim_outside,
    temporal_consistency,
)

FIRST_SCORED = 1
"""Frames before this index are not scored (frame 1 is the user's edit)."""

GROUND_TRUTH_METRICS: tuple[str, ...] = (
    "j",
    "j_last",
    "f",
    "jf",
    "psnr_inside",
    "ssim_inside",
    "flicker",
    "psnr_target",
    "corner_error",
    "corner_error_last",
    "black_fraction",
    "black_from_source",
    "seam_ratio",
    "cut_errors",
)
"""Metrics against exact ground truth (true masks, target, corners, cuts), report order."""

SOURCE_METRICS: tuple[str, ...] = ("psnr_m", "ssim_outside", "temporal_consistency", "temporal_consistency_target")
"""Metrics against the source clip (no ground truth of the edit needed)."""

METRICS: tuple[str, ...] = (*GROUND_TRUTH_METRICS, *SOURCE_METRICS, "clip_t", "clip_i", "seconds", "fps")
"""Every metric a case can have, in report order (ground truth first)."""

LOWER_IS_BETTER = {
    "flicker",
    "corner_error",
    "corner_error_last",
    "black_fraction",
    "black_from_source",
    "seam_ratio",
    "cut_errors",
    "temporal_consistency",
    "temporal_consistency_target",
    "seconds",
}
HIGHER_IS_BETTER = {m: m not in LOWER_IS_BETTER for m in METRICS}


@dataclass
class CaseResult:
    """Scores of one case (``None`` where the case lacks what a metric needs).

    ``by_construction`` maps metrics whose value holds by construction (left out of
    the means) to the reason; ``notes`` are the engine's warnings and detected cuts.
    """

    id: str
    task: str
    set: str
    frames: int = 0
    size: tuple[int, int] = (0, 0)
    region: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)
    by_construction: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
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


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def mean_metrics(results: list[CaseResult]) -> dict[str, float | None]:
    """Mean of each metric over the cases that have it (failed cases and by-construction scores excluded)."""
    out: dict[str, float | None] = {}
    for m in METRICS:
        vals = [r.metrics[m] for r in results if r.error is None and r.metrics.get(m) is not None and m not in r.by_construction]
        out[m] = float(np.mean(vals)) if vals else None
    out["cases"] = float(sum(r.error is None for r in results))
    return out


def _cut_errors(truth: list[int], found: list[int], tolerance: int = 1) -> int:
    """Missed true cuts + detections matching no true cut (within ``tolerance`` frames)."""
    missed = sum(not any(abs(f - c) <= tolerance for f in found) for c in truth)
    false = sum(not any(abs(f - c) <= tolerance for c in truth) for f in found)
    return missed + false


def score_case(
    data: CaseData,
    frames: np.ndarray,
    masks: np.ndarray,
    seconds: float,
    scorer: ClipScorer | None = None,
    extras: dict[str, Any] | None = None,
) -> CaseResult:
    """Metrics of one engine output ``frames``/``masks`` against the case's clip and ground truth.

    ``extras``: the engine's ``PropagationResult.extras`` (its ``shot_cuts`` are scored
    when the case knows the true cuts; its ``warnings`` are kept in the result).
    """
    spec = data.spec
    extras = extras or {}
    w, h = data.edit.canvas_size
    if frames.shape != (len(data.frames), h, w, 3):
        raise ValueError(f"case {spec.id!r}: output is {frames.shape}, expected {(len(data.frames), h, w, 3)}")
    s = slice(FIRST_SCORED, None)
    engine_masks = masks > 0
    region = data.masks if data.masks is not None else engine_masks
    ox, oy = data.edit.canvas_offset
    fh, fw = data.frames.shape[1:3]
    crop = frames[:, oy : oy + fh, ox : ox + fw]
    region_crop = region[:, oy : oy + fh, ox : ox + fw]
    m: dict[str, float | None] = dict.fromkeys(METRICS)
    why: dict[str, str] = {}
    m["psnr_m"] = _finite(psnr_outside(crop[s], data.frames[s], region_crop[s]))
    m["ssim_outside"] = _finite(ssim_outside(crop[s], data.frames[s], region_crop[s]))
    if data.masks is None:
        why["psnr_m"] = why["ssim_outside"] = "measured outside the engine's own mask"
    elif m["psnr_m"] == MAX_PSNR:
        why["psnr_m"] = why["ssim_outside"] = "output identical to the source outside the region (copied)"
    same_shape = crop.shape == frames.shape
    reference = data.frames if same_shape else None
    m["temporal_consistency"] = _finite(temporal_consistency(frames, reference=reference))
    if data.target is not None:
        m["psnr_target"] = _finite(float(np.mean([psnr(a, b) for a, b in zip(frames[s], data.target[s], strict=True)])))
        m["temporal_consistency_target"] = _finite(temporal_consistency(data.target, reference=reference))
        if data.masks is not None:
            m["psnr_inside"] = _finite(psnr_inside(frames[s], data.target[s], data.masks[s]))
            m["ssim_inside"] = _finite(ssim_inside(frames[s], data.target[s], data.masks[s]))
            m["flicker"] = _finite(flicker(frames[s], data.target[s], data.masks[s]))
        if spec.task == "outpaint" and data.masks is not None:
            black, from_source = black_fractions(frames[s], data.masks[s], data.target[s])  # one analysis for both
            m["black_fraction"], m["black_from_source"] = _finite(black), _finite(from_source)
            m["seam_ratio"] = _finite(seam_ratio(frames[s], (ox, oy), (fw, fh)))
    if data.masks is not None:
        jf = j_and_f(engine_masks, data.masks, skip_first=FIRST_SCORED > 0)
        m["j"], m["f"], m["jf"], m["j_last"] = jf.j_mean, jf.f_mean, jf.jf_mean, jf.per_frame_j[-1]
        if all(np.array_equal(data.masks[t], data.masks[0]) for t in range(1, len(data.masks))):
            for k in ("j", "j_last", "f", "jf"):
                why[k] = "true region is the same every frame (a frame-1 mask kept static scores 1)"
    corners = data.truth.get("corners")
    if corners is not None and data.masks is not None:
        errs = corner_errors(frames, data.edit.edited_frame, data.masks[0], np.asarray(corners))
        m["corner_error"] = float(np.mean(errs[s])) if np.isfinite(errs[s]).all() else math.inf
        m["corner_error_last"] = float(errs[-1])
    cuts = data.truth.get("shot_cuts")
    if cuts is not None and "shot_cuts" in extras:
        m["cut_errors"] = float(_cut_errors(list(cuts), [int(c) for c in extras["shot_cuts"]]))
    if scorer is not None:
        m["clip_t"] = scorer.clip_t(frames, spec.prompt)
        m["clip_i"] = scorer.clip_i(frames)
    m["seconds"] = float(seconds)
    m["fps"] = len(frames) / seconds if seconds > 0 else None
    notes = [str(x) for x in extras.get("warnings", [])]
    return CaseResult(
        id=spec.id,
        task=spec.task,
        set=spec.set,
        frames=len(frames),
        size=(w, h),
        region="ground truth" if data.masks is not None else "engine masks",
        metrics=m,
        by_construction=why,
        notes=notes,
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
    return run_loaded_case(load_case(spec), engine_name, options, scorer, keep_output)


def run_loaded_case(
    data: CaseData,
    engine_name: str,
    options: dict[str, Any] | None = None,
    scorer: ClipScorer | None = None,
    keep_output: Callable[[CaseSpec, np.ndarray, np.ndarray, float], None] | None = None,
) -> CaseResult:
    """:func:`run_case` on a case already in memory (composite cases, tests)."""
    import engine.engines  # noqa: F401  (registers the engines)
    from engine.engines.base import EngineUnavailableError, get_engine
    from engine.video import ArrayClip

    spec = data.spec
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
    return score_case(data, result.frames, result.masks, seconds, scorer, result.extras)


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
    return summarise(testset.name, engine_name, results, meta)


def summarise(testset: str, engine_name: str, results: list[CaseResult], meta: dict[str, Any] | None = None) -> Evaluation:
    """An :class:`Evaluation` with per-task and overall means of ``results``."""
    per_task = {t: mean_metrics([r for r in results if r.task == t]) for t in TASKS if any(r.task == t for r in results)}
    return Evaluation(testset, engine_name, results, per_task, mean_metrics(results), dict(meta or {}))
