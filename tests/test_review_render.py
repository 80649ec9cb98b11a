"""Review scrubbing never decodes on the GUI thread (issue 16): the renderer, its pool and the store's previews."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from engine import result_store  # noqa: E402
from engine.result_store import ResultWriter, StoreError, open_result  # noqa: E402
from tests.gui_helpers import review_image  # noqa: E402
from ui.frame_loader import LatestRequestPool  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui


def _store(folder: Path, n: int, w: int, h: int, proxies: bool = True) -> Path:
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.dstack([xx * 255 // w, yy * 255 // h, (xx + yy) % 97 * 2]).astype(np.uint8)  # smooth, like footage
    writer = ResultWriter(folder, 25.0, (w, h), expected_frames=n, proxies=proxies)
    for t in range(n):
        frame = np.roll(base, 7 * t, axis=1)
        frame[:20, :20] = t * 10  # a corner that says which frame this is
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4 : h // 2, w // 4 + t : w // 2 + t] = 255
        writer.put(frame, mask)
    writer.finish("classic", "classic")
    return folder


def test_the_newest_request_wins_and_answers_arrive_in_order(qtbot) -> None:  # type: ignore[no-untyped-def]
    ran: list[int] = []

    def work(i: int) -> int:
        ran.append(i)
        time.sleep(0.03 if i % 2 else 0.005)  # answers finish out of order on two threads
        return i

    pool = LatestRequestPool(work, threads=2)
    got: list[int] = []
    pool.ready.connect(lambda request, value: got.append(value))
    for i in range(30):
        pool.request(i)
        time.sleep(0.002)
    qtbot.waitUntil(lambda: not pool.busy and got and got[-1] == 29, timeout=5000)
    pool.shutdown()
    assert got == sorted(got) and got[-1] == 29  # never an older frame after a newer one
    assert len(ran) < 30  # requests replaced while waiting were never started
    assert all(not t.isRunning() for t in pool.threads)


def test_large_frames_get_scrubbing_previews_small_ones_none(tmp_path: Path) -> None:
    big = open_result(_store(tmp_path / "big", 3, 1600, 900))
    assert big.frames.has_preview and big.masks.has_preview
    preview = big.frames.preview(2)
    assert preview.shape == (540, 960, 3) and big.masks.preview(2).shape == (540, 960)
    import cv2

    exact = cv2.resize(big.frames[2], (960, 540), interpolation=cv2.INTER_AREA)
    assert np.abs(preview.astype(int) - exact).mean() < 4  # a JPEG of the frame, not another frame
    small = open_result(_store(tmp_path / "small", 2, 320, 180))
    assert not small.frames.has_preview and small.frames.preview(0) is None
    (tmp_path / "big" / "proxy" / "frame_000001.jpg").write_bytes(b"\xff\xd8\xff\xc0\x00\x11\x08\x10\x00\x10\x00" + bytes(20))
    with pytest.raises(StoreError, match="JPEG"):
        big.frames.preview(1)  # a proxy of another size is refused before decoding
    transcode_only = open_result(_store(tmp_path / "cli", 2, 1600, 900, proxies=False))  # the CLI's store
    assert not transcode_only.frames.has_preview and not (tmp_path / "cli" / "proxy").exists()
    assert transcode_only.frames[1].shape == (900, 1600, 3)


def test_scrubbing_review_decodes_nothing_on_the_gui_thread(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """ReviewView.refresh decoded each stored frame and mask on the GUI thread (~55 ms at 1080p)."""
    from app.paths import SAMPLE_CLIP
    from tests.gui_helpers import open_and_wait

    open_and_wait(qtbot, window, SAMPLE_CLIP)
    result = open_result(_store(tmp_path / "r", 8, 568, 320))
    last = result.frames[7]
    on_gui: list[str] = []
    real_get, real_preview = result_store.StoredFrames.__getitem__, result_store.StoredFrames.preview

    def watch(name, real):  # type: ignore[no-untyped-def]
        def wrapped(self, index):  # type: ignore[no-untyped-def]
            if threading.current_thread() is threading.main_thread():
                on_gui.append(f"{name}[{index}]")
            return real(self, index)

        return wrapped

    monkeypatch.setattr(result_store.StoredFrames, "__getitem__", watch("frames", real_get))
    monkeypatch.setattr(result_store.StoredFrames, "preview", watch("preview", real_preview))
    review = window.review
    window.project.add_result(result, "stored")
    review.mode_box.setCurrentText("Result")
    review.opacity.setValue(100)
    for i in range(8):  # a fast scrub
        review.timeline.slider.setValue(i)
        qtbot.wait(5)
    shown = review_image(qtbot, window)
    assert not review.shown_preview  # the exact frame once the slider rests
    assert (shown[:20, :20] == 70).all()  # frame 8's corner: the newest position, not a stale one
    review.mode_box.setCurrentText("A/B wipe")
    for v in (10, 30, 60, 90):
        review.wipe.setValue(v)
    review.mask_check.setChecked(False)
    wiped = review_image(qtbot, window)
    np.testing.assert_array_equal(wiped[:, 540:], last[:, 540:])  # the result right of the wipe line
    assert on_gui == []  # every decode ran on the renderer's workers


def test_a_preview_covers_the_frame_then_the_exact_frame_replaces_it(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = open_result(_store(tmp_path / "big", 6, 1600, 900))
    review = window.review
    window.project.add_result(result, "big")
    review.mode_box.setCurrentText("Result")
    review.mask_check.setChecked(False)
    review_image(qtbot, window)
    previews: list[tuple[int, int]] = []
    review.frame_shown.connect(
        lambda i: (
            previews.append((review.view.current_image().width(), int(review.view.scene().sceneRect().width())))
            if review.shown_preview
            else None
        )
    )
    for i in range(6):
        review.timeline.slider.setValue(i)
        qtbot.wait(30)
    exact = review_image(qtbot, window)
    assert previews and all(p == (960, 1600) for p in previews)  # small images, the frame's own scene size
    assert not review.shown_preview and exact.shape == (900, 1600, 3)
    np.testing.assert_array_equal(exact, result.frames[5])
