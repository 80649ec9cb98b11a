"""GenProp with keyframes (issue 19): windows start at edited keyframes and are conditioned on them (tiny dummy models)."""

from __future__ import annotations

import numpy as np
import pytest

import engine.engines  # noqa: F401  (registers engines)
from engine.edit import Keyframe
from engine.engines.base import get_engine
from engine.pipelines import GenPropPipeline
from engine.pipelines.dummy import tiny_components
from engine.pipelines.windows import plan_windows, unplaced_starts
from tests.test_pipeline_engine import generated_clip, paste_edit

OPTS = {"steps": 2, "long_side": 32, "window": 4, "overlap": 1, "max_guidance": 1.0, "feather": 2, "seed": 0}


@pytest.fixture(scope="module")
def pipe() -> GenPropPipeline:
    return GenPropPipeline.from_components(**tiny_components(0))


@pytest.mark.parametrize(
    ("n", "size", "overlap", "starts", "want"),
    [
        (8, 4, 1, [5], [(0, 4), (3, 6), (5, 8)]),
        (20, 8, 2, [5], [(0, 7), (5, 13), (11, 19), (17, 20)]),
        (20, 8, 1, [7], [(0, 8), (7, 15), (14, 20)]),  # already a natural start
        (10, 8, 1, [3, 4], [(0, 4), (3, 5), (4, 10)]),
    ],
)
def test_keyframes_start_windows(n: int, size: int, overlap: int, starts: list[int], want: list) -> None:
    windows = plan_windows(n, size, overlap, starts=starts)
    assert [(w.start, w.stop) for w in windows] == want
    for prev, cur in zip(windows, windows[1:], strict=False):
        assert cur.start == prev.stop - overlap and cur.length <= size
    assert unplaced_starts(windows, starts) == []


def test_a_keyframe_in_the_last_overlap_cannot_start_a_window() -> None:
    windows = plan_windows(10, 4, 2, starts=[9])
    assert windows == plan_windows(10, 4, 2) and unplaced_starts(windows, [9]) == [9]


def _keyframed(clip, colour):  # noqa: ANN001, ANN202
    edit = paste_edit(clip[0])
    edited = clip[5].copy()
    edited[edit.edit_mask > 0] = colour
    edit.keyframes = [Keyframe(5, edited_frame=edited)]
    return edit


def test_a_window_starting_at_an_edited_keyframe_is_conditioned_on_it(pipe: GenPropPipeline) -> None:
    clip = generated_clip(8)
    engine = get_engine("genprop")(pipeline=pipe)
    opts = {**OPTS, "keep_original": False}  # the random MPD's mask would keep the source everywhere
    green = engine.propagate(clip, _keyframed(clip, (0, 255, 0)), opts)
    blue = engine.propagate(clip, _keyframed(clip, (0, 0, 255)), opts)
    plain = engine.propagate(clip, paste_edit(clip[0]), opts)
    assert plain.extras["windows"] == [(0, 4), (3, 7), (6, 8)]
    assert green.extras["windows"] == [(0, 4), (3, 6), (5, 8)] and green.extras["conditioning"] == [0, 3, 5]
    assert green.extras["keyframes"] == [5]
    # Frame 5 of the output is the keyframe where the edit is (up to the model-size round trip).
    region = paste_edit(clip[0]).edit_mask > 0
    inner = np.zeros_like(region)
    ys, xs = np.nonzero(region)
    inner[ys.min() + 2 : ys.max() - 1, xs.min() + 2 : xs.max() - 1] = True
    g = green.frames[5][inner].astype(int).mean(axis=0)
    assert g[1] > 200 and g[0] < 60 and g[2] < 60, g
    # Frames before the keyframe's window do not depend on it; the frames after do (conditioned on it).
    assert np.array_equal(green.frames[:4], blue.frames[:4])
    assert not np.array_equal(green.frames[6:], blue.frames[6:])


def test_mask_only_keyframes_are_reported_with_genprop_weights(pipe: GenPropPipeline) -> None:
    clip = generated_clip(6)
    edit = paste_edit(clip[0])
    edit.keyframes = [Keyframe(3, {0: edit.operations[0].mask})]
    result = get_engine("genprop")(pipeline=pipe).propagate(clip, edit, OPTS)
    assert any("frames 4" in w and "not used with GenProp weights" in w for w in result.extras["warnings"])
