"""Shot cuts: detected from colour and flow tests, and no edit crosses one (no shared data needed)."""

from __future__ import annotations

import numpy as np

from engine.edits import RemoveSpec, TrackSpec, compose
from engine.engines.classic import ClassicEngine
from engine.engines.classic.motion import FlowCache
from engine.engines.classic.shots import detect_cuts, shot_ranges
from engine.procedural import generate_clip
from engine.video.source import ArrayClip

W, H, T, CUT = 192, 112, 14, 8


def _spliced() -> tuple[np.ndarray, np.ndarray]:
    a = generate_clip(W, H, T, num_objects=2, seed=3)
    b = generate_clip(W, H, T, num_objects=2, seed=11)
    return np.concatenate([a.frames[:CUT], b.frames[CUT:]]), a.object_masks[0, 0]


def test_detects_a_splice_and_nothing_in_one_shot() -> None:
    frames, _ = _spliced()
    assert detect_cuts(FlowCache(frames)) == [CUT]
    one = generate_clip(W, H, T, num_objects=3, seed=5, pan_speed=3.0)
    assert detect_cuts(FlowCache(one.frames)) == []
    assert shot_ranges([CUT], T) == [(0, CUT), (CUT, T)]


def test_edit_stops_at_the_cut_and_says_so() -> None:
    frames, mask = _spliced()
    for spec in (TrackSpec(mask=mask.astype(np.uint8) * 255), RemoveSpec(mask=mask.astype(np.uint8) * 255, method="telea")):
        edit = compose(frames[0], [spec])
        res = ClassicEngine().propagate(ArrayClip(frames, 24.0), edit)
        assert res.extras["shot_cuts"] == [CUT]
        assert not res.masks[CUT:].any()  # the object is not on the other shot: nothing painted there
        assert np.array_equal(res.frames[CUT:], frames[CUT:])
        assert any(w.startswith(f"shot cut at frame {CUT + 1}") for w in res.extras["warnings"]), res.extras["warnings"]
        assert CUT in res.extras["frame_notes"]
    off = ClassicEngine().propagate(
        ArrayClip(frames, 24.0), compose(frames[0], [TrackSpec(mask=mask.astype(np.uint8) * 255)]), {"detect_cuts": False}
    )
    assert off.extras["shot_cuts"] == []


def test_cli_prints_which_frames(tmp_path, capsys) -> None:  # noqa: ANN001
    from PIL import Image

    from app.cli import EXIT_OK
    from engine.video import open_video, write_video
    from main import main

    frames, mask = _spliced()
    video = write_video(tmp_path / "in.mp4", list(frames), 24.0, lossless=True)
    first = open_video(video)[0]
    edited = first.copy()
    edited[mask] = (255, 0, 255)
    Image.fromarray(edited).save(tmp_path / "edited.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "mask.png")
    args = [
        "propagate",
        "--video",
        str(video),
        "--edited-frame",
        str(tmp_path / "edited.png"),
        "--mask",
        str(tmp_path / "mask.png"),
    ]
    assert main([*args, "--engine", "classic", "--out", str(tmp_path / "out.mp4")]) == EXIT_OK
    assert f"warning: shot cut at frame {CUT + 1}" in capsys.readouterr().err
