"""The ``propagate`` progress bar counts the engine's own units (frames or steps), not per-mille."""

from __future__ import annotations

from app.commands.propagate import _Bar
from engine.engines.base import Progress


def test_bar_counts_frames_for_the_classic_engine(capsys) -> None:  # type: ignore[no-untyped-def]
    bar = _Bar()
    for done in range(1, 91):
        bar(Progress("recolour (1/1)", done, 90, f"recolour (1/1): {done}/90"))
    bar.close()
    text = capsys.readouterr().err
    assert "90/90" in text and "frame" in text and "‰" not in text and "/1000" not in text


def test_bar_counts_denoising_steps_for_genprop(capsys) -> None:  # type: ignore[no-untyped-def]
    bar = _Bar()
    for done in range(1, 10):
        bar(Progress("denoising", done, 9, "", window=0, num_windows=1, step=min(done, 8), num_steps=8))
    bar.close()
    text = capsys.readouterr().err
    assert "9/9" in text and "step" in text and "‰" not in text
