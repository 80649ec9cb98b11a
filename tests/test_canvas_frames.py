"""The diffusion engines' lazy frame views: the source on an outpainted canvas, frames in model space."""

from __future__ import annotations

import numpy as np
import pytest

from engine.edits import OutpaintSpec, compose
from engine.engines.canvas_frames import InModelSpace, SourceOnCanvas
from engine.video.model_space import ModelSpace
from engine.video.source import ArrayClip


def _clip(t: int = 3, h: int = 20, w: int = 30) -> ArrayClip:
    rng = np.random.default_rng(0)
    return ArrayClip(rng.integers(0, 255, (t, h, w, 3), dtype=np.uint8), 24.0)


def test_source_on_an_outpainted_canvas_sits_at_the_offset_with_edges_replicated() -> None:
    clip = _clip()
    edit = compose(clip[0], [OutpaintSpec(left=4, right=2, top=3, bottom=1)])
    canvas = SourceOnCanvas(clip, edit)
    frame = canvas[2]
    assert len(canvas) == 3 and frame.shape == (24, 36, 3)
    np.testing.assert_array_equal(frame[3:23, 4:34], clip[2])
    np.testing.assert_array_equal(frame[0, 4:34], clip[2][0])  # the top margin repeats the first row
    np.testing.assert_array_equal(frame[10, 0], clip[2][7, 0])  # the left margin repeats the first column


def test_without_an_outpaint_the_frame_is_the_source_and_a_small_canvas_is_refused() -> None:
    clip = _clip()
    edit = compose(clip[0], [OutpaintSpec(left=2)])
    np.testing.assert_array_equal(SourceOnCanvas(clip, compose(clip[0], []))[1], clip[1])
    small = _clip(w=40)
    with pytest.raises(ValueError, match="does not contain"):
        SourceOnCanvas(small, edit)


def test_in_model_space_maps_each_frame_and_mask_on_request() -> None:
    clip = _clip()
    space = ModelSpace.fit((30, 20), long_side=64, multiple=16)
    frames = InModelSpace(clip, space)
    masks = InModelSpace([np.full((20, 30), 255, np.uint8)], space, mask=True)
    np.testing.assert_array_equal(frames[1], space.to_model(clip[1]))
    np.testing.assert_array_equal(masks[0], space.to_model(np.full((20, 30), 255, np.uint8), mask=True))
    assert len(frames) == 3 and len(masks) == 1
