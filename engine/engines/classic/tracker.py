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

from engine.engines.classic.flow import base_grid, compose, fb_consistent
from engine.engines.classic.motion import FlowCache, flow_at, sample_points


@runtime_checkable
class MaskTracker(Protocol):
    """Follows several first-frame masks through a clip.

    ``track(frames, first_masks)`` yields ``(t, masks)`` for ``t = 0 .. T-1`` in order,
    ``masks`` being one ``[H, W]`` uint8 (0/255) mask per first mask; frame 0 yields
    the first masks unchanged.
    """

    def track(self, frames: np.ndarray, first_masks: Sequence[np.ndarray]) -> Iterator[tuple[int, list[np.ndarray]]]: ...


class FlowMaskTracker:
    """Tracks masks with dense optical flow, re-anchored to frame 0.

    For frame ``t`` a map ``C_t`` from frame ``t`` back to frame 0 is kept and every
    mask is sampled from the *first-frame* mask through it, so masks never blur by
    repeated resampling. ``C_t`` is the direct flow ``t -> 0`` where that match passes
    a forward-backward check (no drift), else the chained flow ``t -> t-1 -> 0``.
    Occlusion handling: backward sampling alone labels *disoccluded* pixels with the
    occluder's label, so every mask pixel of frame 0 is also pushed forward as a
    particle (re-anchored by the checked direct flow ``0 -> t``); a pixel stays in the
    mask only where particles land nearby. Pixels hidden by another object map back to
    that object in frame 0 and so drop out of the backward sample.

    Args:
        max_side: longer side of the working resolution for flow.
        preset: DIS preset (``ultrafast``, ``fast``, ``medium``).
        anchor_every: compute the direct ``t -> 0`` flow every this many frames
            (1 = every frame; 0 = never, pure chaining).
        anchor_tolerance: largest correction (working pixels) the direct flow may make
            to the chained estimate.
        photo_threshold: grey-level difference above which an untrusted pixel is
            treated as occluded.
        flows: a :class:`FlowCache` of the same frames to share with other stages.
    """

    def __init__(
        self,
        max_side: int = 320,
        preset: str = "medium",
        anchor_every: int = 1,
        anchor_tolerance: float = 3.0,
        photo_threshold: float = 20.0,
        flows: FlowCache | None = None,
    ) -> None:
        if anchor_every < 0:
            raise ValueError(f"anchor_every must be >= 0, got {anchor_every}")
        self.anchor_tolerance = float(anchor_tolerance)
        self.photo_threshold = float(photo_threshold)
        self.max_side, self.preset, self.anchor_every = max_side, preset, anchor_every
        self._flows = flows

    def track(self, frames: np.ndarray, first_masks: Sequence[np.ndarray]) -> Iterator[tuple[int, list[np.ndarray]]]:
        flows = (
            self._flows
            if self._flows is not None and self._flows.frames is frames
            else FlowCache(frames, self.max_side, self.preset)
        )
        h, w = frames.shape[1:3]
        for i, m in enumerate(first_masks):
            if m.shape != (h, w):
                raise ValueError(f"first mask {i} is {m.shape[1]}x{m.shape[0]} but frames are {w}x{h}")
        masks0 = [(m > 0).astype(np.float32) for m in first_masks]
        parts0 = [_component_count(m) for m in first_masks]
        yield 0, [np.where(m > 0.5, np.uint8(255), np.uint8(0)) for m in masks0]
        gw, gh = flows.size
        sx, sy = flows.scale
        # Particles: every working-resolution pixel of each first mask, moved forward.
        seeds = [sample_points(flows.mask_to_working(m) > 0.5, max_points=gw * gh) for m in first_masks]
        particles = [p.copy() for p in seeds]
        to_first = np.zeros((gh, gw, 2), np.float32)  # C_t, working resolution
        trusted = np.ones((gh, gw), bool)  # C_t passed every check along its chain
        gray0 = flows.gray(0).astype(np.float32)
        xs, ys = base_grid(h, w)
        close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        for t in range(1, len(frames)):
            back, fwd = flows.flow(t, t - 1), flows.flow(t - 1, t)
            to_first = compose(back, to_first)
            step_ok = fb_consistent(back, fwd)
            trusted = step_ok & (cv2.remap(trusted.astype(np.float32), *_map(back), cv2.INTER_LINEAR) > 0.99)
            particles = [p + flow_at(fwd, p) for p in particles]
            if self.anchor_every and t % self.anchor_every == 0:
                direct, direct_fwd = flows.flow(t, 0), flows.flow(0, t)
                # Re-anchor only where the direct match is checked AND close to the chained
                # estimate: it corrects drift, it must not jump to a wrong repeat.
                near = np.sum((direct - to_first) ** 2, axis=-1) <= self.anchor_tolerance**2
                anchored = fb_consistent(direct, direct_fwd) & near
                to_first = np.where(anchored[..., None], direct, to_first)
                trusted |= anchored
                ok0 = fb_consistent(direct_fwd, direct)
                for i, p0 in enumerate(seeds):
                    if len(p0):
                        jump = np.sum((p0 + flow_at(direct_fwd, p0) - particles[i]) ** 2, axis=-1)
                        good = _at_points(ok0, p0) & (jump <= self.anchor_tolerance**2)
                        particles[i][good] = p0[good] + flow_at(direct_fwd, p0[good])
            # Untrusted pixels whose colour disagrees with where C_t says they came from
            # are occlusions/disocclusions: they may not inherit a label from frame 0.
            photo = np.abs(flows.gray(t).astype(np.float32) - cv2.remap(gray0, *_map(to_first), cv2.INTER_LINEAR))
            veto = ~trusted & (cv2.GaussianBlur(photo, (5, 5), 0) > self.photo_threshold)
            veto_full = cv2.resize(veto.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
            full = flows.to_full(to_first)
            mapx, mapy = xs + full[..., 0], ys + full[..., 1]
            out = []
            for m0, pts, parts in zip(masks0, particles, parts0, strict=False):
                cov = cv2.remap(m0, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                reach = _splat(pts, gw, gh)
                reach = cv2.morphologyEx(reach, cv2.MORPH_CLOSE, close)
                reach_full = cv2.resize(reach, (w, h), interpolation=cv2.INTER_LINEAR) > 0
                mask = np.where((cov > 0.5) & reach_full & ~veto_full, np.uint8(255), np.uint8(0))
                out.append(drop_specks(mask, keep=parts))
            yield t, out


def _component_count(mask: np.ndarray) -> int:
    """Pieces of a first-frame mask (an object seen through a gap has two)."""
    count, _ = cv2.connectedComponents((mask > 0).astype(np.uint8))
    return max(1, count - 1)


def drop_specks(mask: np.ndarray, keep: int = 1, min_fraction: float = 0.05) -> np.ndarray:
    """Remove stray islands that flow leaves behind (e.g. along an occluder's path).

    The ``keep`` largest components always stay (the object had that many pieces on
    frame 1); any other component stays only if it is at least ``min_fraction`` of the
    largest one.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    if count <= keep + 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(areas)[::-1]
    keep_ids = set((order[:keep] + 1).tolist()) | {i + 1 for i, a in enumerate(areas) if a >= min_fraction * areas.max()}
    return np.where(np.isin(labels, list(keep_ids)), np.uint8(255), np.uint8(0))


def _map(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap coordinate maps for sampling at ``x + flow(x)``."""
    xs, ys = base_grid(*flow.shape[:2])
    return xs + flow[..., 0], ys + flow[..., 1]


def _at_points(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Values of ``image`` at the nearest pixels to float ``points`` (clamped)."""
    h, w = image.shape[:2]
    xi = np.clip(np.rint(points[:, 0]).astype(np.int64), 0, w - 1)
    yi = np.clip(np.rint(points[:, 1]).astype(np.int64), 0, h - 1)
    return image[yi, xi]


def _splat(points: np.ndarray, w: int, h: int) -> np.ndarray:
    """``[h, w]`` uint8 map with 1 at the pixels ``points`` land on (off-image ones dropped)."""
    out = np.zeros((h, w), np.uint8)
    if len(points):
        xi, yi = np.rint(points[:, 0]).astype(np.int64), np.rint(points[:, 1]).astype(np.int64)
        keep = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        out[yi[keep], xi[keep]] = 1
    return out


def _sam2_video_tracker(*args: Any, **kwargs: Any) -> MaskTracker:
    """:class:`~engine.engines.classic.sam2_tracker.Sam2VideoTracker`, imported on first use (torch, sam2)."""
    from engine.engines.classic.sam2_tracker import Sam2VideoTracker

    return Sam2VideoTracker(*args, **kwargs)


TRACKERS: dict[str, Callable[..., MaskTracker]] = {"flow": FlowMaskTracker, "sam2": _sam2_video_tracker}
"""Tracker name (the engine's ``tracker`` option, once ``auto`` is resolved) -> class or factory."""
