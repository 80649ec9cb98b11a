"""The bundled sample clip and its ready first-frame edit work out of the box."""

from __future__ import annotations

import numpy as np

from app.paths import RESOURCES, SAMPLE_CLIP
from engine.edit import EditKind
from engine.edits import load_edit
from engine.video import open_video


def test_sample_clip_metadata_and_licence() -> None:
    info = open_video(SAMPLE_CLIP).info
    assert (info.width, info.height, info.frame_count) == (568, 320, 90)
    assert info.fps == 30 and info.has_audio
    licence = (RESOURCES / "samples" / "LICENSE.txt").read_text()
    assert "MIT" in licence and "motion.mov" in licence


def test_sample_edit_recolours_the_coin_only() -> None:
    frame = open_video(SAMPLE_CLIP)[0]
    spec, edit = load_edit(RESOURCES / "samples" / "coin_edit" / "edit.json", frame)
    assert edit is not None and [op.kind for op in edit.operations] == [EditKind.RECOLOUR]
    inside = edit.edit_mask > 0
    assert 1500 < inside.sum() < 3500  # the coin, not the table
    ys, xs = np.nonzero(inside)
    assert 430 < xs.mean() < 480 and 125 < ys.mean() < 155
    np.testing.assert_array_equal(edit.edited_frame[~inside], frame[~inside])
    assert np.abs(edit.edited_frame[inside].astype(int) - frame[inside]).mean() > 20


def test_sample_edit_follows_the_coin_to_the_end() -> None:
    """The first result every user sees: the coin stays in view all clip, so its mask stays
    coin-sized. A pen pushes the coin near frame 45; the mask had grown onto the pen
    (3.5x the coin by frame 50) and then followed it out ("left the frame", coin not recoloured)."""
    from engine.engines.classic import ClassicEngine

    with open_video(SAMPLE_CLIP) as clip:
        _, edit = load_edit(RESOURCES / "samples" / "coin_edit" / "edit.json", clip[0])
        result = ClassicEngine().propagate(clip, edit, {"tracker": "flow"})
    areas = np.array([int((np.asarray(result.masks[t]) > 0).sum()) for t in range(len(result.masks))])
    first = areas[0]
    assert (areas > 0.6 * first).all() and (areas < 1.6 * first).all(), areas.tolist()
    assert not any("left the frame" in w or "lost" in w for w in result.extras.get("warnings", []))


def test_a_loose_selection_of_the_coin_does_not_spread_over_the_table() -> None:
    """A box-selected coin (GrabCut keeps a ring of table around it) for removal, in the mask preview:
    when the pen pushes the coin fast, the band the coin's motion uncovers at the right border was
    opened as 'parts coming into view', and the table there joined the mask (6x the coin by frame 50)."""
    import cv2

    from engine.edits import RemoveSpec, compose
    from engine.engines.mask_track import track_operation_masks

    with open_video(SAMPLE_CLIP) as clip:
        _, edit = load_edit(RESOURCES / "samples" / "coin_edit" / "edit.json", clip[0])
        coin = edit.operations[0].source_mask if edit.operations[0].source_mask is not None else edit.operations[0].mask
        loose = cv2.dilate(coin, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)))
        removal = compose(np.asarray(clip[0]), [RemoveSpec(mask=loose, method="telea")])
        areas = np.array([int((m[0] > 0).sum()) for _, m in track_operation_masks(clip, removal, {"tracker": "flow"}, stop=60)])
    assert (areas < 2.0 * areas[0]).all(), areas.tolist()
