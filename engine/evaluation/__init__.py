"""Evaluation: the test-set format, the evaluator (metrics per case and per task) and reports."""

from engine.evaluation.build import target_patches, write_case, write_index, write_png_folder
from engine.evaluation.evaluator import METRICS, CaseResult, Evaluation, evaluate, mean_metrics, run_case, score_case
from engine.evaluation.report import to_markdown, write_json, write_markdown
from engine.evaluation.testset import TASKS, CaseData, CaseSpec, TestSet, TestSetError, load_case, load_testset

__all__ = [
    "METRICS",
    "TASKS",
    "CaseData",
    "CaseResult",
    "CaseSpec",
    "Evaluation",
    "TestSet",
    "TestSetError",
    "evaluate",
    "load_case",
    "load_testset",
    "mean_metrics",
    "run_case",
    "score_case",
    "target_patches",
    "to_markdown",
    "write_case",
    "write_index",
    "write_json",
    "write_markdown",
    "write_png_folder",
]
