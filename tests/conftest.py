"""Shared fixtures: where ../shared/data lives, and Qt set to run offscreen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip when this machine does not have it."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present on this machine")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the real user's settings, logs, recovery files or Hugging Face cache.

    The hub cache matters too: with real SAM2 weights in ``~/.cache`` the ``auto`` tracker
    would pick SAM2 and tests written for the flow tracker would measure something else.
    """
    base = tmp_path_factory.getbasetemp() / "userdirs"
    monkeypatch.setenv("GENPROP_STUDIO_HOME", str(base))
    monkeypatch.setenv("HF_HUB_CACHE", str(base / "hf-hub-cache"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless GENPROP_RUN_SLOW=1, and ``gpu`` tests without CUDA."""
    run_slow = os.environ.get("GENPROP_RUN_SLOW") == "1"
    has_gpu = False
    if any("gpu" in item.keywords for item in items):
        try:
            import torch

            has_gpu = torch.cuda.is_available()
        except ImportError:
            has_gpu = False
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="slow test: set GENPROP_RUN_SLOW=1 to run it"))
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
