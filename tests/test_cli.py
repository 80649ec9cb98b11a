"""The command line: --version, --help for every command, info on real clips, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.version import __version__
from tests.video_factory import encode, moving_frames

ROOT = Path(__file__).resolve().parents[1]

# What ../shared/data/README.md documents for each clip: (frames, fps, width, height, codec)
EXPECTED = {
    "cockatoo.mp4": (280, 20.0, 1280, 720, "h264"),
    "dog.mp4": (41, 27.0, 1920, 1080, "h264"),
    "motion.mov": (242, 30.0, 568, 320, "h264"),
    "vtest.avi": (795, 10.0, 768, 576, "msmpeg4"),
    "tree.avi": (68, 15.0, 320, 240, "cinepak"),
}


def run_main(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True, env=full_env, timeout=120)


def test_version() -> None:
    result = run_main("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_help_for_every_command() -> None:
    from app.cli import COMMANDS, load_command_modules

    load_command_modules()
    top = run_main("--help")
    assert top.returncode == 0
    for name in [*COMMANDS, "gui"]:
        assert name in top.stdout
        sub = run_main(name, "--help")
        assert sub.returncode == 0 and "usage" in sub.stdout, name


def test_info_on_every_shared_clip(shared_data: Path) -> None:
    clips = sorted((shared_data / "clips").iterdir())
    result = run_main("info", "--json", *map(str, clips))
    assert result.returncode == 0, result.stderr
    infos = {Path(i["path"]).name: i for i in json.loads(result.stdout)}
    for name, (frames, fps, width, height, codec) in EXPECTED.items():
        info = infos[name]
        assert (info["frame_count"], info["width"], info["height"], info["codec"]) == (frames, width, height, codec), name
        assert info["fps"] == pytest.approx(fps, rel=0.01), name
    text = run_main("info", str(shared_data / "clips" / "tree.avi"))
    assert "cinepak" in text.stdout and "frames:      68" in text.stdout


def test_info_bad_input_exit_code(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"\x00garbage" * 100)
    result = run_main("info", str(junk))
    assert result.returncode == 2
    assert "junk.mov" in result.stderr and "Traceback" not in result.stderr
    good = encode(tmp_path / "ok.mp4", moving_frames(3, 32, 32), "libx264")
    mixed = run_main("info", str(good), str(tmp_path / "missing.mp4"))
    assert mixed.returncode == 2 and "ok.mp4" in mixed.stdout and "missing.mp4: file not found" in mixed.stderr


def test_gui_without_display_names_headless_alternatives() -> None:
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": ""}
    result = run_main(env=env)
    assert result.returncode == 2
    assert "no display" in result.stderr and "main.py info" in result.stderr


def test_logging_goes_to_a_rotating_file(tmp_path: Path) -> None:
    result = run_main("--verbose", "info", str(tmp_path / "nothing.mp4"), env={"GENPROP_STUDIO_HOME": str(tmp_path / "home")})
    assert result.returncode == 2
    log_file = tmp_path / "home" / "logs" / "genprop-studio.log"
    assert log_file.exists() and "command line" in log_file.read_text()
    assert "DEBUG" in result.stderr  # --verbose mirrors details on the console


def test_entry_point_from_another_directory_uses_our_training_package(tmp_path: Path) -> None:
    """sam2 ships a top-level ``training`` package; ours must still be the one imported."""
    code = "import runpy, sys; sys.argv = ['genprop-studio', 'train', '--help']; import main; sys.exit(main.main())"
    env = {**os.environ, "PYTHONPATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.append({str(ROOT)!r}); " + code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "--config" in result.stdout
    probe = f"import sys; sys.path.append({str(ROOT)!r}); import main, training; print(training.__file__)"
    where = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert where.stdout.strip().startswith(str(ROOT)), where.stdout + where.stderr


def test_console_log_follows_the_current_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A swapped-and-closed stderr (pytest, embedding apps) must not break later log calls."""
    import io
    import logging

    from app.logging_setup import setup_logging

    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging(verbose=True, log_dir=tmp_path)
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("genprop.test").warning("still reaches the console")
    assert second.getvalue() == "WARNING: still reaches the console\n"  # not a "--- Logging error ---" report
    for handler in list(logging.getLogger().handlers):
        if getattr(handler, "_genprop", False):
            logging.getLogger().removeHandler(handler)
            handler.close()
