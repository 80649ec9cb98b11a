"""Classic engine on procedural clips, where ground truth is exact."""

from __future__ import annotations

import numpy as np
import pytest

import engine.engines  # noqa: F401  (registers engines)
from engine.edit import EditKind, EditOperation, FirstFrameEdit
from engine.edits.recolour import apply_recolour, recolour
from engine.edits.remove import remove
from engine.edits.track import track
from engine.engines.base import CancelToken, EngineUnavailableError, PropagationCancelled, get_engine
from engine.engines.classic import ClassicEngine, FlowMaskTracker, MaskTracker, Sam2VideoTracker
from engine.metrics import j_and_f, psnr_inside
from engine.procedural import generate_clip
from engine.video.source import ArrayClip

W, H, T = 256, 160, 16


@pytest.fixture(scope="module")
def clip():
    return generate_clip(W, H, T, num_objects=3, seed=1)


def _run(clip, edit, **kw):
    return ClassicEngine().propagate(ArrayClip(clip.frames, clip.fps), edit, **kw)


def _outside_unchanged(result, frames) -> bool:
    return not ((result.frames != frames).any(-1) & (result.masks == 0)).any()


def test_registered() -> None:
    assert get_engine("classic") is ClassicEngine
    assert isinstance(FlowMaskTracker(), MaskTracker)


def test_flow_tracker_iou(clip) -> None:
    first = [clip.object_masks[k, 0].astype(np.uint8) * 255 for k in range(3)]
    masks = np.array([m for _, m in FlowMaskTracker().track(clip.frames, first)])
    scores = [j_and_f(masks[:, k], clip.object_masks[k]) for k in range(3)]
    assert min(s.j_mean for s in scores) > 0.8
    assert min(s.f_mean for s in scores) > 0.7


def test_recolour_matches_ground_truth_and_keeps_outside(clip) -> None:
    k = 1
    frame1, op = recolour(clip.frames[0], clip.object_masks[k, 0].astype(np.uint8) * 255, hue_shift=150, feather=0)
    result = _run(clip, FirstFrameEdit(clip.frames[0], frame1, op.mask, [op]))
    gt = clip.recoloured(k, lambda f, m: apply_recolour(f, m, op.params))
    assert result.frames.shape == clip.frames.shape and result.fps == clip.fps
    assert _outside_unchanged(result, clip.frames)
    assert np.array_equal(result.frames[0], frame1)
    assert j_and_f(result.masks, clip.object_masks[k]).j_mean > 0.8
    inside = psnr_inside(result.frames, gt, clip.object_masks[k])
    untouched = psnr_inside(clip.frames, gt, clip.object_masks[k])
    assert inside > untouched + 6.0, (inside, untouched)


def test_track_fill(clip) -> None:
    frame1, op = track(clip.frames[0], clip.object_masks[0, 0].astype(np.uint8) * 255, colour=(255, 0, 255))
    result = _run(clip, FirstFrameEdit(clip.frames[0], frame1, op.mask, [op]))
    painted = (result.frames == (255, 0, 255)).all(-1)
    assert np.array_equal(painted, result.masks > 0)
    assert j_and_f(result.masks, clip.object_masks[0]).j_mean > 0.8


def test_remove_object_and_shadow(clip) -> None:
    k = 1
    region = clip.removal_mask(k)
    clean = clip.render(exclude=[k])
    # The user's first-frame fill is exact here, so the test measures propagation alone.
    op = EditOperation(EditKind.REMOVE, mask=region[0].astype(np.uint8) * 255, source_mask=region[0].astype(np.uint8) * 255)
    frame1 = clip.frames[0].copy()
    frame1[region[0]] = clean[0][region[0]]
    result = _run(clip, FirstFrameEdit(clip.frames[0], frame1, op.mask, [op]))
    assert _outside_unchanged(result, clip.frames)
    filled = psnr_inside(result.frames[1:], clean[1:], region[1:])
    before = psnr_inside(clip.frames[1:], clean[1:], region[1:])
    # Measured at commit time: 22.0 dB (the unedited object scores about 11 dB).
    assert filled > 20.0, filled
    assert filled > before + 10.0


def test_insert_follows_background_motion(clip) -> None:
    layer = np.zeros((H, W, 4), np.uint8)
    layer[12:40, 20:60] = (250, 250, 40, 255)  # top-left: away from the objects' start
    layer[12:40, 20:60, 3][:, :4] = 128  # a feathered edge that must survive
    gt_frames, gt_alpha, offsets = clip.with_layer(layer)
    op = EditOperation(EditKind.INSERT, mask=(layer[..., 3] > 0).astype(np.uint8) * 255, layer_rgba=layer)
    result = _run(clip, FirstFrameEdit(clip.frames[0], gt_frames[0], op.mask, [op]))
    assert _outside_unchanged(result, clip.frames)
    errors = []
    for t in range(T):
        m = result.masks[t] > 0
        ys, xs = np.nonzero(m)
        gys, gxs = np.nonzero(gt_alpha[t] > 0)
        errors.append(np.hypot(xs.mean() - gxs.mean(), ys.mean() - gys.mean()))
    # Stated accuracy: the layer centre within 1.5 px of the true motion in every frame
    # (measured at commit time: 1.09 px worst frame).
    assert max(errors) < 1.5, errors
    assert np.isin(np.unique(result.frames[-1][result.masks[-1] > 0].reshape(-1, 3)[:, 2]), [40]).mean() < 1.0


def test_outpaint_fills_canvas_from_other_frames() -> None:
    c = generate_clip(192, 128, 10, num_objects=0, seed=4, pan_speed=2.0)
    pad = (24, 0, 24, 0)
    wide = c.render(pad=pad)
    mask = np.full(wide.shape[1:3], 255, np.uint8)
    mask[:, 24:216] = 0
    op = EditOperation(EditKind.OUTPAINT, mask=mask, params={"left": 24, "top": 0, "right": 24, "bottom": 0})
    edit = FirstFrameEdit(c.frames[0], wide[0], mask, [op], canvas_offset=(24, 0))
    result = _run(c, edit)
    assert result.frames.shape == wide.shape
    assert np.array_equal(result.frames[:, :, 24:216], c.frames)
    # The camera pans right: the left margin was seen by earlier frames (exact ground
    # truth is reachable); the right margin is mostly never seen, so only the left is scored.
    assert c.camera[-1, 0] > c.camera[0, 0] + 10
    left = np.zeros((len(c.frames), *mask.shape), bool)
    left[:, :, :24] = True
    score = psnr_inside(result.frames[1:], wide[1:], left[1:])
    # Measured at commit time: 23.2 dB.
    assert score > 20.0, score


def test_multiple_edits_in_one_run(clip) -> None:
    frame1, rec = recolour(clip.frames[0], clip.object_masks[2, 0].astype(np.uint8) * 255, hue_shift=90)
    layer = np.zeros((H, W, 4), np.uint8)
    layer[100:120, 200:230] = (0, 0, 255, 255)
    ins = EditOperation(EditKind.INSERT, mask=(layer[..., 3] > 0).astype(np.uint8) * 255, layer_rgba=layer)
    union = np.maximum(rec.mask, ins.mask)
    result = _run(clip, FirstFrameEdit(clip.frames[0], frame1, union, [rec, ins]))
    assert len(result.extras["operation_masks"]) == 2
    assert _outside_unchanged(result, clip.frames)
    assert (result.masks > 0).sum() >= (result.extras["operation_masks"][1] > 0).sum()


def test_progress_is_monotonic_and_cancel_works(clip) -> None:
    frame1, op = track(clip.frames[0], clip.object_masks[0, 0].astype(np.uint8) * 255)
    edit = FirstFrameEdit(clip.frames[0], frame1, op.mask, [op])
    seen = []
    _run(clip, edit, progress=seen.append)
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    token = CancelToken()

    def cancel_midway(p) -> None:
        if p.done == T + 3:
            token.cancel()

    with pytest.raises(PropagationCancelled):
        _run(clip, edit, progress=cancel_midway, cancel=token)


@pytest.mark.parametrize("kind", ["track", "remove"])
def test_progress_moves_through_the_whole_run(clip, kind: str) -> None:
    """No stage works unseen: the last update before the end is close to it (a removal's forward sweep, which
    makes the frames, once ran with no progress at all and the bar sat at 80% for a third of the run)."""
    mask = clip.object_masks[0, 0].astype(np.uint8) * 255
    frame1, op = track(clip.frames[0], mask) if kind == "track" else remove(clip.frames[0], mask, method="telea")
    seen = []
    _run(clip, FirstFrameEdit(clip.frames[0], frame1, op.mask, [op]), progress=seen.append)
    done = sorted({p.done for p in seen})
    total = seen[-1].total
    assert done[-1] == total
    assert done[-2] >= total - 3, f"the last update before the end was {done[-2]} of {total}"


def test_bad_inputs_are_named(clip) -> None:
    frame1, op = track(clip.frames[0], clip.object_masks[0, 0].astype(np.uint8) * 255)
    edit = FirstFrameEdit(clip.frames[0], frame1, op.mask, [op])
    with pytest.raises(ValueError, match="flow_presett"):
        _run(clip, edit, options={"flow_presett": "fast"})
    with pytest.raises(ValueError, match="'huge'"):
        _run(clip, edit, options={"flow_preset": "huge"})
    small = FirstFrameEdit(clip.frames[0][:64, :64], frame1[:64, :64], op.mask[:64, :64], [])
    with pytest.raises(ValueError, match="64x64"):
        _run(clip, small)


def test_sam2_tracker_needs_weights(clip, tmp_path) -> None:
    with pytest.raises(EngineUnavailableError, match="SAM2 weights"):
        Sam2VideoTracker(tmp_path / "missing.pt")
    frame1, op = track(clip.frames[0], clip.object_masks[0, 0].astype(np.uint8) * 255)
    with pytest.raises(EngineUnavailableError, match="SAM2 weights"):
        _run(clip, FirstFrameEdit(clip.frames[0], frame1, op.mask, [op]), options={"tracker": "sam2"})


@pytest.mark.parametrize("first", ["recolour", "remove", "outpaint"])
def test_an_edit_before_an_outpaint_stays_in_every_frame(first: str) -> None:
    """The outpainted canvas is built from the earlier edits' output, not from the original clip.

    (Found in the app: recolour a dog, outpaint to 21:9, and frames 2.. showed the dog in its own colour; a removal
    before an outpaint was filled from frame 1's object itself; a second outpaint was refused.)
    Inside the original frame the run with the outpaint equals the run without it, frame for frame."""
    from engine.edits import OutpaintSpec, RecolourSpec, RemoveSpec, compose

    c = generate_clip(128, 80, 10, num_objects=2, seed=2, pan_speed=2.0)
    mask = c.object_masks[0, 0].astype(np.uint8) * 255
    specs = {
        "recolour": RecolourSpec(mask=mask, hue_shift=90.0),
        "remove": RemoveSpec(mask=mask),
        "outpaint": OutpaintSpec(top=4),
    }
    spec = specs[first]
    alone = _run(c, compose(c.frames[0], [spec]))
    if first != "outpaint":
        assert (alone.frames[1:] != c.frames[1:]).any()  # the edit changes later frames
    wide = _run(c, compose(c.frames[0], [spec, OutpaintSpec(left=10, right=6)]))  # a second outpaint: its own canvas
    assert wide.frames.shape == (10, alone.frames.shape[1], 144, 3)
    np.testing.assert_array_equal(wide.frames[:, :, 10:138], alone.frames)
