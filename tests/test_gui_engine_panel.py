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
