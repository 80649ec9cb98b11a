"""Engines hand frames to a sink (memory or the on-disk store) and give the same result as in memory;
the propagate CLI writes through the store, exports from it and leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.edit import FirstFrameEdit
from engine.edits.recolour import recolour
from engine.edits.remove import remove
from engine.edits.track import track
from engine.engines.base import CancelToken, Engine, PropagationCancelled, PropagationResult
from engine.engines.classic import ClassicEngine
from engine.engines.sink import MemorySink
from engine.result_store import ResultWriter, StoreState, inspect, open_result
from engine.video.source import ArrayClip

ROOT = Path(__file__).resolve().parents[1]


def moving_clip(n: int = 10, w: int = 64, h: int = 48) -> np.ndarray:
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.integers(0, 255, (h, w + n * 2, 3), dtype=np.uint8), (0, 0), 1.5)
    frames = []
    for t in range(n):
        f = np.ascontiguousarray(bg[:, t * 2 : t * 2 + w])
        cv2.circle(f, (20 + 2 * t, 24), 8, (230, 40, 40), -1)
        frames.append(f)
    return np.stack(frames)


def first_mask(w: int = 64, h: int = 48) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.circle(m, (20, 24), 9, 255, -1)
    return m


def two_op_edit(frame: np.ndarray) -> FirstFrameEdit:
    m = first_mask()
    f1, op1 = track(frame, m)
    f2, op2 = recolour(f1, m, hue_shift=90)
    return FirstFrameEdit(frame, f2, np.maximum(op1.mask, op2.mask), [op1, op2])


@pytest.mark.parametrize("kind", ["recolour", "remove", "two ops"])
def test_classic_streams_the_same_result_as_in_memory(tmp_path: Path, kind: str) -> None:
    frames = moving_clip()
    clip = ArrayClip(frames, 25.0)
    m = first_mask()
    if kind == "recolour":
        f, op = recolour(frames[0], m, hue_shift=120)
        edit = FirstFrameEdit(frames[0], f, op.mask, [op])
    elif kind == "remove":
        f, op = remove(frames[0], m)
        edit = FirstFrameEdit(frames[0], f, op.mask, [op])
    else:
        edit = two_op_edit(frames[0])
    memory = ClassicEngine().propagate(clip, edit, {})
    streamed = ClassicEngine().propagate_to(MemorySink(25.0), clip, edit, {})
    stored = ClassicEngine().propagate_to(ResultWriter(tmp_path / "r", 25.0), clip, edit, {})
    for other in (streamed, stored):
        assert len(other.frames) == len(memory.frames)
        for t in range(len(memory.frames)):
            np.testing.assert_array_equal(other.frames[t], memory.frames[t])
            np.testing.assert_array_equal(other.masks[t], memory.masks[t])
        assert len(other.extras["operation_masks"]) == len(edit.operations)
        np.testing.assert_array_equal(other.extras["operation_masks"][-1][5], memory.extras["operation_masks"][-1][5])
        assert other.extras["warnings"] == memory.extras["warnings"] and other.engine == "classic"
    assert isinstance(stored.frames, type(open_result(tmp_path / "r").frames))  # read from disk, not arrays
    assert inspect(tmp_path / "r").state is StoreState.COMPLETE


class _ArraysEngine(Engine):
    """An engine that does not stream: the base class hands its arrays to the sink."""

    name = "test-arrays"

    def propagate(self, clip, edit, options=None, progress=None, cancel=None) -> PropagationResult:
        frames = np.stack([255 - clip[t] for t in range(len(clip))])
        return PropagationResult(frames, frames[..., 0], clip.fps, self.name, "inverted", {"warnings": ["w"]})


def test_an_engine_that_does_not_stream_still_writes_through_a_sink(tmp_path: Path) -> None:
    frames = moving_clip(5)
    clip = ArrayClip(frames, 24.0)
    edit = FirstFrameEdit(frames[0], frames[0], first_mask(), [])
    stored = _ArraysEngine().propagate_to(ResultWriter(tmp_path / "r", 24.0), clip, edit)
    np.testing.assert_array_equal(stored.frames[3], 255 - frames[3])
    assert stored.extras["warnings"] == ["w"] and stored.mode == "inverted" and stored.fps == 24.0


def test_a_cancelled_streaming_run_leaves_a_marked_partial(tmp_path: Path) -> None:
    frames = moving_clip(12)
    f, op = recolour(frames[0], first_mask(), hue_shift=120)
    edit = FirstFrameEdit(frames[0], f, op.mask, [op])
    cancel = CancelToken()

    def progress(p) -> None:  # noqa: ANN001
        if p.stage == "writing" and p.done > p.total - 4:
            cancel.cancel()

    with pytest.raises(PropagationCancelled):
        with ResultWriter(tmp_path / "r", 25.0) as writer:
            ClassicEngine().propagate_to(writer, ArrayClip(frames, 25.0), edit, {}, progress, cancel)
    status = inspect(tmp_path / "r")
    assert status.state is StoreState.PARTIAL and 0 < status.frames < 12


def test_propagate_cli_writes_through_the_store_and_leaves_no_store_behind(tmp_path: Path) -> None:
    from engine.edits.edit_file import load_edit, save_edit
    from engine.edits.recolour import RecolourSpec
    from engine.video import open_video, write_video

    frames = moving_clip(9)
    clip = tmp_path / "clip.mkv"
    write_video(clip, iter(frames), 25.0, lossless=True)
    edit = save_edit([RecolourSpec(first_mask(), hue_shift=120.0)], tmp_path / "edit")
    out = tmp_path / "out" / "result.mkv"
    out.parent.mkdir()
    cmd = [sys.executable, "main.py", "propagate", "--engine", "classic", "--video", str(clip), "--edit", str(edit)]
    cmd += ["--out", str(out), "--lossless", "--masks-out", str(tmp_path / "out" / "masks")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    reader = open_video(out)
    memory = ClassicEngine().propagate(ArrayClip(frames, 25.0), load_edit(edit, original_frame=frames[0])[1], {})
    assert len(reader) == 9
    np.testing.assert_array_equal(reader[8], memory.frames[8])
    reader.close()
    assert sorted(p.name for p in out.parent.iterdir()) == ["masks", "result.mkv"]  # the run's store is gone


def test_genprop_streams_window_by_window_into_the_store(tmp_path: Path) -> None:
    import engine.engines  # noqa: F401  (registers engines)
    from engine.engines.base import get_engine
    from engine.pipelines import GenPropPipeline
    from engine.pipelines.dummy import tiny_components

    pipe = GenPropPipeline.from_components(**tiny_components(0))
    yy, xx = np.mgrid[0:27, 0:45]
    clip = ArrayClip(
        [np.dstack([(xx * 5 + 3 * t) % 256, (yy * 7) % 256, np.full_like(xx, 90)]).astype(np.uint8) for t in range(5)]
    )
    m = np.zeros((27, 45), np.uint8)
    m[6:13, 11:22] = 255
    f, op = recolour(clip[0], m, hue_shift=100)
    edit = FirstFrameEdit(clip[0], f, op.mask, [op])
    opts = {"steps": 2, "long_side": 32, "window": 4, "overlap": 1, "max_guidance": 1.0, "feather": 2, "seed": 3}
    engine = get_engine("genprop")(pipeline=pipe)
    seen: list[int] = []

    class Spy(ResultWriter):
        def put(self, frame, mask, operation_masks=None) -> None:  # noqa: ANN001
            seen.append(self.frames_written)
            super().put(frame, mask, operation_masks)

    memory = engine.propagate(clip, edit, opts)
    stored = engine.propagate_to(Spy(tmp_path / "r", clip.fps), clip, edit, opts)
    assert seen == list(range(5)) and engine.streams
    for t in range(5):
        np.testing.assert_array_equal(stored.frames[t], memory.frames[t])
        np.testing.assert_array_equal(stored.masks[t], memory.masks[t])
    assert stored.extras["windows"] == memory.extras["windows"] and stored.mode == "genprop"
