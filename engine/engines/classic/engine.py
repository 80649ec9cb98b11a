"""The classic propagation engine: classical computer vision, CPU only, no weights.

Steps of :meth:`ClassicEngine.propagate`:

1. check inputs and options, read the clip into memory;
2. apply the operations in the user's order to the whole clip, each op's per-frame
   masks tracked on the clip as it stands before that op:
   outpaint (camera homographies + multi-frame fill), remove/replace (tracked hole +
   flow-guided fill), track/recolour (tracked mask + the same colour transform),
   insert/replace (layer moved by the surface's homography);
3. return the frames, the union of every op's mask per frame, and per-op masks in
   ``extras["operation_masks"]``.

Progress counts frames: one per frame read plus one per frame per op (two sweeps
for removal), so it is monotonic; the cancel token is checked on every frame.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

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
from engine.engines.classic.insert import composite_layer, layer_homographies
from engine.engines.classic.motion import FlowCache
from engine.engines.classic.options import ClassicOptions
from engine.engines.classic.outpaint import camera_homographies, fill_canvas
from engine.engines.classic.remove import fill_holes
from engine.engines.classic.tracker import TRACKERS, FlowMaskTracker, MaskTracker
from engine.engines.classic.tracker_choice import (
    TrackerChoice,
    choose_tracker,
    sam2_working_size,
    tracked_object_names,
    tracker_notes,
)
from engine.video.source import FrameSource


class _Reporter:
    """Monotonic progress + cancellation, one call per unit of work."""

    def __init__(self, total: int, progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
        self.total, self.done, self.stage = total, 0, "start"
        self._progress, self._cancel = progress, cancel

    def tick(self) -> None:
        if self._cancel is not None:
            self._cancel.raise_if_cancelled()
        self.done = min(self.total, self.done + 1)
        if self._progress is not None:
            self._progress(Progress(self.stage, self.done, self.total, f"{self.stage}: {self.done}/{self.total}"))

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
"""Progress units per frame of each op (tracking, sweeps, compositing)."""


def _binary(mask: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(mask) > 0, np.uint8(255), np.uint8(0))


class ClassicEngine(Engine):
    """Propagates first-frame edits with optical flow, tracking, warping and inpainting.

    Registered by its spec in ``engine.engines`` (label, description, options).
    """

    name = "classic"

    def propagate(
        self,
        clip: FrameSource,
        edit: FirstFrameEdit,
        options: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PropagationResult:
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
        tracker, tracker_choice = self._tracker(opts, edit)
        units = n + sum(n * _UNITS_PER_FRAME[op.kind] for op in edit.operations)
        rep = _Reporter(units, progress, cancel)
        timer = StageTimer()

        rep.stage = "read"
        with timer.stage("read"):
            frames = np.empty((n, h, w, 3), np.uint8)
            for t in range(n):
                frames[t] = clip[t]
                rep.tick()

        # 2. Operations, in order.
        work = frames
        flows = FlowCache(work, opts.flow_max_side, opts.flow_preset)
        op_masks: list[np.ndarray] = []
        canvas = (0, 0)  # current offset of the source inside the canvas
        for i, op in enumerate(edit.operations):
            rep.stage = f"{op.kind.value} ({i + 1}/{len(edit.operations)})"
            with timer.stage(op.kind.value):
                if op.kind == EditKind.OUTPAINT:
                    work, masks, canvas = self._outpaint(work, edit, op, flows, rep)
                    op_masks = [self._pad(m, canvas, work.shape[1:3]) for m in op_masks]
                    flows = FlowCache(work, opts.flow_max_side, opts.flow_preset)
                elif op.kind in (EditKind.TRACK, EditKind.RECOLOUR):
                    work, masks = self._recolour(work, op, flows, tracker, rep)
                elif op.kind == EditKind.REMOVE:
                    work, masks = self._remove(work, edit, op, flows, tracker, opts, rep)
                elif op.kind == EditKind.INSERT:
                    work, masks = self._insert(work, op, flows, rep)
                elif op.kind == EditKind.REPLACE:
                    work, hole = (
                        self._remove(work, edit, op, flows, tracker, opts, rep) if op.source_mask is not None else (work, None)
                    )
                    work, masks = self._insert(work, op, flows, rep)
                    if hole is not None:
                        masks = np.maximum(masks, hole)
                else:  # pragma: no cover - EditKind is closed
                    raise ValueError(f"unsupported operation kind {op.kind!r}")
            op_masks.append(masks)

        # 3. Result.
        rep.stage = "done"
        rep.finish()
        union = np.zeros(work.shape[:3], np.uint8)
        for m in op_masks:
            np.maximum(union, m, out=union)
        return PropagationResult(
            frames=work,
            masks=union,
            fps=float(clip.fps),
            engine=self.name,
            mode="classic",
            extras={
                "operation_masks": op_masks,
                "tracker": tracker_choice.name,
                "tracker_note": tracker_choice.note,
                **tracker_notes(tracker),
            },
            timings=timer.timings,
        )

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
    def _track(
        work: np.ndarray,
        first: np.ndarray,
        flows: FlowCache,
        tracker: MaskTracker | None,
        opts: ClassicOptions | None,
        rep: _Reporter,
    ) -> np.ndarray:
        if first.shape != work.shape[1:3]:
            raise ValueError(
                f"operation mask is {first.shape[1]}x{first.shape[0]} but the canvas is {work.shape[2]}x{work.shape[1]}"
            )
        if tracker is None:
            anchor = opts.anchor_every if opts is not None else 1
            tracker = FlowMaskTracker(anchor_every=anchor, flows=flows)
        out = np.zeros(work.shape[:3], np.uint8)
        for t, masks in tracker.track(work, [_binary(first)]):
            out[t] = masks[0]
            rep.tick()
        return out

    def _recolour(self, work, op: EditOperation, flows, tracker, rep) -> tuple[np.ndarray, np.ndarray]:
        transform = frame_transform(op)
        first = op.source_mask if op.source_mask is not None else op.mask
        masks = self._track(work, first, flows, tracker, None, rep)
        out = work.copy()
        for t in range(len(work)):
            if masks[t].any():
                out[t] = transform(work[t], masks[t])
            rep.tick()
        return out, masks

    def _remove(self, work, edit: FirstFrameEdit, op: EditOperation, flows, tracker, opts, rep) -> tuple[np.ndarray, np.ndarray]:
        first = op.source_mask if op.source_mask is not None else op.mask
        tracked = self._track(work, first, flows, tracker, opts, rep)
        holes = tracked > 0
        if opts.remove_grow:
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * opts.remove_grow + 1,) * 2)
            holes = np.stack([cv2.dilate(m.astype(np.uint8), k) > 0 for m in holes])
        holes[0] = _binary(op.mask) > 0 if op.mask.shape == holes.shape[1:] else holes[0]
        first_filled = work[0].copy()
        region = holes[0]
        if edit.edited_frame.shape == work.shape[1:]:
            first_filled[region] = edit.edited_frame[region]
        out = fill_holes(work, holes, first_filled, flows, rep.tick)
        return out, _binary(holes)

    def _insert(self, work, op: EditOperation, flows, rep) -> tuple[np.ndarray, np.ndarray]:
        layer = op.layer_rgba
        if layer.shape != (*work.shape[1:3], 4):
            raise ValueError(f"layer_rgba is {layer.shape} but the canvas is {work.shape[1:3]} (+4 channels)")
        out = work.copy()
        masks = np.zeros(work.shape[:3], np.uint8)
        for t, hom in enumerate(layer_homographies(layer[..., 3], flows, tick=rep.tick)):
            out[t], masks[t] = composite_layer(work[t], layer, hom)
            rep.tick()
        return out, masks

    def _outpaint(self, work, edit: FirstFrameEdit, op: EditOperation, flows, rep):
        p = op.params
        try:
            left, top = int(p.get("left", edit.canvas_offset[0])), int(p.get("top", edit.canvas_offset[1]))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"outpaint params need integer left/top margins, got {p!r}") from exc
        ch, cw = op.mask.shape
        h, w = work.shape[1:3]
        if left < 0 or top < 0 or left + w > cw or top + h > ch:
            raise ValueError(f"outpaint margins left={left} top={top} do not fit a {w}x{h} frame in a {cw}x{ch} canvas")
        if edit.edited_frame.shape[:2] != (ch, cw):
            raise ValueError(
                f"outpaint canvas is {cw}x{ch} but the edited frame is {edit.edited_frame.shape[1]}x{edit.edited_frame.shape[0]}"
            )
        cams = camera_homographies(flows, rep.tick)
        out = np.empty((len(work), ch, cw, 3), np.uint8)
        for t in range(len(work)):
            out[t] = fill_canvas(t, work, edit.edited_frame, (left, top), cams)
            rep.tick()
        masks = np.repeat(_binary(op.mask)[None], len(work), axis=0)
        return out, masks, (left, top)

    @staticmethod
    def _pad(masks: np.ndarray, offset: tuple[int, int], hw: tuple[int, int]) -> np.ndarray:
        out = np.zeros((len(masks), *hw), np.uint8)
        h, w = masks.shape[1:]
        out[:, offset[1] : offset[1] + h, offset[0] : offset[0] + w] = masks
        return out
