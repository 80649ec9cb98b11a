"""The app's results on disk: handles instead of arrays, safe against folder deletion, old layout still read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from app import result_cache, result_files
from app.jobs import PropagationJob
from app.project import Project
from engine.edit import FirstFrameEdit
from engine.edits.recolour import recolour
from engine.engines.base import CancelToken, PropagationCancelled, PropagationResult
from engine.result_store import StoredFrames
from engine.video import ArrayClip, write_png_sequence, write_video


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENPROP_STUDIO_HOME", str(tmp_path / "home"))


def memory_result(n: int = 5, seed: int = 0) -> PropagationResult:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, 24, 40, 3), dtype=np.uint8)
    masks = np.where(rng.random((n, 24, 40)) > 0.5, 255, 0).astype(np.uint8)
    return PropagationResult(frames, masks, 24.0, "classic", "classic", {"warnings": ["a"], "frame_notes": {2: "b"}})


def test_a_result_is_read_back_as_an_exact_handle_that_outlives_its_folder(tmp_path: Path) -> None:
    memory = memory_result()
    folder = result_files.write_result(memory, tmp_path / "p" / "results" / "k")
    assert result_files.is_complete(folder)
    handle = result_files.read_result(folder)
    assert isinstance(handle.frames, StoredFrames) and handle.frames.shape == memory.frames.shape
    for t in (4, 0, 2):
        np.testing.assert_array_equal(handle.frames[t], memory.frames[t])
        np.testing.assert_array_equal(handle.masks[t], memory.masks[t])
    assert handle.extras["warnings"] == ["a"] and handle.extras["frame_notes"] == {2: "b"}
    import shutil

    shutil.rmtree(tmp_path / "p")  # the project's copy is gone (a Save replaced it, a result was dropped)
    np.testing.assert_array_equal(handle.frames[3], memory.frames[3])
    assert result_files.stored_folder(handle) is not None


def test_the_earlier_one_file_layout_is_still_read(tmp_path: Path) -> None:
    memory = memory_result(4)
    folder = tmp_path / "old"
    folder.mkdir()
    write_video(folder / "frames.mkv", iter(memory.frames), 24.0, lossless=True)
    write_png_sequence(folder / "masks", iter(memory.masks), prefix="mask_")
    meta = {"fps": 24.0, "engine": "classic", "mode": "classic", "frames": 4, "extras": {"warnings": ["old"]}}
    (folder / "result.json").write_text(json.dumps(meta))
    assert result_files.is_complete(folder) and result_files.layout_files(folder) == ("result.json", "frames.mkv")
    handle = result_files.read_result(folder)
    np.testing.assert_array_equal(handle.frames[3], memory.frames[3])
    np.testing.assert_array_equal(handle.masks[1], memory.masks[1])
    assert handle.extras["warnings"] == ["old"]


def test_a_stored_result_is_copied_not_encoded_again(tmp_path: Path) -> None:
    handle = result_files.read_result(result_files.write_result(memory_result(), tmp_path / "a"))
    target = result_files.write_result(handle, tmp_path / "b")
    source = result_files.stored_folder(handle)
    assert source is not None
    for rel in ("frames/frame_000000.png", "masks/mask_000003.png", "result.json"):
        assert (target / rel).read_bytes() == (source / rel).read_bytes()


def _job(n: int = 6) -> PropagationJob:
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (n, 24, 40, 3), dtype=np.uint8)
    m = np.zeros((24, 40), np.uint8)
    m[6:16, 8:20] = 255
    f, op = recolour(frames[0], m, hue_shift=90)
    return PropagationJob("classic", ArrayClip(frames, 25.0), FirstFrameEdit(frames[0], f, op.mask, [op]))


def test_propagation_job_result_is_a_handle_the_project_keeps_as_files() -> None:
    result = _job()(lambda p: None, CancelToken())
    assert isinstance(result.frames, StoredFrames) and len(result.frames) == 6
    entry = Project().add_result(result)
    assert entry.files is not None and entry.files.is_relative_to(result_cache.cache_root())
    assert result_files.is_complete(entry.files)


def test_a_cancelled_propagation_job_leaves_no_folder() -> None:
    cancel = CancelToken()

    def progress(p) -> None:  # noqa: ANN001
        if p.done > 3:
            cancel.cancel()

    with pytest.raises(PropagationCancelled):
        _job()(progress, cancel)
    session = result_cache.new_result_folder().parent
    assert not any(session.iterdir())


def test_stale_sessions_are_removed_and_symlinks_are_not_adopted(tmp_path: Path) -> None:
    stale = result_cache.cache_root() / "session-999999999-0badc0de"
    reused = result_cache.cache_root() / f"session-{os.getpid()}-0badc0de"  # this pid, an earlier process's folder
    for folder in (stale, reused):
        folder.mkdir(parents=True)
        (folder / "x").write_bytes(b"")
    mine = result_cache.new_result_folder().parent
    mine.mkdir(parents=True, exist_ok=True)
    removed = result_cache.remove_stale_sessions()
    assert stale in removed and reused in removed and not stale.exists() and mine.exists()
    folder = result_files.write_result(memory_result(), tmp_path / "r")
    (tmp_path / "secret.txt").write_text("secret")
    (folder / "masks" / "mask_000001.png").unlink()
    os.symlink(tmp_path / "secret.txt", folder / "masks" / "mask_000001.png")
    with pytest.raises(ValueError, match="symlink"):
        result_files.read_result(folder)


def test_autosave_works_when_a_result_reached_the_recovery_folder_first(tmp_path: Path) -> None:
    from app import recovery
    from app.project import ResultEntry

    clip = tmp_path / "clip.mkv"
    write_video(clip, iter(memory_result(3).frames), 24.0, lossless=True)
    project = Project()
    project.clip_path = clip
    entry = project.add_result(result_files.read_result(result_files.write_result(memory_result(3), tmp_path / "r")))
    assert isinstance(entry, ResultEntry)
    recovery.write_result(entry)  # the quick copy lands before the first autosave wrote project.json
    assert recovery.autosave(project.snapshot()) is not None
    assert recovery.pending_recovery() is not None and len(Project.load(recovery.recovery_folder()).results) == 1
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "results").mkdir()
    (tmp_path / "mine" / "results" / "holiday.jpg").write_bytes(b"x")  # not ours: still refused
    from app.project import ProjectError
    from app.project_io import check_save_target

    with pytest.raises(ProjectError, match="other files"):
        check_save_target(tmp_path / "mine")


def test_a_note_added_after_the_run_survives_the_copy_into_a_project(tmp_path: Path) -> None:
    """The app adds e.g. "the genprop engine does not use keyframes" to a stored result after its
    run; a save copied the run's folder as it was, so the warning was gone after a reopen."""
    stored = result_files.read_result(result_files.write_result(memory_result(), tmp_path / "run"))
    stored.extras.setdefault("warnings", []).append("keyframes ignored")
    saved = result_files.write_result(stored, tmp_path / "project" / "results" / "k")
    assert result_files.read_result(saved).extras["warnings"] == ["a", "keyframes ignored"]
    again = result_files.copy_result(saved, tmp_path / "other", {"warnings": ["a"]})
    assert result_files.read_result(again).extras["warnings"] == ["a"]
    assert result_files.read_result(saved).extras["warnings"] == ["a", "keyframes ignored"]  # the source is untouched


def test_a_copied_result_shares_its_frames_and_refuses_a_link_out(tmp_path: Path) -> None:
    """Saving or recovering a result links its frame files (a 1,200-frame 1080p store is 7 GB to copy,
    seconds of CPU while the user scrubs); a symlink planted in a result folder is refused, not followed."""
    saved = result_files.write_result(memory_result(), tmp_path / "run")
    copy = result_files.copy_result(saved, tmp_path / "copy")
    frame = next(p for p in sorted(saved.rglob("*.png")))
    twin = copy / frame.relative_to(saved)
    assert os.stat(frame).st_ino == os.stat(twin).st_ino
    assert np.array_equal(result_files.read_result(copy).frames[1], result_files.read_result(saved).frames[1])
    (tmp_path / "secret.txt").write_text("not a frame")
    os.symlink(tmp_path / "secret.txt", saved / "frames" / "extra.png")
    with pytest.raises(ValueError, match="symlink"):
        result_files.copy_result(saved, tmp_path / "copy2")
    assert not (tmp_path / "copy2").exists()
