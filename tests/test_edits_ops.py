"""Edit operations on generated frames and a real one: only the edit mask changes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.edit import EditKind, FirstFrameEdit
from engine.edits import (
    InsertSpec,
    OutpaintSpec,
    RecolourSpec,
    RemoveSpec,
    apply_recolour,
    compose,
    cut_layer,
    insert,
    margins_for_aspect,
    outpaint,
    recolour,
    remove,
    replace,
    track,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def generated_frame(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """Textured background with a shaded red disc (an 'object' with shading)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    bg = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 90)], axis=2).astype(np.float32)
    bg += rng.normal(0, 8, bg.shape)
    frame = np.clip(bg, 0, 255).astype(np.uint8)
    cx, cy, r = w // 2, h // 2, min(h, w) // 4
    inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    shade = 0.5 + 0.5 * (1 - ((xx - cx + r / 2) ** 2 + (yy - cy + r / 2) ** 2) / (2 * r * r))
    disc = np.stack([220 * shade, 40 * shade, 30 * shade], axis=2) + rng.normal(0, 4, (h, w, 3))
    frame[inside] = np.clip(disc[inside], 0, 255).astype(np.uint8)
    return frame


def disc_mask(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    r = min(h, w) // 4
    return np.where((xx - w // 2) ** 2 + (yy - h // 2) ** 2 <= r * r, 255, 0).astype(np.uint8)


@pytest.fixture(scope="module")
def real_frame() -> np.ndarray:
    clip = DATA / "clips" / "cockatoo.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} absent")
    cap = cv2.VideoCapture(str(clip))
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        pytest.skip("cannot decode cockatoo.mp4")
    return np.ascontiguousarray(bgr[..., ::-1])


def frames(real: np.ndarray) -> list[np.ndarray]:
    return [generated_frame(), real]


def assert_outside_unchanged(before: np.ndarray, after: np.ndarray, edit_mask: np.ndarray) -> None:
    outside = edit_mask == 0
    assert before.shape == after.shape
    assert np.array_equal(before[outside], after[outside]), "pixels outside the edit mask changed"


def centre_mask(frame: np.ndarray, frac: float = 0.2) -> np.ndarray:
    h, w = frame.shape[:2]
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (w // 2, h // 2), (int(w * frac), int(h * frac)), 0, 0, 360, 255, -1)
    return m


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_remove_changes_only_the_mask(real_frame: np.ndarray, method: str) -> None:
    for frame in frames(real_frame):
        mask = centre_mask(frame)
        extras = np.zeros_like(mask)
        extras[-10:, :20] = 255  # a painted "shadow" away from the object
        out, op = remove(frame, mask, method=method, extras_mask=extras, dilate=3)
        assert op.kind is EditKind.REMOVE and op.params["method"] == method
        assert (op.source_mask[-10:, :20] == 255).all(), "extras must be part of the source mask"
        assert (op.mask >= op.source_mask).all(), "edit mask must cover object + extras"
        assert_outside_unchanged(frame, out, op.mask)
        # the fill must actually differ from the removed object somewhere
        assert np.abs(out.astype(int) - frame.astype(int))[op.mask > 0].mean() > 1.0


def test_remove_fills_with_surroundings() -> None:
    """Removing the red disc leaves no red: the fill's red excess is near the background's."""
    frame = generated_frame()
    mask = disc_mask(frame)
    out, op = remove(frame, mask)
    fill = out[op.mask > 0].astype(float)
    red_excess = (fill[:, 0] - fill[:, 1]).mean()
    assert red_excess < 60, f"fill still looks like the red object (R-G = {red_excess:.1f})"


def test_recolour_keeps_luminance_structure(real_frame: np.ndarray) -> None:
    for frame in frames(real_frame):
        mask = centre_mask(frame)
        for kwargs in (
            {"mode": "adjust", "hue_shift": 120.0, "saturation": 1.3},
            {"mode": "target", "target_rgb": [30, 80, 230]},
        ):
            out, op = recolour(frame, mask, feather=2.0, **kwargs)
            assert op.kind is EditKind.RECOLOUR and np.array_equal(op.source_mask, op.mask)
            assert_outside_unchanged(frame, out, op.mask)
            inside = mask > 0
            l0 = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)[..., 0][inside].astype(float)
            l1 = cv2.cvtColor(out, cv2.COLOR_RGB2LAB)[..., 0][inside].astype(float)
            corr = np.corrcoef(l0, l1)[0, 1]
            assert corr > 0.85, f"{kwargs}: luminance correlation {corr:.3f} <= 0.85"
            assert np.abs(out.astype(int) - frame.astype(int))[inside].mean() > 5, "colour did not change"


def test_recolour_target_reaches_the_colour() -> None:
    frame = generated_frame()
    mask = disc_mask(frame)
    out, _ = recolour(frame, mask, mode="target", target_rgb=[40, 90, 220], feather=0)
    mean = out[mask > 0].astype(float).mean(axis=0)
    assert np.abs(mean - [40, 90, 220]).max() < 25, f"mean colour {mean} far from target"


def test_apply_recolour_reproduces_the_op_on_frame_one(real_frame: np.ndarray) -> None:
    mask = centre_mask(real_frame)
    out, op = recolour(real_frame, mask, mode="target", target_rgb=[200, 30, 200])
    again = apply_recolour(real_frame, mask, op.params)
    assert np.array_equal(out, again)
    assert op.params["reference_lab"] is not None, "target mode must freeze frame 1's colour"
    with pytest.raises(ValueError, match="saturation"):
        apply_recolour(real_frame, mask, op.params | {"saturation": -1})


def test_insert_respects_alpha() -> None:
    frame = generated_frame()
    layer = np.zeros((40, 60, 4), np.uint8)
    layer[..., :3] = (10, 250, 10)
    layer[:, :30, 3] = 255  # left half opaque
    layer[:, 30:, 3] = 128  # right half half-transparent
    layer[:5, :, 3] = 0  # top rows transparent
    out, op = insert(frame, layer, x=50, y=40)
    assert op.kind is EditKind.INSERT and op.layer_rgba.shape == frame.shape[:2] + (4,)
    assert np.array_equal(op.mask > 0, op.layer_rgba[..., 3] > 0)
    assert_outside_unchanged(frame, out, op.mask)
    # layer centre (50, 40) -> layer pixel (0,0) at canvas (20, 20)
    assert tuple(out[30, 30]) == (10, 250, 10), "opaque part must show the layer exactly"
    expected = np.rint(frame[30, 60].astype(float) * (1 - 128 / 255) + np.array([10, 250, 10]) * 128 / 255)
    assert np.abs(out[30, 60].astype(float) - expected).max() <= 1, "half alpha must blend 50/50"
    assert np.array_equal(out[21, 30], frame[21, 30]), "transparent rows must leave the frame alone"


def test_insert_transforms() -> None:
    frame = generated_frame()
    layer = np.zeros((20, 40, 4), np.uint8)
    layer[..., 3] = 255
    layer[:, :20, :3] = (255, 0, 0)
    layer[:, 20:, :3] = (0, 0, 255)
    _, flipped = insert(frame, layer, x=80, y=60, flip_h=True)
    assert tuple(flipped.layer_rgba[60, 65, :3]) == (0, 0, 255), "flip_h puts blue on the left"
    _, scaled = insert(frame, layer, x=80, y=60, scale=2.0)
    assert abs(int((scaled.mask > 0).sum()) - 80 * 40) <= 2 * (80 + 40), "scale 2 gives ~4x the area"
    _, rotated = insert(frame, layer, x=80, y=60, rotation=90)
    ys, xs = np.nonzero(rotated.mask)
    assert (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) in {(40, 20), (41, 21), (41, 20), (40, 21)}
    _, faded = insert(frame, layer, x=80, y=60, opacity=0.5, feather=4)
    a = faded.layer_rgba[..., 3]
    assert a.max() <= 128 and a[60, 80] == 128 and 0 < a[51, 80] < 128, "opacity and inward feather"
    with pytest.raises(ValueError, match="scale"):
        insert(frame, layer, scale=0)
    with pytest.raises(ValueError, match="outside"):
        insert(frame, layer, x=-500, y=-500)


def test_cut_layer_puts_object_back_exactly(real_frame: np.ndarray) -> None:
    mask = centre_mask(real_frame, 0.1)
    layer, (cx, cy) = cut_layer(real_frame, mask)
    out, op = insert(np.zeros_like(real_frame), layer, x=cx, y=cy)
    assert np.array_equal(op.mask, mask)
    assert np.array_equal(out[mask > 0], real_frame[mask > 0])


def test_replace(real_frame: np.ndarray) -> None:
    mask = centre_mask(real_frame, 0.1)
    layer = np.zeros((50, 50, 4), np.uint8)
    layer[..., 2] = 255
    layer[10:40, 10:40, 3] = 255
    out, op = replace(real_frame, mask, layer)
    assert op.kind is EditKind.REPLACE and op.layer_rgba is not None and op.source_mask is not None
    assert (op.mask >= op.source_mask).all() and (op.mask >= (op.layer_rgba[..., 3] > 0) * 255).all()
    assert_outside_unchanged(real_frame, out, op.mask)
    assert tuple(out[360, 640]) == (0, 0, 255), "layer centred on the removed object"


def test_outpaint_size_and_placement(real_frame: np.ndarray) -> None:
    for frame in frames(real_frame):
        h, w = frame.shape[:2]
        for method in ("telea", "reflect"):
            canvas, op = outpaint(frame, left=7, top=3, right=20, bottom=0, method=method)
            assert canvas.shape == (h + 3, w + 27, 3)
            assert np.array_equal(canvas[3 : 3 + h, 7 : 7 + w], frame), "original must be placed exactly"
            assert op.mask.sum() // 255 == canvas.shape[0] * canvas.shape[1] - h * w
            assert op.mask[3 : 3 + h, 7 : 7 + w].max() == 0
    frame = real_frame[:, 160:1120]  # 960x720 = 4:3
    canvas, op = outpaint(np.ascontiguousarray(frame), aspect="16:9")
    assert canvas.shape[:2] == (720, 1280)
    assert (op.params["left"], op.params["right"]) == (160, 160)
    assert margins_for_aspect((960, 720), "16:9", anchor="left") == (0, 0, 320, 0)
    assert margins_for_aspect((1280, 720), "4:3") == (0, 120, 0, 120)
    fill = np.full((10, 10, 3), 77, np.uint8)
    canvas, _ = outpaint(frame.copy(), bottom=5, method="image", fill_image=fill)
    assert (canvas[-5:] == 77).all()
    with pytest.raises(ValueError, match="aspect"):
        outpaint(frame.copy(), aspect="16:0")


def test_track_fills_selection() -> None:
    frame = generated_frame()
    mask = disc_mask(frame)
    out, op = track(frame, mask, colour=(0, 255, 0))
    assert op.kind is EditKind.TRACK and (out[mask > 0] == (0, 255, 0)).all()
    assert_outside_unchanged(frame, out, op.mask)


def test_compose_keeps_order_and_offsets(real_frame: np.ndarray) -> None:
    frame = real_frame
    mask = centre_mask(frame, 0.1)
    layer = np.full((30, 30, 4), 255, np.uint8)
    ops = [
        RemoveSpec(mask=mask),
        {"op": "recolour", "mask": centre_mask(frame, 0.3), "hue_shift": 90.0},
        OutpaintSpec(left=10, top=6, method="reflect"),
        InsertSpec(layer=layer, x=5, y=5),
    ]
    edit = compose(frame, ops)
    assert isinstance(edit, FirstFrameEdit)
    assert [o.kind for o in edit.operations] == [EditKind.REMOVE, EditKind.RECOLOUR, EditKind.OUTPAINT, EditKind.INSERT]
    assert edit.canvas_offset == (10, 6) and edit.canvas_size == (1290, 726)
    assert_outside_unchanged(np.pad(frame, ((6, 0), (10, 0), (0, 0))), edit.edited_frame, edit.edit_mask)
    assert (edit.edit_mask[:6] == 255).all() and (edit.edit_mask[6 + 360, 10 + 640] == 255)
    assert np.array_equal(edit.original_frame, frame)
    # The same specs again give the same result (pure, deterministic).
    assert np.array_equal(compose(frame, ops).edited_frame, edit.edited_frame)


def test_compose_names_the_bad_op(real_frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"operations\[1\].*unknown op 'blur'"):
        compose(real_frame, [RecolourSpec(mask=centre_mask(real_frame)), {"op": "blur"}])
    with pytest.raises(ValueError, match=r"operations\[0\].*mask is 10x10"):
        compose(real_frame, [RemoveSpec(mask=np.full((10, 10), 255, np.uint8))])
    with pytest.raises(ValueError, match="opacity"):
        InsertSpec(layer=np.full((4, 4, 4), 255, np.uint8), opacity=2)
