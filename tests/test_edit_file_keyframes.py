"""Edit files version 2: keyframes round trip, version 1 files still load, hostile keyframe entries refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.edit import Keyframe
from engine.edits import EditFileError, EditSpec, OutpaintSpec, RecolourSpec, RemoveSpec, load_edit, save_edit
from engine.edits.compose import compose


def _frame_mask() -> tuple[np.ndarray, np.ndarray]:
    frame = np.random.default_rng(3).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    mask = np.zeros((40, 48), np.uint8)
    mask[8:20, 10:30] = 255
    return frame, mask


def _saved(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    frame, mask = _frame_mask()
    moved = np.roll(mask, 6, axis=1)
    edited = frame[::-1].copy()
    specs = [RecolourSpec(mask=mask, hue_shift=40.0), RemoveSpec(mask=mask)]
    keyframes = [Keyframe(30, {1: moved}), Keyframe(12, {0: moved, 1: mask}, edited_frame=edited)]
    path = save_edit(EditSpec(specs, original_frame=frame, keyframes=keyframes), tmp_path / "e")
    return path, frame, moved, edited


def test_keyframes_round_trip(tmp_path: Path) -> None:
    path, frame, moved, edited = _saved(tmp_path)
    doc = json.loads(path.read_text())
    assert doc["version"] == 2
    assert [k["frame"] for k in doc["keyframes"]] == [12, 30]  # written sorted
    assert doc["keyframes"][0] == {
        "frame": 12,
        "masks": {"0": "assets/edit_kf0012_op00.png", "1": "assets/edit_kf0012_op01.png"},
        "edited_frame": "assets/edit_kf0012_frame.png",
    }
    assert doc["keyframes"][1]["edited_frame"] is None
    spec, edit = load_edit(path, frame_count=31)
    assert [k.frame for k in edit.keyframes] == [12, 30]
    k12 = edit.keyframes[0]
    assert np.array_equal(k12.masks[0], moved) and np.array_equal(k12.edited_frame, edited)
    assert set(edit.keyframes[1].masks) == {1} and np.array_equal(edit.keyframes[1].masks[1], moved)
    assert len(spec.keyframes) == 2


def test_version_1_file_loads_without_keyframes(tmp_path: Path) -> None:
    frame, mask = _frame_mask()
    (tmp_path / "assets").mkdir()
    Image.fromarray(mask).save(tmp_path / "assets" / "m.png")
    doc = {
        "format": "genprop-edit",
        "version": 1,
        "frame_size": [48, 40],
        "operations": [{"op": "track", "mask": "assets/m.png"}],
    }
    (tmp_path / "edit.json").write_text(json.dumps(doc))
    spec, edit = load_edit(tmp_path / "edit.json", frame)
    assert spec.keyframes == [] and edit.keyframes == []
    doc["keyframes"] = []
    (tmp_path / "edit.json").write_text(json.dumps(doc))
    with pytest.raises(EditFileError, match="keyframes need version 2"):
        load_edit(tmp_path / "edit.json", frame)


def test_compose_carries_keyframes() -> None:
    frame, mask = _frame_mask()
    edit = compose(frame, [RecolourSpec(mask=mask)], keyframes=[Keyframe(5, {0: mask})])
    assert [k.frame for k in edit.keyframes] == [5]
    with pytest.raises(ValueError, match="operation 2 does not exist"):
        compose(frame, [RecolourSpec(mask=mask)], keyframes=[Keyframe(5, {2: mask})])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(keyframes={"frame": 3}), r"keyframes must be a list"),
        (lambda d: d["keyframes"].append(7), r"keyframes\[2\] must be an object"),
        (lambda d: d["keyframes"][1].update(frame=0), r"keyframes\[1\]\.frame must be an integer >= 1"),
        (lambda d: d["keyframes"][1].update(frame=True), r"keyframes\[1\]\.frame must be an integer"),
        (lambda d: d["keyframes"][1].update(frame="30"), r"keyframes\[1\]\.frame must be an integer"),
        (lambda d: d["keyframes"][1].update(frame=12), r"keyframes\[1\]\.frame: two keyframes on frame 12"),
        (lambda d: d["keyframes"][0].update(colour=1), r"keyframes\[0\]: unknown field"),
        (lambda d: d["keyframes"][0].update(masks=["a.png"]), r"keyframes\[0\]\.masks must be an object"),
        (
            lambda d: d["keyframes"][0]["masks"].update({"3": "assets/edit_kf0012_op00.png"}),
            r'keyframes\[0\]\.masks\["3"\]: operation 3 does not exist',
        ),
        (lambda d: d["keyframes"][0]["masks"].update({"-1": "assets/x.png"}), r'keyframes\[0\]\.masks\["-1"\]: the key must be'),
        (lambda d: d["keyframes"][0]["masks"].update({"0": "../../etc/passwd.png"}), r'keyframes\[0\]\.masks\["0"\].*leaves'),
        (lambda d: d["keyframes"][0]["masks"].update({"0": "/tmp/x.png"}), r'keyframes\[0\]\.masks\["0"\]'),
        (lambda d: d["keyframes"][0].update(edited_frame="assets/missing.png"), r"keyframes\[0\]\.edited_frame"),
        (lambda d: d["keyframes"][1].update(masks={}, edited_frame=None), r"keyframes\[1\]: keyframe 30 has neither"),
    ],
)
def test_bad_keyframe_entries_are_named(tmp_path: Path, change, message: str) -> None:
    path, frame, _, _ = _saved(tmp_path)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(EditFileError, match=message):
        load_edit(path, frame)


def test_keyframe_sizes_and_clip_length_checked(tmp_path: Path) -> None:
    path, frame, _, _ = _saved(tmp_path)
    with pytest.raises(EditFileError, match=r"keyframes\[1\]\.frame 30 is beyond the clip, which has 30 frames"):
        load_edit(path, frame, frame_count=30)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "e" / "assets" / "edit_kf0030_op01.png")
    with pytest.raises(EditFileError, match=r'keyframes\[1\]\.masks\["1"\] is 10x10 but operation 1\'s canvas is 48x40'):
        load_edit(path, frame)
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "e" / "assets" / "edit_kf0012_frame.png")
    with pytest.raises(EditFileError, match=r"keyframes\[0\]\.edited_frame is 10x10 but the edited canvas is 48x40"):
        load_edit(path, frame)


def test_keyframe_after_outpaint_uses_the_canvas(tmp_path: Path) -> None:
    frame, mask = _frame_mask()
    specs = [OutpaintSpec(left=8, right=8, method="reflect"), RecolourSpec(mask=np.pad(mask, ((0, 0), (8, 8))))]
    canvas_mask = np.pad(mask, ((0, 0), (8, 8)))
    path = save_edit(EditSpec(specs, original_frame=frame, keyframes=[Keyframe(4, {1: canvas_mask})]), tmp_path / "o")
    _, edit = load_edit(path)
    assert edit.keyframes[0].masks[1].shape == (40, 64)


def test_keyframe_asset_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.edits import edit_file

    path, frame, _, _ = _saved(tmp_path)
    # The frame (5760 B), two op masks... leave room for the ops' own assets but not the keyframes'.
    monkeypatch.setattr(edit_file, "MAX_ASSET_BYTES", frame.nbytes + 2 * 40 * 48 + 10)
    with pytest.raises(EditFileError, match=r"keyframes\[0\]\.masks\[\"0\"\]: the edit's images exceed"):
        load_edit(path, frame)
