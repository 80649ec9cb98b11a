"""The attention view: recorded once per result, every Shift+click answered from the record,
the clicked point marked, a colour legend beside the maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import Qt  # noqa: E402

from engine.pipelines.dummy import tiny_components  # noqa: E402
from engine.pipelines.genprop_pipeline import GenPropPipeline  # noqa: E402
from tests.gui_helpers import review_image  # noqa: E402
from tests.video_factory import encode, moving_frames  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def genprop_result(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> MainWindow:  # type: ignore[no-untyped-def]
    components = tiny_components(0, randomize_heads=True)
    heads = components.pop("heads")
    GenPropPipeline.from_components(heads=heads, **components).save_pretrained(tmp_path / "svd")
    monkeypatch.setenv("GENPROP_SVD_PATH", str(tmp_path / "svd"))
    clip = encode(tmp_path / "clip.mp4", moving_frames(6, 96, 64), "libx264", fps=12)
    with qtbot.waitSignal(window.edit_panel.first_frame_ready, timeout=20000):
        window.open_clip(clip)
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 30:60] = 255
    window.edit_panel.set_selection(mask)
    with qtbot.waitSignal(window.edit_panel.edit_changed, timeout=20000):
        window.edit_panel.add_recolour()
    window.engine_panel.set_settings("genprop", {"steps": 2, "long_side": 64, "max_guidance": 2.0, "feather": 2})
    with qtbot.waitSignal(window.job_finished, timeout=240000):
        window.propagate()
    return window


def _shift_click(qtbot, window: MainWindow, x: float, y: float) -> None:  # type: ignore[no-untyped-def]
    view = window.review.view
    view.fit()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, view.mapFromScene(x, y))


def test_attention_recorded_once_then_every_click_answered_from_the_record(qtbot, genprop_result: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = genprop_result
    review = window.review
    review.mode_box.setCurrentText("Result")
    review.mask_check.setChecked(False)
    started: list[str] = []
    window.jobs.busy_changed.connect(lambda busy: started.append("job") if busy else None)
    with qtbot.waitSignal(window.job_finished, timeout=240000) as recorded:
        _shift_click(qtbot, window, 20, 15)
    assert recorded.args == ["succeeded"] and started == ["job"]
    record = review.attention
    assert record is not None and record.num_steps == 2 and review.layer_box.count() >= 2
    first = review_image(qtbot, window)

    _shift_click(qtbot, window, 80, 50)  # another point: no new run
    assert started == ["job"] and not window.jobs.busy
    second = review_image(qtbot, window)
    assert (first != second).any()  # the map follows the click
    assert review.query_point == pytest.approx((80, 50), abs=1.5)
    marker = review.marker  # a ring over the clicked point, the same size on screen at any zoom
    assert marker.isVisible() and (marker.pos().x(), marker.pos().y()) == pytest.approx((80, 50), abs=1.5)
    marker_on_screen = review.view.mapFromScene(marker.pos())
    assert review.view.viewport().rect().contains(marker_on_screen)
    assert review.legend.isVisible()  # colours explained
    review.step_box.setCurrentIndex(0)
    assert (review_image(qtbot, window) != second).any()  # per step, from the same record
    assert started == ["job"]
