"""Regenerate resources/samples/coin_edit/: a ready first-frame edit for the sample clip.

The coin on frame 1 is selected with the GrabCut selector from one click (the same path
the GUI's fallback uses), refined, and recoloured to a green hue. Run from the repo root:
    python scripts/make_sample_edit.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.edits import EditSpec, RecolourSpec, masks, save_edit  # noqa: E402
from engine.edits.selection import GrabCutSelector  # noqa: E402
from engine.video import open_video  # noqa: E402

CLIP = ROOT / "resources" / "samples" / "coin.mp4"
OUT = ROOT / "resources" / "samples" / "coin_edit"
COIN_CLICK = (452.0, 148.0)
COIN_BOX = (420.0, 114.0, 489.0, 162.0)


def main() -> None:
    frame = open_video(CLIP)[0]
    selector = GrabCutSelector(reason="sample edit")
    selector.set_image(frame)
    result = selector.predict(np.array([COIN_CLICK]), np.array([1]), box=np.array(COIN_BOX))
    coin = masks.keep_largest_component(masks.fill_holes(result.best))
    spec = EditSpec(
        operations=[RecolourSpec(mask=coin, hue_shift=140.0, saturation=1.6, brightness=1.0)],
        frame_size=(frame.shape[1], frame.shape[0]),
        source="../coin.mp4",
    )
    path = save_edit(spec, OUT)
    print(f"wrote {path} (coin mask: {int((coin > 0).sum())} px)")


if __name__ == "__main__":
    main()
