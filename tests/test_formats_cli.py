"""``propagate --format/--matte-out/--index-masks-out``: a 10-bit clip in, pro formats out, in sync,
checked by the FFmpeg command line; bad combinations refused before any work; all outputs or none."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK
from engine.edits.edit_file import save_edit
from engine.edits.insert import InsertSpec
from engine.edits.recolour import RecolourSpec
from engine.video import VideoError, open_video
from main import main
from tests.formats_media import cli_decode, cli_timecode, cli_video_line, deep_frames, disc_mask, encode_with_cli

W, H = 64, 48


@pytest.fixture(scope="module")
def clip_and_edit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli")
    clip = encode_with_cli(
        folder / "src.mov",
        deep_frames(6),
        ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"],
        timecode="02:00:00:00",
    )
    layer = np.zeros((10, 10, 4), np.uint8)
    layer[..., 2], layer[..., 3] = 220, 255
    edit = save_edit([RecolourSpec(mask=disc_mask(W, H), hue_shift=120), InsertSpec(layer=layer, x=54, y=10)], folder / "edit")
    return clip, edit


def _propagate(clip: Path, edit: Path, *extra: str) -> int:
    return main(["propagate", "--video", str(clip), "--edit", str(edit), "--engine", "classic", *extra])


def test_prores_result_with_matte_and_indexed_masks(clip_and_edit: tuple[Path, Path], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    clip, edit = clip_and_edit
    out, matte, idx, masks = tmp_path / "out.mov", tmp_path / "matte.mov", tmp_path / "idx", tmp_path / "masks"
    code = _propagate(
        clip, edit, "--out", str(out), "--format", "prores-422-hq", "--matte-out", str(matte),
        "--index-masks-out", str(idx), "--masks-out", str(masks),
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_OK, err
    assert "full depth (per operation)" in err
    # the result: 10-bit ProRes with the source's tags and timecode, every frame
    line = cli_video_line(out)
    assert "prores (HQ)" in line and "yuv422p10le(tv, bt709, progressive)" in line and "24 fps" in line
    assert cli_timecode(out) == "02:00:00:00"
    result = cli_decode(out, "rgb48le", W, H)
    assert len(result) == 6 and len(np.unique(result[..., 0])) > 1000
    # the matte: ProRes 4444, the mask in alpha (exact to 8 bits) and as grey, same frames, rate, timecode
    masks8 = np.stack([np.asarray(Image.open(masks / f"mask_{t:05d}.png")) for t in range(6)])
    rgba = cli_decode(matte, "rgba64le", W, H)
    assert "prores (4444)" in cli_video_line(matte) and cli_timecode(matte) == "02:00:00:00" and len(rgba) == 6
    assert np.array_equal(np.rint(rgba[..., 3] / 257.0).astype(np.uint8), masks8)
    assert np.abs(rgba[..., 0] / 257.0 - masks8).max() < 2.0
    reader = open_video(matte)
    assert reader.fps == open_video(out).fps and len(reader) == len(open_video(out))
    # DAVIS indices: 1 = the recolour, 2 = the insert (on top), 0 = background; union = the masks
    labels = np.stack([np.asarray(Image.open(idx / f"{t:05d}.png")) for t in range(6)])
    assert Image.open(idx / "00000.png").mode == "P" and set(np.unique(labels)) == {0, 1, 2}
    assert np.array_equal(labels > 0, masks8 > 0)
    assert json.loads((idx / "sequence.json").read_text())["objects"] == {"1": "recolour", "2": "insert"}


def test_png16_result_and_exr_matte(clip_and_edit: tuple[Path, Path], tmp_path: Path) -> None:
    clip, edit = clip_and_edit
    out, matte = tmp_path / "frames", tmp_path / "matte"
    assert (
        _propagate(clip, edit, "--out", str(out), "--format", "png16", "--matte-out", str(matte), "--matte-format", "exr")
        == EXIT_OK
    )
    frames = open_video(out, depth=16, fps=24)
    assert len(frames) == 6 and frames.info.bit_depth == 16
    assert np.array_equal(np.stack([frames[t] for t in range(6)]), cli_decode(out / "frame_%05d.png", "rgb48le", W, H))
    exr = cli_decode(matte / "frame_%05d.exr", "gbrapf32le", W, H)
    assert exr.shape == (6, H, W, 4) and set(np.unique(exr[..., 3])) <= {0.0, 1.0}
    sidecar = json.loads((out / "sequence.json").read_text())
    assert sidecar["timecode"] == "02:00:00:00" and sidecar["colour"]["names"]["transfer"] == "bt709"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "o.mp4", "--format", "prores-422-hq"], "unsupported output type '.mp4'"),
        (["--out", "o.mov", "--format", "dnxhr-hqx"], "at least 256x120"),
        (["--out", "o.mov", "--matte-format", "exr"], "--matte-format needs --matte-out"),
        (["--out", "o", "--format", "png16", "--lossless"], "--lossless applies to 8-bit video"),
        (["--out", "o.mov", "--format", "prores-4444", "--matte-out", "o.mov"], "two outputs"),
        (["--out", "o.mov", "--matte-out", "m.mp4"], "a matte is a .mov"),
    ],
)
def test_bad_format_combinations_are_refused_before_any_work(
    clip_and_edit: tuple[Path, Path],
    tmp_path: Path,
    capsys,
    args: list[str],
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    clip, edit = clip_and_edit
    args = [str(tmp_path / a) if a.startswith(("o", "m.")) else a for a in args]
    assert _propagate(clip, edit, *args) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_a_failing_output_leaves_none_of_them(clip_and_edit: tuple[Path, Path], tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import engine.video.pro_writer as pro_writer

    def disk_full(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise VideoError(args[1], "only 3 of 6 frames reached the disk (disk full?); nothing was kept")

    monkeypatch.setattr(pro_writer, "encode_mov_into", disk_full)
    clip, edit = clip_and_edit
    code = _propagate(
        clip, edit, "--out", str(tmp_path / "out.mov"), "--format", "prores-422-hq", "--masks-out", str(tmp_path / "masks"),
        "--index-masks-out", str(tmp_path / "idx"),
    )  # fmt: skip
    assert code in (EXIT_BAD_INPUT, EXIT_FAILURE)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no masks, no indices, no partial files
