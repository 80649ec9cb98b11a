"""One source of truth in the code: edit state in the app layer, small window modules, a fast start,
and tests that keep to their own user folders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.project import Project
from app.session import EditSession
from engine.edits.outpaint import OutpaintSpec
from engine.edits.track import TrackSpec

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 550  # "no module much over ~500 lines"


def test_edit_state_lives_in_the_session_and_is_composed_off_the_widgets() -> None:
    """Frame 1, the selection and the composed edit, driven through public methods only (no Qt)."""
    project = Project()
    session = EditSession(project)
    heard: list[str] = []
    session.on_change(heard.append)
    frame = np.full((40, 60, 3), 100, np.uint8)
    session.set_frame(frame)
    mask = np.zeros((40, 60), np.uint8)
    mask[5:15, 5:15] = 255
    session.set_selection(mask)
    project.add_operation(TrackSpec(mask=mask))
    assert heard == ["frame", "selection", "compose"]
    token, work = session.compose_job()
    stale_token = token
    project.add_operation(OutpaintSpec(left=10, top=4, right=10, bottom=4))  # the user went on editing
    assert not session.set_edit(stale_token, work())  # a stale answer is dropped
    token, work = session.compose_job()
    assert session.set_edit(token, work())
    assert session.canvas.shape == (48, 80, 3) and session.canvas_offset == (10, 4)
    assert session.selection.shape == (48, 80) and session.selection[4 + 5, 10 + 5] == 255  # same pixels of frame 1
    session.set_frame(None)
    assert session.edit is None and session.selection is None


def test_no_private_state_reached_across_objects() -> None:
    """No ``Project._emit`` from outside the project, no widget internals from the window's code."""
    bad = []
    for path in [*(ROOT / "ui").glob("*.py"), *(ROOT / "app").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if path.name != "project.py":
            bad += [f"{path.name}: {m}" for m in re.findall(r"\w+\._emit\(", text) if not m.startswith("self.")]
        if path.name in ("main_window.py", "project_controller.py", "job_controller.py", "actions.py", "demos.py"):
            bad += [f"{path.name}: {m}" for m in re.findall(r"\b(?!self\b)\w+\.(?:\w+\.)*_[a-z]\w*", text)]
            bad += [f"{path.name}: {m}" for m in re.findall(r"self\.\w+\._[a-z]\w*", text)]
    assert bad == []


@pytest.mark.parametrize("package", ["ui", "app"])
def test_modules_stay_small(package: str) -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in (ROOT / package).rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_the_window_starts_without_torch_or_diffusers() -> None:
    """The first paint must not wait for torch (seconds): it is imported where a model runs."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from app.settings import Settings\n"
        "from ui.main_window import MainWindow\n"
        "w = MainWindow(Settings()); w.show(); app.processEvents()\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'sam2') if m in sys.modules]\n"
        "w.confirm_unsaved = False; w.close()\n"
        "print(heavy); sys.exit(1 if heavy else 0)\n"
    )
    import os

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}  # the per-test user folders come along
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def test_each_test_has_its_own_user_folders(_isolated_user_dirs: Path) -> None:
    """Settings, window state, the Hugging Face cache (SAM2 downloads) and QSettings are per test
    (in the folder conftest's autouse fixture made for this test, beside its tmp_path)."""
    pytest.importorskip("PySide6")
    import os

    from PySide6.QtCore import QSettings

    from app.paths import user_dirs
    from ui.main_window import window_state

    inside = str(_isolated_user_dirs)
    assert str(user_dirs().config).startswith(inside) and str(user_dirs().cache).startswith(inside)
    assert os.environ["HF_HOME"].startswith(inside) and os.environ["GENPROP_SAM2_DIR"].startswith(inside)
    assert os.environ["HF_HUB_CACHE"].startswith(inside)
    assert window_state().fileName().startswith(inside)
    assert QSettings("GenProp", "GenProp Studio").fileName().startswith(inside)


def test_the_qt_binding_does_not_leak_references_to_none_and_true() -> None:
    """PySide6 6.12.0 on Python 3.11 dropped a reference to None on every void Qt call and to
    True on every signal emit: after a few thousand calls None or True was deallocated and
    the app died ("Fatal Python error: none_dealloc" / "bool_dealloc"), mid-session or on quit.
    requirements/app.txt pins a release without the bug; this catches a return of it."""
    pytest.importorskip("PySide6")
    import sys

    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QApplication, QLabel

    QApplication.instance() or QApplication([])

    class Emitter(QObject):
        changed = Signal(str)

    label, emitter = QLabel(), Emitter()
    emitter.changed.connect(lambda _text: None)
    rounds = 100

    def counts() -> tuple[int, int]:
        return sys.getrefcount(None), sys.getrefcount(True)

    before = counts()
    for _ in range(rounds):
        label.setText("a")  # a void call
        emitter.changed.emit("b")  # a signal emit
    after = counts()
    lost = (before[0] - after[0], before[1] - after[1])
    assert max(lost) < rounds // 10, f"references lost per {rounds} calls (None, True): {lost}"
