"""Shared fixtures: where ../shared/data lives, Qt offscreen, capped threads, private user folders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Torch (and OpenCV/BLAS) would start one thread per core in every test process; on a shared,
# loaded machine that oversubscribes the CPUs and stretches CPU-bound tests many times over.
# Two threads keep the suite's timing close to its idle figures under load. Set before torch
# is imported (test modules import it after this file).
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "2")
TEST_THREADS = int(os.environ["OMP_NUM_THREADS"])

ROOT = Path(__file__).resolve().parents[1]
#: ../shared/data beside the checkout; GENPROP_SHARED_DATA points elsewhere (a git worktree one level deeper).
SHARED_DATA = Path(os.environ.get("GENPROP_SHARED_DATA") or ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip when this machine does not have it."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present on this machine")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own user folders: settings, logs, recovery, models, the Hugging Face
    cache (SAM2 downloads) and Qt's QSettings, so no test sees another's files or the real
    user's."""
    base = tmp_path_factory.mktemp("userdirs")  # beside tmp_path, not in it: tests list their tmp_path
    monkeypatch.setenv("GENPROP_STUDIO_HOME", str(base))
    monkeypatch.setenv("HF_HOME", str(base / "cache" / "huggingface"))
    # with real SAM2 weights in the user's cache the ``auto`` tracker would pick SAM2 and tests
    # written for the flow tracker would measure something else; HF_HUB_CACHE outranks HF_HOME
    monkeypatch.setenv("HF_HUB_CACHE", str(base / "cache" / "huggingface" / "hub"))
    monkeypatch.setenv("GENPROP_SAM2_DIR", str(base / "cache" / "sam2"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "xdg-config"))
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is not None:  # only when the test module uses Qt (importing it costs time)
        qsettings = qtcore.QSettings
        for fmt in (qsettings.Format.NativeFormat, qsettings.Format.IniFormat):
            qsettings.setPath(fmt, qsettings.Scope.UserScope, str(base / "qsettings"))
    return base


@pytest.fixture(autouse=True)
def _capped_torch_threads() -> None:
    """Torch may have been imported before the environment took effect (plugins): cap it anyway."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() > TEST_THREADS:
        torch.set_num_threads(TEST_THREADS)


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    """A shown main window that asks Save/Discard/Cancel like the app (GUI test files may override it)."""
    from tests.gui_helpers import asking_window

    yield from asking_window(qtbot)


@pytest.fixture
def answer():  # type: ignore[no-untyped-def]
    """Answers the next modal question box: ``answer.next(QMessageBox.StandardButton.Cancel)``."""
    from tests.gui_helpers import Answerer

    return Answerer()


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
