"""Removal's fill streams (issue 16): two sweeps, each frame swept once per direction, each output
frame handed over as soon as the forward sweep reaches it, frames read once through a bounded window."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.engines.classic.motion import FlowCache
from engine.engines.classic.remove import fill_frames, fill_holes
from engine.engines.classic.working_set import FrameMasks
from engine.procedural import generate_clip
from engine.video.frame_spool import FrameSpool, RecordSpool

W, H, T, REACH = 128, 80, 24, 4


@pytest.fixture(scope="module")
def case():  # noqa: ANN201
    clip = generate_clip(W, H, T, num_objects=2, seed=5, pan_speed=2.0)
    holes = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0 for m in clip.object_masks[1]])
    first = clip.frames[0].copy()
    first[holes[0]] = (0, 200, 0)  # the user's fill of frame 1
    return clip.frames, holes, first


class _CountingSpool:
    """A spool that counts how often each frame is read from it whole, and the bands of rows read."""

    def __init__(self, frames: np.ndarray) -> None:
        self._spool = FrameSpool(*frames.shape[:3])
        for t, frame in enumerate(frames):
            self._spool[t] = frame
        self.shape, self.reads, self.bands = frames.shape, np.zeros(len(frames), int), []

    def __len__(self) -> int:
        return len(self._spool)

    def __getitem__(self, t: int) -> np.ndarray:
        self.reads[int(t)] += 1
        return self._spool[t]

    def rows(self, t: int, start: int, stop: int) -> np.ndarray:
        self.bands.append(stop - start)
        return self._spool.rows(t, start, stop)


@pytest.mark.parametrize("on_disk", [False, True])
def test_record_spool_hands_each_record_back_once(on_disk: bool) -> None:
    spool = RecordSpool(on_disk)
    spool.put(("a", 3), b"first")
    spool.put(("b", 3), b"")
    spool.put(7, bytes(range(200)))
    assert ("a", 3) in spool and 7 in spool and ("a", 4) not in spool
    assert spool.pop(7) == bytes(range(200)) and spool.pop(("a", 3)) == b"first" and spool.pop(("b", 3)) == b""
    assert 7 not in spool
    spool.close()


def test_each_output_frame_is_handed_over_as_soon_as_the_forward_sweep_reaches_it(case) -> None:  # noqa: ANN001
    frames, holes, first = case
    ticks = []
    out = fill_frames(frames, holes, first, FlowCache(frames), lambda: ticks.append(1), window=REACH, outputs=T - 4)
    next(out)  # frame 0: the backward sweep has run over every frame, the forward one only over frame 0
    assert len(ticks) == T + 1
    next(out)
    assert len(ticks) == T + 2
    rest = list(out)
    assert len(rest) == T - 6 and len(ticks) == T + (T - 4)  # no frame swept twice in either direction


def test_streamed_fill_reads_bands_of_source_frames_and_equals_the_in_memory_fill(case) -> None:  # noqa: ANN001
    """From a spool the fill reads each frame whole once (the frame it makes) and of the source frames only
    the rows their colours come from; the colours are the same as from whole frames in memory."""
    frames, holes, first = case
    whole = fill_holes(frames, holes, first, FlowCache(frames), window=REACH)
    spool = _CountingSpool(frames)
    packed = np.where(holes, np.uint8(255), np.uint8(0))
    streamed = list(fill_frames(spool, FrameMasks(packed, 0, T), first, FlowCache(frames), window=REACH, on_disk=True))
    assert len(streamed) == T
    for t in range(T):
        np.testing.assert_array_equal(streamed[t], whole[t], err_msg=f"frame {t}")
    assert (whole[1:][holes[1:]] != frames[1:][holes[1:]]).any()  # something was filled
    assert spool.reads.max() == 1 and spool.reads[1:].min() == 1
    assert spool.bands and max(spool.bands) < H  # bands of rows around the hole, never a whole frame


def test_a_band_of_rows_samples_like_the_whole_frame() -> None:
    """Bilinear colours at points near the band's edges and outside the frame: the same from the band as from the frame."""
    from engine.engines.classic.remove import _sample

    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (3, 40, 30, 3), dtype=np.uint8)
    n = 4000
    x = rng.uniform(-3, 33, n).astype(np.float32)
    y = np.concatenate([rng.uniform(7.0, 9.0, n // 2), rng.uniform(-2.5, 43.0, n // 2)]).astype(np.float32)
    idx = np.repeat(np.array([0, 1], np.int32), n // 2)
    y[:3] = (7.0, 8.96875, 9.5)  # on a whole row, a 1/32 step below one, and between the last two rows
    from engine.engines.classic.motion import sample_at

    expected = np.concatenate([sample_at(frames[0], x[: n // 2], y[: n // 2]), sample_at(frames[1], x[n // 2 :], y[n // 2 :])])
    np.testing.assert_array_equal(_sample(frames, idx, x, y), expected.astype(np.float32))


def test_a_finished_fill_frees_its_state_without_the_garbage_collector(case) -> None:
    """The fill's state must not sit in a reference cycle: one held the flow cache (150 MB at 1080p) and the
    frame spools (an open 30 GB file) after the fill until the collector happened to run."""
    import gc
    import weakref

    frames, holes, first = case
    flows = FlowCache(frames, 64)
    gone = weakref.ref(flows)
    gc.disable()
    try:
        for _ in fill_frames(frames, holes, first, flows, window=REACH):
            pass
        del flows
        assert gone() is None, "the flow cache outlived the fill (a reference cycle)"
    finally:
        gc.enable()
