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
