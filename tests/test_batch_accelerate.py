"""``accelerate launch main.py batch``: two CPU processes split the jobs (``split_between_processes``),
each runs its share through the same run path, and the first prints the summary of all."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_batch import _clip, _edit

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_processes_split_the_jobs(tmp_path: Path) -> None:
    pytest.importorskip("accelerate")
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for i, name in enumerate("abcd"):
        _clip(jobs / f"{name}.mkv", 20 * i)
        _edit(jobs / name)
    out = tmp_path / "out"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port())]
    batch = [str(ROOT / "main.py"), "batch", str(jobs), "--out-dir", str(out), "--engine", "classic"]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HOME": str(tmp_path / "hf"),  # no accelerate config of the user's
        "GENPROP_STUDIO_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run([*launch, *batch], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    table = done.stdout.splitlines()
    assert table[-1] == "4 jobs: 4 done", done.stdout  # printed once, by the first process
    assert done.stdout.count("4 jobs:") == 1
    summary = json.loads((out / "batch_summary.json").read_text())["jobs"]
    assert [(j["name"], j["status"], j["process"]) for j in summary] == [
        ("a", "done", 0),
        ("b", "done", 0),
        ("c", "done", 1),
        ("d", "done", 1),
    ]
    assert all((out / f"{n}.mp4").is_file() for n in "abcd")


@pytest.mark.parametrize(
    ("local_rank", "visible", "gpus", "expected"),
    [
        ("1", None, 4, "1"),  # 4 GPUs, process 1 -> GPU 1
        ("1", "2,3", 4, "3"),  # within the GPUs the user gave
        ("3", None, 2, "1"),  # more processes than GPUs: round robin
        ("0", None, 0, None),  # no GPU: nothing pinned
        (None, None, 4, None),  # not launched
    ],
)
def test_each_process_is_pinned_to_one_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_rank: str | None, visible: str | None, gpus: int, expected: str | None
) -> None:
    from app import distributed

    driver = tmp_path / "gpus"
    driver.mkdir()
    for i in range(gpus):
        (driver / f"0000:0{i}:00.0").mkdir()
    monkeypatch.setattr(distributed, "NVIDIA_GPUS", str(driver))
    for key, value in (("LOCAL_RANK", local_rank), ("CUDA_VISIBLE_DEVICES", visible)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    assert distributed.pin_gpu_to_local_rank() == expected
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == (expected if expected is not None else visible)


def test_a_list_one_process_cannot_use_stops_every_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """Process 1 of 2, whose list is fine, learns from the gather that process 2 could not read its copy."""
    from app import distributed
    from main import main

    closed: list[bool] = []

    class OtherProcessFailed:
        index, count, is_main = 0, 2, True

        def gather(self, rows: list) -> list:  # type: ignore[type-arg]
            assert rows == [""]  # this process's list was fine
            return [*rows, "job list /mnt/b/jobs.csv not found"]

        def close(self) -> None:
            closed.append(True)

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    _clip(jobs / "a.mkv", 0)
    _edit(jobs / "a")
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "Processes", OtherProcessFailed)
    assert main(["batch", str(jobs), "--out-dir", str(tmp_path / "out"), "--engine", "classic"]) == 2
    assert capsys.readouterr().err.strip() == "error: job list /mnt/b/jobs.csv not found"
    assert not (tmp_path / "out").exists()
    assert closed == [True]  # the process group is left on the error path too
