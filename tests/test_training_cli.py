"""``python main.py train``: presets validate, the command trains and resumes, bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import main
from training.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "training" / "configs"


@pytest.mark.parametrize("name", ["tiny_cpu.yaml", "paper_svd.yaml"])
def test_presets_validate(name: str) -> None:
    cfg = load_config(CONFIGS / name)
    assert cfg.loss.mask_weight == 2.0 and cfg.loss.grad_weight == 1.0 and cfg.loss.mpd_weight == 1.0
    assert cfg.data.task_probabilities == {"copy_paste": 0.5, "mask_and_fill": 0.375, "color_fill": 0.125}


def test_paper_preset_holds_the_paper_optimiser() -> None:
    cfg = load_config(CONFIGS / "paper_svd.yaml")
    assert cfg.optim.learning_rate == 5e-5 and cfg.optim.max_grad_norm == 0.001
    assert cfg.model.backbone == "svd" and cfg.data.pairing == "synthetic_to_original"
    assert json.loads((CONFIGS / "deepspeed_zero2.json").read_text())["zero_optimization"]["stage"] == 2


def test_train_command_runs_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "train",
        "--config", str(CONFIGS / "tiny_cpu.yaml"),
        "--output-dir", str(tmp_path),
        "--max-steps", "2",
        "--set", "data.num_frames=2",
        "--set", "data.buckets=[[16, 16]]",
        "--set", "optim.batch_size=1",
        "--set", "logging.validate_every=1",
        "--set", "logging.validation_steps=2",
        "--set", "checkpoint.every=1",
    ]  # fmt: skip
    assert main.main([*args, "--stop-after", "1"]) == 0
    assert main.main([*args, "--resume", "latest"]) == 0
    out = capsys.readouterr().out
    assert "trained to step 2" in out
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    assert list((tmp_path / "previews").glob("step-*.mp4")), "validation writes a preview video"
    assert list((tmp_path / "logs").rglob("events.out.tfevents.*")), "TensorBoard logs are written"


def test_train_command_rejects_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main.main(["train", "--config", str(CONFIGS / "tiny_cpu.yaml"), "--set", "optim.mixed_precision=fp8"])
    assert code == 2
    assert "optim.mixed_precision" in capsys.readouterr().err


def test_extend_from_a_finished_run_restarts_the_schedule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A finished cosine run ends at lr 0; ``--extend-from`` continues its weights and optimiser
    under a fresh warm-up + cosine over the added steps, and the extended run resumes exactly."""
    args = [
        "train",
        "--config", str(CONFIGS / "tiny_cpu.yaml"),
        "--set", "data.num_frames=2",
        "--set", "data.buckets=[[16, 16]]",
        "--set", "optim.batch_size=1",
        "--set", "optim.warmup_steps=1",
        "--set", "logging.validate_every=0",
        "--set", "checkpoint.every=1",
    ]  # fmt: skip
    first, longer, resumed = tmp_path / "first", tmp_path / "longer", tmp_path / "resumed"
    assert main.main([*args, "--output-dir", str(first), "--max-steps", "2"]) == 0
    assert main.main([*args, "--output-dir", str(longer), "--max-steps", "5", "--extend-from", str(first / "checkpoint-2")]) == 0
    rows = [json.loads(line) for line in (longer / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 4, 5], "the extension counts on from the checkpoint's step"
    base_lr = load_config(CONFIGS / "tiny_cpu.yaml").optim.learning_rate
    lrs = [r["lr"] for r in rows]
    # logged after each step: warm-up of 1 step, then a cosine over the 2 left (the first run ended at 0)
    assert lrs == pytest.approx([base_lr, base_lr / 2, 0.0]), f"a fresh cosine over the 3 added steps: {lrs}"
    state = json.loads((longer / "checkpoint-5" / "trainer_state.json").read_text())
    assert state["global_step"] == 5 and state["schedule_start"] == 2
    # an interrupted extension resumes on the extension's schedule, not the first run's
    assert (
        main.main(
            [
                *args,
                "--output-dir",
                str(resumed),
                "--max-steps",
                "5",
                "--extend-from",
                str(first / "checkpoint-2"),
                "--stop-after",
                "3",
            ]
        )
        == 0
    )
    assert main.main([*args, "--output-dir", str(resumed), "--max-steps", "5", "--resume", "latest"]) == 0
    again = [json.loads(line) for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in again] == pytest.approx(lrs)
    assert [r["total"] for r in again] == pytest.approx([r["total"] for r in rows], rel=1e-5)
    capsys.readouterr()
    code = main.main(
        [*args, "--output-dir", str(tmp_path / "no"), "--max-steps", "2", "--extend-from", str(first / "checkpoint-2")]
    )
    assert code == 2 and "must be larger" in capsys.readouterr().err
    code = main.main(
        [*args, "--output-dir", str(tmp_path / "no"), "--max-steps", "4", "--extend-from", str(tmp_path / "nothing")]
    )
    assert code == 2 and "--extend-from" in capsys.readouterr().err
