"""Mask-only tracking of an edit's operations, honouring keyframes (issue 19).

What the GUI uses for (a) a quick preview of the tracked masks over time, before a full
propagation, and (b) re-tracking only the frames a correction changes. It runs the
classic engine's tracker (its ``tracker``, ``flow_preset``, ``flow_max_side``,
``anchor_every``, ``refine_masks``, ``refind``, ``detect_cuts`` options) on the source
clip, with the same keyframe rule as the engine (``engine.engines.classic.keyframe_track``):

- forward from frame 0 and from every keyframe that corrects the operation, until its
  next keyframe;
- backward from every such keyframe over at most ``BLEND_FRAMES`` (8) frames, never past
  the previous keyframe, blended into the forward track (signed-distance morph whose
  keyframe weight rises to 1 at the keyframe);
- after a shot cut the object is searched for again, and a keyframe inside a later shot
  re-anchors that shot.

So a correction (added, changed or removed) at frame ``k`` of operation ``i`` changes
that operation's masks on frames ``max(k - 8, previous keyframe of i + 1, 1)`` up to its next
keyframe (exclusive) or the end of the clip, and nothing else: :func:`retrack_range`
gives that range. With a :class:`TrackCache` kept between calls, a re-track of that
range costs time in proportion to it (runs from unchanged anchors are reused, and a run
cut short by a keyframe resumes where it stopped).

No Qt and no torch at import (SAM2 is imported only when ``tracker="sam2"`` is chosen).
Masks are tracked on the source clip: an operation after an outpaint is tracked inside
the source area of its canvas (its mask there is cropped, tracked and padded back), and
an operation after a removal is tracked on the clip as it is, not on the filled one as
the full engine does, so the full run can differ slightly from this preview there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.edit import EditKind, EditOperation, FirstFrameEdit
from engine.engines.base import CancelToken, Progress, ProgressCallback
from engine.engines.classic.keyframe_track import BLEND_FRAMES, RegionTrack, Run, affected_frames, clip_frame, mask_digest
from engine.engines.classic.motion import FlowCache
from engine.engines.classic.options import ClassicOptions
from engine.video.source import FrameSource
from engine.video.source_frames import SourceFrames

__all__ = ["BLEND_FRAMES", "TrackCache", "retrack_range", "track_operation_masks", "tracked_region"]

_TRACKED = {EditKind.TRACK, EditKind.RECOLOUR, EditKind.REMOVE, EditKind.REPLACE}


def tracked_region(op: EditOperation) -> np.ndarray | None:
    """The frame-1 mask the engine tracks for ``op`` (``None``: the op has no tracked region).

    Track/recolour/remove: the selected object (``source_mask``, else ``mask``); replace: the
    removed object; insert and outpaint: ``None`` (a layer is moved by its surface's
    homography, not tracked; outpaint margins do not move).
    """
    if op.kind not in _TRACKED:
        return None
    if op.kind is EditKind.REPLACE:
        return op.source_mask
    return op.source_mask if op.source_mask is not None else op.mask


def _offsets(edit: FirstFrameEdit) -> list[tuple[int, int]]:
    """(x, y) of the source frame inside each operation's canvas."""
    x = y = 0
    out = []
    for op in edit.operations:
        if op.kind is EditKind.OUTPAINT:
            x, y = x + int(op.params.get("left", 0)), y + int(op.params.get("top", 0))
        out.append((x, y))
    return out


@dataclass
class TrackCache:
    """Tracking kept between calls for one clip (runs per operation, shot cuts); pass the same one each time.

    Reset by itself when the clip, the options or an operation's frame-1 mask change.
    Holds each kept run's compressed masks and its tracker state (for a flow run about
    ten full-resolution float planes), so keep one per open clip.
    """

    key: tuple = ()
    cuts: list[int] | None = None
    runs: dict[int, dict[tuple, Run]] = field(default_factory=dict)
    refound: dict[int, dict[tuple, Any]] = field(default_factory=dict)
    flows: FlowCache | None = None

    def bind(self, key: tuple) -> None:
        if key != self.key:
            self.key, self.cuts, self.runs, self.refound, self.flows = key, None, {}, {}, None


def retrack_range(edit: FirstFrameEdit, frame: int, count: int, op_index: int | None = None) -> tuple[int, int]:
    """``[start, stop)``: the frames whose masks change when the keyframe at ``frame`` is added, changed or removed.

    Per operation ``i`` it is ``max(frame - BLEND_FRAMES, previous keyframe of i + 1, 1)`` to the next
    keyframe of ``i`` after ``frame`` (or ``count``); ``op_index=None``: the union over the operations
    (those the keyframe at ``frame`` corrects in ``edit``, or all tracked ones when ``edit`` has none there).
    """
    at = next((k for k in edit.keyframes if k.frame == frame), None)
    if op_index is not None:
        indices = [op_index]
    elif at is not None and at.masks:
        indices = sorted(at.masks)
    else:
        indices = [i for i, op in enumerate(edit.operations) if tracked_region(op) is not None]
    ranges = [affected_frames([k.frame for k in edit.keyframes if i in k.masks], frame, count) for i in indices]
    if not ranges:
        return frame, frame
    return min(a for a, _ in ranges), max(b for _, b in ranges)


def _crop(mask: np.ndarray, offset: tuple[int, int], hw: tuple[int, int]) -> np.ndarray:
    x, y = offset
    return np.ascontiguousarray(mask[y : y + hw[0], x : x + hw[1]])


def _pad(mask: np.ndarray, offset: tuple[int, int], canvas_hw: tuple[int, int]) -> np.ndarray:
    if mask.shape == canvas_hw:
        return mask
    out = np.zeros(canvas_hw, np.uint8)
    x, y = offset
    out[y : y + mask.shape[0], x : x + mask.shape[1]] = mask
    return out


def _start_run_factory(opts: ClassicOptions, edit: FirstFrameEdit) -> Callable:
    """A ``start_run(cover)`` -> :data:`~engine.engines.classic.keyframe_track.StartRun` for the chosen tracker."""
    from engine.engines.classic.tracker import TRACKERS, FlowMaskTracker
    from engine.engines.classic.tracker_choice import choose_tracker, sam2_working_size, tracked_object_names

    choice = choose_tracker(opts.tracker, opts.sam2_model, opts.sam2_checkpoint, opts.model_dirs, opts.sam2_device)
    sam2 = None
    if choice.name != "flow":
        sam2 = TRACKERS["sam2"](
            choice.checkpoint,
            image_size=sam2_working_size(opts.sam2_resolution),
            device=opts.sam2_device,
            object_names=tracked_object_names(edit.operations),
        )

    def factory(cover: bool, name: str) -> Callable:
        def start_run(view: FlowCache, mask: np.ndarray, reference):  # noqa: ANN001, ANN202 - StartRun
            if sam2 is not None:
                steps = sam2.track(view.frames, [mask], names=[name], to_clip=lambda t: clip_frame(view, t))
                return (masks[0] for _, masks in steps), sam2
            tracker = FlowMaskTracker(
                anchor_every=opts.anchor_every, flows=view, refine=opts.refine_masks, refind=opts.refind, cover=cover
            )
            return (masks[0] for _, masks in tracker.track(view.frames, [mask], [reference])), tracker

        return start_run

    return factory


def track_operation_masks(
    clip: FrameSource,
    edit: FirstFrameEdit,
    options: dict[str, Any] | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    cache: TrackCache | None = None,
) -> Iterator[tuple[int, list[np.ndarray | None]]]:
    """Yield ``(t, masks)`` for ``t`` in ``start..stop-1``: one mask per operation of ``edit``.

    Args:
        clip: the source clip (its frame 0 is the edited frame).
        edit: the edit, with its keyframes (``edit.keyframes``).
        options: the classic engine's options (``ClassicOptions``; only its tracking ones matter).
        start / stop: the frame range to yield (``stop=None``: the end). A re-track after a
            correction at ``k`` passes :func:`retrack_range` ``(edit, k, len(clip))``.
        progress: called with a :class:`Progress` per yielded frame (stage ``"mask track"``).
        cancel: checked before every tracked frame (raises ``Cancelled``).
        cache: kept between calls so a re-track reuses what did not change; one call at a
            time per cache (a GUI cancels the stale call before starting the next). A call
            closed early (cancelled, or the generator dropped) leaves the cache usable.

    Yields:
        ``(t, masks)``: ``masks[i]`` is ``[H_i, W_i]`` uint8 (0/255) in operation ``i``'s own
        mask coordinates (its canvas), or ``None`` for an operation with no tracked region
        (insert, outpaint; see :func:`tracked_region`).

    Raises:
        ValueError: bad options, a clip that does not fit the edit, a range outside the clip.
    """
    opts = ClassicOptions.from_dict(options)
    n = len(clip)
    stop = n if stop is None else stop
    if not 0 <= start <= stop <= n:
        raise ValueError(f"frame range {start}..{stop} is outside a clip of {n} frames")
    w, h = clip.size
    if edit.original_frame.shape[:2] != (h, w):
        raise ValueError(
            f"edit was made on a {edit.original_frame.shape[1]}x{edit.original_frame.shape[0]} frame but the clip is {w}x{h}"
        )
    for k in edit.keyframes:
        if k.frame >= n:
            raise ValueError(f"keyframe {k.frame} is beyond the clip, which has {n} frames")
    cache = cache if cache is not None else TrackCache()
    regions = [tracked_region(op) for op in edit.operations]
    offsets = _offsets(edit)
    opts_key = tuple(
        getattr(opts, f)
        for f in (
            "tracker",
            "flow_preset",
            "flow_max_side",
            "anchor_every",
            "refine_masks",
            "refind",
            "detect_cuts",
            "sam2_model",
        )
    )
    region_keys = tuple(None if r is None else mask_digest(r) for r in regions)
    frame0 = hashlib.blake2b(np.ascontiguousarray(clip[0]).tobytes(), digest_size=8).hexdigest()
    cache.bind((id(clip), n, (w, h), frame0, opts_key, region_keys))
    frames = SourceFrames(clip)
    if cache.flows is None:
        cache.flows = FlowCache(frames, opts.flow_max_side, opts.flow_preset)
    flows = cache.flows
    check = cancel.raise_if_cancelled if cancel is not None else None
    if cache.cuts is None:
        from engine.engines.classic.shots import detect_cuts

        cache.cuts = detect_cuts(flows, check or (lambda: None)) if opts.detect_cuts else []
    from engine.engines.classic.shots import shot_ranges

    shots = shot_ranges(cache.cuts, n)
    factory = _start_run_factory(opts, edit)
    tracks: list[RegionTrack | None] = []
    for i, (op, region) in enumerate(zip(edit.operations, regions, strict=True)):
        if region is None:
            tracks.append(None)
            continue
        keyframes = {k.frame: _crop(k.masks[i], offsets[i], (h, w)) for k in edit.keyframes if i in k.masks}
        runs = cache.runs.setdefault(i, {})
        track = RegionTrack(
            flows,
            shots,
            _crop(region, offsets[i], (h, w)),
            keyframes,
            factory(opts.remove_cover and op.kind in (EditKind.REMOVE, EditKind.REPLACE), f"operation {i + 1} ({op.kind.value})"),
            refind=_refinder(frames) if opts.refind else None,
            runs=runs,
            refound=cache.refound.setdefault(i, {}),
        )
        tracks.append(track)
    total = stop - start
    try:
        for t in range(start, stop):
            if check is not None:
                check()
            out: list[np.ndarray | None] = []
            for i, track in enumerate(tracks):
                if track is None:
                    out.append(None)
                    continue
                out.append(_pad(track.mask(t, check), offsets[i], edit.operations[i].mask.shape))
            if progress is not None:
                done = t - start + 1
                progress(Progress("mask track", done, total, f"mask track: {done}/{total}"))
            yield t, out
    finally:
        for i, track in enumerate(tracks):
            if track is not None:  # runs from anchors no longer in the edit are dropped
                runs = cache.runs[i]
                for key in [key for key in runs if key not in track.used and not _still_anchored(key, track)]:
                    del runs[key]


def _still_anchored(key: tuple, track: RegionTrack) -> bool:
    """Whether a kept run starts at one of ``track``'s current anchors (kept for a later request)."""
    _, frame, digest = key[:3]
    if any(a.frame == frame and mask_digest(a.mask) == digest for anchors in track._anchors.values() for a in anchors):
        return True
    if frame == 0:
        return digest == mask_digest(track.first)
    m = track.keyframes.get(frame)
    return m is not None and digest == mask_digest(m)


def _refinder(frames: Any) -> Callable:
    """The engine's re-find rule: the first frame of ``start..stop-1`` where the last appearance is found."""
    from engine.engines.classic.refind import find_object

    def refind(look_frame: np.ndarray, look_mask: np.ndarray, s: int, e: int) -> tuple[int, np.ndarray] | None:
        for t in range(s, e):
            mask = find_object(look_frame, look_mask, frames[t])
            if mask is not None:
                return t, np.where(mask > 0, np.uint8(255), np.uint8(0))
        return None

    return refind
