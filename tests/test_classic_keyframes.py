"""The classic engine follows keyframe corrections (issue 19): on a clip where the flow tracker cannot follow
a jump, one keyframe lifts J after it; a keyframe in a later shot re-anchors that shot."""

from __future__ import annotations

import cv2
import numpy as np

from engine.edit import Keyframe
from engine.edits import InsertSpec, RecolourSpec, RemoveSpec, compose
from engine.engines.classic import ClassicEngine
from engine.engines.classic.keyframe_track import BLEND_FRAMES
from engine.metrics import j_and_f
from engine.video.source import ArrayClip
from tests.test_mask_track import JUMP, H, T, W, jump_clip

FLOW = {"tracker": "flow"}


def _run(frames, ops, keyframes=()):  # noqa: ANN001, ANN202
    edit = compose(frames[0], ops, keyframes=list(keyframes))
    return ClassicEngine().propagate(ArrayClip(frames), edit, FLOW)


def test_recolour_follows_a_keyframe_correction() -> None:
    frames, truth = jump_clip()
    op = RecolourSpec(mask=truth[0].astype(np.uint8) * 255, hue_shift=120.0)
    plain = _run(frames, [op])
    fixed = _run(frames, [op], [Keyframe(JUMP, {0: truth[JUMP].astype(np.uint8) * 255})])
    j_plain = j_and_f(plain.masks[JUMP:] > 0, truth[JUMP:]).j_mean
    j_fixed = j_and_f(fixed.masks[JUMP:] > 0, truth[JUMP:]).j_mean
    assert j_plain < 0.3 and j_fixed > 0.85, (j_plain, j_fixed)
    # The recolour went where the corrected mask is: the disc after the jump changed colour, the plate did not.
    inside = truth[T - 1]
    assert np.abs(fixed.frames[T - 1].astype(int) - frames[T - 1])[inside].mean() > 20
    ring = (cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0) & ~inside
    ring = cv2.erode(ring.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert np.abs(fixed.frames[T - 1].astype(int) - frames[T - 1])[ring & ~(fixed.masks[T - 1] > 0)].mean() < 2
    assert "keyframe" in fixed.extras["frame_notes"][JUMP]


def test_removal_follows_a_keyframe_correction() -> None:
    frames, truth = jump_clip()
    op = RemoveSpec(mask=truth[0].astype(np.uint8) * 255, method="telea")
    fixed = _run(frames, [op], [Keyframe(JUMP, {0: truth[JUMP].astype(np.uint8) * 255})])
    assert (fixed.masks[T - 1] > 0)[truth[T - 1]].mean() > 0.95  # the hole covers the disc after the jump


def _two_shots() -> tuple[np.ndarray, np.ndarray, int]:
    """Shot 1: the disc on plate A; shot 2 (a cut at frame 12): a differently coloured disc on plate B."""
    frames, truth = jump_clip()
    rng = np.random.default_rng(7)
    plate_b = cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3)).astype(np.uint8), (0, 0), 3.0) // 3 + np.uint8([0, 90, 0])
    cut = 12
    for t in range(cut, T):
        m = np.zeros((H, W), np.uint8)
        cv2.rectangle(m, (100 + t, 20), (130 + t, 70), 255, -1)
        f = plate_b.copy()
        f[m > 0] = (40, 40, 200)
        frames[t], truth[t] = f, m > 0
    return frames, truth, cut


def test_a_keyframe_in_a_later_shot_reanchors_it() -> None:
    frames, truth, cut = _two_shots()
    op = RecolourSpec(mask=truth[0].astype(np.uint8) * 255, hue_shift=90.0)
    plain = _run(frames, [op])
    assert plain.extras["shot_cuts"] == [cut]
    assert not (plain.masks[cut + 3 :] > 0).any()  # the object is not found after the cut: the edit stops
    k = cut + 3
    fixed = _run(frames, [op], [Keyframe(k, {0: truth[k].astype(np.uint8) * 255})])
    assert j_and_f(fixed.masks[k:] > 0, truth[k:]).j_mean > 0.85
    assert any(f"resumes at the keyframe on frame {k + 1}" in w for w in fixed.extras["warnings"]), fixed.extras["warnings"]
    assert np.array_equal(fixed.masks[:cut], plain.masks[:cut])


def test_an_edited_keyframe_retakes_the_recolour_from_its_frame() -> None:
    frames, truth = jump_clip()
    u8 = truth.astype(np.uint8) * 255
    op = RecolourSpec(mask=u8[0], hue_shift=120.0, feather=0.0)
    user = frames[JUMP].copy()
    user[truth[JUMP]] = frames[JUMP][truth[JUMP]][:, ::-1]  # the user's own colour on the keyframe: RGB -> BGR
    masks_only = _run(frames, [op], [Keyframe(JUMP, {0: u8[JUMP]})])
    edited = _run(frames, [op], [Keyframe(JUMP, {0: u8[JUMP]}, edited_frame=user)])
    for t in (JUMP, T - 1):
        inner = cv2.erode(u8[t], np.ones((5, 5), np.uint8)) > 0
        want = frames[t][inner][:, ::-1].astype(int)
        assert np.abs(edited.frames[t][inner].astype(int) - want).mean() < 3, t  # the keyframe's colours from there on
    for t in range(JUMP - BLEND_FRAMES):
        assert np.array_equal(edited.frames[t], masks_only.frames[t]), t  # before the cross-fade: the frame-1 edit
    band = JUMP - 2  # inside the cross-fade: between the two
    inner = cv2.erode((edited.masks[band] > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    a = np.abs(edited.frames[band][inner].astype(int) - masks_only.frames[band][inner]).mean()
    assert a > 3


def test_an_edited_keyframe_replaces_an_inserted_layer() -> None:
    rng = np.random.default_rng(5)
    plate = cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3)).astype(np.uint8), (0, 0), 2.0)
    frames = np.stack([plate] * 16)  # a still shot: the layer must stay exactly where it is placed
    sticker = np.zeros((16, 20, 4), np.uint8)
    sticker[..., :3], sticker[..., 3] = (250, 250, 0), 255
    op = InsertSpec(layer=sticker, x=40.0, y=30.0)
    k = 9
    user = plate.copy()
    user[60:76, 100:120] = (0, 250, 250)  # the user moved (and recoloured) the sticker on frame 10
    foot = np.zeros((H, W), np.uint8)
    foot[60:76, 100:120] = 255
    plain = _run(frames, [op])
    moved = _run(frames, [op], [Keyframe(k, {0: foot}, edited_frame=user)])
    assert np.array_equal(moved.frames[:k], plain.frames[:k])
    for t in range(k, 16):
        assert np.array_equal(moved.masks[t] > 0, foot > 0), t
        assert np.array_equal(moved.frames[t], user), t
    assert "re-placed" in moved.extras["frame_notes"][k]


def _still_with_square() -> tuple[np.ndarray, np.ndarray]:
    """A still shot of a textured plate with a static square on it: the background under it is never seen."""
    rng = np.random.default_rng(7)
    plate = cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3)).astype(np.uint8), (0, 0), 2.0)
    plate[40:60, 50:70] = (200, 30, 30)
    mask = np.zeros((H, W), np.uint8)
    mask[40:60, 50:70] = 255
    return np.stack([plate] * 16), mask


def test_an_edited_keyframe_gives_a_removal_its_fill_from_that_frame_on() -> None:
    frames, mask = _still_with_square()
    k = 9
    user = frames[k].copy()
    user[mask > 0] = (0, 200, 0)  # the user's own fill of the hole on frame 10
    op = RemoveSpec(mask=mask, method="telea")
    plain = _run(frames, [op])
    keyed = _run(frames, [op], [Keyframe(k, {0: mask}, edited_frame=user)])
    inside = mask > 0
    assert np.array_equal(keyed.frames[:k], plain.frames[:k])  # frames before the keyframe are untouched
    for t in range(k, 16):
        # never-seen background: the hole carries the user's fill from the keyframe on
        assert np.abs(keyed.frames[t][inside].astype(int) - (0, 200, 0)).mean() < 8, t
    assert np.abs(plain.frames[k][inside].astype(int) - (0, 200, 0)).mean() > 60
    assert not any("not used" in w for w in keyed.extras["warnings"])
    assert "filled from the edited frame" in keyed.extras["frame_notes"][k]


def test_an_edited_keyframe_gives_an_outpaint_its_margins_from_that_frame_on() -> None:
    from engine.edits import OutpaintSpec

    frames, _ = _still_with_square()
    op = OutpaintSpec(left=16, right=0, top=0, bottom=0)
    plain = _run(frames, [op])
    k = 7
    user = plain.frames[k].copy()
    user[:, :16] = (0, 0, 220)  # the user paints the new left margin blue on frame 8
    keyed = _run(frames, [op], [Keyframe(k, edited_frame=user)])
    assert np.array_equal(keyed.frames[:k], plain.frames[:k])
    for t in range(k, 16):
        margin = keyed.frames[t][:, :3].astype(
            int
        )  # a still shot reveals nothing: the margin (past the seam blend) is the user's
        assert np.abs(margin - (0, 0, 220)).mean() < 10, t
    assert np.array_equal(keyed.frames[k][:, 16:], frames[k])  # the source itself is untouched


def _occluded_clip() -> tuple[np.ndarray, np.ndarray]:
    """A textured disc drifting right; a grey bar passes in front of its right half on frames 8-13."""
    rng = np.random.default_rng(2)
    plate = cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3)).astype(np.uint8), (0, 0), 2.0)
    skin = cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3)).astype(np.uint8), (0, 0), 1.0) // 2 + np.uint8([120, 20, 10])
    bar = cv2.GaussianBlur(rng.integers(0, 255, (H, 30, 3)).astype(np.uint8), (0, 0), 1.0) // 3 + np.uint8([20, 20, 150])
    frames, truth = [], []
    for t in range(T):
        x = 60 + t
        disc = np.zeros((H, W), np.uint8)
        cv2.circle(disc, (x, 48), 18, 255, -1)
        f = plate.copy()
        f[disc > 0] = np.roll(skin, t, axis=1)[disc > 0]
        visible = disc > 0
        if 8 <= t <= 13:
            f[:, x : x + 30] = bar[:, : min(30, W - x)]
            visible[:, x : x + 30] = False
        frames.append(f)
        truth.append(visible)
    return np.stack(frames), np.stack(truth)


def test_a_correction_on_an_occluded_frame_keeps_the_whole_object() -> None:
    """The correction shows half the disc; once the bar has passed the mask is the whole disc again."""
    frames, truth = _occluded_clip()
    u8 = truth.astype(np.uint8) * 255
    k = 10
    fixed = _run(frames, [RecolourSpec(mask=u8[0], hue_shift=90.0)], [Keyframe(k, {0: u8[k]})])
    assert np.array_equal(fixed.masks[k], u8[k])
    late = range(16, T)
    j = j_and_f(fixed.masks[16:] > 0, truth[16:]).j_mean
    assert j > 0.95, (j, [int((fixed.masks[t] > 0).sum()) for t in late], int(truth[T - 1].sum()))  # 0.84 without it


def test_an_edited_keyframe_is_cropped_to_each_operations_canvas() -> None:
    from engine.edits import OutpaintSpec
    from engine.engines.classic.keyframe_edits import edited_keyframes

    frames, mask = _still_with_square()
    ops = [
        RecolourSpec(mask=mask, hue_shift=90.0),
        OutpaintSpec(left=16, top=8),
        RecolourSpec(mask=np.pad(mask, ((8, 0), (16, 0)))),
    ]
    edit = compose(frames[0], ops)
    user = np.random.default_rng(3).integers(0, 255, edit.edited_frame.shape).astype(np.uint8)
    edit = compose(frames[0], ops, keyframes=[Keyframe(5, edited_frame=user)])
    ((k0, before, _),) = edited_keyframes(edit, 0, (H, W))  # the source's canvas sits at (16, 8) in the final one
    assert k0 == 5 and np.array_equal(before, user[8 : 8 + H, 16 : 16 + W])
    for index in (1, 2):  # the outpaint and what follows it work on the final canvas
        ((_, after, _),) = edited_keyframes(edit, index, user.shape[:2])
        assert np.array_equal(after, user)
