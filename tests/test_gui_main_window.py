"""The main window driven as a user would (offscreen Qt)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from app.paths import SAMPLE_CLIP  # noqa: E402
from app.settings import Settings  # noqa: E402
from engine.video import open_video  # noqa: E402
from ui.application import first_clip  # noqa: E402
from ui.frame_loader import frame_array  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    win = MainWindow(Settings())
    win.ask_on_close = False
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_sample_clip_opens_and_shows_frame_one(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    assert SAMPLE_CLIP.exists()
    assert first_clip(None, Settings(), open_sample=True) == SAMPLE_CLIP
    with qtbot.waitSignal(window.frame_shown, timeout=10000) as shown:
        assert window.open_clip(SAMPLE_CLIP)
    assert shown.args == [0]
    image = frame_array(window.view.current_image())
    np.testing.assert_array_equal(image, open_video(SAMPLE_CLIP)[0])
    assert "90 frames" in window.clip_label.text()
    assert window.timeline.frame_label.text() == "frame 1 / 90"


def test_scrubbing_shows_the_requested_frame(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.frame_shown, timeout=10000):
        window.open_clip(SAMPLE_CLIP)
    # a burst of scrub positions: only the last one has to be shown
    for index in (10, 50, 20, 71):
        window.timeline.seek(index)
    qtbot.waitUntil(lambda: window.document.current_frame == 71 and window.timeline.frame_label.text() == "frame 72 / 90")
    reference = open_video(SAMPLE_CLIP)[71]
    qtbot.waitUntil(lambda: np.array_equal(frame_array(window.view.current_image()), reference), timeout=10000)
    assert window.timeline.timecode_label.text() == "00:00:02.367"
    window.timeline.step(1)
    assert window.document.current_frame == 72


def test_playback_advances(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.frame_shown, timeout=10000):
        window.open_clip(SAMPLE_CLIP)
    window.timeline.play()
    qtbot.waitUntil(lambda: window.document.current_frame >= 5, timeout=10000)
    window.timeline.pause()
    assert not window.timeline.playing


def test_corrupt_clip_shows_an_error_and_keeps_the_app_usable(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.frame_shown, timeout=10000):
        window.open_clip(SAMPLE_CLIP)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(SAMPLE_CLIP.read_bytes()[:5000])
    assert not window.open_clip(broken)
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "broken.mp4" in box.text()
    box.close()
    # the previous clip is still open and scrubbable
    assert window.document is not None and window.document.path == SAMPLE_CLIP
    with qtbot.waitSignal(window.frame_shown, timeout=10000):
        window.timeline.seek(30)


def test_zoom_and_fit(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.frame_shown, timeout=10000):
        window.open_clip(SAMPLE_CLIP)
    window.view.set_zoom(2.0)
    assert window.view.zoom == pytest.approx(2.0)
    window.view.fit()
    assert window.view.zoom < 2.0


def test_recent_files_are_remembered(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.frame_shown, timeout=10000):
        window.open_clip(SAMPLE_CLIP)
    assert window.settings.recent_files[0] == str(SAMPLE_CLIP.resolve())
    assert window.recent_menu.isEnabled()


def test_no_worker_threads_left_after_close(qtbot) -> None:  # type: ignore[no-untyped-def]
    before = {t.ident for t in threading.enumerate()}
    win = MainWindow(Settings())
    win.ask_on_close = False
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.frame_shown, timeout=10000):
        win.open_clip(SAMPLE_CLIP)
    loader_threads = [*win._loader.threads, *win.review.renderer.pool.threads]  # type: ignore[union-attr]
    win.close()
    assert all(t.isFinished() for t in loader_threads)
    # Qt threads appear in threading.enumerate() as never-ending "dummy" entries: skip those
    new = [
        t for t in threading.enumerate() if t.ident not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
    ]
    assert new == []


@pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")  # Qt has no other constructor
def test_drag_and_drop_opens_the_clip(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(SAMPLE_CLIP))])
    enter = QDragEnterEvent(
        QPointF(window.rect().center()).toPoint(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(window.rect().center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.clip_opened, timeout=10000) as opened:
        window.dropEvent(drop)
    assert opened.args == [str(SAMPLE_CLIP)]
    assert window.document is not None and window.document.frame_count == 90
