"""The one containment rule (engine/safe_paths.py) and bounded reads, as edit files, projects and test sets use them."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.evaluation import TestSetError, load_case, load_testset
from engine.safe_paths import UnsafePathError, check_regular_file, contained, load_json, parse_json, read_bytes
from engine.video import VideoError, open_video
from tests.video_factory import moving_frames, write_frame_folder

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "resources" / "testsets" / "procedural"


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.png").write_bytes(b"x")
    (tmp_path / "outside.png").write_bytes(b"secret")
    return root


@pytest.mark.parametrize(
    ("rel", "message"),
    [
        ("/etc/passwd", "absolute path"),
        ("C:/x.png", "absolute path"),
        ("~/x.png", "absolute path"),
        ("sub\\a.png", "portable"),
        ("sub/a.png\x00", "portable"),
        ("../outside.png", "leaves the folder"),
        ("sub/../../outside.png", "leaves the folder"),
        ("sub/none.png", "not found"),
        ("", "must be a relative path"),
        (5, "must be a relative path"),
    ],
)
def test_paths_that_leave_or_are_not_paths_are_refused(tree: Path, rel: object, message: str) -> None:
    with pytest.raises(UnsafePathError, match=message):
        contained(tree, rel, "field")


def test_symlinks_may_move_inside_never_out(tree: Path) -> None:
    os.symlink(tree / "sub" / "a.png", tree / "alias.png")
    os.symlink(tree.parent / "outside.png", tree / "escape.png")
    os.symlink(tree.parent, tree / "up")
    os.symlink("/dev/null", tree / "null.png")
    assert contained(tree, "alias.png", "f") == (tree / "sub" / "a.png").resolve()
    assert contained(tree, "sub/../sub/a.png", "f") == (tree / "sub" / "a.png").resolve()
    for rel in ("escape.png", "up/outside.png", "null.png"):
        with pytest.raises(UnsafePathError, match="outside the folder"):
            contained(tree, rel, "f")


def test_only_regular_files_where_a_file_is_expected(tree: Path) -> None:
    os.mkfifo(tree / "fifo.png")
    (tree / "dir.png").mkdir()
    with pytest.raises(UnsafePathError, match="FIFO"):
        contained(tree, "fifo.png", "f")
    with pytest.raises(UnsafePathError, match="a folder, not a regular file"):
        contained(tree, "dir.png", "f")
    with pytest.raises(UnsafePathError, match="not a folder"):
        contained(tree, "sub/a.png", "f", kind="dir")
    assert contained(tree, "sub", "f", kind="dir").is_dir()
    with pytest.raises(UnsafePathError, match="must end in .json"):
        contained(tree, "sub/a.png", "f", suffixes=(".json",))


def test_reads_are_bounded_and_never_block(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    start = time.perf_counter()
    with pytest.raises(UnsafePathError, match="FIFO"):
        read_bytes(fifo, "edit file", max_bytes=100)
    with pytest.raises(UnsafePathError, match="device"):
        read_bytes("/dev/zero", "edit file", max_bytes=100)
    big = tmp_path / "big.json"
    big.write_bytes(b"")
    os.truncate(big, 1 << 30)
    with pytest.raises(UnsafePathError, match=r"1\.0 GB; the limit is 8\.0 MB"):
        load_json(big, "edit file")
    assert time.perf_counter() - start < 2.0
    assert check_regular_file(big, "x") == 1 << 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 2000 + "]" * 2000, "nested too deeply"),
        ("[" * 40 + "]" * 40, "nested more than 32 levels"),
        ("1" * 5001, "5001 digits"),
        ("1e400", "too large for a finite value"),
        ("[NaN]", "NaN is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        ("{'a': 1}", "not valid JSON"),
    ],
)
def test_json_caps(text: str, message: str) -> None:
    with pytest.raises(UnsafePathError, match=message):
        parse_json(text, "doc.json")
    assert parse_json("\ufeff" + '{"a": [1, 2.5, "x"]}', "doc.json") == {"a": [1, 2.5, "x"]}


# ----------------------------------------------------------------------------- test sets use the same rule
@pytest.fixture()
def testset_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "set"
    shutil.copytree(BUNDLED, copy)
    return copy


def test_a_test_set_mask_linking_outside_is_refused(testset_copy: Path, tmp_path: Path) -> None:
    masks = testset_copy / "cases" / "remove_shadow" / "masks"
    first = sorted(masks.glob("*.png"))[0]
    outside = tmp_path / "elsewhere.png"
    shutil.move(first, outside)
    os.symlink(outside, first)
    spec = next(c for c in load_testset(testset_copy).cases if c.id == "remove_shadow")
    with pytest.raises(TestSetError, match="outside"):
        load_case(spec)


def test_a_test_set_file_that_is_a_fifo_is_refused(testset_copy: Path) -> None:
    case = testset_copy / "cases" / "remove_shadow" / "case.json"
    case.unlink()
    os.mkfifo(case)
    with pytest.raises(TestSetError, match="FIFO"):
        load_testset(testset_copy)


def test_a_test_set_frame_folder_clip_may_not_link_outside(testset_copy: Path, tmp_path: Path) -> None:
    frames = moving_frames(4, 32, 24)
    clip = write_frame_folder(testset_copy / "scenes" / "frames", frames)
    outside = write_frame_folder(tmp_path / "outside", frames)
    target = clip / "frame_0002.png"
    target.unlink()
    os.symlink(outside / "frame_0002.png", target)
    with pytest.raises(VideoError, match="outside"):
        open_video(clip, confine_to=clip)
    assert len(open_video(clip)) == 4  # a folder the user opens directly may use links


def test_frame_folders_refuse_a_giant_first_frame_from_its_header(tmp_path: Path) -> None:
    from tests.fuzz_corpus import header_only_png

    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "frame_0001.png").write_bytes(header_only_png(13000, 13000))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "frame_0002.png")
    with pytest.raises(VideoError, match="13000x13000"):
        open_video(folder)


@pytest.mark.parametrize("path", ["a\x00b", "/tmp/" + "x" * 5000, "/dev/zero", "/proc/self/mem", "/nonexistent/x", "/etc"])
def test_loaders_raise_only_their_documented_error_for_any_path(path: str) -> None:
    """What the GUI catches: ProjectError, EditFileError, VideoError (docs/robustness.md); nothing else escapes."""
    from app.project import Project, ProjectError
    from engine.edits.edit_file import EditFileError, load_edit

    for load, error in ((Project.load, ProjectError), (load_edit, EditFileError), (open_video, VideoError)):
        with pytest.raises(error):
            load(path)
