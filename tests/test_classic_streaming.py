"""The classic engine's streamed run (issue 16) equals its in-memory run exactly, for every operation.

``propagate_to`` keeps the clip and each operation's output in frame spools, packs the
masks, keeps a removal's correspondences on disk between its two sweeps and reads colours
through a window of ``2 * temporal_reach + 2`` frames; ``propagate`` holds arrays. Here the
reach is 4, so the window (10 frames) is far shorter than the clip, and each case must give
the same frames and masks as the in-memory run.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.edit import Keyframe
from engine.edits import InsertSpec, OutpaintSpec, RecolourSpec, RemoveSpec, ReplaceSpec, compose
from engine.engines.classic import ClassicEngine
from engine.engines.sink import MemorySink
from engine.procedural import generate_clip
from engine.video.frame_spool import FrameSpool
from engine.video.source import ArrayClip
from tests.edit_factory import STREAMING_OPTIONS, card_layer, object_mask

W, H, T = 128, 80, 30
OPTS = STREAMING_OPTIONS


@pytest.fixture(scope="module")
def clip():
    return generate_clip(W, H, T, num_objects=2, seed=2, pan_speed=2.0)


def _layer() -> np.ndarray:
    return card_layer(H, W)


def _same(frames: np.ndarray, ops, keyframes=(), opts=OPTS) -> None:  # noqa: ANN001
    """Streamed == in memory, frame by frame and mask by mask."""
    edit = compose(frames[0], ops, keyframes=list(keyframes))
    memory = ClassicEngine().propagate(ArrayClip(frames, 24.0), edit, dict(opts))
    streamed = ClassicEngine().propagate_to(MemorySink(24.0), ArrayClip(frames, 24.0), edit, dict(opts))
    assert streamed.frames.shape == memory.frames.shape
    for t in range(len(frames)):
        np.testing.assert_array_equal(streamed.frames[t], memory.frames[t], err_msg=f"frame {t}")
        np.testing.assert_array_equal(streamed.masks[t], memory.masks[t], err_msg=f"mask {t}")
    for a, b in zip(streamed.extras["operation_masks"], memory.extras["operation_masks"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert streamed.extras["warnings"] == memory.extras["warnings"]
    assert streamed.extras["frame_notes"] == memory.extras["frame_notes"]
    return memory


def test_streamed_removal_equals_the_in_memory_one(clip) -> None:  # noqa: ANN001
    memory = _same(clip.frames, [RemoveSpec(mask=object_mask(clip))])
    assert (memory.frames != clip.frames).any()  # something was filled


def test_removal_without_the_backward_pass_or_the_moving_check(clip) -> None:  # noqa: ANN001
    opts = {**OPTS, "remove_backward": False, "remove_moving_check": False}
    _same(clip.frames, [RemoveSpec(mask=object_mask(clip))], opts=opts)


def test_outpaint_insert_and_replace_stream_the_same(clip) -> None:  # noqa: ANN001
    _same(clip.frames, [OutpaintSpec(left=12, right=8, top=4, bottom=0)])
    _same(clip.frames, [InsertSpec(layer=_layer())])
    _same(clip.frames, [ReplaceSpec(mask=object_mask(clip), layer=_layer())])


def test_two_operations_and_an_outpaint_after_a_removal(clip) -> None:  # noqa: ANN001
    _same(clip.frames, [RecolourSpec(mask=object_mask(clip, 0), hue_shift=90.0), RemoveSpec(mask=object_mask(clip))])
    _same(clip.frames, [RemoveSpec(mask=object_mask(clip)), OutpaintSpec(left=10)])


def test_an_edited_keyframe_and_a_shot_cut(clip) -> None:  # noqa: ANN001
    k = 17
    user = clip.frames[k].copy()
    user[clip.object_masks[1, k]] = (0, 200, 0)  # the user's own fill of the hole on that frame
    keyframe = Keyframe(k, {0: clip.object_masks[1, k].astype(np.uint8) * 255}, edited_frame=user)
    _same(clip.frames, [RemoveSpec(mask=object_mask(clip))], [keyframe])
    other = generate_clip(W, H, T, num_objects=2, seed=11)
    spliced = np.concatenate([clip.frames[:19], other.frames[19:]])
    memory = _same(spliced, [RemoveSpec(mask=object_mask(clip))])
    assert memory.extras["shot_cuts"] == [19]


def test_a_frame_spool_reads_back_what_was_written_and_refuses_whole_array_reads() -> None:
    spool = FrameSpool(4, 6, 5)
    frames = np.random.default_rng(0).integers(0, 255, (4, 6, 5, 3), dtype=np.uint8)
    for t in range(4):
        spool[t] = frames[t]
    view = spool[1:3]
    assert view.shape == (2, 6, 5, 3) and len(view) == 2
    np.testing.assert_array_equal(view[1], frames[2])
    np.testing.assert_array_equal(spool[-1], frames[3])
    spool[0][:] = 0  # a read is a copy: the spool keeps its frame
    np.testing.assert_array_equal(spool[0], frames[0])
    band = spool.rows(2, 1, 4)
    np.testing.assert_array_equal(band, frames[2][1:4])
    band[:] = 0  # a band too
    np.testing.assert_array_equal(spool.rows(2, 0, 6), frames[2])
    with pytest.raises(TypeError, match="by index"):
        np.asarray(spool)
    with pytest.raises(IndexError):
        spool[4]
    with pytest.raises(ValueError, match="holds"):
        spool[0] = frames[0][:3]
    spool.close()


@pytest.mark.slow  # ~1-2 min on 2 loaded cores: two real removals, each run twice
def test_real_footage_removal_streams_the_same() -> None:
    from engine.evaluation.composite import build_cases, has_data

    if not has_data():
        pytest.skip("the shared clips and VOC masks are not present")
    opts = {"tracker": "flow", "temporal_reach": 8}  # colours read through a window of 18 of the 40 frames
    for case in build_cases(40, 480, scenes=["occluded_woman", "pan_man"], tasks=["remove"]):
        data = case.case_data()
        clip = ArrayClip(data.frames, data.fps)
        memory = ClassicEngine().propagate(clip, data.edit, dict(opts))
        streamed = ClassicEngine().propagate_to(MemorySink(data.fps), clip, data.edit, dict(opts))
        for t in range(len(data.frames)):
            np.testing.assert_array_equal(streamed.frames[t], memory.frames[t], err_msg=f"{data.spec.id} frame {t}")


def test_a_recolour_before_a_removal_survives_on_the_frames_with_a_hole(clip) -> None:  # noqa: ANN001
    """The removal filled from the source clip's frames and wrote whole frames back, so the recolour
    of another object vanished on every frame where the removal had a hole (found reading the code)."""
    ops = [RecolourSpec(mask=object_mask(clip, 0), hue_shift=90.0), RemoveSpec(mask=object_mask(clip))]
    both = _same(clip.frames, ops)
    alone = ClassicEngine().propagate(ArrayClip(clip.frames, 24.0), compose(clip.frames[0], ops[:1]), dict(OPTS))
    recoloured, removed = both.extras["operation_masks"]
    for t in range(1, T):
        keep = (recoloured[t] > 0) & (removed[t] == 0)
        assert keep.any()
        np.testing.assert_array_equal(both.frames[t][keep], alone.frames[t][keep], err_msg=f"frame {t}")


def test_a_removal_with_painted_extras_streams_the_same(clip) -> None:  # noqa: ANN001
    """The painted extras (a shadow under the object) are moved with it frame by frame, never as a whole-clip array."""
    mask = object_mask(clip)
    ys, xs = np.nonzero(mask)
    shadow = np.zeros_like(mask)
    shadow[ys.max() + 1 : ys.max() + 6, xs.min() : xs.max() + 1] = 255
    memory = _same(clip.frames, [RemoveSpec(mask=np.maximum(mask, shadow), extras_mask=shadow)])
    below = memory.extras["operation_masks"][0][T // 2] > 0
    assert (below & ~clip.object_masks[1, T // 2]).sum() > (shadow > 0).sum() // 2  # the moved shadow is part of the hole


def test_a_final_removal_goes_to_the_sink_without_an_output_spool(clip, monkeypatch) -> None:  # noqa: ANN001
    """A removal that ends the edit makes each frame as the sink takes it: no spool of its output
    (T * H * W * 3 bytes of disk: 30 GB for 4,800 frames at 1080p), and a cancel stops it there."""
    import engine.engines.classic.engine as classic_engine
    from engine.engines.base import CancelToken, PropagationCancelled

    made: list[tuple[int, ...]] = []

    class CountedSpool(FrameSpool):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            made.append(self.shape)

    monkeypatch.setattr(classic_engine, "FrameSpool", CountedSpool)
    _same(clip.frames, [RemoveSpec(mask=object_mask(clip))])
    assert len(made) == 1  # the source's spool only
    made.clear()
    _same(clip.frames, [RemoveSpec(mask=object_mask(clip)), RecolourSpec(mask=object_mask(clip, 0), hue_shift=90.0)])
    assert len(made) == 2  # not last: its output is read again by the recolour

    cancel = CancelToken()

    class CancellingSink(MemorySink):
        def put(self, frame, mask, operation_masks=None) -> None:  # noqa: ANN001
            super().put(frame, mask, operation_masks)
            if self._count == 5:
                cancel.cancel()

    edit = compose(clip.frames[0], [RemoveSpec(mask=object_mask(clip))])
    with pytest.raises(PropagationCancelled):
        ClassicEngine().propagate_to(CancellingSink(24.0), ArrayClip(clip.frames, 24.0), edit, dict(OPTS), cancel=cancel)


def test_frames_made_in_order_refuse_another_order() -> None:
    from engine.engines.classic.working_set import InOrderFrames

    closed = []

    def frames():  # noqa: ANN202
        try:
            for t in range(3):
                yield np.full((2, 2, 3), t, np.uint8)
        finally:
            closed.append(True)

    made = InOrderFrames(frames(), 3, (2, 2, 3))
    assert made.shape == (3, 2, 2, 3) and made[0][0, 0, 0] == 0 and made[1][0, 0, 0] == 1
    with pytest.raises(IndexError, match="in order"):
        made[0]
    made.close()
    assert closed == [True]
