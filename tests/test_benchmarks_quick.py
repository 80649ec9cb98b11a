"""Benchmarks stay runnable: the quick runs through the runner, into a temporary folder."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import run_all

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _docs_digest() -> str:
    h = hashlib.sha256()
    for p in sorted([DOCS / "benchmarks.md", *(DOCS / "bench_sections").glob("*.md")]):
        if p.exists():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick", "--out", str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_runner_knows_each_scripts_output_flag() -> None:
    names = run_all.discover()
    assert {"video_io", "interactive", "classic"} <= set(names)
    assert run_all.output_flag("video_io") == "--out" and run_all.output_flag("interactive") == "--out"
    assert "run_all" not in names and "assemble" not in names


def test_quick_needs_an_output_folder_and_known_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_all.main(["--quick"])
    assert exc.value.code == 2 and "--quick needs --out" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_all.main(["--quick", "--out", str(tmp_path), "--only", "nosuch"])
    assert "'nosuch'" in capsys.readouterr().err


def test_video_io_and_interactive_quick(tmp_path: Path) -> None:
    before = _docs_digest()
    proc = _run(tmp_path, "--only", "video_io,interactive")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    video = (tmp_path / "bench_sections" / "video_io.md").read_text()
    inter = (tmp_path / "bench_sections" / "interactive.md").read_text()
    assert "| sequential decode to RGB, frames/s |" in video and "libx264 CRF 18" in video
    ratio = float(video.split("| sequential decode to RGB, frames/s |")[1].split("|")[2])
    assert ratio > 0.0
    assert "GrabCut fallback: predict, box" in inter and "reader: same frames again (cached)" in inter
    page = (tmp_path / "benchmarks.md").read_text()
    assert page.startswith("# Benchmarks") and "## Video decode and encode" in page and "## Interactive latencies" in page
    assert _docs_digest() == before  # the quick run never touches docs/


@pytest.mark.slow
def test_every_benchmark_quick(tmp_path: Path) -> None:
    proc = _run(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in run_all.discover():
        assert (tmp_path / "bench_sections" / f"{name}.md").read_text().strip(), name
