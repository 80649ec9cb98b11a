"""One-click demonstrations: the sample clip with its ready edit, GenProp on the demo model.

Both replace the open work, so both ask first (Save / Discard / Cancel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ui.main_window import MainWindow

#: Engine settings the procedural demo model was trained with (resources/demo_model).
DEMO_SETTINGS = {"steps": 8, "long_side": 64, "min_guidance": 1.0, "max_guidance": 1.0, "fps_id": 8, "feather": 2}


def try_sample_edit(window: MainWindow) -> None:
    """Open the bundled sample with its ready first-frame edit: a first Propagate is one click away."""
    from app.paths import RESOURCES, SAMPLE_CLIP

    def go() -> None:
        document = window.document
        if document is None or document.path != SAMPLE_CLIP.resolve() or window.project.operations:
            if not window.open_clip(SAMPLE_CLIP, confirmed=True):
                return
        window.import_edit(RESOURCES / "samples" / "coin_edit" / "edit.json")
        window.tabs.setCurrentWidget(window.canvas)

    window.projects.confirm_replace(go, "opening the sample edit")


def try_genprop_demo(window: MainWindow) -> None:
    """The GenProp engine, MPD overlay and attention viewer on the bundled demo model
    (resources/demo_model, searched only from here on)."""
    from engine.pipelines.weights_locator import DEMO_MODEL_DIR

    def go() -> None:
        window.use_demo_model()
        if not window.open_clip(DEMO_MODEL_DIR / "case" / "frames", fps=8.0, confirmed=True):
            return
        window.import_edit(DEMO_MODEL_DIR / "case" / "edit.json")
        window.engine_panel.choose("genprop", DEMO_SETTINGS)
        window.tabs.setCurrentWidget(window.canvas)
        window.statusBar().showMessage(
            "GenProp demo: a toy model trained on 64x64 procedural clips (resources/demo_model) — "
            "it shows the mechanism, not real-footage quality",
            20000,
        )

    window.projects.confirm_replace(go, "opening the GenProp demo")
