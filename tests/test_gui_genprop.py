"""GenProp in the app: weights found on disk, propagate, MPD overlay, attention on Shift+click."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import Qt  # noqa: E402

from app import recovery  # noqa: E402
from app.settings import Settings  # noqa: E402
from engine.pipelines.dummy import tiny_components  # noqa: E402
from engine.pipelines.genprop_pipeline import GenPropPipeline  # noqa: E402
from tests.gui_helpers import review_image  # noqa: E402
from tests.video_factory import encode, moving_frames  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def tiny_svd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny random SVD + trained-looking GenProp heads saved where the locator looks."""
    components = tiny_components(0, randomize_heads=True)
    heads = components.pop("heads")
    folder = tmp_path / "svd"
    GenPropPipeline.from_components(heads=heads, **components).save_pretrained(folder)
    monkeypatch.setenv("GENPROP_SVD_PATH", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folder


def test_genprop_run_mpd_overlay_and_attention(qtbot, tiny_svd: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    recovery.discard()
    clip = encode(tmp_path / "clip.mp4", moving_frames(6, 96, 64), "libx264", fps=12)
    win = MainWindow(Settings())
    win.ask_on_close = False
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.edit_panel.first_frame_ready, timeout=20000):
        win.open_clip(clip)
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 30:60] = 255
    win.edit_panel.set_selection(mask)
    with qtbot.waitSignal(win.edit_panel.edit_changed, timeout=20000):
        win.edit_panel.add_recolour()

    win.engine_panel.set_settings("genprop", {"steps": 2, "long_side": 64, "max_guidance": 2.0, "feather": 2})
    assert win.engine_panel.engine == "genprop" and win.engine_panel.propagate_button.isEnabled()
    with qtbot.waitSignal(win.job_finished, timeout=240000) as finished:
        win.propagate()
    assert finished.args == ["succeeded"]
    result = win.review.current
    assert result.engine == "genprop" and result.mode == "genprop"
    assert result.frames.shape == (6, 64, 96, 3) and result.masks.shape == (6, 64, 96)  # MPD masks at frame size
    assert win.review.attention_check.isEnabled()

    # Shift+click on the result: the first window is re-run with the attention recorder, with the
    # edit the result was made with even after the session's edit changed
    made_with = result.extras["edit"]
    win.edit_panel.set_selection(np.pad(np.full((8, 8), 255, np.uint8), ((2, 54), (2, 86))))
    with qtbot.waitSignal(win.edit_panel.edit_changed, timeout=20000):
        win.edit_panel.add_recolour()
    assert win.session.edit is not made_with
    from ui import main_window

    recorded_with = []
    real_job = main_window.AttentionRecordJob
    monkeypatch.setattr(main_window, "AttentionRecordJob", lambda *a, **k: recorded_with.append(a[2]) or real_job(*a, **k))
    win.review.mode_box.setCurrentText("Result")
    win.review.view.fit()
    pos = win.review.view.mapFromScene(45, 30)
    with qtbot.waitSignal(win.job_finished, timeout=240000) as recorded:
        qtbot.mouseClick(win.review.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, pos)
    assert recorded.args == ["succeeded"] and len(recorded_with) == 1 and recorded_with[0] is made_with
    attention = win.review.attention
    assert attention is not None and win.review.layer_box.count() >= 2 and attention.num_steps == 2
    win.review.mask_check.setChecked(False)
    win.review.attention_check.setChecked(False)
    plain = review_image(qtbot, win)
    win.review.attention_check.setChecked(True)
    with_heat = review_image(qtbot, win)
    assert (plain != with_heat).any()  # the heat map is drawn over the frame
    win.close()


def test_genprop_demo_model_in_one_click(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The bundled procedural demo model drives the real GenProp engine from the app."""
    with _demo_run(qtbot) as (_, result):
        assert result.mode == "genprop" and result.frames.shape == (8, 64, 64, 3)


#: Issue 14's app targets on the bundled case. The shipped model (resources/demo_model/README.md)
#: measured, in these tests: MPD overlay IoU 0.52 (the engine's overlay is MPD > 0.5), met and kept
#: as a floor; a median attention ratio of 0.86 (inside / outside the region, over G's 6 spatial
#: layers), missed, so that test is a strict xfail: a model that reaches it turns it red, and then
#: the target becomes a floor a margin below the newly measured value.
APP_MPD_IOU_TARGET = 0.5
ATTENTION_RATIO_TARGET = 1.5


def test_demo_mpd_overlay_matches_the_edited_region(qtbot) -> None:  # type: ignore[no-untyped-def]
    """On the bundled case the MPD overlay the review tab draws covers the removed object and its shadow."""
    from engine.metrics import iou

    truth = _true_masks()
    with _demo_run(qtbot) as (_, result):
        overlay_iou = iou(np.asarray(result.masks) > 0, truth)
        assert overlay_iou >= APP_MPD_IOU_TARGET, overlay_iou


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="issue 14: G's attention ratio on the demo case is 0.86")
def test_demo_attention_stays_on_the_edited_region(qtbot) -> None:  # type: ignore[no-untyped-def]
    """G's attention from the centre of the edited region (a Shift+click there) stays on it."""
    truth = _true_masks()
    with _demo_run(qtbot) as (win, result):
        with qtbot.waitSignal(win.job_finished, timeout=240000) as recorded:
            win.record_attention(result)
        if recorded.args != ["succeeded"] or win.review.attention is None:  # a broken run is an error, not the xfail
            raise RuntimeError(f"attention recording: {recorded.args}")
        attention = win.review.attention
        if attention.num_steps != 8:
            raise RuntimeError(f"attention recorded {attention.num_steps} steps, not 8")
        ys, xs = np.nonzero(truth[0])
        ratios = []
        for layer in attention.spatial:
            heat = attention.overlay(layer, attention.num_steps - 1, 0, float(xs.mean()), float(ys.mean()))
            ratios.append(float(heat[truth[0]].mean()) / max(float(heat[~truth[0]].mean()), 1e-6))
        assert float(np.median(ratios)) >= ATTENTION_RATIO_TARGET, ratios


@contextmanager
def _demo_run(qtbot):  # type: ignore[no-untyped-def]
    """A fresh main window after File -> Try GenProp with the demo model, then Propagate: ``(window, result shown)``."""
    recovery.discard()
    win = MainWindow(Settings())
    win.ask_on_close = False
    qtbot.addWidget(win)
    try:
        with qtbot.waitSignal(win.edit_panel.edit_changed, timeout=30000):
            win.actions["genprop_demo"].trigger()
        assert win.engine_panel.engine == "genprop" and win.engine_panel.propagate_button.isEnabled()
        assert win.document is not None and win.document.frame_count == 8 and win.document.info.fps == 8
        with qtbot.waitSignal(win.job_finished, timeout=240000) as finished:
            win.propagate()
        assert finished.args == ["succeeded"]
        yield win, win.review.current
    finally:
        win.close()


def _true_masks() -> np.ndarray:
    """``[T, H, W]`` bool: the bundled demo case's exact edit masks (object + shadow)."""
    from PIL import Image

    from engine.pipelines.weights_locator import DEMO_MODEL_DIR

    masks = sorted((DEMO_MODEL_DIR / "case" / "masks").glob("*.png"))
    return np.stack([np.asarray(Image.open(p).convert("L")) > 0 for p in masks])
