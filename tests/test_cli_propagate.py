"""``main.py propagate``: outputs, exit codes, Ctrl-C, and a genprop run from a saved tiny checkpoint."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_OK
from engine.video import open_video, write_video
from main import main


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, Path]:
    yy, xx = np.mgrid[0:24, 0:32]
    frames = [np.dstack([(xx * 6 + 4 * t) % 256, (yy * 9) % 256, np.full_like(xx, 80)]).astype(np.uint8) for t in range(6)]
    video = write_video(tmp_path / "in.mp4", frames, 10.0, lossless=True)
    first = open_video(video)[0]
    edited = first.copy()
    edited[6:14, 8:18] = (250, 10, 10)
    mask = np.zeros((24, 32), np.uint8)
    mask[6:14, 8:18] = 255
    Image.fromarray(edited).save(tmp_path / "edited.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    Image.fromarray(edited[:10]).save(tmp_path / "small.png")
    return {"video": video, "edited": tmp_path / "edited.png", "mask": tmp_path / "mask.png", "small": tmp_path / "small.png"}


def test_classic_run_writes_video_and_masks(inputs: dict[str, Path], tmp_path: Path) -> None:
    out, masks = tmp_path / "out.mp4", tmp_path / "masks"
    code = main(
        [
            "propagate",
            "--video",
            str(inputs["video"]),
            "--edited-frame",
            str(inputs["edited"]),
            "--mask",
            str(inputs["mask"]),
            "--engine",
            "classic",
            "--out",
            str(out),
            "--masks-out",
            str(masks),
        ]
    )
    assert code == EXIT_OK
    reader = open_video(out)
    assert len(reader) == 6 and reader.size == (32, 24) and abs(reader.fps - 10.0) < 1e-6
    assert len(list(masks.glob("mask_*.png"))) == 6


@pytest.mark.parametrize(
    "change",
    [
        {"--video": "missing.mp4"},
        {"--edited-frame": "small"},
        {"--edited-frame": "nothing.png"},
    ],
)
def test_bad_input_exit_code(inputs: dict[str, Path], tmp_path: Path, change: dict[str, str], capsys) -> None:  # type: ignore[no-untyped-def]
    args = {"--video": str(inputs["video"]), "--edited-frame": str(inputs["edited"])}
    for key, value in change.items():
        args[key] = str(inputs.get(value, tmp_path / value))
    argv = ["propagate", "--engine", "classic", "--out", str(tmp_path / "o.mp4")]
    for key, value in args.items():
        argv += [key, value]
    assert main(argv) == EXIT_BAD_INPUT
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


def test_missing_weights_is_bad_input(inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    code = main(
        [
            "propagate",
            "--video",
            str(inputs["video"]),
            "--edited-frame",
            str(inputs["edited"]),
            "--engine",
            "genprop",
            "--svd",
            str(tmp_path / "no-svd"),
            "--out",
            str(tmp_path / "o.mp4"),
        ]
    )
    assert code == EXIT_BAD_INPUT
    assert "SVD" in capsys.readouterr().err


def test_ctrl_c_cancels_cleanly(inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.commands import propagate

    original = propagate._Bar.__call__
    sent: list[bool] = []

    def press_ctrl_c(self, p):  # type: ignore[no-untyped-def]
        if not sent:
            sent.append(True)
            signal.raise_signal(signal.SIGINT)
        original(self, p)

    monkeypatch.setattr(propagate._Bar, "__call__", press_ctrl_c)
    out = tmp_path / "out.mp4"
    code = main(
        [
            "propagate",
            "--video",
            str(inputs["video"]),
            "--edited-frame",
            str(inputs["edited"]),
            "--engine",
            "classic",
            "--out",
            str(out),
            "--masks-out",
            str(tmp_path / "m"),
        ]
    )
    assert code == EXIT_CANCELLED and sent
    assert not out.exists() and not (tmp_path / "m").exists()
    assert list(tmp_path.glob("*.tmp*")) == []


def test_genprop_from_saved_tiny_checkpoint(inputs: dict[str, Path], tmp_path: Path) -> None:
    from engine.pipelines import GenPropPipeline
    from engine.pipelines.dummy import tiny_components

    GenPropPipeline.from_components(**tiny_components(0)).save_pretrained(tmp_path / "svd")
    out = tmp_path / "gp.mp4"
    code = main(
        [
            "propagate",
            "--video",
            str(inputs["video"]),
            "--edited-frame",
            str(inputs["edited"]),
            "--mask",
            str(inputs["mask"]),
            "--engine",
            "genprop",
            "--svd",
            str(tmp_path / "svd"),
            "--weights",
            str(tmp_path / "svd" / "genprop"),
            "--steps",
            "2",
            "--long-side",
            "32",
            "--window",
            "4",
            "--overlap",
            "1",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--masks-out",
            str(tmp_path / "gm"),
        ]
    )
    assert code == EXIT_OK
    reader = open_video(out)
    assert len(reader) == 6 and reader.size == (32, 24)
    assert len(list((tmp_path / "gm").glob("*.png"))) == 6


def test_help_explains_every_option(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        main(["propagate", "--help"])
    text = capsys.readouterr().out
    for flag in (
        "--video",
        "--edit",
        "--edited-frame",
        "--mask",
        "--task",
        "--engine",
        "--out",
        "--masks-out",
        "--weights",
        "--svd",
        "--steps",
        "--seed",
        "--device",
        "--memory",
        "Exit codes",
    ):
        assert flag in text
