"""The prepared GPU benchmark (benchmarks/gpu_svd_xt.py) runs end to end on tiny components on the CPU,
so a session that draws a GPU spends its minutes on figures, not on fixing the script."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.gpu_svd_xt import main


def test_the_gpu_benchmark_runs_on_tiny_components(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    assert main(["--tiny", "--device", "cpu", "--steps", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [(r["frames"], r["height"], r["width"]) for r in report["compare"]] == [(4, 32, 32), (6, 32, 48)]
    for row in report["compare"]:
        assert row["svd"]["seconds"] > 0 and row["genprop"]["seconds"] > 0 and row["time_ratio"] > 0
    assert report["oom_retry"]["result"] == "ran" and report["oom_retry"]["plans_tried"]
