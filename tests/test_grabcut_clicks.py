"""A click with the GrabCut fallback gives an object-sized mask or nothing, never a speck under the click.

The clicks are the ones that used to return a blob of a few dozen to a few hundred pixels
(the seed GrabCut always keeps) on real 720p / 1080p footage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.edits.selection.grabcut import GrabCutSelector
from engine.video import open_video

CLICKS = {
    "cockatoo.mp4": [(640, 360), (600, 300), (700, 400), (560, 120)],
    "dog.mp4": [(960, 540), (900, 600)],
}


@pytest.mark.parametrize("clip", sorted(CLICKS))
def test_click_selection_is_object_sized_or_empty(shared_data: Path, clip: str) -> None:
    frame = open_video(shared_data / "clips" / clip)[0]
    selector = GrabCutSelector()
    selector.set_image(frame)
    h, w = frame.shape[:2]
    for x, y in CLICKS[clip]:
        result = selector.predict(np.array([[x, y]], float), np.array([1]))
        area = int((result.best > 0).sum())
        assert area == 0 or area >= 0.005 * h * w, f"{clip} click {(x, y)}: a {area} px speck"
        if area:
            assert result.best[y, x] > 0  # the clicked object, not something beside it
