"""Work is never lost: asking before open work is replaced, what counts as unsaved, recovery
after a crash, projects that Save and Open agree on, saving and opening as jobs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from app import recovery  # noqa: E402
from app.paths import SAMPLE_CLIP  # noqa: E402
from app.project import Project  # noqa: E402
from tests.gui_helpers import add_track_edit, fake_result, make_window, open_and_wait  # noqa: E402
from tests.video_factory import encode, moving_frames  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[1]
Button = QMessageBox.StandardButton
ENTRY_POINTS = ("open_clip", "open_recent", "drop", "sample_edit", "genprop_demo", "open_project")


@pytest.fixture
def clips(tmp_path: Path) -> tuple[Path, Path]:
    a = encode(tmp_path / "a.mp4", moving_frames(6, 96, 64, seed=1), "libx264")
    b = encode(tmp_path / "b.mp4", moving_frames(6, 96, 64, seed=2), "libx264")
    return a, b


def _drop(win: MainWindow, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    win.dropEvent(
        QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    )


def _trigger(win: MainWindow, how: str, other: Path, project: Path) -> None:
    if how == "open_clip":
        win.open_clip(other)
    elif how == "open_recent":
        action = next(a for a in win.recent_menu.actions() if a.text() == str(other.resolve()))
        action.trigger()
    elif how == "drop":
        _drop(win, other)
    elif how == "sample_edit":
        win.actions["sample_edit"].trigger()
    elif how == "genprop_demo":
        win.actions["genprop_demo"].trigger()
    else:
        win.projects.open(project)


@pytest.mark.filterwarnings("ignore:Function.*QDropEvent:DeprecationWarning")  # Qt has no other constructor
@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_replacing_unsaved_work_asks_first(qtbot, window: MainWindow, answer, clips, tmp_path: Path, how: str) -> None:  # type: ignore[no-untyped-def]
    a, b = clips
    saved = Project()
    saved.set_clip(b)
    saved.save(tmp_path / "b project")
    open_and_wait(qtbot, window, b)  # b is now in Open recent
    open_and_wait(qtbot, window, a)
    add_track_edit(qtbot, window)
    assert window.windowTitle().startswith("a.mp4 *")
    qtbot.waitUntil(lambda: recovery.pending_recovery() is not None, timeout=20000)

    answer.next(Button.Cancel)
    _trigger(window, how, b, tmp_path / "b project")
    assert answer.asked == ["unsavedDialog"]
    assert window.document.path == a.resolve() and len(window.project.operations) == 1  # nothing replaced
    assert recovery.pending_recovery() is not None  # nor the recovery copy emptied

    answer.next(Button.Discard)
    _trigger(window, how, b, tmp_path / "b project")
    qtbot.waitUntil(lambda: window.document is not None and window.document.path != a.resolve(), timeout=30000)
    assert answer.asked == ["unsavedDialog", "unsavedDialog"]


def test_save_answer_saves_then_opens(qtbot, window: MainWindow, answer, clips, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a, b = clips
    open_and_wait(qtbot, window, a)
    add_track_edit(qtbot, window)
    target = tmp_path / "my work"
    monkeypatch.setattr("ui.project_controller.QFileDialog.getSaveFileName", lambda *a, **k: (str(target), ""))
    answer.next(Button.Save)
    with qtbot.waitSignal(window.clip_opened, timeout=60000) as opened:
        window.open_clip(b)
    assert opened.args == [str(b)]
    assert [s.op for s in Project.load(target).operations] == ["track"]  # saved before b replaced it


def test_results_settings_and_restored_work_count_as_unsaved(qtbot, window: MainWindow, clips, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, _ = clips
    open_and_wait(qtbot, window, a)
    add_track_edit(qtbot, window)
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        window.projects.save_to(tmp_path / "p")
    assert "*" not in window.windowTitle() and not window.projects.has_unsaved_work
    window.project.add_result(fake_result(6, (96, 64)))  # what a finished run does
    assert "*" in window.windowTitle() and window.projects.has_unsaved_work
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        window.projects.save()
    assert "*" not in window.windowTitle()
    spin = window.engine_panel.widgets["flow_max_side"]
    spin.setValue(spin.value() // 2)  # an engine setting
    assert "*" in window.windowTitle() and window.projects.has_unsaved_work


def test_crash_restore_brings_back_results_project_path_and_the_star(qtbot, clips, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, _ = clips
    project = tmp_path / "saved project"
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        from PySide6.QtTest import QTest
        from PySide6.QtWidgets import QApplication
        from app import recovery, result_files
        from app.project import Project
        from app.settings import Settings
        from engine.engines.base import PropagationResult
        from ui.main_window import MainWindow
        app = QApplication([])
        win = MainWindow(Settings())
        win.open_clip({str(a)!r}, confirmed=True)
        while win.session.frame is None:
            QTest.qWait(20)
        mask = np.zeros((64, 96), np.uint8); mask[10:30, 10:30] = 255
        win.edit_panel.set_selection(mask)
        win.edit_panel.add_track()
        win.projects.save_to({str(project)!r})
        while win.jobs.busy or win.project.folder is None:
            QTest.qWait(20)
        frames = np.random.default_rng(7).integers(0, 255, (6, 64, 96, 3), dtype=np.uint8)
        win.project.add_result(PropagationResult(frames, np.zeros((6, 64, 96), np.uint8), 24.0, "classic", "classic"))
        def done():
            folder = recovery.pending_recovery()
            return folder is not None and len(Project.load(folder).results) == 1
        while not done():
            QTest.qWait(50)  # the result is written into the recovery folder once, on a worker
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, timeout=180, capture_output=True, text=True)
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]

    win = make_window(qtbot, confirm=False)
    with qtbot.waitSignal(win.edit_panel.first_frame_ready, timeout=30000):
        assert win.projects.restore_recovery()
    assert [s.op for s in win.project.operations] == ["track"]
    assert len(win.project.results) == 1 and win.review.current is not None
    expected = np.random.default_rng(7).integers(0, 255, (6, 64, 96, 3), dtype=np.uint8)
    np.testing.assert_array_equal(win.review.current.frames, expected)  # lossless
    assert win.project.folder == project.resolve()  # Save writes back to the user's project
    assert "*" in win.windowTitle() and win.projects.has_unsaved_work
    win.close()


def test_restoring_a_crash_copy_reads_its_results_off_the_gui_thread(qtbot, clips) -> None:  # type: ignore[no-untyped-def]
    """A 280-frame 720p result took 41 s to decode on the GUI thread after "Restore?" (the
    window froze, no progress): the restore is a job with progress, like Open project."""
    a, _ = clips
    from engine.edits.track import TrackSpec

    crashed = Project()
    crashed.set_clip(a)
    mask = np.zeros((64, 96), np.uint8)
    mask[10:30, 10:30] = 255
    crashed.add_operation(TrackSpec(mask=mask))
    recovery.autosave(crashed.snapshot())
    entry = crashed.add_result(fake_result(6, (96, 64)))
    recovery.write_result(entry)
    recovery.autosave(crashed.snapshot())  # what the crashed session left behind (the window's order)

    win = make_window(qtbot, confirm=False)
    seen: list[object] = []
    win.jobs.progressed.connect(seen.append)
    assert win.projects.restore_recovery()
    assert win.jobs.busy and win.project.results == [] and win.document is None  # returned at once: a job reads it
    assert not win.job_panel.isHidden()  # with the job bar (progress, Cancel)
    with qtbot.waitSignal(win.edit_panel.first_frame_ready, timeout=30000):
        qtbot.waitUntil(lambda: not win.jobs.busy, timeout=30000)
    assert any("frame" in getattr(p, "message", "") for p in seen)  # progress per decoded frame
    assert len(win.project.results) == 1 and [s.op for s in win.project.operations] == ["track"]
    assert "*" in win.windowTitle()
    win.close()


def test_the_recovery_copy_names_the_project_once_it_is_saved(qtbot, window: MainWindow, clips, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Save, then a crash before any other change: the restored work must still Save into that project."""
    a, _ = clips
    window.confirm_unsaved = False
    open_and_wait(qtbot, window, a)
    add_track_edit(qtbot, window)
    qtbot.waitUntil(lambda: recovery.pending_recovery() is not None, timeout=20000)
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        window.projects.save_to(tmp_path / "p")

    def saved_project() -> object:
        if not (recovery.recovery_folder() / "project.json").is_file():
            return None
        return json.loads((recovery.recovery_folder() / "project.json").read_text(encoding="utf-8")).get("saved_project")

    qtbot.waitUntil(lambda: saved_project() == str((tmp_path / "p").resolve()), timeout=20000)


def test_saving_after_a_restore_does_not_rewrite_results_the_project_holds(qtbot, clips, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """After a crash restore the results come from the recovery copy; the project folder holds
    the same results already, and Save copied every one again (97 MB for a 280-frame 720p result)."""
    a, _ = clips
    project = tmp_path / "saved project"
    win = make_window(qtbot, confirm=False)
    open_and_wait(qtbot, win, a)
    add_track_edit(qtbot, win)
    entry = win.project.add_result(fake_result(6, (96, 64)))
    with qtbot.waitSignal(win.job_finished, timeout=60000):
        win.projects.save_to(project)
    frames = project / entry.folder_name / "result.json"  # written last by every copy or write
    qtbot.waitUntil(lambda: (recovery.recovery_folder() / entry.folder_name / "result.json").is_file(), timeout=30000)

    def names_the_project() -> bool:
        path = recovery.recovery_folder() / "project.json"  # written a moment after the save (debounced)
        if not path.is_file():
            return False
        doc = json.loads(path.read_text(encoding="utf-8"))
        return doc.get("saved_project") == str(project.resolve()) and len(doc["results"]) == 1

    qtbot.waitUntil(names_the_project, timeout=30000)  # written on the worker after the save
    with monkeypatch.context() as m:  # the session dies: its recovery copy stays
        m.setattr("app.recovery.discard", lambda: None)
        win.close()
    before = frames.stat().st_ino, frames.stat().st_mtime_ns

    win = make_window(qtbot, confirm=False)
    with qtbot.waitSignal(win.edit_panel.first_frame_ready, timeout=30000):
        assert win.projects.restore_recovery()
    assert win.project.folder == project.resolve() and len(win.project.results) == 1
    with qtbot.waitSignal(win.job_finished, timeout=60000):
        assert win.projects.save()
    assert (frames.stat().st_ino, frames.stat().st_mtime_ns) == before  # the result was not written again
    assert "*" not in win.windowTitle()
    assert len(Project.load(project).results) == 1
    win.close()


def test_save_creates_the_named_folder_and_open_reads_it_back(
    qtbot, window: MainWindow, answer, clips, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    a, b = clips
    open_and_wait(qtbot, window, a)
    add_track_edit(qtbot, window)
    named = tmp_path / "projects" / "My edit"
    monkeypatch.setattr("ui.project_controller.QFileDialog.getSaveFileName", lambda *a, **k: (str(named), ""))
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        assert window.projects.save(ask=True)
    assert (named / "project.json").is_file() and not (named / "project.genprop").exists()  # the folder the user named

    open_and_wait(qtbot, window, b)
    monkeypatch.setattr("ui.project_controller.QFileDialog.getExistingDirectory", lambda *a, **k: str(named))
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        window.projects.open_dialog()  # the folder, as the dialog returns it
    assert window.document.path == a.resolve() and [s.op for s in window.project.operations] == ["track"]
    assert window.project.folder == named.resolve()

    open_and_wait(qtbot, window, b)
    recent = [x for x in window.recent_menu.actions() if x.text().startswith("My edit")]
    assert len(recent) == 1  # Open recent lists projects
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        recent[0].trigger()
    assert window.document.path == a.resolve()
    open_and_wait(qtbot, window, b)
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        assert window.projects.open(named / "project.json")  # its project.json works too
    assert window.project.folder == named.resolve()


def test_save_refuses_a_folder_holding_other_files(qtbot, window: MainWindow, clips, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, _ = clips
    open_and_wait(qtbot, window, a)
    add_track_edit(qtbot, window)
    busy = tmp_path / "holiday photos"
    busy.mkdir()
    (busy / "img.jpg").write_bytes(b"mine")
    assert not window.projects.save_to(busy)
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "holiday photos" in box.text() and "other files" in box.text()
    assert sorted(p.name for p in busy.iterdir()) == ["img.jpg"]


def test_save_and_open_run_as_jobs_with_progress_and_write_only_changes(qtbot, window: MainWindow, clips, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, _ = clips
    open_and_wait(qtbot, window, a)
    add_track_edit(qtbot, window)
    window.project.add_result(fake_result(6, (96, 64), value=1))
    folder = tmp_path / "p"
    reports: list = []
    window.jobs.progressed.connect(reports.append)
    with qtbot.waitSignal(window.job_finished, timeout=60000) as finished:
        assert window.projects.save_to(folder)
        assert window.job_panel.isVisible() and window.job_panel.label.text() == "Save project"  # a job, not a freeze
    assert finished.args == ["succeeded"] and {p.stage for p in reports} == {"saving"} and len(reports) >= 4
    key = window.project.results[0].key
    frames_file = folder / "results" / key / "store.json"  # written when a result is encoded
    stamps = {p: p.stat().st_mtime_ns for p in (frames_file, folder / "edit.json")}

    with qtbot.waitSignal(window.job_finished, timeout=60000):
        window.projects.save()  # nothing changed: nothing rewritten but project.json
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    add_track_edit(qtbot, window)
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        window.projects.save()
    assert frames_file.stat().st_mtime_ns == stamps[frames_file]  # the result was not encoded again
    assert (folder / "edit.json").stat().st_mtime_ns != stamps[folder / "edit.json"]
    window.project.remove_result(0)
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        window.projects.save()
    assert not frames_file.parent.exists()  # a deleted result leaves the project folder

    window.project.add_result(fake_result(6, (96, 64), value=2))
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        window.projects.save()
    reports.clear()
    window.confirm_unsaved = False
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        assert window.projects.open(folder)
        assert window.project.results and window.jobs.busy  # opening runs on a worker
    assert {p.stage for p in reports} == {"opening"}
    np.testing.assert_array_equal(window.review.current.frames, fake_result(6, (96, 64), value=2).frames)


def test_sample_clip_reopens_without_question_when_nothing_changed(qtbot, window: MainWindow, answer) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    open_and_wait(qtbot, window, SAMPLE_CLIP)  # no unsaved work: no question
    assert answer.asked == []


def test_work_changed_while_a_project_opens_is_asked_about_again(
    qtbot, window: MainWindow, answer, clips, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The Save/Discard answer covered the work as it was; an edit made while the open job ran
    was replaced without a word. Now the question comes again, and Cancel keeps the edit."""
    a, b = clips
    saved = Project()
    saved.set_clip(b)
    saved.save(tmp_path / "b project")
    open_and_wait(qtbot, window, a)
    frame = window.session.frame
    mask = np.zeros(frame.shape[:2], np.uint8)
    mask[10:30, 10:30] = 255
    answer.next(Button.Cancel)
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        assert window.projects.open(tmp_path / "b project", confirmed=True)
        window.edit_panel.set_selection(mask)
        window.edit_panel.add_track()  # while the project is still being read
    qtbot.waitUntil(lambda: answer.asked == ["unsavedDialog"], timeout=10000)
    assert window.document.path == a.resolve() and len(window.project.operations) == 1


def test_autosave_waits_for_the_end_of_a_burst_of_changes_and_runs_off_the_gui_thread(
    qtbot, window: MainWindow, clips, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Every change rewrote the recovery copy at once; a burst (ten setting changes) is written once, on a worker."""
    import threading

    a, _ = clips
    open_and_wait(qtbot, window, a)
    add_track_edit(qtbot, window)
    qtbot.waitUntil(lambda: not window.projects.autosave_pending, timeout=20000)
    real, calls = recovery.autosave, []

    def counting(snap):  # type: ignore[no-untyped-def]
        calls.append((threading.current_thread() is threading.main_thread(), len(snap.operations), dict(snap.engine.options)))
        return real(snap)

    monkeypatch.setattr(recovery, "autosave", counting)
    spin = window.engine_panel.widgets["flow_max_side"]
    start = spin.value()
    for k in range(10):
        spin.setValue(start - 8 * (k + 1))
        qtbot.wait(20)
    assert calls == []  # nothing written while the changes keep coming
    qtbot.waitUntil(lambda: len(calls) == 1 and not window.projects.autosave_pending, timeout=20000)
    qtbot.wait(window.projects.AUTOSAVE_DELAY_MS + 300)
    assert len(calls) == 1
    on_gui_thread, operations, options = calls[0]
    assert not on_gui_thread and operations == 1 and options["flow_max_side"] == start - 80  # the newest state
    doc = json.loads((recovery.recovery_folder() / "project.json").read_text(encoding="utf-8"))
    assert doc["engine"]["options"]["flow_max_side"] == start - 80
