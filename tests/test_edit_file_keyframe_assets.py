"""Edit-file keyframe assets: kept across content-named rewrites (the recovery copy), removed from a saved edit once unnamed."""

import numpy as np

from engine.edit import Keyframe
from engine.edits.edit_file import EditSpec, load_edit, save_edit
from engine.edits.track import TrackSpec


def _spec(frames):
    m = np.zeros((16, 16), np.uint8)
    m[4:8, 4:8] = 255
    orig = np.zeros((16, 16, 3), np.uint8)
    return EditSpec([TrackSpec(mask=m)], original_frame=orig, keyframes=[Keyframe(f, {0: m}) for f in frames])


def test_content_named_keeps_keyframe_assets(tmp_path):
    for _ in range(3):
        save_edit(_spec([3, 5]), tmp_path, content_named=True)
        spec, edit = load_edit(tmp_path / "edit.json")
        assert [k.frame for k in edit.keyframes] == [3, 5]


def test_deleted_keyframe_asset_goes(tmp_path):
    save_edit(_spec([3, 5]), tmp_path)
    save_edit(_spec([3]), tmp_path)
    names = sorted(p.name for p in (tmp_path / "assets").iterdir())
    assert not any("kf0005" in n for n in names), names
    assert any("kf0003" in n for n in names)
    (tmp_path / "assets" / "mine.png").write_bytes(b"x")
    save_edit(_spec([]), tmp_path)
    assert (tmp_path / "assets" / "mine.png").exists()
    assert load_edit(tmp_path / "edit.json")[1].keyframes == []
