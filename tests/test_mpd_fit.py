"""The MPD fit diagnostic (training/mpd_fit.py): training-clip cases against held-out ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import mini_repro
from training.mpd_fit import main, training_clip_cases

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo_model"


def test_training_clip_cases_come_from_training_clips_one_task_each() -> None:
    settings = mini_repro.PRESETS["full"]
    cases = training_clip_cases(settings, per_task=1)
    assert [c.task for c in cases] == list(mini_repro.TASKS)
    assert all(0 <= c.seed < settings.train_clips for c in cases)
    assert all(c.mask.any() for c in cases)


def test_the_demo_model_finds_edits_on_both_sets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--svd", str(DEMO / "svd"), "--heads", str(DEMO / "genprop"), "--per-task", "1"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "pooled" in line]
    assert [line.split(":")[0] for line in lines] == ["training clips 0..63", "held-out clips >= 100000"]
    pooled = [float(line.split("pooled ")[1].split()[0]) for line in lines]
    assert all(0.2 < p <= 1.0 for p in pooled), pooled  # the demo model's MPD finds the edits (0.4-0.5)
