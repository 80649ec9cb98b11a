"""Jobs in the window: Cancel that cancels (GenProp while its models load), quitting during a job,
and a run's warnings shown with its result."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from engine.engines.base import Engine, PropagationResult, register_engine  # noqa: E402
from engine.pipelines.dummy import tiny_components  # noqa: E402
from engine.pipelines.genprop_pipeline import GenPropPipeline  # noqa: E402
from tests.gui_helpers import add_track_edit, open_and_wait  # noqa: E402
from tests.video_factory import encode, moving_frames  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def tiny_svd_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    components = tiny_components(0, randomize_heads=True)
    heads = components.pop("heads")
    folder = tmp_path_factory.mktemp("weights") / "svd"
    GenPropPipeline.from_components(heads=heads, **components).save_pretrained(folder)
    return folder


def test_cancel_genprop_while_its_models_load(qtbot, window: MainWindow, tiny_svd_folder: Path, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GENPROP_SVD_PATH", str(tiny_svd_folder))
    release = threading.Event()

    def slow_load(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(60)  # loading full-size SVD from disk on a CPU takes minutes
        raise RuntimeError("a cancelled load's result must not be used")

    monkeypatch.setattr(GenPropPipeline, "from_pretrained", classmethod(slow_load))
    clip = encode(tmp_path / "clip.mp4", moving_frames(6, 96, 64), "libx264", fps=12)
    open_and_wait(qtbot, window, clip)
    add_track_edit(qtbot, window)
    window.engine_panel.set_settings("genprop", {"steps": 2, "long_side": 64})
    assert window.engine_panel.engine == "genprop" and window.engine_panel.propagate_button.isEnabled()
    with qtbot.waitSignal(window.job_finished, timeout=30000) as finished:
        window.engine_panel.propagate_button.click()
        qtbot.waitUntil(lambda: "loading" in window.job_panel.bar.format(), timeout=20000)
        clicked = time.monotonic()
        window.job_panel.cancel_button.click()
        assert window.job_panel.bar.format() == "cancelling…"
    assert finished.args == ["cancelled"] and time.monotonic() - clicked < 3.0
    assert window.review.current is None and not window.job_panel.isVisible()
    release.set()


def test_cancel_while_the_engine_itself_is_imported(qtbot, window: MainWindow, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A GenProp engine's first import (torch, diffusers) took 15 s under load before Cancel
    was looked at: the job stops waiting for the import at once."""
    import app.jobs

    real_get_engine = app.jobs.get_engine
    release = threading.Event()

    def slow_import(name: str):  # type: ignore[no-untyped-def]
        release.wait(60)  # importing torch + diffusers on a loaded 2-core machine
        return real_get_engine(name)

    monkeypatch.setattr(app.jobs, "get_engine", slow_import)
    clip = encode(tmp_path / "clip.mp4", moving_frames(6, 96, 64), "libx264", fps=12)
    open_and_wait(qtbot, window, clip)
    add_track_edit(qtbot, window)
    with qtbot.waitSignal(window.job_finished, timeout=30000) as finished:
        window.engine_panel.propagate_button.click()
        qtbot.waitUntil(lambda: "loading" in window.job_panel.bar.format(), timeout=20000)
        clicked = time.monotonic()
        window.job_panel.cancel_button.click()
    assert finished.args == ["cancelled"] and time.monotonic() - clicked < 3.0
    assert window.review.current is None and not window.job_panel.isVisible()
    release.set()


def _long_classic_job(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = encode(tmp_path / "long.mp4", moving_frames(400, 320, 192), "libx264")
    open_and_wait(qtbot, window, clip)
    window.edit_panel.set_selection(np.pad(np.full((40, 40), 255, np.uint8), ((20, 132), (20, 260))))
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=20000):
        window.edit_panel.add_remove()
    window.propagate()
    qtbot.waitUntil(lambda: window.job_panel.bar.value() > 0, timeout=60000)


def test_quitting_during_a_job_offers_to_cancel_it_and_exits_cleanly(qtbot, window: MainWindow, answer, tmp_path, qtlog) -> None:  # type: ignore[no-untyped-def]
    _long_classic_job(qtbot, window, tmp_path)
    worker = window.jobs.workers[0]
    answer.next("Keep working")
    window.close()
    assert answer.asked == ["stopJobDialog"] and window.isVisible() and worker.isRunning()  # nothing stopped

    answer.next("Cancel job and quit")
    answer.next(QMessageBox.StandardButton.Discard)  # then the unsaved edit
    started = time.monotonic()
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20000)
    assert time.monotonic() - started < 10 and answer.asked == ["stopJobDialog", "stopJobDialog", "unsavedDialog"]
    assert worker.isFinished() and window.edit_panel.runner.isFinished()
    assert not window.jobs.background.isRunning()  # joined, or never started (the autosave waits 1.5 s after a change)
    assert not [r for r in qtlog.records if "Destroyed while thread" in r.message]


class _WarningEngine(Engine):
    """A real engine run that reports the kind of warning the contract names."""

    name = "test-warnings"

    def propagate(self, clip, edit, options=None, progress=None, cancel=None) -> PropagationResult:  # type: ignore[no-untyped-def]
        frames = np.stack([clip[i] for i in range(len(clip))])
        masks = np.zeros(frames.shape[:3], np.uint8)
        extras = {"warnings": ["shot cut at frame 4: the edit stops there"], "frame_notes": {3: "shot cut"}}
        return PropagationResult(frames, masks, clip.fps, self.name, "test", extras=extras)


@pytest.fixture
def warning_engine():  # type: ignore[no-untyped-def]
    from engine.engines import base

    register_engine(_WarningEngine)
    yield _WarningEngine.name
    base._SPECS.pop(_WarningEngine.name, None)  # other tests see only the built-in engines
    base._CLASSES.pop(_WarningEngine.name, None)


def test_run_warnings_are_shown_with_the_result_and_logged(qtbot, window: MainWindow, warning_engine, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    clip = encode(tmp_path / "clip.mp4", moving_frames(6, 96, 64), "libx264")
    open_and_wait(qtbot, window, clip)
    add_track_edit(qtbot, window)
    window.engine_panel.refresh_availability()
    window.engine_panel.set_settings("test-warnings", {})
    with qtbot.waitSignal(window.job_finished, timeout=30000):
        window.propagate()
    review = window.review
    assert review.warnings.isVisible() and "shot cut at frame 4" in review.warnings.text()
    assert "shot cut at frame 4" in window.statusBar().currentMessage()
    assert any("shot cut at frame 4" in r.getMessage() for r in caplog.records)
    review.timeline.seek(3)
    assert "frame 4: shot cut" in review.info.text()  # the per-frame note with that frame
