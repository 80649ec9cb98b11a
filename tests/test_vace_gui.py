"""The genprop-vace engine in the GUI: listed, enabled once Wan2.1-VACE weights are found in the models
folder, its fields (an editable prompt) generated from its options, and a run on the app's job worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtWidgets import QComboBox  # noqa: E402

from app.engine_options import validate  # noqa: E402
from app.jobs import PropagationJob  # noqa: E402
from engine.pipelines.dummy_wan import save_tiny_vace_pipeline  # noqa: E402
from tests.test_pipeline_engine import generated_clip, paste_edit  # noqa: E402
from ui.engine_panel import EnginePanel  # noqa: E402
from ui.workers import JobWorker  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture()
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("GENPROP_VACE_PATH", raising=False)
    folder = tmp_path / "models"
    return folder


def test_panel_enables_the_engine_when_weights_are_found(qtbot, models: Path) -> None:  # type: ignore[no-untyped-def]
    panel = EnginePanel(lambda: [str(models)])
    qtbot.addWidget(panel)
    names = [panel.engine_box.itemData(i) for i in range(panel.engine_box.count())]
    row = names.index("genprop-vace")
    panel.engine_box.setCurrentIndex(row)
    assert "Wan2.1-VACE weights" in panel.reason.text() and not panel.propagate_button.isEnabled()
    save_tiny_vace_pipeline(models / "Wan2.1-VACE-1.3B-diffusers")
    panel = EnginePanel(lambda: [str(models)])
    qtbot.addWidget(panel)
    panel.engine_box.setCurrentIndex(row)
    assert panel.engine == "genprop-vace" and panel.propagate_button.isEnabled() and panel.reason.text() == ""
    prompt = panel.widgets["prompt"]
    assert isinstance(prompt, QComboBox) and prompt.isEditable() and prompt.currentText() == "auto"
    prompt.setEditText("a red ball rolling on the grass")
    options = panel.options()
    assert options["prompt"] == "a red ball rolling on the grass" and options["margin"] == 8
    assert validate("genprop-vace", options)["prompt"] == "a red ball rolling on the grass"


def test_a_run_on_the_job_worker_reports_progress_and_returns_the_result(qtbot, models: Path) -> None:  # type: ignore[no-untyped-def]
    save_tiny_vace_pipeline(models / "Wan2.1-VACE-1.3B-diffusers")
    clip = generated_clip(6)
    options = {"steps": 1, "long_side": 32, "window": 5, "overlap": 1, "guidance_scale": 1.0, "device": "cpu"}
    job = PropagationJob("genprop-vace", clip, paste_edit(clip[0]), options, (str(models),))
    worker = JobWorker(job, "propagate")
    progress: list[float] = []
    worker.progressed.connect(lambda p: progress.append(p.fraction))
    with qtbot.waitSignal(worker.succeeded, timeout=240_000) as blocker:
        worker.start()
    result = blocker.args[0]
    worker.wait()
    assert result.engine == "genprop-vace" and result.frames.shape == (6, 27, 45, 3)
    assert progress and progress == sorted(progress) and not np.array_equal(result.frames[0], clip[0])
