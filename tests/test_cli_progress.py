"""The ``propagate`` progress bar counts the engine's own units (frames or steps), not per-mille."""

from __future__ import annotations

from app.commands.propagate import _Bar
from engine.engines.base import Progress


def test_bar_counts_frames_for_the_classic_engine(capsys) -> None:  # type: ignore[no-untyped-def]
    """The classic engine reports passes over the clip (read, shot cuts, tracking, compositing:
    360 units for 90 frames); the bar counts the clip's 90 frames, never "249/360 frame"."""
    bar = _Bar(frames=90)
    for done in range(1, 361):
        stage = "read" if done <= 90 else "shot cuts" if done <= 180 else "recolour (1/1)"
        bar(Progress(stage, done, 360, f"{stage}: {done}/360"))
    bar.close()
    text = capsys.readouterr().err
    assert "90/90" in text and "frame" in text and "‰" not in text and "/1000" not in text
    assert "/360" not in text  # no count past the clip's frames


def test_bar_counts_denoising_steps_for_genprop(capsys) -> None:  # type: ignore[no-untyped-def]
    bar = _Bar(frames=14)
    for done in range(1, 4):  # the edit mask is tracked first (frames), then G denoises (steps)
        bar(Progress("tracking", done, 9, "tracking the edit mask"))
    for done in range(4, 10):
        bar(Progress("denoising", done, 9, "", window=0, num_windows=1, step=min(done, 8), num_steps=8))
    bar.close()
    text = capsys.readouterr().err
    assert "9/9" in text and "step" in text and "‰" not in text
