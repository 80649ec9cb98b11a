"""Lift the moved shadow over a removal's never-seen pixels on every frame.

A removal fills a hole pixel from another frame where its ground is visible; a pixel no
frame shows carries the previous output (in the end the user's frame-1 fill) along the
flow. Under the removed object's cast shadow that carry is stale: the ground is there
on this very frame, only darker (a shadow hides nothing). The frame-1 remove tool lifts
the painted shadow (``engine.edits.shadow_lift``); this lifts the same shadow, moved
with the object, on later frames, over the pixels that would otherwise keep the carry,
with the same gain (the local mean of this frame's shadowed pixels over that of the
carried fill, so the fill's colour stays and the frame's texture returns: grass, a
tripod's legs). Pixels copied from other frames keep their copy: relighting those
measured worse wherever the moved shadow mask is misplaced (a fast object).
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.edits.shadow_lift import lift_shadow

SHADOW_REACH_PX = 8
"""How far past the moved shadow mask a never-seen pixel still counts as under the shadow
(the mask is the frame-1 painting moved by the object's fit, a few pixels off on later frames)."""


def lift_unseen_shadow(
    frame: np.ndarray, filled: np.ndarray, unseen: np.ndarray, shadow: np.ndarray, obj: np.ndarray
) -> np.ndarray:
    """``filled`` with its ``unseen`` pixels near ``shadow`` lifted from ``frame`` (all ``[H, W]`` masks bool).

    ``frame``: the observed frame (the object and its shadow in it); ``filled``: the removal's
    output for it; ``unseen``: the hole pixels no other frame showed (carried or inpainted);
    ``shadow``: the painted shadow moved to this frame; ``obj``: the tracked object (never lifted).
    Unchanged where the zone does not darken the ground (``lift_shadow``'s test).
    """
    if not unseen.any() or not shadow.any():
        return filled
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * SHADOW_REACH_PX + 1,) * 2)
    zone = (cv2.dilate(shadow.astype(np.uint8), k) > 0) & unseen
    lifted, _ = lift_shadow(frame, filled, zone.astype(np.uint8), obj)
    return lifted
