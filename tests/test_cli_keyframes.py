"""``propagate --edit`` with keyframes: they reach the engine, the run says which were used, bad ones exit 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import EXIT_BAD_INPUT, EXIT_OK
from engine.edit import Keyframe
from engine.edits import EditSpec, RecolourSpec, save_edit
from engine.metrics import j_and_f
from engine.video import open_video, write_video
from main import main
from tests.test_mask_track import JUMP, T, jump_clip


def _inputs(tmp_path: Path, keyframe_at: int) -> tuple[Path, Path, np.ndarray]:
    frames, truth = jump_clip()
    video = write_video(tmp_path / "jump.mkv", list(frames), 24.0, lossless=True)
    first = open_video(video)[0]
    spec = EditSpec(
        [RecolourSpec(mask=truth[0].astype(np.uint8) * 255, hue_shift=120.0)],
        keyframes=[Keyframe(keyframe_at, {0: truth[min(keyframe_at, T - 1)].astype(np.uint8) * 255})],
    )
    assert first.shape == frames[0].shape
    return video, save_edit(spec, tmp_path / "edit"), truth


def test_propagate_edit_with_a_keyframe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video, edit, truth = _inputs(tmp_path, JUMP)
    masks = tmp_path / "masks"
    argv = ["propagate", "--video", str(video), "--edit", str(edit), "--engine", "classic", "--tracker", "flow"]
    code = main([*argv, "--out", str(tmp_path / "out.mp4"), "--masks-out", str(masks)])
    err = capsys.readouterr().err
    assert code == EXIT_OK, err
    assert f"keyframes used: frame {JUMP + 1} (mask of operation 1)" in err
    got = np.stack([np.asarray(Image.open(p)) > 127 for p in sorted(masks.glob("mask_*.png"))])
    assert j_and_f(got[JUMP:], truth[JUMP:]).j_mean > 0.85


def test_a_keyframe_beyond_the_clip_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video, edit, _ = _inputs(tmp_path, T + 5)
    code = main(
        ["propagate", "--video", str(video), "--edit", str(edit), "--engine", "classic", "--out", str(tmp_path / "o.mp4")]
    )
    assert code == EXIT_BAD_INPUT
    assert f"keyframes[0].frame {T + 5} is beyond the clip, which has {T} frames" in capsys.readouterr().err
