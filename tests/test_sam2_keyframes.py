"""SAM2 with keyframes (issue 19), the real sam2 predictor with random weights: a keyframe's mask is given to
SAM2 on that frame (``add_new_mask``), tracked forward from there and backward over the blend band before it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.edit import Keyframe
from engine.engines.base import get_engine
from engine.engines.classic.keyframe_track import BLEND_FRAMES, ReversedFrames, band_mask
from engine.engines.mask_track import track_operation_masks
from engine.video import ArrayClip
from tests.sam2_factory import random_video_predictor, save_checkpoint
from tests.test_sam2_tracker import SAM2_OPTS, _track_edit, coin, tracker  # noqa: F401 - fixtures

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

K = 3


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> object:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(random_video_predictor(0), tmp_path_factory.mktemp("sam2kf") / "a.pt")


def test_classic_engine_reanchors_sam2_at_a_keyframe(ckpt: Path, coin) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    frames, mask = coin
    frames = frames[:6]
    moved = np.roll(mask, (10, -40), axis=(0, 1))  # a correction somewhere else on frame K
    edit = _track_edit(frames, mask)
    opts = {**SAM2_OPTS, "sam2_checkpoint": str(ckpt)}
    plain = get_engine("classic")().propagate(ArrayClip(frames), edit, opts)
    edit.keyframes = [Keyframe(K, {0: moved})]
    fixed = get_engine("classic")().propagate(ArrayClip(frames), edit, opts)
    assert np.array_equal(fixed.masks[K], moved)  # the keyframe itself
    # After it: SAM2 started afresh on frame K with the keyframe's mask (add_new_mask there).
    direct = tracker(ckpt, image_size=128)
    after = [m[0] for _, m in direct.track(frames[K:], [moved])]
    for t in range(K + 1, len(frames)):
        assert np.array_equal(fixed.masks[t], after[t - K]), t
    # Before it: the forward track from frame 1, blended with SAM2 run backward from the keyframe.
    back = [m[0] for _, m in direct.track(ReversedFrames(frames, K, 0), [moved])]
    band = max(1, K - BLEND_FRAMES)
    for t in range(band, K):
        weight = (t - band + 1) / (K - band + 1)
        assert np.array_equal(fixed.masks[t], band_mask(plain.masks[t], back[K - t], weight)), t
    assert np.array_equal(fixed.masks[0], plain.masks[0])


def test_mask_track_with_sam2_follows_the_keyframe(ckpt: Path, coin) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    frames, mask = coin
    frames = frames[:5]
    moved = np.roll(mask, (10, -40), axis=(0, 1))
    edit = _track_edit(frames, mask)
    edit.keyframes = [Keyframe(K, {0: moved})]
    opts = {**SAM2_OPTS, "sam2_checkpoint": str(ckpt)}
    got = dict(track_operation_masks(ArrayClip(frames), edit, opts, start=K, stop=5))
    engine = get_engine("classic")().propagate(ArrayClip(frames), edit, opts)
    for t in (K, 4):
        assert np.array_equal(got[t][0], engine.masks[t]), t
