"""The genprop engines on the Engine interface: source size/fps back, cancel, training-free mode."""

from __future__ import annotations

import numpy as np
import pytest

import engine.engines  # noqa: F401  (registers engines)
from engine.edit import EditKind, EditOperation, FirstFrameEdit
from engine.engines.base import CancelToken, Progress, PropagationCancelled, get_engine
from engine.pipelines import GenPropPipeline
from engine.pipelines.dummy import tiny_components
from engine.video import ArrayClip, open_video

OPTS = {"steps": 2, "long_side": 32, "window": 4, "overlap": 1, "max_guidance": 1.0, "feather": 2}


@pytest.fixture(scope="module")
def pipe() -> GenPropPipeline:
    return GenPropPipeline.from_components(**tiny_components(0))


def paste_edit(first: np.ndarray) -> FirstFrameEdit:
    h, w = first.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4 : h // 2, w // 4 : w // 2] = 255
    edited = first.copy()
    edited[mask > 0] = (255, 0, 0)
    layer = np.dstack([edited, mask])
    return FirstFrameEdit(first, edited, mask, [EditOperation(EditKind.INSERT, mask, {}, layer_rgba=layer)])


def generated_clip(n: int = 6, w: int = 45, h: int = 27) -> ArrayClip:
    yy, xx = np.mgrid[0:h, 0:w]
    return ArrayClip(
        [np.dstack([(xx * 5 + 3 * t) % 256, (yy * 7) % 256, np.full_like(xx, 90)]).astype(np.uint8) for t in range(n)],
        fps=12.5,
    )


def test_generated_clip_size_fps_and_keep_original(pipe: GenPropPipeline) -> None:
    clip = generated_clip()
    edit = paste_edit(clip[0])
    reports: list[Progress] = []
    result = get_engine("genprop")(pipeline=pipe).propagate(clip, edit, OPTS, reports.append)
    assert result.frames.shape == (6, 27, 45, 3) and result.masks.shape == (6, 27, 45)
    assert result.fps == 12.5 and result.mode == "genprop"
    assert result.extras["windows"] == [(0, 4), (3, 6)]
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(r.window == 1 and r.step == 2 for r in reports)
    from engine.pipelines.compositing import feather_mask

    for t in range(6):
        outside = feather_mask(result.masks[t], 2) == 0
        assert np.array_equal(result.frames[t][outside], clip[t][outside])


def test_real_clip_from_shared_data(pipe: GenPropPipeline, shared_data) -> None:  # type: ignore[no-untyped-def]
    reader = open_video(shared_data / "clips" / "tree.avi")
    clip = ArrayClip([reader[i] for i in range(5)], fps=reader.fps)
    reader.close()
    result = get_engine("genprop")(pipeline=pipe).propagate(clip, paste_edit(clip[0]), OPTS)
    assert result.frames.shape == (5, 240, 320, 3) and result.fps == clip.fps


def test_cancel_raises_within_a_step(pipe: GenPropPipeline) -> None:
    cancel = CancelToken()
    steps: list[int] = []

    def progress(p: Progress) -> None:
        if p.step:
            steps.append(p.step)
            cancel.cancel()

    clip = generated_clip()
    with pytest.raises(PropagationCancelled):
        get_engine("genprop")(pipeline=pipe).propagate(clip, paste_edit(clip[0]), OPTS, progress, cancel)
    assert steps == [1]


def test_training_free_engine_uses_tracked_mask(pipe: GenPropPipeline) -> None:
    clip = generated_clip(5)
    edit = paste_edit(clip[0])
    result = get_engine("genprop-training-free")(pipeline=pipe).propagate(clip, edit, OPTS)
    assert result.mode == "training-free" and "classic" in result.extras["mask_source"]
    assert "Training-free mode ran" in result.extras["message"]
    assert np.array_equal(result.masks[0], edit.edit_mask)  # the tracker starts from the edit mask
    outside = result.masks == 0
    from engine.pipelines.compositing import feather_mask

    for t in range(5):
        out = feather_mask(result.masks[t], 2) == 0
        assert np.array_equal(result.frames[t][out], clip[t][out])
    assert outside.any()


def test_availability_is_cheap_and_says_where(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("GENPROP_WEIGHTS_PATH", str(tmp_path / "gp"))
    ok, why = get_engine("genprop").availability()
    assert not ok and str(tmp_path / "gp") in why and "genprop-training-free" in why


def test_bad_options_and_sizes(pipe: GenPropPipeline) -> None:
    clip = generated_clip()
    eng = get_engine("genprop")(pipeline=pipe)
    with pytest.raises(ValueError, match="'bogus'"):
        eng.propagate(clip, paste_edit(clip[0]), {**OPTS, "bogus": 1})
    other = generated_clip(w=40, h=30)
    with pytest.raises(ValueError, match="40x30"):
        eng.propagate(clip, paste_edit(other[0]), OPTS)
    with pytest.raises(ValueError, match="needs at least 2"):
        eng.propagate(ArrayClip([clip[0]]), paste_edit(clip[0]), OPTS)
