"""Engine panel: every registered engine listed; missing weights are a disabled state."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import Qt  # noqa: E402

from app.engine_options import defaults, gui_options, validate  # noqa: E402
from engine.engines.base import engine_names  # noqa: E402
from ui.engine_panel import EnginePanel  # noqa: E402

pytestmark = pytest.mark.gui


def test_engines_listed_with_disabled_reason(qtbot, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("GENPROP_SVD_PATH", raising=False)
    panel = EnginePanel()
    qtbot.addWidget(panel)
    names = [panel.engine_box.itemData(i) for i in range(panel.engine_box.count())]
    assert set(names) == set(engine_names()) >= {"classic", "genprop", "genprop-training-free"}
    assert panel.engine == "classic" and panel.propagate_button.isEnabled()
    assert set(panel.options()) == {o.name for o in gui_options("classic")}
    model = panel.engine_box.model()
    row = names.index("genprop")
    item = model.item(row)
    assert not (item.flags() & Qt.ItemFlag.ItemIsEnabled)
    assert "not found" in item.toolTip() and "looked in" in item.toolTip()
    panel.engine_box.setCurrentIndex(row)  # programmatic selection shows the reason and disables Propagate
    assert "Unavailable here" in panel.reason.text() and not panel.propagate_button.isEnabled()
    assert {"steps", "seed", "injection_weight", "memory"} <= set(panel.options())


def test_option_validation_drops_bad_values() -> None:
    assert validate("classic", {"flow_preset": "bogus", "flow_max_side": 640, "remove_grow": -3}) == {
        **defaults("classic"),
        "flow_max_side": 640,
    }
    assert validate("genprop", {"steps": 10, "memory": "bf16", "injection_weight": 3.0})["injection_weight"] == 1.0


def test_remembered_engine_that_cannot_run_falls_back_with_one_line_and_details(qtbot, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMessageBox

    from app.paths import SAMPLE_CLIP
    from app.settings import Settings
    from tests.gui_helpers import add_track_edit, open_and_wait
    from ui.main_window import MainWindow

    monkeypatch.delenv("GENPROP_SVD_PATH", raising=False)
    win = MainWindow(Settings(engine="genprop-training-free"))  # remembered from a machine with the weights
    win.confirm_unsaved = False
    qtbot.addWidget(win)
    win.show()
    open_and_wait(qtbot, win, SAMPLE_CLIP)
    add_track_edit(qtbot, win)
    panel = win.engine_panel
    assert panel.engine == "classic" and panel.propagate_button.isEnabled()  # not a disabled dead end
    line = panel.notice.text()
    assert panel.notice.isVisible() and "\n" not in line and len(line) < 220
    assert line.startswith("GenProp, training-free (SVD only) cannot run here") and line.endswith(
        "Using Classic (optical flow, CPU)."
    )
    assert not panel.reason.text()  # no paragraph of search paths
    panel.details_button.click()
    box = panel.findChild(QMessageBox, "engineDetails")
    assert box is not None and "looked in" in box.text()  # the full reason, one click away
    box.close()
    assert win.settings.engine == "genprop-training-free"  # the choice is kept for when the weights appear
    win.close()
