"""Screenshots of the main states for docs/screenshots/ (run under a display, e.g. Xvfb).

    xvfb-run -s "-screen 0 1600x1000x24" python scripts/take_screenshots.py
It drives the real main window: the sample clip, its ready edit, a classic-engine run
and the review views. Nothing is staged by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.paths import RESOURCES, SAMPLE_CLIP  # noqa: E402
from app.settings import Settings  # noqa: E402
from ui import demos  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.theme import apply_theme  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal, timeout_ms: int) -> None:  # type: ignore[no-untyped-def]
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def shot(window: MainWindow, name: str) -> None:
    wait(400)
    path = OUT / f"{name}.png"
    window.grab().save(str(path))
    print("saved", path)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv)
    apply_theme(app, "dark")
    window = MainWindow(Settings())
    window.confirm_unsaved = False  # a scripted session: no questions
    window.resize(1500, 900)
    window.show()
    window.open_clip(SAMPLE_CLIP)
    wait_for(window.edit_panel.first_frame_ready, 20000)
    window.timeline.seek(40)
    shot(window, "1-clip")
    window.tabs.setCurrentWidget(window.canvas)
    window.import_edit(RESOURCES / "samples" / "coin_edit" / "edit.json")
    wait_for(window.edit_panel.edit_changed, 20000)
    window.edit_panel.set_tool("select")
    window.canvas.add_point(452, 148, positive=True)  # a click on the coin, as the user makes it
    wait_for(window.edit_panel.selection_changed, 30000)
    shot(window, "2-edit")
    window.propagate()
    wait(2500)
    shot(window, "3-propagating")
    wait_for(window.job_finished, 300000)
    window.review.mode_box.setCurrentText("Side by side")
    window.review.timeline.seek(60)
    shot(window, "4-review-side-by-side")
    window.review.mode_box.setCurrentText("A/B wipe")
    window.review.wipe.setValue(55)
    window.review.timeline.seek(85)
    shot(window, "5-review-wipe")

    # GenProp on the bundled procedural demo model: MPD overlay and an attention map
    demos.try_genprop_demo(window)
    wait_for(window.edit_panel.edit_changed, 20000)
    window.propagate()
    wait_for(window.job_finished, 300000)
    review = window.review
    review.mode_box.setCurrentText("Side by side")
    review.timeline.seek(5)
    review.mask_check.setChecked(False)
    review.ask_attention(39, 25)  # what a Shift+click there does: one recording, then every click answered from it
    wait_for(window.job_finished, 300000)
    review.layer_box.setCurrentIndex(min(2, review.layer_box.count() - 1))
    window.resize(1500, 900)
    shot(window, "6-genprop-demo-attention")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
