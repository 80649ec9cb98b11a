"""Trainer smoke tests on the tiny preset + procedural clips: loss, checkpoints, exact resume,
crash safety of checkpoint writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from training import checkpoint as ckpt
from training.config import TrainConfig, load_config
from training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "training" / "configs" / "tiny_cpu.yaml"


def tiny_config(out: Path, **overrides: object) -> TrainConfig:
    """The tiny preset, shrunk further (2 frames of 16x16) so a step takes a fraction of a second."""
    base = {
        "output_dir": str(out),
        "data.num_frames": 2,
        "data.buckets": [[16, 16]],
        "data.sources": [{"kind": "procedural", "count": 4, "width": 48, "height": 32, "frames": 6, "objects": 2}],
        "data.validation_sources": [],
        "optim.batch_size": 1,
        "optim.max_steps": 4,
        "optim.warmup_steps": 1,
        "checkpoint.every": 1,
        "checkpoint.total_limit": 2,
        "logging.log_every": 1,
        "logging.tensorboard": False,
        "logging.validate_every": 0,
    }
    base.update(overrides)
    return load_config(TINY, base)


def test_loss_finite_and_decreasing_on_a_fixed_batch(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, **{"optim.learning_rate": 1e-3, "optim.warmup_steps": 0, "optim.max_steps": 100})
    trainer = Trainer(cfg).setup()
    batch = next(iter(trainer.loader()))
    losses = []
    for _ in range(8):
        terms, stepped = trainer.train_step(batch, micro_batch=0)  # same batch, same noise
        assert stepped
        losses.append(terms.total.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.7 * losses[0], losses
    assert sum(b < a for a, b in zip(losses, losses[1:], strict=False)) >= 5, losses
    # G stayed frozen
    assert all(p.grad is None and not p.requires_grad for p in trainer.comps.model.unet.parameters())


def test_checkpoints_rotate_and_resume_is_exact(tmp_path: Path) -> None:
    full = Trainer(tiny_config(tmp_path / "full")).run()
    assert full.final_step == 4 and len(full.history) == 4
    names = sorted(p.name for p in (tmp_path / "full").glob("checkpoint-*"))
    assert names == ["checkpoint-3", "checkpoint-4"], names  # total_limit 2 rotated 1 and 2 away
    assert (tmp_path / "full" / "checkpoint-4" / "genprop" / "diffusion_pytorch_model.safetensors").is_file()

    part = tiny_config(tmp_path / "part")
    first = Trainer(part, stop_after=2).run()
    assert first.final_step == 2
    assert [r["total"] for r in first.history] == [r["total"] for r in full.history[:2]]
    resumed = Trainer(part, resume="latest").run()
    assert resumed.history[0]["step"] == 3
    assert resumed.history[0]["total"] == pytest.approx(full.history[2]["total"], rel=1e-6, abs=1e-7)
    assert resumed.history[1]["total"] == pytest.approx(full.history[3]["total"], rel=1e-6, abs=1e-7)
    a = ckpt.load_tensors(tmp_path / "full" / "checkpoint-4")["ema"]
    b = ckpt.load_tensors(tmp_path / "part" / "checkpoint-4")["ema"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    rows = [json.loads(line) for line in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]


def test_crash_during_checkpoint_write_keeps_last_good(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny_config(tmp_path, **{"optim.max_steps": 3})
    Trainer(cfg, stop_after=1).run()

    def die(_folder: Path) -> None:
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(ckpt, "_fsync_tree", die)  # files of checkpoint-2 are written, rename never happens
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, resume="latest", stop_after=2).run()
    monkeypatch.undo()
    assert (tmp_path / "checkpoint-2.tmp").is_dir()
    assert ckpt.latest_checkpoint(tmp_path) == tmp_path / "checkpoint-1"
    # a truncated, state-less folder with a final-looking name is ignored as well
    (tmp_path / "checkpoint-9").mkdir()
    assert ckpt.latest_checkpoint(tmp_path) == tmp_path / "checkpoint-1"
    result = Trainer(cfg, resume="latest").run()
    assert result.history[0]["step"] == 2 and result.final_step == 3
    assert not (tmp_path / "checkpoint-2.tmp").exists(), "stale .tmp folders are cleaned up"


def test_resume_from_a_path_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        ckpt.resolve_resume(tmp_path, str(tmp_path / "nope"))


@pytest.mark.slow
def test_process_killed_mid_checkpoint_resumes_from_last_good(tmp_path: Path) -> None:
    """A real process dies (os._exit) after writing checkpoint-2's files but before the rename."""
    import subprocess
    import sys

    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
from training import checkpoint as ckpt
from training.trainer import Trainer
from tests.test_training_trainer import tiny_config
from pathlib import Path
cfg = tiny_config(Path({str(tmp_path)!r}), **{{"optim.max_steps": 3}})
real = ckpt._fsync_tree
def fsync_then_die(folder):
    real(folder)
    if folder.name == "checkpoint-2.tmp":
        os._exit(9)
ckpt._fsync_tree = fsync_then_die
Trainer(cfg).run()
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 9, proc.stderr[-2000:]
    assert (tmp_path / "checkpoint-2.tmp" / ckpt.STATE_FILE).is_file()
    assert ckpt.latest_checkpoint(tmp_path) == tmp_path / "checkpoint-1"
    result = Trainer(tiny_config(tmp_path, **{"optim.max_steps": 3}), resume="latest").run()
    assert [r["step"] for r in result.history] == [2, 3]
