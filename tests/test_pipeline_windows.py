"""Pure parts of the pipeline: window planning, blending weights, memory modes, compositing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.pipelines.compositing import feather_mask, keep_original
from engine.pipelines.memory import (
    GIB,
    MemoryPlan,
    OutOfMemoryAdviceError,
    choose_plan,
    leaner,
    plan_for_mode,
    run_with_oom_retry,
)
from engine.pipelines.windows import overlap_weights, plan_windows


def test_twenty_frames_window_eight_overlap_one_chain_on_last_frame() -> None:
    windows = plan_windows(20, 8, overlap=1)
    assert [(w.start, w.stop) for w in windows] == [(0, 8), (7, 15), (14, 20)]
    for prev, cur in zip(windows, windows[1:], strict=False):
        assert cur.start == prev.stop - 1  # starts on the previous window's last frame
    covered = set().union(*(range(w.start, w.stop) for w in windows))
    assert covered == set(range(20))


@pytest.mark.parametrize("n,size,overlap", [(2, 8, 1), (8, 8, 3), (9, 8, 3), (100, 14, 4), (25, 25, 2), (30, 4, 3)])
def test_windows_cover_clip_and_overlap(n: int, size: int, overlap: int) -> None:
    windows = plan_windows(n, size, overlap)
    assert windows[0].start == 0 and windows[-1].stop == n
    assert all(w.length <= size for w in windows)
    assert all(w.length >= min(n, overlap + 1) for w in windows)
    for prev, cur in zip(windows, windows[1:], strict=False):
        assert cur.start == prev.stop - overlap


@pytest.mark.parametrize(
    "args,word",
    [((1, 8, 1), "num_frames"), ((10, 1, 1), "window_size"), ((10, 8, 0), "overlap"), ((10, 8, 8), "overlap")],
)
def test_window_planning_refuses_bad_values(args: tuple[int, int, int], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        plan_windows(*args)


def test_overlap_weights_keep_the_conditioning_frame() -> None:
    assert overlap_weights(1).tolist() == [0.0]
    w = overlap_weights(4)
    assert w[0] == 0.0 and np.all(np.diff(w) > 0) and w[-1] < 1.0


def test_auto_memory_plan_by_free_memory() -> None:
    assert choose_plan("auto", "cpu").dtype == torch.float32
    assert choose_plan("auto", "cuda", free_bytes=40 * GIB).offload == "none"
    assert choose_plan("auto", "cuda", free_bytes=16 * GIB).offload == "model"
    assert choose_plan("auto", "cuda", free_bytes=6 * GIB).offload == "sequential"
    assert plan_for_mode("offload", "cpu").offload == "none"  # nothing to offload from on CPU
    with pytest.raises(ValueError, match="'huge'"):
        choose_plan("huge")


def test_leaner_chain_ends() -> None:
    plan: MemoryPlan | None = plan_for_mode("fp32", "cuda")
    seen = []
    while plan is not None:
        seen.append((plan.offload, plan.decode_chunk_size))
        plan = leaner(plan, "cuda")
    assert seen[0] == ("none", 8) and seen[-1] == ("sequential", 1) and len(seen) == 5


def test_oom_retries_once_leaner_then_advises() -> None:
    calls: list[MemoryPlan] = []

    def fails_first(plan: MemoryPlan) -> str:
        calls.append(plan)
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return plan.mode

    start = plan_for_mode("fp16", "cuda")
    assert run_with_oom_retry(fails_first, start, "cuda") == "offload"
    assert [p.mode for p in calls] == ["fp16", "offload"]

    def always(plan: MemoryPlan) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(OutOfMemoryAdviceError, match="--memory sequential"):
        run_with_oom_retry(always, start, "cuda")

    def other(plan: MemoryPlan) -> None:
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_with_oom_retry(other, start, "cuda")


def test_keep_original_is_bit_identical_outside_feathered_mask() -> None:
    rng = np.random.default_rng(1)
    src = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    gen = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    mask = np.zeros((40, 50), np.uint8)
    mask[10:20, 15:30] = 255
    soft = feather_mask(mask, 4)
    assert soft[mask > 0].min() == 1.0  # the edit itself is fully generated
    out = keep_original(src, gen, soft)
    outside = soft == 0
    assert outside.sum() > 1000
    assert np.array_equal(out[outside], src[outside])
    assert np.array_equal(out[mask > 0], gen[mask > 0])
    with pytest.raises(ValueError, match="feather"):
        feather_mask(mask, -1)
