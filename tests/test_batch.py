"""``main.py batch``: a folder or a CSV/JSON list, failures isolated, resumable, the same result as
``propagate``, bad lists refused with one line (exit 2), Ctrl-C stops the batch cleanly."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from app.cli import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILURE, EXIT_OK
from engine.edits.edit_file import save_edit
from engine.edits.recolour import RecolourSpec
from engine.video import open_video, write_video
from main import main

W, H = 32, 24


def _clip(path: Path, seed: int) -> Path:
    yy, xx = np.mgrid[0:H, 0:W]
    frames = [
        np.dstack([(xx * 6 + 4 * t + seed) % 256, (yy * 9) % 256, np.full_like(xx, 80 + seed)]).astype(np.uint8) for t in range(5)
    ]
    return write_video(path, frames, 10.0, lossless=True)


def _edit(folder: Path) -> Path:
    mask = np.zeros((H, W), np.uint8)
    mask[6:16, 8:20] = 255
    return save_edit([RecolourSpec(mask=mask, hue_shift=120)], folder)


@pytest.fixture()
def clips(tmp_path: Path) -> Path:
    """A job folder: a.mkv with a/edit.json, b.mkv with b.json beside it, c.mkv without an edit."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    _clip(folder / "a.mkv", 0)
    _edit(folder / "a")
    _clip(folder / "b.mkv", 30)
    _edit(tmp_path / "b_edit")
    (folder / "b.json").write_text((tmp_path / "b_edit" / "edit.json").read_text().replace('"assets/', '"b_assets/'))
    (tmp_path / "b_edit" / "assets").rename(folder / "b_assets")
    _clip(folder / "c.mkv", 60)
    return folder


def _batch(*args: str) -> int:
    return main(["batch", *args, "--engine", "classic"])


def test_folder_batch_isolates_failures_and_resumes(clips: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert _batch(str(clips), "--out-dir", str(out), "--format", "lossless", "--masks") == EXIT_FAILURE
    captured = capsys.readouterr()
    table = captured.out.splitlines()
    assert table[0].split() == ["job", "status", "engine", "time", "result"]
    status = {line.split()[0]: line for line in table[1:-1]}
    assert "done" in status["a"] and "done" in status["b"] and "classic" in status["a"]
    assert "failed" in status["c"] and "no edit file for c.mkv" in status["c"]
    assert table[-1] == "3 jobs: 2 done, 1 failed"
    assert "clips" in captured.err  # the one bar over all clips
    for name in ("a", "b"):
        assert len(open_video(out / f"{name}.mkv")) == 5
        assert len(list((out / f"{name}_masks").glob("mask_*.png"))) == 5
    summary = json.loads((out / "batch_summary.json").read_text())
    assert [(j["name"], j["status"]) for j in summary["jobs"]] == [("a", "done"), ("b", "done"), ("c", "failed")]
    stamp = (out / "a.mkv").stat().st_mtime_ns

    # again: finished jobs are not redone; the clip without an edit still fails
    assert _batch(str(clips), "--out-dir", str(out), "--format", "lossless", "--masks") == EXIT_FAILURE
    table = capsys.readouterr().out.splitlines()
    assert table[-1] == "3 jobs: 2 finished earlier, 1 failed"
    assert (out / "a.mkv").stat().st_mtime_ns == stamp

    # a changed edit, a lost output, other settings: redone
    _edit(clips / "a")
    assert _batch(str(clips), "--out-dir", str(out), "--format", "lossless", "--masks") == EXIT_FAILURE
    assert capsys.readouterr().out.splitlines()[-1] == "3 jobs: 1 done, 1 finished earlier, 1 failed"
    assert (out / "a.mkv").stat().st_mtime_ns != stamp
    for path in (out / "b_masks").iterdir():
        path.unlink()
    (out / "b_masks").rmdir()
    assert _batch(str(clips), "--out-dir", str(out), "--format", "lossless", "--masks") == EXIT_FAILURE
    assert capsys.readouterr().out.splitlines()[-1] == "3 jobs: 1 finished earlier, 1 done, 1 failed"
    assert _batch(str(clips), "--out-dir", str(out), "--format", "lossless") == EXIT_FAILURE
    assert capsys.readouterr().out.splitlines()[-1] == "3 jobs: 2 done, 1 failed"


def test_csv_list_with_a_broken_clip_and_every_output(clips: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    listing = tmp_path / "list.csv"
    listing.write_text(
        "video,edit,name\njobs/a.mkv,jobs/a/edit.json,first\nbroken.mp4,jobs/a/edit.json,\n\njobs/b.mkv,jobs/b.json,\n"
    )
    out = tmp_path / "out"
    code = _batch(str(listing), "--out-dir", str(out), "--matte", "--index-masks", "--matte-format", "png16")
    assert code == EXIT_FAILURE
    table = capsys.readouterr().out.splitlines()
    assert table[-1] == "3 jobs: 2 done, 1 bad input"
    assert "broken.mp4" in next(line for line in table if line.startswith("broken"))
    assert sorted(p.name for p in out.iterdir()) == [
        ".genprop-batch", "b.mp4", "b_index", "b_matte", "batch_summary.json", "first.mp4", "first_index", "first_matte",
    ]  # fmt: skip
    matte = cv2.imread(str(out / "first_matte" / "frame_00000.png"), cv2.IMREAD_UNCHANGED)
    assert matte.dtype == np.uint16 and matte.shape == (H, W, 4)
    assert len(list((out / "b_index").glob("*.png"))) == 5


def test_a_batch_job_is_the_propagate_run_it_stands_for(clips: Path, tmp_path: Path) -> None:
    listing = tmp_path / "list.json"
    jobs = [{"video": "jobs/a.mkv", "edit": "jobs/a/edit.json"}, {"video": "jobs/b.mkv", "edit": "jobs/b.json"}]
    listing.write_text(json.dumps({"jobs": jobs}))  # b after a: the engine kept from a leaks nothing into b
    out = tmp_path / "out"
    assert _batch(str(listing), "--out-dir", str(out), "--format", "png", "--flow-max-side", "64") == EXIT_OK
    single = tmp_path / "single"
    args = ["propagate", "--video", str(clips / "b.mkv"), "--edit", str(clips / "b.json"), "--out", str(single)]
    assert main([*args, "--format", "png", "--engine", "classic", "--flow-max-side", "64"]) == EXIT_OK
    names = sorted(p.name for p in single.glob("frame_*.png"))
    assert len(names) == 5 and names == sorted(p.name for p in (out / "b").glob("frame_*.png"))
    for name in names:
        assert np.array_equal(np.asarray(Image.open(single / name)), np.asarray(Image.open(out / "b" / name)))


@pytest.mark.parametrize(
    ("listing", "content", "message"),
    [
        ("l.csv", "clip,edit\nx.mp4,e.json\n", "the first row must name the columns video,edit[,name]"),
        ("l.csv", "video,edit,prompt\nx.mp4,e.json,hi\n", "unknown column 'prompt'"),
        ("l.csv", "video,edit\nx.mp4,e.json,extra\n", "line 2: more values than columns"),
        ("l.csv", "video,edit\nx.mp4,\n", "line 2: edit is missing"),
        ("l.csv", "video,edit\nd1/x.mp4,e.json\nd2/x.mp4,e.json\n", "the name 'x' is already used by line 2"),
        ("l.csv", "video,edit,name\nx.mp4,e.json,../up\n", "name '../up' must be a plain file name"),
        ("l.csv", "video,edit\n", "no jobs"),
        ("l.json", '{"video": "x.mp4"}', "expected a list of jobs"),
        ("l.json", '[{"video": "x.mp4", "edit": 3}]', "job 0: edit must be a string"),
        ("l.json", "[{]", "is not valid JSON"),
        ("l.txt", "x", "give a folder of clips, a .csv or a .json list"),
        ("missing.csv", None, "not found"),
        ("l.csv", b"video,edit\n\xff\xfe.mp4,e.json\n", "is not UTF-8 text"),
        ("fifo.csv", "FIFO", "not a regular file"),
    ],
)
def test_bad_job_lists_are_refused_with_one_line(
    tmp_path: Path, capsys, listing: str, content: str | bytes | None, message: str
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / listing
    if content == "FIFO":
        os.mkfifo(path)  # would block a plain open() forever
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert _batch(str(path), "--out-dir", str(tmp_path / "out")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and str(path) in err[0], err
    assert not (tmp_path / "out").exists()


def test_bad_batch_settings_are_refused_before_any_job(clips: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert _batch(str(clips), "--out-dir", str(clips / "out")) == EXIT_BAD_INPUT
    assert "inside the job folder" in capsys.readouterr().err
    assert _batch(str(clips), "--out-dir", str(tmp_path / "o"), "--matte-format", "exr") == EXIT_BAD_INPUT
    assert "--matte-format needs --matte" in capsys.readouterr().err
    assert _batch(str(clips), "--out-dir", str(tmp_path / "o"), "--flow-max-side", "32") == EXIT_BAD_INPUT
    assert "'flow_max_side' must be a whole number in [64, 1920], got 32" in capsys.readouterr().err
    (clips / "a_masks.mkv").write_bytes(b"")  # job 'a_masks' would write the folder a_masks/ of job 'a'
    assert _batch(str(clips), "--out-dir", str(tmp_path / "o"), "--format", "png", "--masks") == EXIT_BAD_INPUT
    assert "would both write" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_ctrl_c_stops_the_batch_and_writes_nothing_for_the_running_job(
    clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    from app.commands import batch

    original = batch._BatchBar.__call__
    sent: list[bool] = []

    def press_ctrl_c(self, p):  # type: ignore[no-untyped-def]
        if not sent:
            sent.append(True)
            signal.raise_signal(signal.SIGINT)
        original(self, p)

    monkeypatch.setattr(batch._BatchBar, "__call__", press_ctrl_c)
    out = tmp_path / "out"
    assert _batch(str(clips), "--out-dir", str(out)) == EXIT_CANCELLED and sent
    table = capsys.readouterr().out.splitlines()
    assert table[-1] == "3 jobs: 1 cancelled, 2 not started"
    assert sorted(p.name for p in out.iterdir()) == ["batch_summary.json"]
