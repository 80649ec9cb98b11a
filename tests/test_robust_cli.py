"""``propagate`` on hostile or broken input: one line, exit code 2, nothing written, no engine loaded (issue 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import EXIT_BAD_INPUT
from engine.video import write_video
from main import main
from tests.fuzz_corpus import chunk, chunks_of, header_only_png

ROOT = Path(__file__).resolve().parents[1]
W, H, T = 32, 24, 6


def read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write: chmod for a normal user; for root (which ignores
    permissions) a folder of sysfs, which refuses new files even to root."""
    if os.geteuid() == 0:
        return Path("/sys/genprop-read-only-test")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    yy, xx = np.mgrid[0:H, 0:W]
    frames = [np.dstack([(xx * 6 + 4 * t) % 256, (yy * 9) % 256, np.full_like(xx, 80)]).astype(np.uint8) for t in range(T)]
    return write_video(tmp_path / "in.mp4", frames, 10.0, lossless=True)


def mask_png(size: tuple[int, int] = (W, H)) -> np.ndarray:
    m = np.zeros((size[1], size[0]), np.uint8)
    m[6:14, 8:18] = 255
    return m


def edit_folder(tmp_path: Path, ops: list[dict] | None = None, text: str | None = None, **top: object) -> Path:
    folder = tmp_path / "edit"
    (folder / "assets").mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask_png()).save(folder / "assets" / "m.png")
    doc = {
        "format": "genprop-edit",
        "version": 1,
        "frame_size": [W, H],
        "operations": ops if ops is not None else [{"op": "remove", "mask": "assets/m.png", "method": "telea"}],
    } | top
    path = folder / "edit.json"
    path.write_text(text if text is not None else json.dumps(doc))
    return path


def broken_chunk_png(path: Path) -> None:
    """A mask PNG whose text chunk has a bad CRC (Pillow raises SyntaxError on it)."""
    data = Path(path).read_bytes()
    parts = chunks_of(data)
    text = chunk(b"tEXt", b"Comment\x00hi")
    path.write_bytes(data[:33] + text[:-1] + bytes([text[-1] ^ 1]) + data[33:])
    assert parts[0][0] == b"IHDR"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["propagate", *args])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, err


def case_deep_json(tmp: Path) -> list[str]:
    return ["--edit", str(edit_folder(tmp, text="[" * 100_000 + "]" * 100_000))]


def case_long_number(tmp: Path) -> list[str]:
    text = json.dumps({"format": "genprop-edit", "version": 1, "operations": []}).replace(
        '"version": 1', '"version": ' + "1" * 5001
    )
    return ["--edit", str(edit_folder(tmp, text=text))]


def case_margins(value: int) -> Callable[[Path], list[str]]:
    return lambda tmp: ["--edit", str(edit_folder(tmp, [{"op": "outpaint", "left": value, "method": "reflect"}]))]


def case_unavailable_inpainter(tmp: Path) -> list[str]:
    ops = [{"op": "remove", "mask": "assets/m.png", "method": "diffusers", "options": {"model": "no/such-inpainter"}}]
    return ["--edit", str(edit_folder(tmp, ops))]


def case_broken_png_chunk(tmp: Path) -> list[str]:
    path = edit_folder(tmp)
    broken_chunk_png(path.parent / "assets" / "m.png")
    return ["--edit", str(path)]


def case_huge_mask_header(tmp: Path) -> list[str]:
    path = edit_folder(tmp)
    (path.parent / "assets" / "m.png").write_bytes(header_only_png(13000, 13000))
    return ["--edit", str(path)]


def case_extreme(field: str, value: float, op: str = "recolour") -> Callable[[Path], list[str]]:
    return lambda tmp: ["--edit", str(edit_folder(tmp, [{"op": op, "mask": "assets/m.png", field: value}]))]


def case_frame_index(tmp: Path) -> list[str]:
    return ["--edit", str(edit_folder(tmp, frame_index=5000))]


def case_fifo_edit(tmp: Path) -> list[str]:
    path = edit_folder(tmp)
    path.unlink()
    os.mkfifo(path)
    return ["--edit", str(path)]


def case_gigabyte_edit(tmp: Path) -> list[str]:
    path = edit_folder(tmp)
    os.truncate(path, 1 << 30)  # sparse: costs no disk
    return ["--edit", str(path)]


def case_broken_edited_frame(tmp: Path) -> list[str]:
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp / "edited.png")
    broken_chunk_png(tmp / "edited.png")
    return ["--edited-frame", str(tmp / "edited.png")]


CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "deeply nested JSON": (case_deep_json, "nested too deeply"),
    "5,001-digit number": (case_long_number, "5001 digits"),
    "outpaint margin 1e12": (case_margins(10**12), "must be <= 16384"),
    "outpaint margin 200,000 px": (case_margins(200_000), "must be <= 16384"),
    "outpaint margins over the canvas cap": (
        lambda tmp: ["--edit", str(edit_folder(tmp, [{"op": "outpaint", "left": 16000, "right": 16000, "method": "reflect"}]))],
        "canvas",
    ),
    "unavailable diffusers inpaint model": (case_unavailable_inpainter, "no/such-inpainter"),
    "PNG with a broken chunk": (case_broken_png_chunk, "CRC mismatch"),
    "13000x13000 mask": (case_huge_mask_header, "13000x13000"),
    "feather 1e9": (case_extreme("feather", 1e9), "feather must be <="),
    "dilate 1e9": (case_extreme("dilate", 1e9, op="remove"), "dilate must be <="),
    "saturation 1e308": (case_extreme("saturation", 1e308), "saturation must be <="),
    "frame_index beyond the clip": (case_frame_index, "frame_index 5000 is beyond the clip"),
    "edit file is a FIFO": (case_fifo_edit, "FIFO"),
    "1 GB edit file": (case_gigabyte_edit, "the limit is"),
    "edited frame with a broken chunk": (case_broken_edited_frame, "CRC mismatch"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_edit_input_is_one_line_and_exit_2(name: str, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, expected = CASES[name]
    out = tmp_path / "out.mp4"
    code, err = run(["--video", str(clip), *make(tmp_path), "--engine", "classic", "--out", str(out)], capsys)
    assert code == EXIT_BAD_INPUT, err
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    assert expected in err[0], err
    assert len(err[0]) < 700
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))


def test_bad_clips_are_one_line_and_exit_2(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit = edit_folder(tmp_path)
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    fifo = tmp_path / "fifo.mp4"
    os.mkfifo(fifo)
    script = tmp_path / "script.mp4"
    script.write_text(f"ffconcat version 1.0\nfile '{clip}'\n")
    for video, expected in ((zero, "empty"), (fifo, "not a regular file"), (script, "not a video container")):
        code, err = run(["--video", str(video), "--edit", str(edit), "--out", str(tmp_path / "o.mp4")], capsys)
        assert code == EXIT_BAD_INPUT and len(err) == 1 and expected in err[0], (video, err)


def test_destinations_are_checked_before_anything_is_written(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit = edit_folder(tmp_path)
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "thesis.odt").write_text("years of work")
    ro = read_only_folder(tmp_path)
    out = tmp_path / "out.mp4"
    base = ["--video", str(clip), "--edit", str(edit), "--engine", "classic"]
    # a read-only masks folder: the mp4 must not be written either (the bug: it was)
    code, err = run([*base, "--out", str(out), "--masks-out", str(ro / "masks")], capsys)
    assert code == EXIT_BAD_INPUT and len(err) == 1 and "not writable" in err[0], err
    assert not out.exists()
    code, err = run([*base, "--out", str(ro / "out.mp4")], capsys)
    assert code == EXIT_BAD_INPUT and len(err) == 1 and "not writable" in err[0], err
    # outputs inside one another, an output that is the input, a folder where the file goes
    for args, expected in (
        (["--out", str(tmp_path / "m" / "out.mp4"), "--masks-out", str(tmp_path / "m")], "inside one another"),
        (["--out", str(clip)], "input"),
        (["--out", str(tmp_path / "x.mp4"), "--masks-out", str(edit.parent)], "holds an input"),
        (["--out", str(tmp_path / "x.mp4"), "--masks-out", str(tmp_path / "documents")], "holds other files"),
        (["--out", str(tmp_path)], "unsupported output type"),
        (["--out", str(tmp_path / "out.xyz")], "unsupported output type"),
    ):
        code, err = run([*base, *args], capsys)
        assert code == EXIT_BAD_INPUT and len(err) == 1 and expected in err[0], (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents", "edit", "in.mp4"]
    assert (edit.parent / "assets" / "m.png").is_file() and (tmp_path / "documents" / "thesis.odt").is_file()


def test_bad_input_is_refused_before_any_engine_is_imported(clip: Path, tmp_path: Path) -> None:
    """The reported case: a 0-byte clip took 24 s and 1.2 GB because torch and diffusers loaded first."""
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    deep = edit_folder(tmp_path, text="[" * 50_000 + "]" * 50_000)
    runs = [
        ["--video", str(zero), "--edit", str(deep), "--engine", "genprop", "--out", str(tmp_path / "o.mp4")],
        ["--video", str(clip), "--edit", str(deep), "--engine", "genprop", "--out", str(tmp_path / "o.mp4")],
        ["--video", str(clip), "--edit", str(deep), "--out", str(read_only_folder(tmp_path) / "o.mp4")],
    ]
    script = (
        "import json, sys, main\n"
        f"codes = [main.main(['propagate', *a]) for a in {runs!r}]\n"
        "print(json.dumps([codes, sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules)]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    codes, heavy = json.loads(proc.stdout.strip().splitlines()[-1])
    assert codes == [EXIT_BAD_INPUT] * 3, proc.stderr
    assert heavy == [], f"imported {heavy} before refusing bad input"
