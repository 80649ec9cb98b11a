"""Inference pipelines: GenProp on SVD (windowed, memory modes, training-free fallback)."""

from engine.pipelines.genprop_pipeline import (
    MODE_GENPROP,
    MODE_TRAINING_FREE,
    GenPropPipeline,
    GenPropPipelineOutput,
    StepReport,
)
from engine.pipelines.memory import ALL_MODES, MemoryPlan, OutOfMemoryAdviceError, choose_plan, run_with_oom_retry
from engine.pipelines.windows import Window, overlap_weights, plan_windows

__all__ = [
    "ALL_MODES",
    "MODE_GENPROP",
    "MODE_TRAINING_FREE",
    "GenPropPipeline",
    "GenPropPipelineOutput",
    "MemoryPlan",
    "OutOfMemoryAdviceError",
    "StepReport",
    "Window",
    "choose_plan",
    "overlap_weights",
    "plan_windows",
    "run_with_oom_retry",
]
