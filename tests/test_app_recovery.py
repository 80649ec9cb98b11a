"""The recovery copy is rewritten after every change while the app runs: whenever it is read
(a restore after a crash can find it in any state), it must be complete, never half-written."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from app import recovery
from app.project import Project, ProjectError
from engine.edits.recolour import RecolourSpec
from engine.edits.track import TrackSpec
from tests.video_factory import encode, moving_frames


def test_the_recovery_copy_is_readable_while_it_is_being_rewritten(tmp_path: Path) -> None:
    """An edit's PNG assets were rewritten in place (truncate, then write): a crash, or the
    restore itself, could find 'edit_op00_mask.png is not PNG' and the work was lost."""
    clip = encode(tmp_path / "a.mp4", moving_frames(4, 320, 240), "libx264")
    rng = np.random.default_rng(0)
    project = Project()
    project.set_clip(clip)
    project.add_operation(TrackSpec(mask=(rng.random((240, 320)) > 0.5).astype(np.uint8) * 255))
    recovery.autosave(project.snapshot())
    stop, errors = threading.Event(), []

    def keep_saving() -> None:
        n = 0
        while not stop.is_set():
            n += 1  # the edit changes every time: the assets are written again (large, noisy masks)
            mask = (rng.random((240, 320)) > 0.5).astype(np.uint8) * 255
            project.operations[:] = [RecolourSpec(mask=mask, hue_shift=float(n % 90)), TrackSpec(mask=mask)]
            recovery.autosave(project.snapshot())

    writer = threading.Thread(target=keep_saving)
    writer.start()
    try:
        for _ in range(150):
            try:
                Project.load(recovery.recovery_folder())
            except ProjectError as exc:
                if "PNG" in str(exc) or "not readable" in str(exc):
                    errors.append(str(exc))
    finally:
        stop.set()
        writer.join()
    assert errors == [], errors[:3]


def _assets(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (folder / "assets").glob("*.png")}


def _project_with_masks(tmp_path: Path, n: int = 3) -> tuple[Project, list[np.ndarray]]:
    clip = encode(tmp_path / "a.mp4", moving_frames(4, 320, 240), "libx264")
    rng = np.random.default_rng(1)
    masks = [(rng.random((240, 320)) > 0.5).astype(np.uint8) * 255 for _ in range(n)]
    project = Project()
    project.set_clip(clip)
    for m in masks:
        project.add_operation(TrackSpec(mask=m))
    return project, masks


def test_autosave_writes_only_the_assets_that_changed(tmp_path: Path) -> None:
    """The recovery copy re-encoded every mask PNG after every change; unchanged ones stay as they are."""
    project, masks = _project_with_masks(tmp_path)
    folder = recovery.autosave(project.snapshot())
    assert folder is not None
    first = _assets(folder)
    assert len(first) == 3
    recovery.autosave(project.snapshot())  # nothing changed: nothing is encoded or replaced
    assert _assets(folder) == first
    new_mask = np.zeros((240, 320), np.uint8)
    new_mask[50:90, 60:120] = 255
    project.operations[1] = TrackSpec(mask=new_mask)
    recovery.autosave(project.snapshot())
    second = _assets(folder)
    added = set(second) - set(first)
    assert len(added) == 1  # only the changed mask was written
    assert all(second[name] == first[name] for name in first)  # the others untouched (same file, same time)
    recovery.autosave(project.snapshot())
    assert len(_assets(folder)) == 3  # the replaced mask's file goes once no recovery JSON names it
    loaded = Project.load(folder)
    for op, mask in zip(loaded.operations, [masks[0], new_mask, masks[2]], strict=True):
        np.testing.assert_array_equal(op.mask, mask)


def test_a_crash_in_the_middle_of_an_autosave_leaves_the_previous_copy_whole(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """New assets get new names and the JSON naming them is replaced last: a crash between two
    assets leaves the last complete copy, not a mix of old JSON and new masks."""
    import engine.edits.edit_file as edit_file

    project, masks = _project_with_masks(tmp_path)
    folder = recovery.autosave(project.snapshot())
    assert folder is not None
    changed = [np.ascontiguousarray(255 - m) for m in masks]
    project.operations[:] = [TrackSpec(mask=m) for m in changed]
    real, calls = edit_file._write_png, []

    def dies_on_the_second(array, mode, path):  # type: ignore[no-untyped-def]
        calls.append(path)
        if len(calls) == 2:
            raise OSError("the process was killed here")
        real(array, mode, path)

    monkeypatch.setattr(edit_file, "_write_png", dies_on_the_second)
    try:
        recovery.autosave(project.snapshot())
    except OSError:
        pass
    monkeypatch.setattr(edit_file, "_write_png", real)
    loaded = Project.load(folder)
    assert len(calls) == 2
    for op, mask in zip(loaded.operations, masks, strict=True):
        np.testing.assert_array_equal(op.mask, mask)  # the previous copy, whole
