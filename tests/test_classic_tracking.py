"""The flow tracker on synthetic composites (no shared data): an object leaving the frame is
reported and never painted elsewhere; masks follow a moving, scaling object."""

from __future__ import annotations

import cv2
import numpy as np

from engine.edits import TrackSpec, compose
from engine.engines.classic import ClassicEngine
from engine.evaluation.composite.render import Motion, Paste, composite, render_paste
from engine.metrics import j_and_f
from engine.video.source import ArrayClip

W, H, T = 240, 136, 20


def _plate(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    world = cv2.GaussianBlur(rng.integers(0, 255, (H, W + 3 * T, 3)).astype(np.uint8), (0, 0), 2.0)
    return np.stack([world[:, 3 * t : 3 * t + W] for t in range(T)])  # the camera pans 3 px per frame


def _sprite(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = 50, 34
    rgb = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 1.0)
    rgb = (rgb * np.array([0.5, 0.35, 0.3]) + np.array([120, 30, 20])).astype(np.uint8)  # a reddish textured object
    alpha = np.zeros((h, w), np.uint8)
    cv2.ellipse(alpha, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 255, -1)
    return np.dstack([rgb, alpha])


def _case(end_x: float) -> tuple[np.ndarray, np.ndarray]:
    plate = _plate()
    paste = Paste(_sprite(), 44, Motion.path(T, (0.4 * W, 0.8 * H), (end_x, 0.78 * H), (1.0, 1.1), ease=False), shadow=None)
    layer = render_paste(paste, T, (W, H))
    return composite(plate, [layer]), layer.alpha > 0.5


def _track(frames: np.ndarray, first: np.ndarray):  # noqa: ANN202
    edit = compose(frames[0], [TrackSpec(mask=first.astype(np.uint8) * 255)])
    return ClassicEngine().propagate(ArrayClip(frames, 24.0), edit)


def test_follows_a_moving_scaling_object() -> None:
    frames, truth = _case(0.7 * W)
    res = _track(frames, truth[0])
    score = j_and_f(res.masks > 0, truth)
    assert score.j_mean > 0.85 and score.per_frame_j[-1] > 0.8, (score.j_mean, score.per_frame_j[-1])
    assert not res.extras["warnings"]


def test_an_object_leaving_the_frame_is_reported_and_not_painted_elsewhere() -> None:
    frames, truth = _case(1.4 * W)  # fully out of view before the end
    res = _track(frames, truth[0])
    gone = [t for t in range(T) if not truth[t].any()]
    assert len(gone) > 2, "the object should leave the frame"
    # At most a sliver at the border on the first frame without it, nothing after.
    assert (res.masks[gone[0]] > 0).sum() < 0.2 * truth[0].sum()
    assert not res.masks[gone[1:]].any()
    assert any("left the frame" in w for w in res.extras["warnings"]), res.extras["warnings"]
    assert any("left the frame" in n for n in res.extras["frame_notes"].values())
