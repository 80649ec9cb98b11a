"""Edit files: round trip, validation messages, and refusal of paths leaving the folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.edits import (
    EditFileError,
    EditSpec,
    InsertSpec,
    OutpaintSpec,
    RecolourSpec,
    RemoveSpec,
    compose,
    load_edit,
    save_edit,
)
from engine.edits.edit_file import spec_equal
from engine.edits.replace import ReplaceSpec
from engine.edits.track import TrackSpec


def frame_and_specs() -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 10:25] = 255
    extras = np.zeros_like(mask)
    extras[20:24, 10:25] = 255
    layer = rng.integers(0, 256, (9, 13, 4), dtype=np.uint8)
    layer[..., 3] = np.where(layer[..., 3] > 60, layer[..., 3], 0)
    specs = [
        RemoveSpec(mask=mask, extras_mask=extras, method="ns", dilate=2.0),
        RecolourSpec(mask=mask, mode="target", target_rgb=[10, 200, 30], feather=1.5),
        ReplaceSpec(mask=mask, layer=layer, rotation=15.0, flip_v=True),
        TrackSpec(mask=mask, colour=[1, 2, 3], opacity=0.5),
        OutpaintSpec(aspect="16:9", method="image", fill_image=frame[:10, :10].copy()),
        InsertSpec(layer=layer, x=3.5, y=40.0, scale=1.5, opacity=0.8, feather=1.0),
    ]
    return frame, specs


def test_round_trip(tmp_path: Path) -> None:
    frame, specs = frame_and_specs()
    path = save_edit(EditSpec(specs, source="clip.mp4", original_frame=frame), tmp_path / "proj")
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and doc["frame_size"] == [64, 48]  # no keyframes: readable by version-1 readers
    assert all(
        not Path(v).is_absolute() for op in doc["operations"] for v in op.values() if isinstance(v, str) and v.endswith(".png")
    )
    loaded, edit = load_edit(path)
    assert loaded.source == "clip.mp4" and np.array_equal(loaded.original_frame, frame)
    assert len(loaded.operations) == len(specs)
    for a, b in zip(specs, loaded.operations, strict=True):
        assert spec_equal(a, b), f"{a.op} changed in the round trip"
    expected = compose(frame, specs)
    assert edit is not None and np.array_equal(edit.edited_frame, expected.edited_frame)
    assert np.array_equal(edit.edit_mask, expected.edit_mask) and edit.canvas_offset == expected.canvas_offset
    # Saving the loaded spec again gives the same document.
    again = save_edit(loaded, tmp_path / "proj2")
    assert json.loads(again.read_text()) == doc


def test_load_without_frame_returns_spec_only(tmp_path: Path) -> None:
    frame, specs = frame_and_specs()
    path = save_edit(specs[:2], tmp_path)
    spec, edit = load_edit(path)
    assert edit is None and len(spec.operations) == 2
    _, edit = load_edit(path, original_frame=frame)
    assert edit is not None and edit.edited_frame.shape == frame.shape
    with pytest.raises(EditFileError, match="10x10"):
        load_edit(path, original_frame=np.zeros((10, 10, 3), np.uint8))


def write_doc(folder: Path, doc: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "edit.json"
    path.write_text(json.dumps(doc))
    return path


def base_doc(ops: list) -> dict:
    return {"format": "genprop-edit", "version": 1, "frame_size": [8, 8], "operations": ops}


def put_mask(folder: Path, rel: str = "assets/m.png") -> str:
    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(folder / rel)
    return rel


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version=99), "newer"),
        (lambda d: d.update(version="1"), "version must be"),
        (lambda d: d.update(format="psd"), "format must be"),
        (lambda d: d.update(extra=1), r"unknown top-level field\(s\) \['extra'\]"),
        (lambda d: d.update(operations={}), "operations must be a list"),
        (lambda d: d["operations"].append({"op": "blur"}), r"operations\[1\]\.op must be one of"),
        (lambda d: d["operations"][0].update(dilate=-1), r"operations\[0\] \(remove\): dilate must be >= 0"),
        (lambda d: d["operations"][0].update(method="magic"), r"operations\[0\].*method must be one of"),
        (lambda d: d["operations"][0].update(colour=[1]), r"unknown field\(s\) \['colour'\]"),
        (lambda d: d["operations"][0].pop("mask"), r"missing required field\(s\) \['mask'\]"),
        (lambda d: d["operations"][0].update(mask="assets/none.png"), "not found"),
        (lambda d: d["operations"][0].update(mask=3), "must be a relative path"),
        (lambda d: d.update(frame_size=[8]), "frame_size must be"),
    ],
)
def test_validation_names_the_problem(tmp_path: Path, mutate, message: str) -> None:
    rel = put_mask(tmp_path)
    doc = base_doc([{"op": "remove", "mask": rel}])
    mutate(doc)
    with pytest.raises(EditFileError, match=message):
        load_edit(write_doc(tmp_path, doc))


def test_bad_json_reports_position(tmp_path: Path) -> None:
    path = tmp_path / "edit.json"
    path.write_text('{"format": "genprop-edit",\n "version": }')
    with pytest.raises(EditFileError, match="line 2"):
        load_edit(path)


@pytest.mark.parametrize(
    "bad",
    ["/etc/passwd.png", "../outside.png", "assets/../../outside.png", "C:/x.png", "assets\\m.png", "~/x.png"],
)
def test_escaping_paths_refused(tmp_path: Path, bad: str) -> None:
    (tmp_path / "outside.png").write_bytes(b"")  # a target that would exist if followed
    folder = tmp_path / "edit"
    put_mask(folder)
    with pytest.raises(EditFileError, match="refused|portable"):
        load_edit(write_doc(folder, base_doc([{"op": "remove", "mask": bad}])))


def test_symlink_leaving_the_folder_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    put_mask(secret, "s.png")
    folder = tmp_path / "edit"
    (folder / "assets").mkdir(parents=True)
    os.symlink(secret / "s.png", folder / "assets" / "link.png")
    with pytest.raises(EditFileError, match="outside the edit's folder"):
        load_edit(write_doc(folder, base_doc([{"op": "remove", "mask": "assets/link.png"}])))
    os.symlink(secret, folder / "dirlink")
    with pytest.raises(EditFileError, match="outside the edit's folder"):
        load_edit(write_doc(folder, base_doc([{"op": "remove", "mask": "dirlink/s.png"}])))


def test_symlink_inside_the_folder_allowed(tmp_path: Path) -> None:
    rel = put_mask(tmp_path)
    os.symlink(tmp_path / rel, tmp_path / "assets" / "alias.png")
    spec, _ = load_edit(write_doc(tmp_path, base_doc([{"op": "remove", "mask": "assets/alias.png"}])))
    assert spec.operations[0].mask.shape == (8, 8)


def test_non_png_asset_refused(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "assets" / "m.png", format="JPEG")
    with pytest.raises(EditFileError, match="not PNG"):
        load_edit(write_doc(tmp_path, base_doc([{"op": "remove", "mask": "assets/m.png"}])))
