"""The full-depth carry: the classic engine's result rebuilt at 16 bits from a 10-bit source,
operation by operation, never contradicting the engine's 8-bit result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.edits.compose import compose
from engine.edits.insert import InsertSpec
from engine.edits.outpaint import OutpaintSpec
from engine.edits.recolour import RecolourSpec, apply_recolour_float
from engine.edits.remove import RemoveSpec
from engine.edits.track import TrackSpec
from engine.engines.base import PropagationResult, get_engine
from engine.video import open_video
from engine.video.full_depth import TOLERANCE, FullDepthFrames
from tests.formats_media import deep_frames, disc_mask, encode_with_cli

W, H = 64, 48


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10-bit ProRes clip made by the FFmpeg command line."""
    folder = tmp_path_factory.mktemp("depth")
    return encode_with_cli(
        folder / "src.mov", deep_frames(6), ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"]
    )


def _run(source: Path, specs: list) -> tuple:  # type: ignore[type-arg]
    clip, hi = open_video(source), open_video(source, depth=16)
    edit = compose(clip[0], specs)
    result = get_engine("classic")().propagate(clip, edit, {})
    carried = FullDepthFrames(result.frames, clip, hi, edit, result.extras["operation_masks"])
    out = np.stack(list(carried))
    return clip, hi, edit, result, carried, out


def _agrees_with_engine(out: np.ndarray, result: PropagationResult) -> None:
    """Rounded to 8 bits, the full-depth frames are the engine's frames (to the tolerance)."""
    diff = np.abs(np.rint(out / 257.0) - result.frames.astype(np.float64))
    assert diff.max() <= TOLERANCE


def test_recolour_is_carried_at_full_depth(source: Path) -> None:
    clip, hi, edit, result, carried, out = _run(source, [RecolourSpec(mask=disc_mask(W, H), hue_shift=120, saturation=1.3)])
    assert out.dtype == np.uint16 and out.shape == (6, H, W, 3)
    _agrees_with_engine(out, result)
    masks = result.extras["operation_masks"][0] > 0
    src16 = np.stack([hi[t] for t in range(6)])
    assert np.array_equal(out[~masks], src16[~masks])  # untouched pixels: the source, to the last bit
    assert carried.report.fraction > 0.95, carried.report.describe()
    t = 3
    expected = apply_recolour_float(
        hi[t].astype(np.float32) / 65535, masks[t].astype(np.uint8) * 255, dict(edit.operations[0].params)
    )
    where = masks[t]
    assert np.abs(out[t][where].astype(np.float64) - np.rint(expected[where] * 65535)).max() <= 1
    inside = out[:, :, :, 0][masks]
    assert len(np.unique(inside)) > 8 * len(np.unique(result.frames[:, :, :, 0][masks]))  # gradients, not 8-bit steps
    assert "per operation" in carried.report.describe()


def test_track_fill_blends_in_float(source: Path) -> None:
    _, hi, _, result, carried, out = _run(source, [TrackSpec(mask=disc_mask(W, H), colour=[255, 0, 255], opacity=0.4)])
    _agrees_with_engine(out, result)
    masks = result.extras["operation_masks"][0] > 0
    t = 2
    expected = hi[t].astype(np.float64) / 65535 * 0.6 + np.array([1.0, 0.0, 1.0]) * 0.4
    assert np.abs(out[t][masks[t]] - np.rint(expected[masks[t]] * 65535)).max() <= 1
    assert carried.report.fraction > 0.95


def test_insert_and_remove_keep_8_bit_pixels_inside_their_masks_only(source: Path) -> None:
    layer = np.zeros((12, 12, 4), np.uint8)
    layer[..., 0], layer[..., 3] = 200, 255
    specs = [RemoveSpec(mask=disc_mask(W, H), dilate=1.0), InsertSpec(layer=layer, x=50, y=12)]
    _, hi, _, result, carried, out = _run(source, specs)
    _agrees_with_engine(out, result)
    ops = result.extras["operation_masks"]
    inside = (ops[0] > 0) | (ops[1] > 0)
    assert np.array_equal(out[inside], result.frames[inside].astype(np.uint16) * 257)  # the engine's pixels
    src16 = np.stack([hi[t] for t in range(6)])
    assert np.array_equal(out[~inside], src16[~inside])  # everywhere else the 10-bit source
    report = carried.report
    assert report.by_kind["remove"] > 0 and report.by_kind["insert"] > 0 and "at 8 bits" in report.describe()


def test_outpaint_carries_the_source_inside_the_bigger_canvas(source: Path) -> None:
    clip, hi, edit, result, carried, out = _run(source, [OutpaintSpec(left=8, right=8, method="reflect")])
    assert out.shape == (6, H, W + 16, 3) and edit.canvas_offset == (8, 0)
    _agrees_with_engine(out, result)
    src16 = np.stack([hi[t] for t in range(6)])
    assert np.array_equal(out[:, :, 8 : 8 + W], src16)
    assert np.array_equal(out[:, :, :8], result.frames[:, :, :8].astype(np.uint16) * 257)


def test_a_pixel_the_model_does_not_explain_is_the_engines(source: Path) -> None:
    """If the engine changes (the classic engine is being rewritten) the output follows the engine."""
    clip, hi = open_video(source), open_video(source, depth=16)
    edit = compose(clip[0], [RecolourSpec(mask=disc_mask(W, H), hue_shift=60)])
    result = get_engine("classic")().propagate(clip, edit, {})
    frames = result.frames.copy()
    frames[2, 5, 5] = (frames[2, 5, 5].astype(int) + 40).clip(0, 255)  # a change outside every mask
    carried = FullDepthFrames(frames, clip, hi, edit, result.extras["operation_masks"])
    out = carried.frame(2)
    assert np.array_equal(out[5, 5], frames[2, 5, 5].astype(np.uint16) * 257)
    assert np.array_equal(out[6, 6], hi[2][6, 6])


def test_engines_without_operation_masks_keep_the_source_where_they_kept_it(source: Path) -> None:
    """GenProp gives no per-op masks: where its result equals the 8-bit source, the 16-bit source is used."""
    clip, hi = open_video(source), open_video(source, depth=16)
    edit = compose(clip[0], [RecolourSpec(mask=disc_mask(W, H), hue_shift=60)])
    frames = np.stack([clip[t] for t in range(6)])
    generated = np.zeros((6, H, W), bool)
    generated[:, 10:30, 10:30] = True
    frames[generated] = 128
    result = PropagationResult(frames, generated.astype(np.uint8) * 255, 24.0, "genprop")
    carried = FullDepthFrames(result.frames, clip, hi, edit, None)
    out = np.stack(list(carried))
    src16 = np.stack([hi[t] for t in range(6)])
    assert np.array_equal(out[~generated], src16[~generated])
    assert np.array_equal(out[generated], np.full((generated.sum(), 3), 128 * 257, np.uint16))
    assert "kept source pixels" in carried.report.describe()


def test_mismatched_inputs_are_refused(source: Path) -> None:
    clip, hi = open_video(source), open_video(source, depth=16)
    edit = compose(clip[0], [RecolourSpec(mask=disc_mask(W, H), hue_shift=60)])
    short = np.stack([clip[t] for t in range(3)])
    with pytest.raises(ValueError, match="frames"):
        FullDepthFrames(short, clip, hi, edit, None)
