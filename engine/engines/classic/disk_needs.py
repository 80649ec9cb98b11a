"""What a streamed classic run keeps on disk at most, known before it starts (issue 16).

``ClassicEngine.propagate_to`` reads the clip once into a frame spool (raw frames in the temporary
folder), each operation writes its output into another one (its input's is freed when nothing
reads it any more; a final track, recolour or removal writes straight to the sink), and a removal
keeps each frame's hole correspondences in a record spool between its two sweeps. This module
walks the same steps over sizes instead of frames, so the disk check (``engine.disk_room``) can
refuse a run that would fill the disk tens of minutes in.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from engine.disk_room import DiskNeed
from engine.edit import EditKind, EditOperation, FirstFrameEdit

RECORD_BYTES_PER_HOLE_PIXEL = 16
"""A removal's backward sweep keeps four 4-byte fields per hole pixel (``remove._FIELDS``)."""
HOLE_GROWTH = 1.25
"""Room for a hole a quarter larger than frame 1's along the clip (a moving object's hole changes shape)."""


def _removal_records(frames: int, op: EditOperation, canvas: tuple[int, int]) -> int:
    """The record spool of a removal: per frame its hole's correspondences and three bit masks.

    The hole is taken at frame 1's size (the user's fill region, already grown past the object) with
    ``HOLE_GROWTH``; only the hole pixels the backward sweep finds a source for are kept, so on the
    benchmark's 1080p clip this is 2.7 MB a frame against the 1.4 MB its run wrote. A hole that grows
    more than that along the clip can need more.
    """
    w, h = canvas
    region = op.source_mask if op.kind is EditKind.REPLACE and op.source_mask is not None else op.mask
    hole = float(np.count_nonzero(region)) * HOLE_GROWTH
    per_frame = RECORD_BYTES_PER_HOLE_PIXEL * min(hole, w * h) + 3 * (w * h // 8) + 64
    return int(frames * per_frame)


def classic_disk_needs(frames: int, size: tuple[int, int], edit: FirstFrameEdit) -> list[DiskNeed]:
    """The most a streamed run of ``edit`` over ``frames`` frames of ``size`` (w, h) holds in the temporary folder."""
    simple = not edit.edited_keyframe_frames  # a final track/recolour is then applied as frames are handed over
    w, h = size
    source = frames * w * h * 3
    alive = {"source": source}  # spools on disk now, by name
    flows, current = "source", "source"  # what the flow cache reads; the working frames
    canvas, peak = (w, h), source
    ops = edit.operations
    for i, op in enumerate(ops):
        last = i == len(ops) - 1
        if op.kind is EditKind.OUTPAINT:
            canvas = (int(op.mask.shape[1]), int(op.mask.shape[0]))
        plane = frames * canvas[0] * canvas[1] * 3
        fills = op.kind is EditKind.REMOVE or (op.kind is EditKind.REPLACE and op.source_mask is not None)
        records = _removal_records(frames, op, canvas) if fills else 0
        if last and (op.kind is EditKind.REMOVE or (simple and op.kind in (EditKind.TRACK, EditKind.RECOLOUR))):
            peak = max(peak, sum(alive.values()) + records)
            continue  # made as the sink takes it: no output spool
        outputs = 2 if op.kind is EditKind.REPLACE and op.source_mask is not None else 1
        for k in range(outputs):  # a replacement: the fill's spool, then the insert's (the fill's is freed after)
            name = f"op{i}.{k}"
            alive[name] = plane
            peak = max(peak, sum(alive.values()) + records)
            if k:
                alive.pop(f"op{i}.{k - 1}")
        if op.kind is EditKind.OUTPAINT:
            flows = f"op{i}.0"
        if current != flows:
            alive.pop(current, None)
        current = f"op{i}.{outputs - 1}"
    return [DiskNeed(Path(tempfile.gettempdir()), peak, "the clip's working frames")]
