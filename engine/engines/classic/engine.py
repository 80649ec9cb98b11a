"""The classic propagation engine: classical computer vision, CPU only, no weights.

Steps of :meth:`ClassicEngine.propagate`:

1. check inputs and options, read the clip (into memory for :meth:`ClassicEngine.propagate`,
   into a frame spool on disk for :meth:`ClassicEngine.propagate_to`, which streams);
2. find shot cuts (``shots``): no edit crosses one. A tracked object is searched for
   again after a cut by its appearance; if it is not found the edit stops there. An
   inserted layer stops at the first cut; outpaint and removal use frames of the same
   shot only;
3. apply the operations in the user's order to the whole clip, each op's per-frame
   masks tracked on the clip as it stands before that op:
   outpaint (camera homographies + multi-frame fill), remove/replace (tracked hole +
   flow-guided fill), track/recolour (tracked mask + the same colour transform),
   insert/replace (layer moved by the surface's homography);
4. return the frames, the union of every op's mask per frame, per-op masks in
   ``extras["operation_masks"]``, ``extras["shot_cuts"]`` (frame indices where a new
   shot starts), ``extras["warnings"]`` (what the user should know, with 1-based frame
   numbers) and ``extras["frame_notes"]`` (frame index -> what happened there).

Progress counts frames: one per frame read plus one per frame per op (two sweeps
for removal), so it is monotonic; the cancel token is checked on every frame.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from engine.disk_room import DiskNeed
from engine.edit import EditKind, EditOperation, FirstFrameEdit
from engine.engines.base import (
    CancelToken,
    Engine,
    Progress,
    ProgressCallback,
    PropagationResult,
    StageTimer,
)
from engine.engines.classic.colour import frame_transform
from engine.engines.classic.disk_needs import classic_disk_needs
from engine.engines.classic.extras import extras_in_shots
from engine.engines.classic.insert import composite_layer, layer_homographies
from engine.engines.classic.keyframe_edits import colour_anchors, edited_frame_at, edited_keyframes, keyframe_layer
from engine.engines.classic.keyframe_track import RegionTrack, clip_frame
from engine.engines.classic.motion import FlowCache
from engine.engines.classic.options import ClassicOptions
from engine.engines.classic.outpaint import blend_seam, camera_homographies, fill_canvas
from engine.engines.classic.remove import FROM_PREVIOUS_OUTPUT, fill_frames
from engine.engines.classic.shots import detect_cuts, shot_ranges
from engine.engines.classic.tracker import TRACKERS, FlowMaskTracker, MaskTracker
from engine.engines.classic.tracker_choice import (
    TrackerChoice,
    choose_tracker,
    sam2_working_size,
    tracked_object_names,
    tracker_notes,
)
from engine.engines.classic.unseen_shadow import lift_unseen_shadow
from engine.engines.classic.working_set import FrameMasks, FrameWindow, InOrderFrames, LatestFrame
from engine.engines.packed_masks import PackedMasks
from engine.process_memory import release_free_memory_now_and_then
from engine.video.frame_spool import FrameSpool
from engine.video.source import FrameSource

log = logging.getLogger(__name__)


class _Notes:
    """What a run tells the user: warnings (1-based frame numbers) and per-frame notes."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.frame_notes: dict[int, str] = {}

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning("classic engine: %s", message)

    def note(self, t: int, message: str) -> None:
        old = self.frame_notes.get(t)
        if old is None or message not in old:
            self.frame_notes[t] = message if old is None else f"{old}; {message}"


class _Reporter:
    """Monotonic progress + cancellation, one call per unit of work."""

    def __init__(self, total: int, progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
        self.total, self.done, self.stage = total, 0, "start"
        self._progress, self._cancel = progress, cancel

    def tick(self) -> None:
        if self._cancel is not None:
            self._cancel.raise_if_cancelled()
        self.done = min(self.total, self.done + 1)
        release_free_memory_now_and_then()  # stages before any frame reaches the sink free frame-sized buffers too
        if self._progress is not None:
            self._progress(Progress(self.stage, self.done, self.total, f"{self.stage}: {self.done}/{self.total}"))

    def check(self) -> None:
        """Raise if the run was cancelled (between units that do not count as progress)."""
        if self._cancel is not None:
            self._cancel.raise_if_cancelled()

    def finish(self) -> None:
        """Report completion (some stages do fewer units than budgeted, e.g. sweeps)."""
        self.done = self.total - 1
        self.tick()


_UNITS_PER_FRAME = {
    EditKind.TRACK: 2,
    EditKind.RECOLOUR: 2,
    EditKind.REMOVE: 3,
    EditKind.INSERT: 2,
    EditKind.REPLACE: 5,
    EditKind.OUTPAINT: 2,
}
"""Progress units per frame of each op (tracking, then compositing or, for a removal, its two sweeps)."""


def _binary(mask: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(mask) > 0, np.uint8(255), np.uint8(0))


class _Run:
    """What every operation of one run shares: options, flows, shots, notes, progress."""

    def __init__(
        self,
        opts: ClassicOptions,
        flows: FlowCache,
        shots: list[tuple[int, int]],
        notes: _Notes,
        rep: _Reporter,
        sam2: MaskTracker | None = None,
    ) -> None:
        self.opts, self.flows, self.shots, self.notes, self.rep = opts, flows, shots, notes, rep
        self.sam2 = sam2  # SAM2's video predictor when it was chosen, else None (flow, built per shot)
        self.keyframes: dict[int, dict[int, np.ndarray]] = {}  # op index -> frame -> corrected mask
        self.op_index = 0  # the operation being applied
        self.op_name = ""  # its name in notes ("operation 2 (recolour)", as tracker_choice names them)
        self.edit: FirstFrameEdit | None = None
        self.stream = False  # frames in spools, masks packed, removal's correspondences on disk (propagate_to)
        self.spools: list[FrameSpool] = []

    def new_frames(self, n: int, h: int, w: int) -> Any:
        """Room for ``n`` output frames: a spool on disk when streaming, else an array."""
        if not self.stream:
            return np.empty((n, h, w, 3), np.uint8)
        spool = FrameSpool(n, h, w)
        self.spools.append(spool)
        return spool

    def new_masks(self, n: int, h: int, w: int) -> Any:
        """``[n, h, w]`` zero masks: packed when streaming, else an array."""
        return PackedMasks(n, h, w) if self.stream else np.zeros((n, h, w), np.uint8)

    def release(self, frames: Any) -> None:
        """An operation's input that nothing reads any more: its spool's disk space is freed."""
        if isinstance(frames, FrameSpool) and frames is not self.flows.frames and frames in self.spools:
            self.spools.remove(frames)
            frames.close()

    def close(self) -> None:
        for spool in self.spools:
            spool.close()
        self.spools.clear()


def _grown(op: EditOperation) -> bool:
    """Whether the operation's frame-1 mask was grown past the object by the remove tool (``dilate``)."""
    try:
        return float(op.params.get("dilate", 0) or 0) >= 2.0
    except (TypeError, ValueError):
        return False


def _keyframe_masks(edit: FirstFrameEdit, n: int) -> dict[int, dict[int, np.ndarray]]:
    """op index -> {frame: corrected mask} of the edit's keyframes (refused beyond the clip)."""
    out: dict[int, dict[int, np.ndarray]] = {}
    for k in edit.keyframes:
        if k.frame >= n:
            raise ValueError(f"keyframe {k.frame} is beyond the clip, which has {n} frames (0..{n - 1})")
        for index, mask in k.masks.items():
            out.setdefault(index, {})[k.frame] = mask
    return out


def _report_track(region: RegionTrack, what: str, notes: _Notes) -> None:
    """What the region's track tells the user: cuts it did or did not cross, losses, keyframes used."""
    keyframes = sorted(region.keyframes)
    for note in region.notes:
        s = note.shot_start
        if note.kind == "not found after cut":
            end = next(e for a, e in region.shots if a == s)
            later = [k for k in keyframes if s <= k < end]
            resume = f"; it resumes at the keyframe on frame {later[0] + 1}" if later else "; the edit stops there"
            notes.warn(f"shot cut at frame {s + 1}: {what} not found after it{resume}")
            notes.note(s, f"{what} not found after the cut" + (": the edit stops" if not later else ""))
        else:
            notes.warn(f"shot cut at frame {s + 1}: {what} found again at frame {note.frame + 1}")
            notes.note(note.frame, f"{what} found again after the cut")
    for t, event in region.tracker_events():
        notes.warn(f"{what} {event} at frame {t + 1}")
        notes.note(t, f"{what} {event}")
    for k in keyframes:
        notes.note(k, f"keyframe: {what} re-anchored to the correction")


def _reflect_canvas(frame: np.ndarray, offset: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """A canvas for a shot's first frame when no user fill applies (after a cut): the frame mirrored outward."""
    from engine.edits.outpaint import outpaint

    (left, top), (cw, ch) = offset, size
    h, w = frame.shape[:2]
    canvas, _ = outpaint(frame, left=left, top=top, right=cw - w - left, bottom=ch - h - top, method="reflect")
    return canvas


@dataclass
class _Outcome:
    """Steps 1-3 of a run: the working frames, each op's masks, a deferred last transform, the notes."""

    work: Any  # [T, H, W, 3]: an array, or a FrameSpool when streaming
    op_masks: list[Any]  # [T, H, W] each: arrays, or PackedMasks when streaming
    deferred: Any  # (frame, mask) -> frame still to apply for the last op, or None
    extras: dict[str, Any]
    fps: float
    rep: _Reporter
    timer: StageTimer
    ctx: _Run


def _look_segments(shots: list[tuple[int, int]], keyed: Mapping[int, Any]) -> list[tuple[int, int, int, int]]:
    """``(start, stop, shot end, shot index)`` of each stretch that takes its look from one frame: a shot's
    first frame (frame 0's edit for the first shot) or an edited keyframe inside it (issue 19)."""
    out = []
    for index, (s, e) in enumerate(shots):
        starts = [s, *sorted(k for k in keyed if s < k < e)]
        for a, b in zip(starts, [*starts[1:], e], strict=True):
            out.append((a, b, e, index))
    return out


class _Budget:
    """Progress for a stage that works on more frames than it keeps: ticks for the kept ones, then only
    checks for cancel (the run's units stay what was budgeted)."""

    def __init__(self, rep: _Reporter, units: int) -> None:
        self._rep, self._left = rep, units

    def tick(self) -> None:
        if self._left > 0:
            self._left -= 1
            self._rep.tick()
        else:
            self._rep.check()


class ClassicEngine(Engine):
    """Propagates first-frame edits with optical flow, tracking, warping and inpainting.

    Registered by its spec in ``engine.engines`` (label, description, options).
    """

    name = "classic"
    follows_keyframes = True
    # propagate_to streams: frames go to the sink as they are written out, the clip and each operation's
    # output wait in frame spools on disk, masks are packed, and removal and outpaint hold a bounded window
    # of frames (engine.engines.classic.working_set), so memory does not grow with the clip.
    streams = True

    def disk_needs(self, frames: int, size: tuple[int, int], edit: FirstFrameEdit) -> list[DiskNeed]:
        """The clip's spool, the operations' output spools and a removal's records (``classic.disk_needs``)."""
        return classic_disk_needs(frames, size, edit)

    def propagate(
        self,
        clip: FrameSource,
        edit: FirstFrameEdit,
        options: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PropagationResult:
        run = self._run(clip, edit, options, progress, cancel, defer_last=False)
        union = np.zeros(run.work.shape[:3], np.uint8)
        for m in run.op_masks:
            np.maximum(union, m, out=union)
        run.rep.stage = "done"
        run.rep.finish()
        extras = {"operation_masks": run.op_masks, **run.extras}
        return PropagationResult(run.work, union, run.fps, self.name, "classic", extras, run.timer.timings)

    def propagate_to(
        self,
        sink: Any,
        clip: FrameSource,
        edit: FirstFrameEdit,
        options: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PropagationResult:
        """As :meth:`propagate`, handing each frame to ``sink`` (``engine.engines.sink``) in order.

        Memory does not grow with the clip: the clip is read once into a frame spool on
        disk, each operation writes its output into another (the input's is freed when
        nothing reads it), masks are kept packed, removal fills each shot frame by frame with
        its correspondences on disk between its two sweeps and outpaint keeps the frames
        within its reach (``engine.engines.classic.working_set``). A final track/recolour is applied frame by frame as frames
        are handed over; a final removal makes each frame as the sink takes it (no output spool). The result equals
        :meth:`propagate`'s.
        """
        run = self._run(clip, edit, options, progress, cancel, defer_last=True)
        made_now = isinstance(run.work, InOrderFrames)  # a final removal: its frames are made as they are written
        try:
            if not made_now:
                run.rep.stage = "writing"
            with run.timer.stage("write"):
                for t in range(len(run.work)):
                    frame = run.work[t]
                    masks = [m[t] for m in run.op_masks]
                    if run.deferred is not None and masks[-1].any():
                        frame = run.deferred(frame, masks[-1])
                    union = np.zeros(frame.shape[:2], np.uint8)
                    for m in masks:
                        np.maximum(union, m, out=union)
                    sink.put(frame, union, masks)
                    if run.deferred is not None:
                        run.rep.tick()  # the recolour's per-frame unit, done here
        finally:
            if made_now:
                run.work.close()
            run.ctx.close()
        run.rep.stage = "done"
        run.rep.finish()
        return sink.finish(self.name, "classic", run.extras, run.timer.timings)

    def _run(
        self,
        clip: FrameSource,
        edit: FirstFrameEdit,
        options: dict[str, Any] | None,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        defer_last: bool,
    ) -> _Outcome:
        """Steps 1-3; with ``defer_last`` (streaming) a final track/recolour returns its transform instead of
        applying it, and frames go to spools instead of arrays."""
        # 1. Inputs.
        opts = ClassicOptions.from_dict(options)
        n = len(clip)
        if n < 1:
            raise ValueError("the clip has no frames")
        w, h = clip.size
        if edit.original_frame.shape[:2] != (h, w):
            raise ValueError(
                f"edit was made on a {edit.original_frame.shape[1]}x{edit.original_frame.shape[0]} frame but the clip is {w}x{h}"
            )
        for i, op in enumerate(edit.operations):
            if op.kind in (EditKind.INSERT, EditKind.REPLACE) and op.layer_rgba is None:
                raise ValueError(f"operation {i} ({op.kind.value}) has no layer_rgba")
        sam2_tracker, tracker_choice = self._tracker(opts, edit)
        units = 2 * n + sum(n * _UNITS_PER_FRAME[op.kind] for op in edit.operations)
        rep = _Reporter(units, progress, cancel)
        timer = StageTimer()

        rep.stage = "read"
        simple = defer_last and not edit.edited_keyframe_frames  # an edited keyframe makes the colour transform per frame
        spools: list[FrameSpool] = []
        with timer.stage("read"):
            # Streaming: decoded once into a spool on disk (every later pass reads it, no decode).
            frames = FrameSpool(n, h, w) if defer_last else np.empty((n, h, w, 3), np.uint8)
            if defer_last:
                spools.append(frames)
            for t in range(n):
                frames[t] = clip[t]
                rep.tick()

        # 2. Shot cuts.
        work = frames
        flows = FlowCache(work, opts.flow_max_side, opts.flow_preset)
        notes = _Notes()
        rep.stage = "shot cuts"
        with timer.stage("shot cuts"):
            cuts = detect_cuts(flows, rep.tick) if opts.detect_cuts else []
        for c in cuts:
            notes.note(c, "shot cut: a new shot starts here")
        shots = shot_ranges(cuts, n)
        ctx = _Run(opts, flows, shots, notes, rep, sam2_tracker)
        ctx.keyframes = _keyframe_masks(edit, n)
        ctx.edit = edit
        ctx.stream, ctx.spools = defer_last, spools
        try:
            work, op_masks, deferred = self._operations(frames, edit, ctx, simple, timer)
        except BaseException:
            ctx.close()
            raise

        # 4. Result (the caller builds it or streams it).
        extras = {
            "tracker": tracker_choice.name,
            "tracker_note": tracker_choice.note,
            **tracker_notes(sam2_tracker),
            "shot_cuts": cuts,
            "warnings": notes.warnings,
            "frame_notes": dict(sorted(notes.frame_notes.items())),
        }
        return _Outcome(work, op_masks, deferred, extras, float(clip.fps), rep, timer, ctx)

    def _operations(self, work: Any, edit: FirstFrameEdit, ctx: _Run, simple: bool, timer: StageTimer):  # noqa: ANN202
        """Step 3: (the last working frames, each op's masks, the deferred transform or None)."""
        opts, rep = ctx.opts, ctx.rep

        # 3. Operations, in order.
        op_masks: list[Any] = []
        canvas = (0, 0)  # current offset of the source inside the canvas
        deferred = None
        for i, op in enumerate(edit.operations):
            ctx.op_index, ctx.op_name = i, f"operation {i + 1} ({op.kind.value})"
            rep.stage = f"{op.kind.value} ({i + 1}/{len(edit.operations)})"
            before = work
            with timer.stage(op.kind.value):
                last = i == len(edit.operations) - 1
                if simple and last and op.kind in (EditKind.TRACK, EditKind.RECOLOUR):
                    deferred, masks = self._recolour_masks(work, op, ctx, packed=True)
                elif op.kind == EditKind.OUTPAINT:
                    work, masks, canvas = self._outpaint(work, edit, op, ctx)
                    op_masks = [self._pad(m, canvas, work.shape[1:3], ctx) for m in op_masks]
                    ctx.flows = FlowCache(work, opts.flow_max_side, opts.flow_preset)
                elif op.kind in (EditKind.TRACK, EditKind.RECOLOUR):
                    work, masks = self._recolour(work, op, ctx)
                elif op.kind == EditKind.REMOVE:
                    work, masks = self._remove(work, edit, op, ctx, in_order=last and ctx.stream)
                elif op.kind == EditKind.INSERT:
                    work, masks = self._insert(work, op, ctx)
                elif op.kind == EditKind.REPLACE:
                    work, hole = self._remove(work, edit, op, ctx) if op.source_mask is not None else (work, None)
                    filled = work
                    work, masks = self._insert(work, op, ctx)
                    if hole is not None:
                        ctx.release(filled)
                        for t in range(len(masks)):
                            masks[t] = np.maximum(masks[t], hole[t])
                else:  # pragma: no cover - EditKind is closed
                    raise ValueError(f"unsupported operation kind {op.kind!r}")
            if work is not before and not isinstance(work, InOrderFrames):  # made later, from ``before``
                ctx.release(before)
            op_masks.append(masks)
        return work, op_masks, deferred

    @staticmethod
    def _tracker(opts: ClassicOptions, edit: FirstFrameEdit) -> tuple[MaskTracker | None, TrackerChoice]:
        """SAM2's video predictor when chosen (``auto``: when its weights are found), else None (flow)."""
        choice = choose_tracker(opts.tracker, opts.sam2_model, opts.sam2_checkpoint, opts.model_dirs, opts.sam2_device)
        if choice.name == "flow":
            return None, choice  # the flow tracker is built per op on the shared flow cache
        tracker = TRACKERS["sam2"](
            choice.checkpoint,
            image_size=sam2_working_size(opts.sam2_resolution),
            device=opts.sam2_device,
            object_names=tracked_object_names(edit.operations),
        )
        return tracker, choice

    @staticmethod
    def _make_tracker(ctx: _Run, flows: FlowCache, cover: bool) -> MaskTracker:
        if ctx.sam2 is not None:
            return ctx.sam2
        o = ctx.opts
        return FlowMaskTracker(anchor_every=o.anchor_every, flows=flows, refine=o.refine_masks, refind=o.refind, cover=cover)

    def _track(
        self, work: np.ndarray, first: np.ndarray, ctx: _Run, what: str, cover: bool = False, packed: bool = False
    ) -> np.ndarray:
        """Per-frame masks of the region ``first`` of frame 0, shot by shot (re-found after cuts), following
        the current operation's keyframe corrections (``engine.engines.classic.keyframe_track``).

        ``packed``: kept compressed frame by frame (``PackedMasks``, for callers that only index them)."""
        if first.shape != work.shape[1:3]:
            raise ValueError(
                f"operation mask is {first.shape[1]}x{first.shape[0]} but the canvas is {work.shape[2]}x{work.shape[1]}"
            )
        out = PackedMasks(*work.shape[:3]) if packed or ctx.stream else np.zeros(work.shape[:3], np.uint8)

        def start_run(view: FlowCache, mask: np.ndarray, reference):  # noqa: ANN001, ANN202 - keyframe_track.StartRun
            tracker = self._make_tracker(ctx, view, cover)
            if tracker is ctx.sam2:  # one operation, several runs: its name and clip frames in SAM2's notes
                steps = tracker.track(view.frames, [mask], names=[ctx.op_name], to_clip=lambda t: clip_frame(view, t))
            else:
                steps = tracker.track(view.frames, [mask], [reference])
            return (masks[0] for _, masks in steps), tracker

        region = RegionTrack(
            ctx.flows,
            ctx.shots,
            first,
            ctx.keyframes.get(ctx.op_index, {}),
            start_run,
            refind=(lambda f, m, s, e: self._refind(work, (f, m), s, e, ctx)) if ctx.opts.refind else None,
        )
        for t, mask in region.masks(check=ctx.rep.check):
            out[t] = mask
            ctx.rep.tick()
        _report_track(region, what, ctx.notes)
        return out

    @staticmethod
    def _refind(work, appearance, s: int, e: int, ctx: _Run) -> tuple[int, np.ndarray] | None:
        """First frame of shot ``s..e`` where the object's last appearance is found, and its mask there."""
        if not ctx.opts.refind:
            return None
        from engine.engines.classic.refind import find_object

        for t in range(s, e):
            mask = find_object(appearance[0], appearance[1], work[t])
            if mask is not None:
                return t, _binary(mask)
        return None

    def _recolour_masks(self, work, op: EditOperation, ctx: _Run, packed: bool = False) -> tuple[Any, np.ndarray]:
        """(the per-frame transform ``(frame, mask) -> frame``, the tracked masks)."""
        first = op.source_mask if op.source_mask is not None else op.mask
        return frame_transform(op), self._track(work, first, ctx, "the tracked object", packed=packed)

    def _recolour(self, work, op: EditOperation, ctx: _Run) -> tuple[np.ndarray, np.ndarray]:
        transform, masks = self._recolour_masks(work, op, ctx)
        keyed = edited_keyframes(ctx.edit, ctx.op_index, work.shape[1:3]) if ctx.edit is not None else []
        feather = float(op.params.get("feather", 2.0)) if op.kind is EditKind.RECOLOUR else 0.0
        per_frame = colour_anchors(transform, keyed, work, masks, feather, ctx.notes.warn) if keyed else None
        out = ctx.new_frames(*work.shape[:3])
        for t in range(len(work)):
            frame, mask = work[t], masks[t]
            if mask.any():
                frame = per_frame(t, frame, mask) if per_frame is not None else transform(frame, mask)
            out[t] = frame
            ctx.rep.tick()
        return out, masks

    def _remove(self, work, edit: FirstFrameEdit, op: EditOperation, ctx: _Run, in_order: bool = False) -> tuple[Any, np.ndarray]:
        """(the frames with the object removed, the holes). ``in_order`` (the run's last operation, streamed):
        the frames are made as the sink reads them (``InOrderFrames``), with no output spool."""
        opts = ctx.opts
        first = op.source_mask if op.source_mask is not None else op.mask
        extras = op.extras_mask if opts.remove_extras_apart and op.extras_mask is not None else None
        obj = (_binary(first) > 0) & ~(_binary(extras) > 0) if extras is not None and extras.shape == first.shape else None
        n, hw = len(work), work.shape[1:3]
        objects = shadows = None
        if obj is not None and obj.any():
            # The painted extras (a shadow) follow the object's motion; the object is tracked alone. Frame by
            # frame into masks of their own (packed when streaming): joined to the object's for the hole, and
            # lifted over its never-seen pixels.
            objects = self._track(work, _binary(obj), ctx, "the removed object", cover=opts.remove_cover)
            shadows = ctx.new_masks(n, *hw)
            for t, moved in extras_in_shots(ctx.flows, ctx.shots, objects, extras > 0, obj):
                shadows[t] = _binary(moved)
            tracked = objects
        else:
            tracked = self._track(work, first, ctx, "the removed object", cover=opts.remove_cover)
        holes = ctx.new_masks(n, *hw)  # 0/255, the grown tracked region (frame 0: the user's)
        has_hole = np.zeros(n, bool)
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * opts.remove_grow + 1,) * 2) if opts.remove_grow else None
        for t in range(n):
            m = tracked[t] > 0
            if shadows is not None:
                m |= shadows[t] > 0
            if k is not None and m.any():
                m = cv2.dilate(m.astype(np.uint8), k) > 0
            if t == 0 and op.mask.shape == hw:
                m = _binary(op.mask) > 0
            holes[t], has_hole[t] = _binary(m), m.any()
        hole0 = holes[0] > 0
        first_filled = np.array(work[0])
        user_frame = edited_frame_at(edit, ctx.op_index, hw)  # cropped when an outpaint follows
        if user_frame is not None:
            first_filled[hole0] = user_frame[hole0]
        keyed = {k: after for k, after, _ in self._edited_keys(ctx, work.shape[1:3])}
        for a, b, _, _ in _look_segments(ctx.shots, keyed):  # noted now: the frames may be made after the run's notes
            if a in keyed and has_hole[a:b].any():
                ctx.notes.note(a, f"keyframe: {ctx.op_name} filled from the edited frame")
        made = self._removed_frames(work, op, ctx, keyed, holes, has_hole, first_filled, objects, shadows)
        if in_order:
            return InOrderFrames(made, n, work.shape[1:]), holes
        out = ctx.new_frames(n, *hw)
        with closing(made):
            for t, frame in enumerate(made):
                out[t] = frame
        return out, holes

    def _removed_frames(
        self,
        work: Any,
        op: EditOperation,
        ctx: _Run,
        keyed: dict[int, np.ndarray],
        holes: Any,
        has_hole: np.ndarray,
        first_filled: np.ndarray,
        objects: Any,
        shadows: Any,
    ) -> Iterator[np.ndarray]:
        """Frame 0, 1, ... of the removal's output, each made when asked for (shot by shot, frame by frame)."""
        opts, n, hw = ctx.opts, len(work), work.shape[1:3]
        made = 0  # frames handed out so far
        for a, b, e, shot in _look_segments(ctx.shots, keyed):
            if not has_hole[a:b].any():
                continue
            for t in range(made, a):  # frames without a hole: as they are
                yield np.asarray(work[t])
            if a in keyed:  # the user's own fill of this frame's hole is the look from here on
                first_here = np.array(work[a])
                hole_a = holes[a] > 0
                first_here[hole_a] = keyed[a][hole_a]
            else:
                first_here = first_filled if shot == 0 else None
            # Filled with the frames to the shot's end, so frames before the next keyframe still see what is
            # revealed after it. Streamed frame by frame (remove.fill_frames): when streaming the correspondences
            # wait on disk between its two passes and colours are read from the spool, only the rows they touch.
            lift = shadows is not None and opts.remove_lift_unseen
            sources = LatestFrame(hw) if lift else None  # where each pixel of the frame just made came from
            filled = fill_frames(
                work[a:e],  # the working frames (an earlier operation's output); motion from the source's
                FrameMasks(holes, a, e),
                first_here,
                ctx.flows.view(a, e),
                _Budget(ctx.rep, 2 * (b - a)).tick,  # the backward sweep, then the forward one that makes the frames
                window=opts.temporal_reach,
                both_directions=opts.remove_backward,
                moving_check=opts.remove_moving_check,
                first_hole_grown=shot == 0 and a == 0 and _grown(op),
                outputs=b - a,
                on_disk=ctx.stream,
                sources_out=sources,
            )
            with closing(filled):  # its record spool is closed at once, also when writing a frame fails
                for t, frame in enumerate(filled, start=a):
                    if lift and t > 0:
                        # Lifted on the output only: the carry to the next frame starts from the fill (carrying the
                        # lifted pixels measured worse: 17.85 -> 16.88 dB).
                        unseen = sources[t - a] >= FROM_PREVIOUS_OUTPUT  # carried or inpainted: no frame showed it
                        frame = lift_unseen_shadow(work[t], frame, unseen, shadows[t] > 0, objects[t] > 0)
                    yield frame
            made = b
        for t in range(made, n):
            yield np.asarray(work[t])

    @staticmethod
    def _edited_keys(ctx: _Run, hw: tuple[int, int]) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
        """The current operation's edited keyframes: (frame, the user's frame on its canvas, its mask or None)."""
        return edited_keyframes(ctx.edit, ctx.op_index, hw) if ctx.edit is not None else []

    def _insert(self, work, op: EditOperation, ctx: _Run) -> tuple[np.ndarray, np.ndarray]:
        """The layer moved by its surface from frame 0, re-placed from each edited keyframe (``keyframe_edits``)."""
        layer = op.layer_rgba
        if layer.shape != (*work.shape[1:3], 4):
            raise ValueError(f"layer_rgba is {layer.shape} but the canvas is {work.shape[1:3]} (+4 channels)")
        n = len(work)
        out = ctx.new_frames(*work.shape[:3])
        masks = ctx.new_masks(*work.shape[:3])
        written = np.zeros(n, bool)
        anchors: list[tuple[int, np.ndarray]] = [(0, layer)]
        for k, after, footprint in edited_keyframes(ctx.edit, ctx.op_index, work.shape[1:3]) if ctx.edit is not None else []:
            placed = keyframe_layer(work[k], after, footprint)
            if placed is None:
                ctx.notes.warn(f"keyframe on frame {k + 1}: no re-placed layer found for {ctx.op_name} (no mask, no change)")
                continue
            anchors.append((k, placed))
            ctx.notes.note(k, f"keyframe: {ctx.op_name} re-placed from the edited frame")
        for j, (a, lay) in enumerate(anchors):
            s, e = next((s, e) for s, e in ctx.shots if s <= a < e)
            nxt = anchors[j + 1][0] if j + 1 < len(anchors) else len(work)
            stop = min(e, nxt)
            view = ctx.flows.view(a, stop)
            homs = layer_homographies(lay[..., 3], view, tick=ctx.rep.tick, reanchor=ctx.opts.insert_reanchor)
            for t, hom in enumerate(homs):
                out[a + t], masks[a + t] = composite_layer(work[a + t], lay, hom)
                written[a + t] = True
                ctx.rep.tick()
            if stop == e < len(work):
                resume = f"; it resumes at the keyframe on frame {nxt + 1}" if nxt < len(work) else ""
                ctx.notes.warn(f"shot cut at frame {e + 1}: the inserted layer stops there{resume}")
                ctx.notes.note(e, "the inserted layer stops at the cut")
        for t in np.flatnonzero(~written):
            out[t] = work[t]
        return out, masks

    def _outpaint(self, work, edit: FirstFrameEdit, op: EditOperation, ctx: _Run):
        p = op.params
        try:
            left, top = int(p.get("left", edit.canvas_offset[0])), int(p.get("top", edit.canvas_offset[1]))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"outpaint params need integer left/top margins, got {p!r}") from exc
        ch, cw = op.mask.shape
        h, w = work.shape[1:3]
        if left < 0 or top < 0 or left + w > cw or top + h > ch:
            raise ValueError(f"outpaint margins left={left} top={top} do not fit a {w}x{h} frame in a {cw}x{ch} canvas")
        user_canvas = edited_frame_at(edit, ctx.op_index, (ch, cw))  # cropped when another outpaint follows
        if user_canvas is None:
            raise ValueError(
                f"outpaint canvas is {cw}x{ch} but the edited frame is {edit.edited_frame.shape[1]}x{edit.edited_frame.shape[0]}"
            )
        n, reach = len(work), ctx.opts.temporal_reach
        out = ctx.new_frames(n, ch, cw)
        keyed = {k: after for k, after, _ in self._edited_keys(ctx, (ch, cw))}
        for a, b, _, shot in _look_segments(ctx.shots, keyed):
            view = ctx.flows.view(a, b)
            # The canvas is made of the earlier operations' output (``work``), not of the clip the flows were
            # measured on: an edit before the outpaint stays in the frame and in the margins it reveals.
            # The camera's motion still comes from the flows. Each canvas reads the frames within the reach
            # of its own: kept in memory, nothing older.
            shot_frames = work[a:b]
            frames = FrameWindow(shot_frames, 2 * reach + 2) if ctx.stream else shot_frames
            if a in keyed:  # the user's own margins of this frame are the look from here on
                first = keyed[a]
                ctx.notes.note(a, f"keyframe: {ctx.op_name} margins from the edited frame")
            else:
                first = user_canvas if shot == 0 else _reflect_canvas(work[a], (left, top), (cw, ch))
            cams = camera_homographies(view, ctx.rep.tick)
            previous = None  # the last frame's fill before its seam blend (blends never pile up)
            for t in range(b - a):
                previous = fill_canvas(t, frames, first, (left, top), cams, previous, window=reach)
                seam = ctx.opts.outpaint_seam and t > 0
                out[a + t] = blend_seam(previous, (left, top), (w, h)) if seam else previous
                ctx.rep.tick()
        masks = ctx.new_masks(n, ch, cw)
        margins = _binary(op.mask)
        for t in range(n):
            masks[t] = margins
        return out, masks, (left, top)

    @staticmethod
    def _pad(masks: Any, offset: tuple[int, int], hw: tuple[int, int], ctx: _Run) -> Any:
        """Each frame's mask placed at ``offset`` on a canvas of ``hw`` (after an outpaint)."""
        out = ctx.new_masks(len(masks), *hw)
        h, w = masks.shape[1:]
        for t in range(len(masks)):
            m = np.zeros(hw, np.uint8)
            m[offset[1] : offset[1] + h, offset[0] : offset[0] + w] = masks[t]
            out[t] = m
        return out
