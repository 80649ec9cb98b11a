"""Controls do what they show: the visible tab's player, tools and their keys, F1 from the actions,
zoom keys, the wheel over panels, the timeline, a small window, the outpaint preview, the job
bar's time left and label, result numbering, the Review transport and where dialogs start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox, QScrollArea  # noqa: E402

from app.paths import SAMPLE_CLIP  # noqa: E402
from engine.engines.base import Progress  # noqa: E402
from tests.gui_helpers import add_track_edit, fake_result, open_and_wait  # noqa: E402
from tests.video_factory import encode, moving_frames  # noqa: E402
from ui import help_dialogs  # noqa: E402
from ui.actions import ACTIONS  # noqa: E402
from ui.frame_loader import frame_array  # noqa: E402
from ui.job_panel import JobPanel  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.workers import JobWorker  # noqa: E402

pytestmark = pytest.mark.gui


def _key(qtbot, window: MainWindow, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:  # type: ignore[no-untyped-def]
    """A key press as the user makes it: to the focused widget of the active window."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    target = QApplication.focusWidget() or window
    qtbot.keyClick(target, key, modifier)


def test_playback_keys_and_menu_drive_the_visible_tabs_player(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    window.project.add_result(fake_result(10))
    window.tabs.setCurrentWidget(window.review)
    window.review.view.setFocus()
    _key(qtbot, window, Qt.Key.Key_Right)
    assert window.review.timeline.position == 1 and window.timeline.position == 0
    _key(qtbot, window, Qt.Key.Key_End)
    assert window.review.timeline.position == 9 and window.timeline.position == 0
    window.actions["prev_frame"].trigger()  # the Playback menu
    assert window.review.timeline.position == 8
    _key(qtbot, window, Qt.Key.Key_Home)
    _key(qtbot, window, Qt.Key.Key_Space)
    assert window.review.timeline.playing and not window.timeline.playing
    window.tabs.setCurrentIndex(0)
    assert not window.review.timeline.playing  # a hidden player stops
    window.view.setFocus()
    _key(qtbot, window, Qt.Key.Key_Right)
    assert window.timeline.position == 1 and window.review.timeline.position <= 9
    window.tabs.setCurrentWidget(window.canvas)
    assert not window.actions["play"].isEnabled()  # the edit tab has no player


def test_tool_keys_show_the_active_tool(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    assert window.edit_panel.tool_buttons["pan"].isChecked()  # the starting tool is shown too
    window.view.setFocus()
    for key, tool, label in (
        (Qt.Key.Key_B, "brush", "Brush (B)"),
        (Qt.Key.Key_E, "erase", "Erase (E)"),
        (Qt.Key.Key_V, "select", "Select (V)"),
    ):
        _key(qtbot, window, key)
        assert window.tabs.currentWidget() is window.canvas  # a tool key brings the edit tab
        assert window.canvas.tool == tool and window.edit_panel.tool_buttons[tool].isChecked()
        assert window.tool_label.isVisible() and window.tool_label.text() == f"Tool: {label}"
    window.edit_panel.brush_size.setFocus()
    _key(qtbot, window, Qt.Key.Key_B)  # typing in a field is not a tool key
    assert window.canvas.tool == "select"


def test_f1_lists_exactly_the_bound_shortcuts_and_zoom_keys_work(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    help_dialogs.show_shortcuts(window)
    box = window.findChild(QMessageBox, "shortcutsDialog")
    text = box.text()
    box.close()
    for spec in ACTIONS:
        for sequence in window.actions[spec.key].shortcuts():
            assert sequence.toString() in text, f"{spec.key} ({sequence.toString()}) missing from F1"
    assert "Ctrl++" in text and "Ctrl+-" in text and "B" in text
    window.tabs.setCurrentIndex(0)
    window.view.setFocus()
    fitted = window.view.zoom
    _key(qtbot, window, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert window.view.zoom == pytest.approx(fitted * 1.25)
    _key(qtbot, window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    _key(qtbot, window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert window.view.zoom == pytest.approx(fitted / 1.25)


def test_wheel_over_a_panel_scrolls_instead_of_changing_a_field(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    window.resize(900, 500)  # the edit panel no longer fits: its dock scrolls
    qtbot.wait(50)
    field = window.edit_panel.brightness
    scroll = next(a for a in window.findChildren(QScrollArea) if a.widget() is window.edit_panel)
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0
    before, position = field.value(), bar.value()

    def wheel() -> None:
        centre = QPointF(field.rect().center())
        event = QWheelEvent(
            centre,
            field.mapToGlobal(centre),
            QPoint(),
            QPoint(0, -120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(field, event)

    wheel()
    assert field.value() == before and bar.value() > position  # the panel scrolled
    field.setFocus()
    wheel()
    assert field.value() != before  # a field the user clicked into takes the wheel


def _wheel_down(widget) -> None:  # type: ignore[no-untyped-def]
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        widget.mapToGlobal(centre),
        QPoint(),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_wheel_over_a_list_or_a_scroll_bar_scrolls_it(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Scroll bars are sliders too, but not value fields: the guard forwarding a list's wheel to its
    own scroll bar recursed until Python gave up (RecursionError, then a crash on quit)."""
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    edits = window.edit_panel.edits_list
    edits.addItems([f"edit {i}" for i in range(40)])  # more than the list shows
    qtbot.wait(50)
    bar = edits.verticalScrollBar()
    assert bar.maximum() > 0
    _wheel_down(edits.viewport())  # over the edit list in the Edit tools dock
    assert bar.value() > 0  # the list scrolled (pytest-qt fails the test on an error in the filter)
    position = bar.value()
    _wheel_down(bar)  # over the list's scroll bar itself
    assert bar.value() > position
    dock_bar = next(a for a in window.findChildren(QScrollArea) if a.widget() is window.engine_panel).verticalScrollBar()
    _wheel_down(dock_bar)  # the engine dock's own scroll bar


def test_timeline_groove_click_seeks_there(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    slider = window.timeline.slider
    x = int(slider.width() * 0.75)
    qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(x, slider.height() // 2))
    assert abs(window.timeline.position - 0.75 * 89) <= 4  # not one page step of 10 frames
    qtbot.waitUntil(lambda: window.document.current_frame == window.timeline.position)


def test_small_window_keeps_the_timeline_and_the_edit_dock_usable(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    window.resize(700, 450)
    qtbot.waitUntil(lambda: window.width() <= 720, timeout=5000)
    qtbot.wait(100)
    assert window.timeline.slider.width() >= 80
    for timeline, tab in ((window.timeline, 0), (window.review.timeline, 2)):
        window.tabs.setCurrentIndex(tab)
        qtbot.wait(20)
        assert timeline.slider.width() >= 80
    panel = window.edit_panel
    scroll = next(a for a in window.findChildren(QScrollArea) if a.widget() is panel)
    assert scroll.viewport().width() >= panel.minimumSizeHint().width()  # not cut off at the side
    for button in (panel.remove_button, panel.outpaint_button):
        scroll.ensureWidgetVisible(button)
        top_left = button.mapTo(scroll.viewport(), QPoint(0, 0))
        assert scroll.viewport().rect().contains(top_left) and button.width() > 40  # reachable by scrolling


def test_outpaint_preview_shows_the_enlarged_canvas_with_every_edit(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    panel = window.edit_panel
    mask = np.zeros((320, 568), np.uint8)
    mask[120:175, 420:485] = 255
    panel.set_selection(mask)
    panel.hue.setValue(120)
    with qtbot.waitSignal(panel.edit_changed, timeout=30000):
        panel.recolour_button.click()
    with qtbot.waitSignal(panel.edit_changed, timeout=30000):
        panel.aspect.setCurrentText("margins (px)")
        panel.margin.setValue(20)
        panel.outpaint_button.click()
    edit = window.session.edit
    assert edit.edited_frame.shape == (360, 608, 3)
    shown = frame_array(window.canvas.current_image())
    np.testing.assert_array_equal(shown, edit.edited_frame)  # the enlarged canvas, recolour included
    assert window.session.selection.shape == (360, 608)  # the selection moved onto the enlarged canvas
    assert window.session.selection[140, 460] == 255 and window.session.selection[120, 440] == 0


def test_job_bar_time_left_covers_the_whole_job_and_says_each_thing_once(qtbot) -> None:  # type: ignore[no-untyped-def]
    now = [0.0]
    panel = JobPanel(clock=lambda: now[0])
    qtbot.addWidget(panel)
    panel.track(JobWorker(lambda progress, cancel: None, "eta"), "Propagate")
    total, seen = 280, []
    for i in range(1, 101):  # a quick first stage: reading frames, 1 ms each
        now[0] += 0.001
        panel._on_progress(Progress("read", i, total))
        seen.append((i, panel.eta.text()))
    for i in range(101, 281):  # the slow stage: 0.1 s a unit
        now[0] += 0.1
        panel._on_progress(Progress("remove (1/1)", i, total, f"remove (1/1): {i}/{total}"))
        seen.append((i, panel.eta.text()))
    assert all(eta == "estimating…" for i, eta in seen if i <= 105)  # no promise from the quick stage
    eta_at_40 = dict(seen)[112]  # 40 % done, 168 slow units (16.8 s) to go
    assert eta_at_40 == "17 s left", eta_at_40  # the whole job, not "2 s left"
    assert panel.bar.format() == "remove (1/1) — %p%"
    now[0] += 0.1  # the bar repaints at most every 100 ms
    panel._on_progress(Progress("denoising", 8, 9, "", window=0, num_windows=1, step=7, num_steps=8))
    assert panel.bar.format() == "denoising · step 8/8 — %p%"  # once, no "window 1/1, step 7/8" tail


def test_job_bar_makes_no_promise_from_a_quick_work_stage_before_the_slow_one(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The classic engine reads frames, scans for shot cuts (a quick work stage), then tracks
    and recolours (slow): entering the slow stage must not say "1 s left" from the scan's pace."""
    now = [0.0]
    panel = JobPanel(clock=lambda: now[0])
    qtbot.addWidget(panel)
    panel.track(JobWorker(lambda progress, cancel: None, "eta"), "Propagate")
    total, seen = 360, {}
    for i in range(1, 91):  # read
        now[0] += 0.005
        panel._on_progress(Progress("read", i, total))
    for i in range(91, 181):  # shot cuts: 4 ms a frame
        now[0] += 0.004
        panel._on_progress(Progress("shot cuts", i, total))
    for i in range(181, 361):  # recolour: 0.3 s a unit, 54 s in all
        now[0] += 0.3
        panel._on_progress(Progress("recolour (1/1)", i, total, f"recolour (1/1): {i}/{total}"))
        seen[i] = panel.eta.text()
    assert seen[181] == "estimating…" and seen[182] == "estimating…", seen[181]
    assert seen[190] == "51 s left", seen[190]  # 170 units at the recolour pace


def test_result_numbers_restart_with_each_clip_and_review_follows_the_clip(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window.confirm_unsaved = False
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    window.project.add_result(fake_result(10))
    window.project.add_result(fake_result(10))
    assert [e.name for e in window.project.results] == ["#1 classic", "#2 classic"]
    window.tabs.setCurrentWidget(window.review)
    window.review.timeline.seek(7)
    assert window.review.timeline.frame_label.text() == "frame 8 / 10"
    other = encode(tmp_path / "b.mp4", moving_frames(6, 96, 64), "libx264")
    open_and_wait(qtbot, window, other)
    assert window.review.timeline.frame_label.text() == "frame – / –"  # not the previous clip's count
    window.project.add_result(fake_result(6, (96, 64)))
    assert [e.name for e in window.project.results] == ["#1 classic"]
    assert window.review.timeline.frame_label.text() == "frame 1 / 6"


def test_dialogs_start_in_the_folder_last_used_else_home(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    starts: list[str] = []
    (tmp_path / "clips").mkdir()
    clip = encode(tmp_path / "clips" / "b.mp4", moving_frames(6, 96, 64), "libx264")

    def fake_open(parent, title, folder, filters):  # type: ignore[no-untyped-def]
        starts.append(folder)
        return str(clip), ""

    monkeypatch.setattr("ui.main_window.QFileDialog.getOpenFileName", fake_open)
    window.open_dialog()
    window.open_dialog()
    assert starts[0] == str(Path.home()) and starts[1] == str(clip.parent)
    assert Path.cwd() != Path.home()  # the install folder (run.sh's working directory) is never used
    monkeypatch.setattr("ui.main_window.QFileDialog.getOpenFileName", lambda *a: (starts.append(a[2]), ("", ""))[1])
    window.projects.import_edit_dialog()
    assert starts[2] == str(clip.parent)  # no edit folder used yet: the last folder of any kind


def test_busy_indicator_and_nothing_found_for_a_click_on_plain_background(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    panel = window.edit_panel
    panel.set_tool("select")
    window.tabs.setCurrentWidget(window.canvas)
    qtbot.waitUntil(window.canvas.isVisible)
    window.canvas.fit()
    window.canvas.add_point(100, 250, positive=True)  # the plain table top
    assert panel.busy.isVisible() and panel.selection_note.text() == "Finding the object…"
    qtbot.waitUntil(lambda: not panel.busy.isVisible(), timeout=30000)
    assert panel.selection_note.text().startswith("No object found")
    assert window.session.selection is None and not panel.remove_button.isEnabled()
    with qtbot.waitSignal(panel.selection_changed, timeout=30000):
        window.canvas.add_point(452, 148, positive=True)  # the coin
    area = int((window.session.selection > 0).sum())
    assert 800 < area < 8000 and panel.remove_button.isEnabled()


def test_edit_changes_mark_the_title(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    open_and_wait(qtbot, window, SAMPLE_CLIP)
    add_track_edit(qtbot, window)
    assert window.windowTitle().startswith("coin.mp4 *")


def test_job_bar_repaints_a_burst_of_progress_once_then_shows_the_newest(qtbot) -> None:  # type: ignore[no-untyped-def]
    """An engine reports per frame and per step; a repaint of the bar for each kept the GUI thread busy."""
    now = [0.0]
    panel = JobPanel(clock=lambda: now[0])
    qtbot.addWidget(panel)
    panel.track(JobWorker(lambda progress, cancel: None, "burst"), "Propagate")
    shown: list[int] = []
    real = panel.bar.setValue
    panel.bar.setValue = lambda v: (shown.append(v), real(v))  # type: ignore[method-assign]
    for i in range(1, 501):  # 500 reports within one repaint interval
        panel._on_progress(Progress("track", i, 500))
    assert len(shown) == 1  # the first at once; the rest wait for the interval
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=2000)
    assert shown[-1] == 1000 and panel.bar.format() == "track — %p%"  # the newest report, not a stale one


def test_scrubbing_does_not_relayout_the_window(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The position labels keep one size for any frame of the clip: a label that grows or shrinks
    with its text made Qt lay out and repaint the whole Review tab on every step of a scrub."""
    from ui.timeline import Timeline

    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(900, 40)
    timeline.set_clip(1200, 25.0)
    timeline.show()
    qtbot.waitExposed(timeline)
    sizes = set()
    for index in (0, 7, 88, 1111, 1199):
        timeline.show_position(index, f"00:00:{index / 25:06.3f}")
        for label in (timeline.frame_label, timeline.timecode_label):
            assert label.minimumSize() == label.maximumSize()  # fixed: Qt skips the relayout
            assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
        sizes.add((timeline.frame_label.size().toTuple(), timeline.timecode_label.size().toTuple()))
    assert len(sizes) == 1
