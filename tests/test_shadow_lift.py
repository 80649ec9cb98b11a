"""Removing an object with its painted shadow: the ground under the shadow is lifted, not painted over."""

from __future__ import annotations

import numpy as np
import pytest

from engine.edits.remove import remove
from engine.edits.shadow_lift import lift_shadow


def _ground(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """A textured ground (grass-like noise on a gradient): what an inpainting cannot invent."""
    rng = np.random.default_rng(seed)
    base = np.stack([np.linspace(70, 110, w)] * h)[..., None] * np.array([0.8, 1.0, 0.5])
    return np.clip(base + rng.normal(0, 18, (h, w, 3)), 0, 255).astype(np.uint8)


def _scene(gain: float = 0.45):
    ground = _ground()
    obj = np.zeros(ground.shape[:2], np.uint8)
    obj[30:80, 40:60] = 255  # the object
    shadow = np.zeros_like(obj)
    shadow[70:90, 60:130] = 255  # its cast shadow on the ground, beside it
    darkening = np.where(shadow > 0, 1 - gain, 0.0)[..., None]
    frame = (ground * (1 - darkening)).astype(np.uint8)
    frame[obj > 0] = (200, 30, 30)
    return ground, frame, obj, shadow


def _psnr(a: np.ndarray, b: np.ndarray, m: np.ndarray) -> float:
    err = ((a.astype(float) - b.astype(float)) ** 2)[m].mean()
    return float(10 * np.log10(255**2 / err))


def test_a_painted_shadow_is_lifted_so_the_ground_keeps_its_texture() -> None:
    ground, frame, obj, shadow = _scene()
    out, op = remove(frame, obj, method="telea", extras_mask=shadow)
    inner = np.zeros(obj.shape, bool)
    inner[73:87, 64:126] = True  # the shadow away from its edge
    assert op.params["shadow"] == "lifted"
    painted = _psnr(remove(frame, np.maximum(obj, shadow), method="telea")[0], ground, inner)  # the old result
    lifted = _psnr(out, ground, inner)
    assert lifted >= painted + 6.0 and lifted >= 30.0, (lifted, painted)
    np.testing.assert_array_equal(out[op.mask == 0], frame[op.mask == 0])


@pytest.mark.parametrize("gain", [1.3, 1.0])
def test_painted_extras_that_do_not_darken_are_inpainted_as_before(gain: float) -> None:
    """A highlight or a reflection is not a shadow: no lift (it would keep the highlight)."""
    _, frame, obj, shadow = _scene(gain)
    out, op = remove(frame, obj, method="telea", extras_mask=shadow)
    assert op.params["shadow"] == "inpainted"
    filled = remove(frame, np.maximum(obj, shadow), method="telea")[0]
    lifted, did = lift_shadow(frame, filled, shadow, obj)
    assert not did and lifted is filled


def test_no_lift_next_to_the_object() -> None:
    """The shadow's pixels touching the object keep the inpainting (the object's edge is not lifted into view)."""
    _, frame, obj, shadow = _scene()
    shadow[30:80, 60:62] = 255  # painted right up to the object's side
    filled = remove(frame, np.maximum(obj, shadow), method="telea")[0]
    out, did = lift_shadow(frame, filled, shadow, obj)
    assert did
    np.testing.assert_array_equal(out[30:70, 60:62], filled[30:70, 60:62])


def test_the_moved_shadow_is_lifted_over_ground_no_frame_shows_unshadowed() -> None:
    """Ground under the object on frame 1 and under its shadow afterwards is never seen bare: the engine
    lifts it from each frame (its texture) instead of carrying the frame-1 inpainting all clip."""
    from engine.edits import RemoveSpec, compose
    from engine.engines.classic import ClassicEngine
    from engine.video.source import ArrayClip

    h, w, n = 120, 200, 16
    ground = _ground(h, w, seed=3)
    cloth = np.clip(np.array([200, 40, 40]) + np.random.default_rng(5).normal(0, 30, (40, 30, 3)), 0, 255).astype(np.uint8)
    frames, objects, shadows = [], [], []
    for t in range(n):
        x = 120 - 3 * t  # moving left; the shadow trails on its right
        obj = np.zeros((h, w), bool)
        obj[30:70, x : x + 30] = True
        shadow = np.zeros((h, w), bool)
        shadow[55:80, x + 30 : x + 80] = True
        f = (ground * np.where(shadow, 0.5, 1.0)[..., None]).astype(np.uint8)
        f[30:70, x : x + 30] = cloth  # a textured object, as real ones are
        frames.append(f)
        objects.append(obj)
        shadows.append(shadow)
    frames = np.stack(frames)
    spec = RemoveSpec(mask=objects[0].astype(np.uint8) * 255, extras_mask=shadows[0].astype(np.uint8) * 255, method="telea")
    edit = compose(frames[0], [spec])
    result = ClassicEngine().propagate(ArrayClip(frames, 25.0), edit)
    never_bare = np.zeros((h, w), bool)
    never_bare[58:68, 124:146] = True  # under the object on frame 1, under the shadow from frame 10 on
    assert all((objects[t] | shadows[t])[never_bare].all() for t in range(n))
    carried = _psnr(edit.edited_frame, ground, never_bare)  # the frame-1 inpainting, what was carried before
    lifted = min(_psnr(result.frames[t], ground, never_bare) for t in range(10, n))
    # Measured at commit time: 34.8 dB on every frame from 10 on, against 22.9 dB for the carried inpainting.
    assert lifted >= carried + 8.0 and lifted >= 25.0, (lifted, carried)
