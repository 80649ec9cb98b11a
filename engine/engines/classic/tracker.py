"""Mask trackers: the pluggable part that follows edited regions through a clip.

A :class:`MaskTracker` turns first-frame masks into per-frame masks, as a generator so
the engine can report progress and honour cancellation between frames. The default,
:class:`FlowMaskTracker`, needs no weights. SAM2's video predictor is
``engine.engines.classic.sam2_tracker.Sam2VideoTracker`` (imported only when used, so
the flow tracker never loads torch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from engine.engines.classic.flow import base_grid, fb_consistent
from engine.engines.classic.motion import FlowCache
from engine.engines.classic.object_tracker import Frame, TrackedObject, drop_specks
from engine.engines.classic.segment import texture_weight

__all__ = ["TRACKERS", "FlowMaskTracker", "MaskTracker", "drop_specks"]


@runtime_checkable
class MaskTracker(Protocol):
    """Follows several first-frame masks through a clip.

    ``track(frames, first_masks)`` yields ``(t, masks)`` for ``t = 0 .. T-1`` in order,
    ``masks`` being one ``[H, W]`` uint8 (0/255) mask per first mask; frame 0 yields
    the first masks unchanged.
    """

    def track(self, frames: np.ndarray, first_masks: Sequence[np.ndarray]) -> Iterator[tuple[int, list[np.ndarray]]]: ...


class FlowMaskTracker:
    """Tracks masks with optical flow, corrected every frame by what the frame shows.

    For each object and frame ``t`` the previous mask is carried forward three ways:
    by the dense flow (follows deformation where flow is measured), by the region's
    affine motion (carries untextured attached parts such as a shadow) and by the
    object's affine map from frame 1, re-anchored by matching frame-1 points directly
    into frame ``t`` (no drift). These make a prior: the dense warp where flow passes
    its forward-backward check on textured pixels, the parametric ones elsewhere
    (occluded, uncovered, flat pixels); pixels that come into view across the frame
    border get an open prior. The prior is then combined with a colour model of object
    vs surroundings and with motion evidence (does the pixel move like the object or
    like the camera?), smoothed with a guided filter so the mask snaps to image edges,
    thresholded, and cleaned of islands not connected to the predicted object.

    A small object (longer side up to 96 px) is also searched for every frame by its look on
    the run's first frame (frame 1's, or a keyframe's correction) near a constant-velocity
    prediction: where the flow left it behind (it moves about its own size per frame), the
    start mask moved to a clear match replaces the flow's (``look_search``).

    A mask that collapses while the object should still be in view is reported as lost
    (``events``) and, when ``refind`` is on, searched for again by its appearance;
    until found it stays empty: a lost object is never painted elsewhere.

    Args:
        max_side / preset: working resolution and DIS preset of the flow.
        anchor_every: re-anchor to frame 1 every this many frames (0 = never).
        flows: a :class:`FlowCache` of the same frames to share with other stages.
        refine: use colour, motion and edges (False = the warped prior alone).
        colour_weight / motion_weight: weights of those cues against the prior.
        refind: search for a lost object again.
        cover: for a region to remove: keep everything that moves with the object
            (its frame-1 footprint moved rigidly), not only what looks like it.
        look_search: search a small object by its look on the run's first frame near a
            constant-velocity prediction every frame, and take that where the flow lost it
            (``engine.engines.classic.look_search``).
    """

    def __init__(
        self,
        max_side: int = 320,
        preset: str = "medium",
        anchor_every: int = 1,
        flows: FlowCache | None = None,
        *,
        refine: bool = True,
        colour_weight: float = 0.8,
        motion_weight: float = 3.0,
        refind: bool = True,
        cover: bool = False,
        look_search: bool = True,
    ) -> None:
        if anchor_every < 0:
            raise ValueError(f"anchor_every must be >= 0, got {anchor_every}")
        self.max_side, self.preset, self.anchor_every = max_side, preset, anchor_every
        self.refine, self.colour_weight, self.motion_weight, self.refind = refine, colour_weight, motion_weight, refind
        self.cover, self.look_search = cover, look_search
        self._flows = flows
        self.events: list[tuple[int, int, str]] = []
        """``(frame index, object index, what)`` during the last ``track``: "lost", "left the frame", "found again"."""

    def track(
        self,
        frames: np.ndarray,
        first_masks: Sequence[np.ndarray],
        references: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
    ) -> Iterator[tuple[int, list[np.ndarray]]]:
        """Yield ``(t, masks)``; ``references[i]``: an earlier ``(frame, mask)`` of object ``i`` (a keyframe
        run's first look, ``engine.engines.classic.keyframe_track``) kept as its anchor where it still matches."""
        flows = (
            self._flows
            if self._flows is not None and self._flows.frames is frames
            else FlowCache(frames, self.max_side, self.preset)
        )
        h, w = frames.shape[1:3]
        for i, m in enumerate(first_masks):
            if m.shape != (h, w):
                raise ValueError(f"first mask {i} is {m.shape[1]}x{m.shape[0]} but frames are {w}x{h}")
        self.events = []
        refs = list(references) if references is not None else [None] * len(first_masks)
        objects = [TrackedObject(i, np.asarray(m) > 0, frames[0], flows, self, refs[i]) for i, m in enumerate(first_masks)]
        yield 0, [np.where(np.asarray(m) > 0, np.uint8(255), np.uint8(0)) for m in first_masks]
        xs, ys = base_grid(h, w)
        for t in range(1, len(frames)):
            back, fwd = flows.flow(t, t - 1), flows.flow(t - 1, t)
            ok = fb_consistent(back, fwd)
            taken = np.zeros(flows.size[::-1], bool)
            for o in objects:
                taken |= o.small_mask(dilate=5)
            full_back = flows.to_full(back)
            ctx = Frame(
                t=t,
                frame=frames[t],
                grey=flows.gray(t),
                back=back,
                fwd=fwd,
                full_back=full_back,
                ok_full=cv2.resize(ok.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0,
                texture_full=cv2.resize(texture_weight(flows.gray(t)), (w, h), interpolation=cv2.INTER_LINEAR),
                taken=taken,
                ok=ok,
                map_x=xs + full_back[..., 0],
                map_y=ys + full_back[..., 1],
            )
            out = []
            for o in objects:
                out.append(o.step(ctx))
                self.events += o.take_events()
            yield t, out


def _sam2_video_tracker(*args: Any, **kwargs: Any) -> MaskTracker:
    """:class:`~engine.engines.classic.sam2_tracker.Sam2VideoTracker`, imported on first use (torch, sam2)."""
    from engine.engines.classic.sam2_tracker import Sam2VideoTracker

    return Sam2VideoTracker(*args, **kwargs)


TRACKERS: dict[str, Callable[..., MaskTracker]] = {"flow": FlowMaskTracker, "sam2": _sam2_video_tracker}
"""Tracker name (the engine's ``tracker`` option) -> factory."""
