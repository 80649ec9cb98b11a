"""The engine panel offers the SAM2 tracker: disabled with the reason without weights, enabled and labelled with them."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import Qt  # noqa: E402

from tests.sam2_factory import fake_sam2_file, hub_cache_file  # noqa: E402
from ui.engine_panel import EnginePanel  # noqa: E402

pytestmark = pytest.mark.gui


def items(box):  # type: ignore[no-untyped-def]
    """(value, text, enabled, tooltip) of every item of a combo box."""
    model = box.model()
    return [
        (
            box.itemData(i),
            box.itemText(i),
            bool(model.item(i).flags() & Qt.ItemFlag.ItemIsEnabled),
            model.item(i).toolTip(),
        )
        for i in range(box.count())
    ]


@pytest.fixture()
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("GENPROP_SAM2_DIR", raising=False)
    return [str(tmp_path / "models")]


def test_sam2_choice_is_disabled_with_the_reason_without_weights(qtbot, dirs: list[str]) -> None:  # type: ignore[no-untyped-def]
    panel = EnginePanel(lambda: dirs)
    qtbot.addWidget(panel)
    tracker = panel.widgets["tracker"]
    rows = {value: rest for value, *rest in items(tracker)}
    assert list(rows) == ["auto", "flow", "sam2"]
    assert rows["auto"][:2] == ["auto (optical flow: no SAM2 weights)", True]
    text, enabled, tip = rows["sam2"]
    assert text == "sam2 (unavailable)" and not enabled
    assert tip.startswith("Unavailable: no SAM2 weights found") and "sam2.1_hiera_tiny.pt" in tip
    assert panel.options()["tracker"] == "auto" and panel.options()["sam2_model"] == "auto"
    assert all(not enabled for value, _t, enabled, _tip in items(panel.widgets["sam2_model"]) if value != "auto")
    panel.set_settings("classic", {"tracker": "sam2"})  # a remembered choice that cannot run here
    assert panel.options()["tracker"] == "auto"
    assert "sam2_checkpoint" not in panel.widgets  # a path: the CLI's, not a GUI field


def test_sam2_choice_is_enabled_and_labelled_with_weights(qtbot, dirs: list[str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake_sam2_file(hub_cache_file(Path(dirs[0]), "facebook/sam2.1-hiera-small", "sam2.1_hiera_small.pt"), "small")
    panel = EnginePanel(lambda: dirs)
    qtbot.addWidget(panel)
    rows = {value: rest for value, *rest in items(panel.widgets["tracker"])}
    assert rows["sam2"][:2] == ["sam2 (SAM2 small)", True] and rows["auto"][0] == "auto (SAM2 small)"
    sizes = {value: enabled for value, _t, enabled, _tip in items(panel.widgets["sam2_model"])}
    assert sizes == {"auto": True, "tiny": False, "small": True, "base+": False, "large": False}
    panel.set_settings("classic", {"tracker": "sam2", "sam2_model": "small", "sam2_resolution": 256})
    assert {k: panel.options()[k] for k in ("tracker", "sam2_model", "sam2_resolution")} == {
        "tracker": "sam2",
        "sam2_model": "small",
        "sam2_resolution": 256,
    }
    with qtbot.waitSignal(panel.settings_changed, timeout=2000) as changed:
        panel.widgets["tracker"].setCurrentIndex(1)
    assert changed.args[1]["tracker"] == "flow"
    # the training-free engine takes the same choice for its mask; GenProp proper uses its MPD mask instead
    panel.engine_box.setCurrentIndex(panel.engine_box.findData("genprop-training-free"))
    assert "mask_tracker" in panel.widgets and panel.options()["mask_tracker"] == "auto"
    panel.engine_box.setCurrentIndex(panel.engine_box.findData("genprop"))
    assert "mask_tracker" not in panel.widgets and "sam2_model" not in panel.widgets
