"""JSON and Markdown reports of an :class:`~engine.evaluation.evaluator.Evaluation`.

The Markdown leads with the scores against ground truth (true masks, target, corners,
cuts), then the source-based scores. Means leave out scores that hold by construction,
and the report lists which and why. The paper's numbers come last, on their own and
marked "reported": they were measured on the paper's test sets with its models, and our
PSNRm (often measured outside an engine's own mask) is not comparable with them.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from engine.evaluation.evaluator import GROUND_TRUTH_METRICS, METRICS, SOURCE_METRICS, Evaluation
from engine.evaluation.paper import SOURCE, TABLE1, TABLE2

LABELS = {
    "j": "J",
    "j_last": "J last",
    "f": "F",
    "jf": "J&F",
    "psnr_inside": "PSNR in (dB)",
    "ssim_inside": "SSIM in",
    "flicker": "flicker",
    "psnr_target": "PSNR vs GT (dB)",
    "corner_error": "corner err (px)",
    "corner_error_last": "corner err last (px)",
    "black_fraction": "black px",
    "black_from_source": "black px from source",
    "seam_ratio": "seam / natural",
    "cut_errors": "cut errors",
    "psnr_m": "PSNRm (dB)",
    "ssim_outside": "SSIM out",
    "temporal_consistency": "TC",
    "temporal_consistency_target": "TC of GT",
    "clip_t": "CLIP-T",
    "clip_i": "CLIP-I",
    "seconds": "time (s)",
    "fps": "frames/s",
}
_DIGITS = {
    "clip_t": 4,
    "clip_i": 4,
    "ssim_outside": 4,
    "ssim_inside": 4,
    "j": 3,
    "j_last": 3,
    "f": 3,
    "jf": 3,
    "black_fraction": 4,
    "black_from_source": 4,
    "cut_errors": 0,
    "seconds": 2,
    "fps": 1,
}


def fmt(metric: str, value: float | None) -> str:
    """A table cell: ``n/a`` for a missing value, ``lost`` for an infinite error."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "lost"
    return f"{value:.{_DIGITS.get(metric, 2)}f}"


def write_json(evaluation: Evaluation, path: str | Path) -> Path:
    """The whole evaluation as JSON (``null`` for missing metrics), written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_json_safe(evaluation.to_dict()), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _json_safe(value):  # noqa: ANN001, ANN202 - any JSON-like tree
    """Infinite errors (a lost layer) as the string ``"inf"``, NaN as ``null``: strict JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _table(header: list[str], rows: list[list[str]], align: list[str]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|", *["| " + " | ".join(r) + " |" for r in rows]]


def _present(evaluation: Evaluation, metrics: tuple[str, ...]) -> list[str]:
    return [m for m in metrics if any(c.error is None and c.metrics.get(m) is not None for c in evaluation.cases)]


def _means_table(evaluation: Evaluation, shown: list[str]) -> list[str]:
    rows = [[t, str(int(v["cases"] or 0)), *[fmt(m, v[m]) for m in shown]] for t, v in evaluation.per_task.items()]
    rows.append(["**all**", str(int(evaluation.overall["cases"] or 0)), *[fmt(m, evaluation.overall[m]) for m in shown]])
    return _table(["task", "cases", *[LABELS[m] for m in shown]], rows, ["---", "---:", *["---:"] * len(shown)])


def _cell(case, metric: str) -> str:  # noqa: ANN001 - CaseResult
    text = fmt(metric, case.metrics.get(metric))
    return f"({text})" if metric in case.by_construction else text


def paper_tables(evaluation: Evaluation) -> list[str]:
    """The paper's Table 1 (edits) and Table 2 (removal) rows, for reference only."""
    lines = [
        "### For reference: the paper's reported numbers (not comparable)",
        "",
        f"Reported in {SOURCE} on the paper's own test sets with its own models; nothing here reproduces them. "
        f"They are not set beside **{evaluation.engine}**'s scores on purpose: PSNRm is measured here on "
        f"{evaluation.testset} and, for an engine that copies the source outside its own mask, holds by construction.",
        "",
    ]
    rows = [
        [
            r.method,
            r.test_set,
            fmt("psnr_m", r.psnr_m),
            fmt("clip_t", r.clip_t),
            fmt("clip_i", r.clip_i),
            "reported (paper Table 1)",
        ]
        for r in TABLE1
    ]
    lines += _table(
        ["Method", "Test set", "PSNRm", "CLIP-T", "CLIP-I", "Source"], rows, ["---", "---", "---:", "---:", "---:", "---"]
    )
    lines += ["", "Object removal (CLIP-I):", ""]
    rows = [[r.method, fmt("clip_i", r.clip_i), "reported (paper Table 2)"] for r in TABLE2]
    lines += _table(["Method", "CLIP-I", "Source"], rows, ["---", "---:", "---"])
    return lines


def to_markdown(evaluation: Evaluation, title: str | None = None) -> str:
    """A Markdown report: ground-truth scores first, exclusions, source-based scores, the paper last."""
    meta = evaluation.meta
    lines = [f"## {title or f'Evaluation: {evaluation.engine} on {evaluation.testset}'}", ""]
    for key in ("date", "machine", "load", "versions", "command", "clip"):
        if meta.get(key):
            lines.append(f"- {key.capitalize()}: {meta[key]}")
    lines += [
        "- Scored frames 2..T (frame 1 is the user's edit). Region = the ground-truth masks where the case has them, "
        "else the engine's masks (column *region*). J/F: DAVIS region and boundary measures of the engine's masks; "
        "PSNR/SSIM in: inside the true region vs the target; flicker: mean |output's frame-to-frame change - the "
        "truth's| inside the region (0..255); corner err: mean distance of the inserted layer's corners from the truth "
        "(lost = the layer was not found); black px: share of new-canvas pixels left pure black where the truth is not "
        "dark; black px from source: pure black continuing the source's own black pixels across the seam (at most "
        "12 px deep; not counted as black px); seam / natural: step "
        "across the outpaint seam over the image's own step; cut errors: missed + false shot cuts. PSNRm/SSIM out: "
        "outside the region vs the source clip; TC: flow-warped error between consecutive output frames.",
        "- Values in (parentheses) hold by construction and are left out of the means (listed below).",
        "",
    ]
    gt = _present(evaluation, GROUND_TRUTH_METRICS)
    src = _present(evaluation, (*SOURCE_METRICS, "clip_t", "clip_i", "seconds", "fps"))
    if gt:
        lines += ["### Against ground truth (means over cases)", "", *_means_table(evaluation, gt), ""]
    lines += ["### Against the source clip, and time (means over cases)", "", *_means_table(evaluation, src), ""]
    lines += ["### Per case", ""]
    shown = gt + src
    rows = []
    for c in evaluation.cases:
        if c.error is not None:
            rows.append([c.id, c.task, "", f"failed: {c.error}", *[""] * (len(shown) - 1)])
        else:
            rows.append([c.id, c.task, c.region, *[_cell(c, m) for m in shown]])
    lines += _table(["case", "task", "region", *[LABELS[m] for m in shown]], rows, ["---", "---", "---", *["---:"] * len(shown)])
    excluded = [(c.id, m, why) for c in evaluation.cases if c.error is None for m, why in c.by_construction.items()]
    if excluded:
        lines += ["", "### Left out of the means (the score holds by construction)", ""]
        grouped: dict[tuple[str, str], list[str]] = {}
        for case_id, m, why in excluded:
            grouped.setdefault((case_id, why), []).append(LABELS[m])
        lines += [f"- {case_id}: {', '.join(ms)} — {why}" for (case_id, why), ms in grouped.items()]
    notes = [(c.id, n) for c in evaluation.cases for n in c.notes]
    if notes:
        lines += ["", "### Warnings the engine gave", "", *[f"- {case_id}: {n}" for case_id, n in notes]]
    lines += ["", *paper_tables(evaluation)]
    return "\n".join(lines) + "\n"


def write_markdown(evaluation: Evaluation, path: str | Path, title: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_markdown(evaluation, title), encoding="utf-8")
    return path


__all__ = ["LABELS", "METRICS", "fmt", "paper_tables", "to_markdown", "write_json", "write_markdown"]
