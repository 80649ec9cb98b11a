"""The model manager finds saved weights where the engines look, and refuses offline downloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.model_manager import DownloadJob, can_download, default_download_target, scan
from engine.engines.base import CancelToken
from engine.genprop import GenPropHeads
from engine.pipelines.dummy import tiny_components
from engine.pipelines.genprop_pipeline import GenPropPipeline


def by_name(statuses, prefix):  # type: ignore[no-untyped-def]
    return next(s for s in statuses if s.name.startswith(prefix))


def test_scan_reports_missing_then_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENPROP_SVD_PATH", raising=False)
    monkeypatch.delenv("GENPROP_WEIGHTS_PATH", raising=False)
    monkeypatch.setenv("GENPROP_SAM2_DIR", str(tmp_path / "sam2"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    models = tmp_path / "models"
    before = scan(models)
    svd, genprop = by_name(before, "Stable Video"), by_name(before, "GenProp")
    assert not svd.found and str(models / "svd") in svd.where
    assert not genprop.found and "Stability AI" in svd.licence
    assert not by_name(before, "SAM2 tiny").found

    components = tiny_components(0)
    heads = components.pop("heads")
    assert isinstance(heads, GenPropHeads)
    GenPropPipeline.from_components(heads=heads, **components).save_pretrained(models / "svd")
    (tmp_path / "sam2").mkdir()
    (tmp_path / "sam2" / "sam2.1_hiera_tiny.pt").write_bytes(b"placeholder checkpoint file")
    after = scan(models)
    assert by_name(after, "Stable Video").found and by_name(after, "Stable Video").where == str(models / "svd")
    assert by_name(after, "GenProp").found
    assert by_name(after, "SAM2 tiny").found and not by_name(after, "SAM2 large").found


def test_downloads_are_refused_offline_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ok, why = can_download()
    assert not ok and "HF_HUB_OFFLINE" in why
    status = by_name(scan(tmp_path), "SAM2 tiny")
    assert default_download_target(status, tmp_path).name  # a real folder to download into
    with pytest.raises(PermissionError, match="cannot download SAM2 tiny: downloads are off"):
        DownloadJob(status, tmp_path / "dl")(lambda p: None, CancelToken())
    assert not (tmp_path / "dl").exists()


@pytest.mark.gui
def test_model_manager_dialog_lists_models(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from ui.model_manager_dialog import ModelManagerDialog

    dialog = ModelManagerDialog(tmp_path / "models")
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == len(scan(tmp_path / "models"))
    assert dialog.table.item(0, 2).text() in ("found", "missing")
    dialog.table.selectRow(2)
    assert not dialog.download_button.isEnabled() and "HF_HUB_OFFLINE" in dialog.download_button.toolTip()
