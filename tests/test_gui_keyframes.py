"""Keyframe corrections in the window (issue 19), driven as a user does: scrub, Correct here,
select on that frame, Apply; the marker on the strip, undo, save and reopen, the re-track of only
the frames a correction changes, the mask preview overlay, Propagate carrying the keyframes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from app import keyframes as kf  # noqa: E402
from app.project import Project  # noqa: E402
from tests.gui_helpers import add_track_edit, make_window, open_and_wait  # noqa: E402
from tests.video_factory import encode, moving_frames  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui
FRAMES = 12


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return encode(tmp_path / "clip.mp4", moving_frames(FRAMES, 96, 64, seed=3), "libx264")


@pytest.fixture
def win(qtbot, clip: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    window = make_window(qtbot, confirm=False)
    open_and_wait(qtbot, window, clip)
    add_track_edit(qtbot, window)  # a 20x20 square at (10..30, 10..30), tracked
    return window


def _scrub(qtbot, win: MainWindow, frame: int) -> None:  # type: ignore[no-untyped-def]
    if win.timeline.position == frame:
        return
    with qtbot.waitSignal(win.frame_shown, timeout=10000, check_params_cb=lambda i: i == frame):
        win.timeline.seek(frame)


def _start_correction(qtbot, win: MainWindow, frame: int) -> None:  # type: ignore[no-untyped-def]
    _scrub(qtbot, win, frame)
    win.actions["correct_here"].trigger()
    qtbot.waitUntil(lambda: win.keyframes.correction.active, timeout=10000)
    assert win.tabs.currentWidget() is win.keyframes.view


def _brush(qtbot, win: MainWindow, x: int, y: int) -> None:  # type: ignore[no-untyped-def]
    """Paint with the brush at image pixel (x, y) of the correction canvas, through real mouse events."""
    canvas = win.keyframes.view.canvas
    win.keyframes.view.tool_buttons["brush"].click()
    canvas.brush_radius = 6
    qtbot.waitUntil(lambda: canvas.isVisible() and canvas.viewport().width() > 50)
    canvas.fit()
    point = canvas.mapFromScene(x, y)
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    QTest.mouseMove(canvas.viewport(), point + QPoint(2, 0))
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point + QPoint(2, 0))


def _correct(qtbot, win: MainWindow, frame: int, x: int = 60, y: int = 40) -> None:  # type: ignore[no-untyped-def]
    _start_correction(qtbot, win, frame)
    win.keyframes.view.clear_button.click()
    _brush(qtbot, win, x, y)
    assert win.keyframes.correction.has_selection
    win.keyframes.view.apply_button.click()
    qtbot.waitUntil(lambda: not win.jobs.busy, timeout=60000)  # the re-track of the frames it changed


def test_correct_here_makes_a_keyframe_on_the_strip_and_undo_removes_it(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    _correct(qtbot, win, 5)
    assert [k.frame for k in win.project.keyframes] == [5]
    mask = win.project.keyframes[0].masks[0]
    assert mask.shape == (64, 96)
    assert mask[40, 60] == 255 and mask[20, 20] == 0  # the painted spot, not frame 1's square
    assert win.timeline.keyframe_strip.frames == [5]
    assert win.review.timeline.keyframe_strip.frames == [5]
    assert win.tabs.currentIndex() == 0 and win.timeline.position == 5  # back where Correct here was pressed
    assert not win.keyframes.correction.active
    win.undo_stack.undo()
    assert win.project.keyframes == []
    assert win.timeline.keyframe_strip.frames == []
    win.undo_stack.redo()
    assert [k.frame for k in win.project.keyframes] == [5]
    assert win.timeline.keyframe_strip.frames == [5]


def test_the_correction_starts_from_the_keyframe_it_replaces(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    _correct(qtbot, win, 4, 60, 40)
    _start_correction(qtbot, win, 4)
    selection = win.keyframes.correction.selection
    assert selection is not None and selection[40, 60] == 255  # fix what is there, not start over
    assert win.keyframes.view.remove_button.isVisible()
    _brush(qtbot, win, 80, 15)
    win.keyframes.view.apply_button.click()
    assert len(win.project.keyframes) == 1
    mask = win.project.keyframes[0].masks[0]
    assert mask[40, 60] == 255 and mask[15, 80] == 255
    win.undo_stack.undo()  # back to the first correction, not to none
    assert win.project.keyframes[0].masks[0][15, 80] == 0


def test_cancel_and_escape_leave_the_keyframes_alone(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    _start_correction(qtbot, win, 6)
    _brush(qtbot, win, 60, 40)
    QTest.keyClick(win.keyframes.view.canvas, Qt.Key.Key_Escape)
    assert not win.keyframes.correction.active
    assert win.project.keyframes == []
    assert win.tabs.currentIndex() == 0


def test_the_correct_here_button_corrects_the_shown_frame(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """The button under the clip's timeline (its clicked(bool) once arrived as frame 0: 'Frame 1 is edited')."""
    _scrub(qtbot, win, 6)
    qtbot.mouseClick(win.keyframes.correct_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.keyframes.correction.active, timeout=10000)
    assert win.tabs.currentWidget() is win.keyframes.view and win.keyframes.correction.frame == 6


def test_correct_here_on_frame_1_says_where_frame_1_is_edited(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    _scrub(qtbot, win, 3)
    _scrub(qtbot, win, 0)
    assert win.keyframes.correct_here() is False
    assert "Edit frame 1" in win.statusBar().currentMessage()
    assert not win.keyframes.correction.active


def test_selection_steps_of_a_correction_are_undone_on_that_frame(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    _start_correction(qtbot, win, 7)
    win.keyframes.view.clear_button.click()
    _brush(qtbot, win, 60, 40)
    assert win.keyframes.correction.has_selection
    win.undo_stack.undo()  # the brush stroke
    assert not win.keyframes.correction.has_selection
    win.undo_stack.redo()
    assert win.keyframes.correction.has_selection


def test_the_strip_deletes_a_keyframe_from_its_menu_or_the_delete_key(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    _correct(qtbot, win, 3)
    _correct(qtbot, win, 8)
    strip = win.timeline.keyframe_strip
    assert strip.frames == [3, 8]
    _scrub(qtbot, win, 0)
    QTest.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(strip.x_of(8), strip.height() // 2))
    assert win.timeline.position == 8  # a click on a marker jumps there
    assert "frame 9" in kf.describe(win.project.keyframes[1])
    QTest.keyClick(strip, Qt.Key.Key_Delete)
    assert [k.frame for k in win.project.keyframes] == [3]
    win.undo_stack.undo()
    assert [k.frame for k in win.project.keyframes] == [3, 8]
    win.timeline.keyframe_delete_requested.emit(3)  # the context menu's "Delete keyframe"
    assert [k.frame for k in win.project.keyframes] == [8]
    win.timeline.keyframe_correct_requested.emit(8)  # the context menu's "Correct frame 9…"
    qtbot.waitUntil(lambda: win.keyframes.correction.frame == 8, timeout=10000)
    win.keyframes.cancel()
    assert win.tabs.currentIndex() == 0 and win.timeline.position == 8
    win.actions["prev_keyframe"].trigger()  # from frame 8 there is none before now
    assert win.timeline.position == 8
    _scrub(qtbot, win, 2)
    win.actions["next_keyframe"].trigger()
    assert win.timeline.position == 8


def test_deleting_the_operation_drops_its_corrections_and_undo_brings_them_back(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    _correct(qtbot, win, 5)
    win.edit_panel.edits_list.setCurrentRow(0)
    win.edit_panel.delete_selected_edit()
    assert win.project.operations == [] and win.project.keyframes == []
    assert win.timeline.keyframe_strip.frames == []
    win.undo_stack.undo()
    assert len(win.project.operations) == 1 and [k.frame for k in win.project.keyframes] == [5]


def test_a_project_keeps_its_keyframes_through_save_and_open(qtbot, win: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _correct(qtbot, win, 5)
    folder = tmp_path / "kf.genprop"
    with qtbot.waitSignal(win.jobs.finished, timeout=30000):
        assert win.projects.save_to(folder)
    loaded = Project.load(folder)
    assert [k.frame for k in loaded.keyframes] == [5]
    assert np.array_equal(loaded.keyframes[0].masks[0], win.project.keyframes[0].masks[0])
    other = make_window(qtbot, confirm=False)
    with qtbot.waitSignal(other.jobs.finished, timeout=30000):
        assert other.projects.open(folder)
    qtbot.waitUntil(lambda: other.session.edit is not None, timeout=30000)
    assert other.timeline.keyframe_strip.frames == [5]  # a reopened project shows them
    assert not other.projects.has_unsaved_work


def test_the_recovery_copy_holds_the_keyframes(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    from app import recovery

    _correct(qtbot, win, 6)
    qtbot.waitUntil(lambda: recovery.pending_recovery() is not None, timeout=20000)

    def restored_frames() -> list[int]:
        try:
            return [k.frame for k in recovery.restore().keyframes]
        except Exception:  # noqa: BLE001 - written meanwhile: try again
            return []

    qtbot.waitUntil(lambda: restored_frames() == [6], timeout=20000)


def test_propagate_runs_with_the_keyframes(qtbot, win: MainWindow, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _correct(qtbot, win, 5)
    seen = {}

    def start(job, name, title, on_success, on_failure=None):  # type: ignore[no-untyped-def]
        seen["edit"] = job.edit
        return False

    monkeypatch.setattr(win.jobs, "start", start)
    win.propagate()
    assert [k.frame for k in seen["edit"].keyframes] == [5]
    assert seen["edit"].keyframes[0].masks[0][40, 60] == 255


def test_keyframe_helpers_keep_values_and_ranges() -> None:
    a = np.zeros((4, 4), np.uint8)
    a[1, 1] = 255
    one = kf.with_correction([], 3, 0, a)
    two = kf.with_correction(one, 3, 1, a)
    assert [sorted(k.masks) for k in two] == [[0, 1]] and [sorted(k.masks) for k in one] == [[0]]  # one is not changed
    assert kf.without_correction(two, 3, 0)[0].masks.keys() == {1}
    assert kf.without_correction(one, 3, 0) == []
    assert [sorted(k.masks) for k in kf.after_operation_removed(two, 0)] == [[0]]
    assert [sorted(k.masks) for k in kf.after_operation_inserted(two, 1)] == [[0, 2]]


@pytest.fixture
def long_win(qtbot, tmp_path: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    clip = encode(tmp_path / "long.mp4", moving_frames(30, 96, 64, seed=4), "libx264")
    window = make_window(qtbot, confirm=False)
    open_and_wait(qtbot, window, clip)
    add_track_edit(qtbot, window)
    return window


def _preview(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(win.jobs.finished, timeout=60000) as outcome:
        win.actions["preview_masks"].trigger()
    assert outcome.args == ["succeeded"]


def test_preview_masks_draws_each_tracked_mask_over_the_clip_while_scrubbing(qtbot, long_win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    win = long_win
    _preview(qtbot, win)
    store = win.keyframes.preview
    assert store is not None and store.tracked_frames() == list(range(30))
    _scrub(qtbot, win, 12)
    qtbot.waitUntil(lambda: not win.keyframes.overlay.pixmap().isNull(), timeout=10000)  # drawn on a worker
    overlay = win.keyframes.overlay.pixmap().toImage()
    mask = store.get(12)[0]
    ys, xs = np.nonzero(mask)
    inside = overlay.pixelColor(int(xs.mean()), int(ys.mean()))
    assert inside.alpha() > 0 and (inside.red(), inside.green(), inside.blue()) == (0, 200, 255)  # edit 1's colour
    assert overlay.pixelColor(90, 60).alpha() == 0 or mask[60, 90] > 0
    assert "30/30" in win.keyframes.status.text()
    win.keyframes.overlay_check.setChecked(False)
    assert win.keyframes.overlay.pixmap().isNull()


def test_a_correction_re_tracks_only_the_frames_it_changes(qtbot, long_win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    win = long_win
    _preview(qtbot, win)
    _correct(qtbot, win, 20)
    _correct(qtbot, win, 25)
    store = win.keyframes.preview
    assert store is not None
    written: list[int] = []
    put = store.put
    store.put = lambda frame, masks: (written.append(frame), put(frame, masks))[1]  # type: ignore[method-assign]
    _correct(qtbot, win, 15, 70, 30)
    # the engine's rule: from 8 frames before the correction (not before frame 2) to the next keyframe
    assert written == list(range(7, 20))
    assert store.get(15)[0][30, 70] == 255  # the tracked mask is the correction there
    written.clear()
    win.undo_stack.undo()
    qtbot.waitUntil(lambda: not win.jobs.busy, timeout=60000)
    assert written == list(range(7, 20))  # undo re-tracks the same frames back
    assert store.get(15)[0][30, 70] == 0 or store.get(14)[0][30, 70] == 0
    assert not store.stale


def test_the_mask_track_job_stops_on_cancel(long_win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    from app.mask_preview import MaskPreview, MaskTrackJob
    from engine.engines.base import CancelToken, PropagationCancelled

    win = long_win
    edit = win.session.edit
    store = MaskPreview.for_edit(edit, 30)
    token = CancelToken()
    seen: list[int] = []

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        seen.append(p.done)
        if p.done >= 3:
            token.cancel()

    with pytest.raises(PropagationCancelled):
        MaskTrackJob(win.document.reader, edit, store, {}, 0, 30)(progress, token)
    assert 3 <= store.tracked < 30


def test_a_result_says_when_its_engine_ignores_the_keyframes(long_win: MainWindow, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.jobs import PropagationJob
    from app.keyframes import KeyframeNoticeJob
    from engine.engines.base import CancelToken
    from engine.engines.classic.engine import ClassicEngine

    win = long_win
    mask = np.zeros((64, 96), np.uint8)
    mask[20:30, 20:30] = 255
    edit = kf.edit_with_keyframes(win.session.edit, kf.with_correction([], 5, 0, mask))
    job = KeyframeNoticeJob(PropagationJob("classic", win.document.reader, edit))
    assert job.engine == "classic" and job.edit is edit
    result = job(lambda _p: None, CancelToken())
    assert not any("keyframe" in w for w in result.extras.get("warnings", []))
    monkeypatch.setattr(ClassicEngine, "follows_keyframes", False)
    result = job(lambda _p: None, CancelToken())
    assert any("does not use keyframes: 1 correction ignored" in w for w in result.extras["warnings"])


def test_correct_here_from_the_review_tab_corrects_the_frame_shown_there(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    from tests.gui_helpers import fake_result

    win.project.add_result(fake_result(frames=FRAMES, size=(96, 64)))
    win.tabs.setCurrentWidget(win.review)
    win.review.timeline.seek(6)
    win.actions["correct_here"].trigger()
    qtbot.waitUntil(lambda: win.keyframes.correction.active, timeout=10000)
    assert win.keyframes.correction.frame == 6
    original = win.document.reader[6]
    assert np.array_equal(win.keyframes.correction.image, original)  # the ORIGINAL picture, not the result's
    _brush(qtbot, win, 60, 40)
    QTest.keyClick(win.keyframes.view.canvas, Qt.Key.Key_Return)
    assert [k.frame for k in win.project.keyframes] == [6]
    assert win.tabs.currentWidget() is win.review and win.review.timeline.position == 6
    assert win.review.timeline.keyframe_strip.frames == [6]
    qtbot.waitUntil(lambda: not win.jobs.busy, timeout=60000)


def test_undo_after_leaving_a_correction_skips_its_selection_steps(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    _correct(qtbot, win, 5)
    _start_correction(qtbot, win, 7)
    win.keyframes.view.clear_button.click()
    _brush(qtbot, win, 60, 40)
    win.keyframes.view.cancel_button.click()
    win.actions["undo"].trigger()  # one press: the left correction's two steps are skipped, the keyframe goes
    qtbot.waitUntil(lambda: win.project.keyframes == [], timeout=5000)
    qtbot.wait(50)
    assert len(win.project.operations) == 1  # and no further than that
    win.actions["redo"].trigger()
    qtbot.waitUntil(lambda: [k.frame for k in win.project.keyframes] == [5], timeout=5000)


def test_two_edits_get_their_own_colour_and_the_correction_picks_one(qtbot, long_win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    win = long_win
    second = np.zeros((64, 96), np.uint8)
    second[35:55, 60:85] = 255
    win.edit_panel.set_selection(second)
    with qtbot.waitSignal(win.edit_panel.edit_changed, timeout=30000):
        win.edit_panel.add_track()
    _preview(qtbot, win)
    _scrub(qtbot, win, 3)
    qtbot.waitUntil(lambda: not win.keyframes.overlay.pixmap().isNull(), timeout=10000)  # drawn on a worker
    overlay = win.keyframes.overlay.pixmap().toImage()
    colours = set()
    for mask in win.keyframes.preview.get(3):
        ys, xs = np.nonzero(mask)
        c = overlay.pixelColor(int(np.median(xs)), int(np.median(ys)))
        colours.add((c.red(), c.green(), c.blue()))
    assert colours == {(0, 200, 255), (255, 80, 200)}  # a colour per edit
    _start_correction(qtbot, win, 10)
    view = win.keyframes.view
    assert view.op_box.count() == 2 and view.op_box.itemText(1) == "2: track"
    tracked = win.keyframes.preview.get(10)[1]
    view.op_box.setCurrentIndex(1)  # the second edit: the selection restarts from its tracked mask
    assert win.keyframes.correction.operation == 1
    assert np.array_equal(win.keyframes.correction.selection > 0, tracked > 0)
    view.clear_button.click()
    _brush(qtbot, win, 20, 50)
    view.apply_button.click()
    assert sorted(win.project.keyframes[0].masks) == [1]  # only the chosen edit is corrected
    qtbot.waitUntil(lambda: not win.jobs.busy, timeout=60000)


def test_a_correction_after_an_outpaint_lands_on_that_edit_s_canvas(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    from engine.edits.outpaint import OutpaintSpec
    from engine.edits.track import TrackSpec
    from ui.undo import AddOperationCommand

    win.undo_stack.undo()  # drop the helper's edit: outpaint first, then track on the enlarged canvas
    qtbot.waitUntil(lambda: not win.project.operations)
    with qtbot.waitSignal(win.edit_panel.edit_changed, timeout=30000):
        win.undo_stack.push(AddOperationCommand(win.project, OutpaintSpec(left=8, top=4, right=8, bottom=4)))
    mask = np.zeros((72, 112), np.uint8)
    mask[14:34, 18:38] = 255
    with qtbot.waitSignal(win.edit_panel.edit_changed, timeout=30000):
        win.undo_stack.push(AddOperationCommand(win.project, TrackSpec(mask=mask)))
    _start_correction(qtbot, win, 5)
    assert win.keyframes.view.op_box.count() == 1  # the outpaint has no tracked mask to correct
    assert win.keyframes.correction.operation == 1
    win.keyframes.view.clear_button.click()
    _brush(qtbot, win, 60, 40)  # on the original picture
    win.keyframes.view.apply_button.click()
    corrected = win.project.keyframes[0].masks[1]
    assert corrected.shape == (72, 112) and corrected[44, 68] == 255 and corrected[40, 60] == 0  # moved by (8, 4)
    qtbot.waitUntil(lambda: not win.jobs.busy, timeout=60000)


def test_an_edited_frame_is_exported_retouched_and_brought_back_as_a_keyframe(qtbot, win: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from engine.video.png import read_png, write_png

    _start_correction(qtbot, win, 4)
    png = tmp_path / "frame_5.png"
    assert win.keyframes.export_frame(png)
    qtbot.waitUntil(png.is_file, timeout=10000)
    exported = read_png(png, "RGB")
    assert np.array_equal(exported, win.document.reader[4])  # no result yet: the original frame
    retouched = exported.copy()
    retouched[5:15, 5:15] = (255, 0, 0)
    write_png(tmp_path / "mine.png", retouched)
    written_before = win.keyframes.preview
    assert win.keyframes.use_edited_frame(tmp_path / "mine.png")
    qtbot.waitUntil(lambda: bool(win.project.keyframes), timeout=10000)
    k = win.project.keyframes[0]
    assert k.frame == 4 and k.masks == {} and np.array_equal(k.edited_frame, retouched)
    assert not win.jobs.busy and win.keyframes.preview is written_before  # an edited frame alone re-tracks nothing
    assert "an edited frame" in win.timeline.keyframe_strip._marks[4]
    assert win.timeline.keyframe_strip._edited == {4}  # drawn in its own colour
    assert win.keyframes.view.remove_edited_button.isVisible()
    write_png(tmp_path / "small.png", retouched[:20, :20])
    win.keyframes.use_edited_frame(tmp_path / "small.png")
    from PySide6.QtWidgets import QMessageBox

    def refused() -> bool:
        return any("small.png is 20x20" in box.text() for box in win.findChildren(QMessageBox) if box.isVisible())

    qtbot.waitUntil(refused, timeout=10000)  # the error names the file and the size it must have
    assert np.array_equal(win.project.keyframes[0].edited_frame, retouched)
    _brush(qtbot, win, 60, 40)  # a mask correction joins the keyframe that holds the edited frame
    win.keyframes.view.apply_button.click()
    qtbot.waitUntil(lambda: not win.jobs.busy, timeout=60000)
    _start_correction(qtbot, win, 4)
    store = win.keyframes.preview
    written: list[int] = []
    put = store.put
    store.put = lambda frame, masks: (written.append(frame), put(frame, masks))[1]  # type: ignore[method-assign]
    win.keyframes.view.remove_edited_button.click()
    assert win.project.keyframes[0].edited_frame is None and 0 in win.project.keyframes[0].masks
    qtbot.wait(100)
    assert written == [] and not win.jobs.busy  # dropping the edited frame leaves the masks as tracked
    win.keyframes.view.remove_button.click()
    assert win.project.keyframes == []
    qtbot.waitUntil(lambda: not win.jobs.busy, timeout=60000)
    win.undo_stack.undo()
    win.undo_stack.undo()
    assert win.project.keyframes[0].edited_frame is not None


def test_a_wrongly_sized_edited_frame_is_refused_with_its_name(tmp_path: Path) -> None:
    from engine.video.png import write_png

    write_png(tmp_path / "small.png", np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(ValueError, match="small.png is 20x20; the edited frame must be 96x64"):
        kf.read_edited_frame(tmp_path / "small.png", (64, 96))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="bad.png"):
        kf.read_edited_frame(tmp_path / "bad.png", (64, 96))


def test_export_frame_writes_the_reviewed_result_s_frame_when_there_is_one(qtbot, win: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from engine.video.png import read_png
    from tests.gui_helpers import fake_result

    result = fake_result(frames=FRAMES, size=(96, 64))
    win.project.add_result(result)
    _start_correction(qtbot, win, 4)
    png = tmp_path / "to_retouch.png"
    assert win.keyframes.export_frame(png)
    qtbot.waitUntil(png.is_file, timeout=10000)
    assert np.array_equal(read_png(png, "RGB"), result.frames[4])


def test_an_edit_with_nothing_tracked_can_still_get_an_edited_keyframe(qtbot, win: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from engine.edits.insert import InsertSpec
    from engine.video.png import write_png
    from ui.undo import AddOperationCommand

    win.undo_stack.undo()  # an inserted layer only: no tracked mask to correct
    qtbot.waitUntil(lambda: not win.project.operations)
    layer = np.zeros((10, 10, 4), np.uint8)
    layer[..., 0], layer[..., 3] = 255, 255
    with qtbot.waitSignal(win.edit_panel.edit_changed, timeout=30000):
        win.undo_stack.push(AddOperationCommand(win.project, InsertSpec(layer=layer, x=40.0, y=30.0)))
    _start_correction(qtbot, win, 6)
    view = win.keyframes.view
    assert win.keyframes.correction.operation is None and view.op_box.count() == 0
    assert not view.tool_buttons["brush"].isEnabled() and not view.apply_button.isEnabled()
    assert "edited version" in view.note.text()
    depth = win.undo_stack.index()
    _brush(qtbot, win, 60, 40)  # the canvas takes no mask here, and pushes no step
    assert win.undo_stack.index() == depth and not win.keyframes.correction.has_selection
    mine = np.array(win.document.reader[6])
    mine[20:30, 50:60] = (255, 0, 0)
    write_png(tmp_path / "mine.png", mine)
    win.keyframes.use_edited_frame(tmp_path / "mine.png")
    qtbot.waitUntil(lambda: bool(win.project.keyframes), timeout=10000)
    assert win.project.keyframes[0].frame == 6 and win.project.keyframes[0].masks == {}
