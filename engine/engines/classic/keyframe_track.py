"""One region followed through a clip from its first-frame mask and the user's keyframe corrections (issue 19).

Within a shot the region has *anchors*: frame 0's mask (or, in a later shot, where the
object was found again after the cut) and every keyframe that corrects this region.
From each anchor a forward run tracks until the next anchor; from each keyframe a
backward run tracks at most ``blend`` frames back (never past the previous anchor or the
shot's start). Over those frames the two runs are blended by their signed distance
fields, the keyframe's weight rising linearly to 1 at the keyframe, so the mask morphs
into the correction instead of jumping (only where the two agree: ``band_mask``). A run
from a keyframe is given the shot's first look of the object as a reference, which the
flow tracker keeps as its anchor where it still matches, so a correction on a partly
occluded frame does not leave the mask partial once the object is whole again.

The bound is deliberate: a keyframe at ``k`` changes only frames ``k - blend .. `` up to
the region's next keyframe (or the end of the clip), so a re-track after a correction
costs time in proportion to those frames (``engine.engines.mask_track``).

Runs are lazy (a run is tracked only as far as a frame is asked of it) and can be kept
between calls in a ``runs`` dict keyed by the anchor and its mask: a tracker's mask at
frame ``t`` depends only on frames up to ``t``, so a kept run serves any later request
from the same anchor, and a run cut short by a new keyframe resumes where it stopped
when that keyframe is removed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from engine.engines.classic.motion import FlowCache, FlowView
from engine.engines.packed_masks import pack_mask, unpack_mask

BLEND_FRAMES = 8
"""Frames before a keyframe over which its backward track blends into the forward one."""

StartRun = Callable[[FlowCache, np.ndarray, "tuple[np.ndarray, np.ndarray] | None"], tuple[Iterator[np.ndarray], Any]]
"""``(view, first_mask, reference) -> (masks of the view's frames 0, 1, ..., the tracker)``: one tracker run.

``view`` is a :class:`FlowCache` of the run's frames in the run's order (``view.frames``), sharing
the clip's flows; ``first_mask`` is the mask on its frame 0; ``reference``: for a run from a keyframe,
the shot's first look of the object ``(frame, mask)`` (frame 1's edit, or where it was found again),
which the flow tracker keeps as its anchor where it still matches (an occluded correction stays whole)."""


def mask_digest(mask: np.ndarray) -> str:
    """A short content key of a mask (which run an anchor starts)."""
    return hashlib.blake2b(np.ascontiguousarray(mask > 0).tobytes(), digest_size=12).hexdigest()


def _binary(mask: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(mask) > 0, np.uint8(255), np.uint8(0))


class ReversedFrames:
    """Frames ``top, top-1, ..., bottom`` of ``frames`` indexed from 0 (read on demand)."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, frames: Any, top: int, bottom: int) -> None:
        if not 0 <= bottom <= top < len(frames):
            raise ValueError(f"reversed range {top}..{bottom} is outside a clip of {len(frames)} frames")
        self._frames, self.top, self.bottom = frames, top, bottom
        self.shape = (top - bottom + 1, *frames.shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"frame {index} out of range: {len(self)} frames")
        return self._frames[self.top - i]


class ReversedFlowView(FlowView):
    """Frames ``top`` down to ``bottom`` of a :class:`FlowCache` as a clip of their own, sharing its flows."""

    def __init__(self, parent: FlowCache, top: int, bottom: int) -> None:  # noqa: D107 - no FlowCache.__init__
        self.parent, self.top = parent, top
        self.frames = ReversedFrames(parent.frames, top, bottom)
        self.full_size, self.size = parent.full_size, parent.size

    def gray(self, t: int) -> np.ndarray:
        return self.parent.gray(self.top - t)

    def flow(self, a: int, b: int) -> np.ndarray:
        return self.parent.flow(self.top - a, self.top - b)


def clip_frame(view: FlowCache, t: int) -> int:
    """The clip frame of frame ``t`` of a run's ``view`` (forward views count up, reversed ones down)."""
    if isinstance(view, ReversedFlowView):
        return view.top - t
    if isinstance(view, FlowView):
        return view.start + t
    return t


class Run:
    """One tracker run from an anchor, forward or backward, tracked lazily and kept compressed."""

    def __init__(
        self, view: FlowCache, mask: np.ndarray, start_run: StartRun, reference: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:
        self._view, self._frames, self._first, self._start_run = view, view.frames, mask, start_run
        self._reference = reference
        self._masks: list[bytes] = []
        self._iter: Iterator[np.ndarray] | None = None
        self.tracker: Any = None
        self._hw = mask.shape

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def done(self) -> int:
        """How many frames of the run are tracked so far."""
        return len(self._masks)

    def get(self, i: int, check: Callable[[], None] | None = None) -> np.ndarray:
        """The mask ``i`` frames from the anchor (tracking on until there)."""
        if not 0 <= i < len(self._frames):
            raise IndexError(f"run step {i} out of range: the run has {len(self._frames)} frames")
        if self._iter is None and not self._masks:
            self._iter, self.tracker = self._start_run(self._view, self._first, self._reference)
        while len(self._masks) <= i:
            if check is not None and self._masks:
                check()
            try:
                mask = next(self._iter)
            except BaseException:
                # A tracker that failed mid-run cannot go on: start afresh when asked again.
                self._iter, self.tracker, self._masks = None, None, []
                raise
            self._masks.append(pack_mask(_binary(mask)))
        return unpack_mask(self._masks[i], self._hw)


def _sdf(mask: np.ndarray) -> np.ndarray:
    inside = mask > 0
    d_in = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 3)
    d_out = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 3)
    return d_in - d_out


def blend_masks(forward: np.ndarray, backward: np.ndarray, weight: float) -> np.ndarray:
    """``forward`` morphed towards ``backward`` by ``weight`` (0..1) through their signed distances.

    An empty side (the object lost there) gives way to the other: blending with nothing
    would only shrink the region it does have.
    """
    f, b = forward > 0, backward > 0
    if not f.any() or weight >= 1.0:
        return _binary(b if b.any() or weight >= 1.0 else f)
    if not b.any() or weight <= 0.0:
        return _binary(f)
    return _binary((1.0 - weight) * _sdf(forward) + weight * _sdf(backward) > 0)


BAND_AGREEMENT = 0.6
"""Least IoU of the forward and the backward track on a band frame for them to be blended there."""


def band_mask(forward: np.ndarray, backward: np.ndarray, weight: float) -> np.ndarray:
    """A band frame before a keyframe: the forward track morphed towards the backward one where they agree.

    Where they disagree (IoU below :data:`BAND_AGREEMENT`) the forward track stays: a backward run that lost
    a fast object, or started from a part of it (a correction on an occluded frame), must not spoil frames
    the forward track got right. An empty forward track (the object lost) takes the backward one.
    """
    f, b = forward > 0, backward > 0
    if f.any() and b.any():
        union = np.logical_or(f, b).sum()
        if np.logical_and(f, b).sum() < BAND_AGREEMENT * union:
            return _binary(f)
    return blend_masks(forward, backward, weight)


@dataclass(frozen=True)
class Anchor:
    """Where a region's track starts afresh: a frame, its mask there, and whether the user gave it (a keyframe)."""

    frame: int
    mask: np.ndarray
    keyframe: bool

    @property
    def key(self) -> tuple[int, str]:
        return self.frame, mask_digest(self.mask)


@dataclass
class Note:
    """Something a user should hear about the region at a frame ("found again after the cut" ...)."""

    frame: int
    kind: str  # "not found after cut" | "found again" | a tracker event ("lost", "left the frame", "found again")
    shot_start: int = -1


@dataclass
class RegionTrack:
    """A region's masks over a clip: forward from every anchor, backward ``blend`` frames from every keyframe.

    Args:
        flows: the clip's :class:`FlowCache` (its ``frames`` are the tracked clip).
        shots: ``(start, end)`` of each shot, covering the clip.
        first: ``[H, W]`` mask on frame 0.
        keyframes: frame -> ``[H, W]`` corrected mask of this region (frames >= 1).
        start_run: starts one tracker run (see :data:`StartRun`).
        refind: ``(appearance_frame, appearance_mask, start, stop) -> (t, mask) | None``: where the
            object is found again in frames ``start..stop-1`` after a cut; ``None``: never.
        blend: frames of backward blending before each keyframe (0 = none, forward only).
        runs: kept runs (key -> :class:`Run`), shared between calls to reuse tracking.
        refound: kept re-find results, shared the same way.
    """

    flows: FlowCache
    shots: list[tuple[int, int]]
    first: np.ndarray
    keyframes: dict[int, np.ndarray]
    start_run: StartRun
    refind: Callable[[np.ndarray, np.ndarray, int, int], tuple[int, np.ndarray] | None] | None = None
    blend: int = BLEND_FRAMES
    runs: dict[tuple, Run] = field(default_factory=dict)
    refound: dict[tuple, tuple[int, np.ndarray] | None] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    used: set[tuple] = field(default_factory=set)

    def __post_init__(self) -> None:
        n = len(self.flows)
        for k in self.keyframes:
            if not 0 < k < n:
                raise ValueError(f"keyframe {k} is outside the clip (frames 1..{n - 1})")
        self._anchors: dict[int, list[Anchor]] = {}
        self._appearance: dict[int, tuple[np.ndarray, np.ndarray] | None] = {}

    # -- anchors ---------------------------------------------------------------------
    def anchors(self, shot: int) -> list[Anchor]:
        """The anchors of shot ``shot``, in frame order (the re-found one needs the shots before it)."""
        if shot in self._anchors:
            return self._anchors[shot]
        s, e = self.shots[shot]
        keys = [Anchor(k, _binary(m), True) for k, m in sorted(self.keyframes.items()) if s <= k < e]
        out: list[Anchor] = []
        if shot == 0:
            out.append(Anchor(0, _binary(self.first), False))
        else:
            limit = keys[0].frame if keys else e
            look = self.appearance(shot - 1)
            found = None
            if self.refind is not None and look is not None and limit > s:
                digest = hashlib.blake2b(np.ascontiguousarray(look[0]).tobytes(), digest_size=8).hexdigest()
                key = (s, limit, mask_digest(look[1]), digest)
                if key not in self.refound:
                    self.refound[key] = self.refind(look[0], look[1], s, limit)
                found = self.refound[key]
            if found is not None:
                self.notes.append(Note(found[0], "found again after cut", s))
                out.append(Anchor(found[0], _binary(found[1]), False))
            elif limit > s:
                self.notes.append(Note(s, "not found after cut", s))
        out = [a for a in out if not keys or a.frame < keys[0].frame] + keys
        self._anchors[shot] = out
        return out

    def appearance(self, shot: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(frame, mask) where the region was last seen in shots ``..shot`` (what is searched for after a cut)."""
        if shot < 0:
            return None
        if shot not in self._appearance:
            s, e = self.shots[shot]
            found = None
            if self.anchors(shot):
                for t in range(e - 1, s - 1, -1):
                    m = self.mask(t)
                    if m.any():
                        found = (self.flows.frames[t], m > 0)
                        break
            self._appearance[shot] = found if found is not None else self.appearance(shot - 1)
        return self._appearance[shot]

    # -- runs ------------------------------------------------------------------------
    def _reference(self, anchor: Anchor, shot: int) -> tuple[tuple[np.ndarray, np.ndarray] | None, str]:
        """(the shot's first look of the object for a run from a keyframe, its key); (None, "") otherwise."""
        if not anchor.keyframe:
            return None, ""
        first = next((a for a in self.anchors(shot) if not a.keyframe), None)
        if first is None:
            return None, ""
        return (self.flows.frames[first.frame], first.mask), f"{first.frame}:{mask_digest(first.mask)}"

    def _run(self, anchor: Anchor, forward: bool, end: int, check: Callable[[], None] | None) -> Run:
        shot = next(i for i, (s, e) in enumerate(self.shots) if s <= anchor.frame < e)
        reference, ref_key = self._reference(anchor, shot)
        key = ("fwd" if forward else "bwd", *anchor.key, end, ref_key)
        self.used.add(key)
        run = self.runs.get(key)
        if run is None:
            view = self.flows.view(anchor.frame, end) if forward else ReversedFlowView(self.flows, anchor.frame, end)
            run = self.runs[key] = Run(view, anchor.mask, self.start_run, reference)
        return run

    def mask(self, t: int, check: Callable[[], None] | None = None) -> np.ndarray:
        """The region's mask on frame ``t``."""
        shot = next(i for i, (s, e) in enumerate(self.shots) if s <= t < e)
        s, e = self.shots[shot]
        anchors = self.anchors(shot)
        before = [a for a in anchors if a.frame <= t]
        after = [a for a in anchors if a.frame > t]
        empty = np.zeros(self.first.shape, np.uint8)
        current = self._run(before[-1], True, e, check).get(t - before[-1].frame, check) if before else empty
        if after and after[0].keyframe and self.blend > 0:
            k = after[0].frame
            band_start = max(before[-1].frame + 1 if before else s, k - self.blend)
            if t >= band_start:
                back = self._run(after[0], False, s, check).get(k - t, check)
                weight = (t - band_start + 1) / (k - band_start + 1)
                return band_mask(current, back, weight)
        return current

    def masks(
        self, start: int = 0, stop: int | None = None, check: Callable[[], None] | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(t, mask)`` for ``t`` in ``start..stop-1``."""
        stop = len(self.flows) if stop is None else stop
        for t in range(start, stop):
            yield t, self.mask(t, check)

    def tracker_events(self) -> list[tuple[int, str]]:
        """(clip frame, event) the forward runs reported on the frames they were used for."""
        out = []
        for shot, (_, e) in enumerate(self.shots):
            anchors = self._anchors.get(shot, [])
            for i, a in enumerate(anchors):
                run = self.runs.get(("fwd", *a.key, e, self._reference(a, shot)[1]))
                if run is None or run.tracker is None:
                    continue
                until = anchors[i + 1].frame if i + 1 < len(anchors) else e
                for t, _, event in getattr(run.tracker, "events", []):
                    if a.frame + t < until:
                        out.append((a.frame + t, event))
        return sorted(out)


def affected_frames(keyframe_frames: list[int], frame: int, count: int, blend: int = BLEND_FRAMES) -> tuple[int, int]:
    """``[start, stop)`` of the frames whose mask a change of the keyframe at ``frame`` can change.

    ``keyframe_frames``: the frames of the region's other keyframes (the changed one may be
    among them). From ``frame - blend`` (not before the previous keyframe + 1, nor frame 1)
    to the next keyframe after ``frame`` (or the end).
    """
    others = sorted(k for k in keyframe_frames if k != frame)
    prev = max((k for k in others if k < frame), default=0)
    nxt = min((k for k in others if k > frame), default=count)
    return max(prev + 1, frame - blend, 1), min(nxt, count)
