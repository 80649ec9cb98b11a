"""The whole workflow through the real main window, as a user drives it (offscreen)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from app import recovery  # noqa: E402
from app.paths import SAMPLE_CLIP  # noqa: E402
from app.project import Project  # noqa: E402
from app.settings import Settings  # noqa: E402
from engine.video import open_video  # noqa: E402
from tests.gui_helpers import review_image  # noqa: E402
from tests.video_factory import encode, moving_frames  # noqa: E402
from ui.frame_loader import frame_array  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[1]
COIN = (452, 148)  # the coin on frame 1 of the sample clip


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    recovery.discard()
    win = MainWindow(Settings())
    win.ask_on_close = False
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def open_and_wait(qtbot, win: MainWindow, clip: Path) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(win.edit_panel.first_frame_ready, timeout=20000):
        assert win.open_clip(clip)


def click_image(qtbot, win: MainWindow, x: float, y: float, button=Qt.MouseButton.LeftButton) -> None:  # type: ignore[no-untyped-def]
    """A real mouse click on the canvas at image pixel (x, y)."""
    win.tabs.setCurrentWidget(win.canvas)
    qtbot.waitUntil(lambda: win.canvas.isVisible())
    win.canvas.fit()
    pos: QPoint = win.canvas.mapFromScene(x, y)
    qtbot.mouseClick(win.canvas.viewport(), button, pos=pos)


def select_coin(qtbot, win: MainWindow) -> np.ndarray:  # type: ignore[no-untyped-def]
    win.edit_panel.set_tool("select")
    with qtbot.waitSignal(win.edit_panel.selection_changed, timeout=30000):
        click_image(qtbot, win, *COIN)
    mask = win.session.selection
    assert mask is not None
    ys, xs = np.nonzero(mask)
    assert 500 < len(xs) < 8000, "the fallback selector should pick out the coin"
    assert abs(xs.mean() - COIN[0]) < 30 and abs(ys.mean() - COIN[1]) < 30
    return mask


def test_select_recolour_propagate_review_export(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    mask = select_coin(qtbot, window)
    qtbot.waitUntil(lambda: "GrabCut" in window.edit_panel.selector_label.text(), timeout=20000)
    assert "fallback" in window.edit_panel.selector_label.text()

    window.edit_panel.hue.setValue(120)
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=20000):
        window.edit_panel.recolour_button.click()
    edit = window.session.edit
    assert edit is not None and len(edit.operations) == 1
    original = open_video(SAMPLE_CLIP)[0]
    outside = edit.edit_mask == 0
    np.testing.assert_array_equal(edit.edited_frame[outside], original[outside])
    assert (edit.edited_frame[mask > 0] != original[mask > 0]).any()

    assert window.engine_panel.engine == "classic"
    with qtbot.waitSignal(window.job_finished, timeout=240000) as finished:
        window.engine_panel.propagate_button.click()
        qtbot.waitUntil(lambda: window.job_panel.isVisible(), timeout=5000)
    assert finished.args == ["succeeded"]
    result = window.review.current
    assert result is not None and result.frames.shape == (90, 320, 568, 3) and result.masks.shape == (90, 320, 568)
    assert window.tabs.currentWidget() is window.review

    # the review shows result frames, with the mask overlay tinting the tracked coin
    window.review.mode_box.setCurrentText("Result")
    window.review.opacity.setValue(100)
    window.review.timeline.seek(45)
    shown = review_image(qtbot, window)
    assert shown.shape == (320, 568, 3)
    tracked = result.masks[45] > 127
    assert tracked.sum() > 300
    assert np.abs(shown[tracked].astype(int) - (255, 60, 200)).mean() < 10  # opaque overlay colour
    np.testing.assert_array_equal(shown[~tracked][:1000], result.frames[45][~tracked][:1000])
    window.review.mode_box.setCurrentText("Side by side")
    qtbot.waitUntil(lambda: frame_array(window.review.view.current_image()).shape[1] == 2 * 568 + 8, timeout=10000)

    out = tmp_path / "exported.mp4"
    with qtbot.waitSignal(window.job_finished, timeout=120000) as exported:
        window.export("video", out)
    assert exported.args == ["succeeded"]
    reader = open_video(out)
    assert len(reader) == 90 and reader.size == (568, 320) and reader.fps == pytest.approx(30)
    assert reader.info.has_audio
    with qtbot.waitSignal(window.job_finished, timeout=120000):
        window.export("masks", tmp_path / "masks")
    assert len(list((tmp_path / "masks").glob("mask_*.png"))) == 90

    # File -> Export result...: the user switches the type to ProRes 422 HQ (the name follows it),
    # then types a name without a suffix
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QComboBox, QFileDialog, QLineEdit

    from app.export_choices import filter_text
    from engine.video.formats import FORMATS

    seen: dict[str, object] = {}

    def drive_dialog() -> None:
        dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, QFileDialog) and w.isVisible()]
        if not dialogs:
            QTimer.singleShot(100, drive_dialog)
            return
        dialog = dialogs[0]
        types = dialog.findChild(QComboBox, "fileTypeCombo")
        name = dialog.findChild(QLineEdit, "fileNameEdit")
        seen["offered"] = [types.itemText(i) for i in range(types.count())]
        seen["before"] = name.text()
        types.setCurrentIndex(types.findText(filter_text(FORMATS["prores-422-hq"])))
        types.activated.emit(types.currentIndex())
        seen["after"] = name.text()
        name.setText(str(tmp_path / "cut"))
        dialog.accept()

    QTimer.singleShot(100, drive_dialog)
    with qtbot.waitSignal(window.job_finished, timeout=120000) as exported:
        window.actions["export_video"].trigger()
    assert exported.args == ["succeeded"], seen
    assert len(seen["offered"]) == len(FORMATS) and (seen["before"], seen["after"]) == ("result.mp4", "result.mov")
    prores = open_video(tmp_path / "cut.mov")
    assert len(prores) == 90 and prores.info.codec == "prores" and prores.info.has_audio
    prores.close()


def test_cancel_a_running_job(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = encode(tmp_path / "long.mp4", moving_frames(400, 320, 192), "libx264")
    open_and_wait(qtbot, window, clip)
    window.edit_panel.set_selection(np.pad(np.full((40, 40), 255, np.uint8), ((20, 132), (20, 260))))
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=20000):
        window.edit_panel.add_remove()
    with qtbot.waitSignal(window.job_finished, timeout=120000) as finished:
        window.propagate()
        qtbot.waitUntil(lambda: window.job_panel.bar.value() > 0, timeout=60000)
        window.job_panel.cancel_button.click()
    assert finished.args == ["cancelled"]
    assert window.review.current is None
    qtbot.waitUntil(lambda: not window.jobs.workers, timeout=10000)
    assert not window.job_panel.isVisible()


def test_undo_and_redo_an_edit(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    select_coin(qtbot, window)
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=20000):
        window.edit_panel.add_remove()
    assert [s.op for s in window.project.operations] == ["remove"]
    assert window.edit_panel.edits_list.count() == 1
    window.undo_stack.undo()
    assert window.project.operations == [] and window.edit_panel.edits_list.count() == 0
    window.undo_stack.redo()
    assert [s.op for s in window.project.operations] == ["remove"]
    # selection changes are undoable too
    window.undo_stack.undo()  # the remove
    window.undo_stack.undo()  # the click selection
    assert window.session.selection is None


def test_save_and_reopen_project(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    select_coin(qtbot, window)
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=20000):
        window.edit_panel.add_track()
    with qtbot.waitSignal(window.job_finished, timeout=60000) as saved:
        assert window.projects.save_to(tmp_path / "coin.genprop")
    assert saved.args == ["succeeded"]
    project = Project.load(tmp_path / "coin.genprop")
    assert project.clip_path == SAMPLE_CLIP.resolve() and [s.op for s in project.operations] == ["track"]
    with qtbot.waitSignal(window.job_finished, timeout=60000):
        assert window.projects.open(tmp_path / "coin.genprop")
    assert [s.op for s in window.project.operations] == ["track"]


def test_kill_and_restore_from_recovery(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A session that edits and is then killed (SIGKILL) leaves a recovery copy we restore."""
    recovery.discard()
    script = textwrap.dedent(
        f"""
        import os, signal, numpy as np
        from PySide6.QtWidgets import QApplication
        from app.settings import Settings
        from ui.main_window import MainWindow
        app = QApplication([])
        win = MainWindow(Settings())
        win.open_clip({str(SAMPLE_CLIP)!r})
        mask = np.zeros((320, 568), np.uint8); mask[120:175, 420:485] = 255
        win.edit_panel.set_selection(mask)
        win.edit_panel.add_remove()
        win.edit_panel.set_selection(mask)
        win.edit_panel.add_recolour()
        from PySide6.QtTest import QTest
        from app import recovery
        from app.project import Project
        while recovery.pending_recovery() is None or len(Project.load(recovery.pending_recovery()).operations) < 2:
            QTest.qWait(50)  # the recovery copy is written on a worker
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, timeout=120, capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert recovery.pending_recovery() is not None

    win = MainWindow(Settings())
    win.ask_on_close = False
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.edit_panel.first_frame_ready, timeout=20000):
        assert win.projects.restore_recovery()
    assert [s.op for s in win.project.operations] == ["remove", "recolour"]
    assert win.document is not None and win.document.path == SAMPLE_CLIP.resolve()
    qtbot.waitUntil(lambda: win.session.edit is not None and len(win.session.edit.operations) == 2, timeout=20000)
    win.close()
    assert recovery.pending_recovery() is None  # a clean exit removes it


def test_corrupt_clip_error_dialog(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    assert not window.open_clip(bad)
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "corrupt.mp4" in box.text()
    box.close()
    open_and_wait(qtbot, window, SAMPLE_CLIP)  # still usable


def test_no_threads_left_running(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QThread

    before = {t.ident for t in threading.enumerate()}
    win = MainWindow(Settings())
    win.ask_on_close = False
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.edit_panel.first_frame_ready, timeout=20000):
        win.open_clip(SAMPLE_CLIP)
    win.edit_panel.set_selection(np.pad(np.full((40, 40), 255, np.uint8), ((100, 180), (400, 128))))
    with qtbot.waitSignal(win.edit_panel.edit_changed, timeout=20000):
        win.edit_panel.add_recolour()
    win.propagate()  # closing while a job runs must cancel and join it
    qt_threads: list[QThread] = [
        *win._loader.threads,
        *win.review.renderer.pool.threads,
        win.edit_panel.runner,
        *win.jobs.workers,
    ]  # type: ignore[union-attr]
    assert len(qt_threads) == 5 and not any(t.isFinished() for t in qt_threads)
    win.close()
    assert all(t.isFinished() for t in qt_threads)
    # Python-level threads (Qt threads show up as never-ending "dummy" entries; skip those)
    leftover = [
        t for t in threading.enumerate() if t.ident not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
    ]
    assert leftover == []


def test_layer_from_selection_is_placed_where_dragged(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    panel = window.edit_panel
    coin = np.zeros((320, 568), np.uint8)
    coin[120:160, 425:485] = 255
    panel.set_selection(coin)
    panel.cut_layer_button.click()
    assert panel.layer is not None and window.canvas.tool == "move"
    window.canvas._layer_item.setPos(150.0, 200.0)  # what a drag with the Move tool does
    panel.layers.scale.setValue(1.5)
    panel.layers.rotation.setValue(30.0)
    panel.layers.flip_h.setChecked(True)
    with qtbot.waitSignal(panel.edit_changed, timeout=20000):
        panel.insert_button.click()
    spec = window.project.operations[-1]
    assert spec.op == "insert" and (spec.x, spec.y) == (150.0, 200.0)
    assert spec.scale == 1.5 and spec.rotation == 30.0 and spec.flip_h
    op = window.session.edit.operations[-1]
    ys, xs = np.nonzero(op.mask)
    assert abs(xs.mean() - 150) < 6 and abs(ys.mean() - 200) < 6  # the layer landed where it was dropped
    assert panel.layer is None and window.canvas._layer_item is None
    with qtbot.waitSignal(panel.edit_changed, timeout=20000):
        panel.aspect.setCurrentText("margins (px)")
        panel.margin.setValue(20)
        panel.outpaint_button.click()
    assert window.session.edit.edited_frame.shape == (360, 608, 3) and window.session.edit.canvas_offset == (20, 20)


def test_try_the_sample_edit_in_one_click(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    assert "open a clip first" in window.engine_panel.propagate_button.toolTip()
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=30000):
        window.actions["sample_edit"].trigger()
    assert [s.op for s in window.project.operations] == ["recolour"]
    assert window.engine_panel.propagate_button.isEnabled()
    assert "Propagate" in window.engine_panel.propagate_button.toolTip()


def test_no_recovery_offer_without_edits(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    assert recovery.pending_recovery() is None  # a clip alone is nothing to restore
    window.edit_panel.set_selection(np.pad(np.full((20, 20), 255, np.uint8), ((100, 200), (100, 448))))
    window.edit_panel.add_track()
    qtbot.waitUntil(lambda: recovery.pending_recovery() is not None, timeout=20000)  # written on a worker


def test_two_results_compared_side_by_side(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    from engine.engines.base import PropagationResult

    open_and_wait(qtbot, window, SAMPLE_CLIP)
    a = np.zeros((3, 320, 568, 3), np.uint8)
    b = np.full((3, 320, 568, 3), 200, np.uint8)
    masks = np.zeros((3, 320, 568), np.uint8)
    window.project.add_result(PropagationResult(a, masks, 30.0, "classic"), "A")
    window.project.add_result(PropagationResult(b, masks, 30.0, "classic"), "B")
    review = window.review
    assert [review.compare_box.itemText(i) for i in range(review.compare_box.count())] == ["Original", "A", "B"]
    review.result_box.setCurrentText("B")
    review.compare_box.setCurrentText("A")
    review.mode_box.setCurrentText("Side by side")
    shown = review_image(qtbot, window)
    assert shown.shape == (320, 2 * 568 + 8, 3)
    assert shown[:, :568].max() == 0 and shown[:, -568:].min() == 200  # A on the left, B on the right


def test_switching_clips_composes_new_edits_on_the_new_frame(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Opening another clip and importing its edit at once must not compose on the old frame."""
    from engine.pipelines.weights_locator import DEMO_MODEL_DIR

    open_and_wait(qtbot, window, SAMPLE_CLIP)
    window.edit_panel.set_selection(np.pad(np.full((20, 20), 255, np.uint8), ((100, 200), (100, 448))))
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=20000):
        window.edit_panel.add_track()
    assert window.open_clip(DEMO_MODEL_DIR / "case" / "frames", fps=8.0)
    assert window.session.edit is None  # the coin clip's edit is gone with its clip
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=20000, check_params_cb=lambda e: e is not None):
        assert window.import_edit(DEMO_MODEL_DIR / "case" / "edit.json")
    assert window.session.edit.edited_frame.shape == (64, 64, 3)
    assert window.findChild(QMessageBox, "errorDialog") is None


def _stroke(qtbot, win: MainWindow, points: list[tuple[float, float]]) -> None:  # type: ignore[no-untyped-def]
    """A real mouse drag on the canvas through image pixels ``points``."""
    win.tabs.setCurrentWidget(win.canvas)
    qtbot.waitUntil(lambda: win.canvas.isVisible())
    win.canvas.fit()
    viewport = win.canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=win.canvas.mapFromScene(*points[0]))
    for x, y in points[1:]:
        event_pos = win.canvas.mapFromScene(x, y)
        qtbot.mouseMove(viewport, pos=event_pos)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=win.canvas.mapFromScene(*points[-1]))


def test_the_shadow_brush_paints_what_remove_takes_with_the_object(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """The GUI had one selection: a brushed shadow was part of the object (tracked with it, painted over),
    so a removal's extras (moved with the object, the ground under a shadow lifted) never reached GUI users."""
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    coin = select_coin(qtbot, window)
    window.edit_panel.set_tool("shadow")
    x, y = COIN
    _stroke(qtbot, window, [(x + 40, y + 30), (x + 60, y + 32), (x + 80, y + 34)])
    extras = window.session.extras
    assert extras is not None and extras.any() and not (extras & coin).any()
    np.testing.assert_array_equal(window.session.selection, coin)  # the selection is untouched
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=20000):
        window.edit_panel.add_remove()
    spec = window.project.operations[-1]
    assert spec.op == "remove" and spec.extras_mask is not None
    np.testing.assert_array_equal(spec.extras_mask > 0, extras > 0)
    op = window.session.edit.operations[-1]
    assert op.extras_mask is not None and op.params.get("shadow") in ("lifted", "inpainted")
    window.undo_stack.undo()  # the remove
    window.undo_stack.undo()  # the shadow stroke
    assert window.session.extras is None or not window.session.extras.any()
    np.testing.assert_array_equal(window.session.selection, coin)
    window.undo_stack.redo()
    assert window.session.has_extras
    window.edit_panel.set_tool("erase")  # the eraser takes shadow paint away too
    _stroke(qtbot, window, [(x + 40, y + 30), (x + 60, y + 32), (x + 80, y + 34)])
    assert not window.session.has_extras


def test_a_tool_picked_in_the_panel_shows_frame_1(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """The app opens on the Clip tab: clicking Select there, then the coin, must not be a dead click."""
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    for tab in (window._clip_tab, window.review):
        window.tabs.setCurrentWidget(tab)
        qtbot.mouseClick(window.edit_panel.tool_buttons["select"], Qt.MouseButton.LeftButton)
        assert window.tabs.currentWidget() is window.canvas and window.edit_panel.tool == "select"
    qtbot.waitUntil(lambda: window.canvas.isVisible())
    window.canvas.fit()
    with qtbot.waitSignal(window.edit_panel.selection_changed, timeout=30000):  # the next click selects the coin
        qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=window.canvas.mapFromScene(*COIN))
    assert window.session.selection is not None and window.session.selection.any()
