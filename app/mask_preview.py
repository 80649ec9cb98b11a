"""The quick mask-only preview: every operation's tracked mask over the clip (issue 19; no Qt).

Before a full propagation the user runs the mask track alone (no fill, no inpainting) and
scrubs with the tracked masks drawn over the clip; after a keyframe correction only the
frames it changes are tracked again. ``MaskPreview`` keeps the masks (compressed: one byte a
pixel a frame is a third of the clip) and is filled by ``MaskTrackJob`` on a worker thread
while the GUI reads it, so it is guarded by a lock. A new edit (operations changed) means a
new store: a job still running writes into the old one, which nobody reads any more.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.edit import FirstFrameEdit
from engine.engines.base import CancelToken, Progress, ProgressCallback
from engine.engines.packed_masks import pack_bits, unpack_bits
from engine.video import FrameSource


class MaskPreview:
    """Tracked masks of ``len(shapes)`` operations (op canvas coordinates) for ``frame_count`` frames."""

    def __init__(self, frame_count: int, shapes: Sequence[tuple[int, int]]) -> None:
        self.frame_count = int(frame_count)
        self.shapes = [tuple(s) for s in shapes]
        self._masks: dict[int, list[bytes | None]] = {}
        self._stamps: dict[int, int] = {}  # frame -> how many times it was written (views redraw when it changes)
        self._lock = threading.Lock()
        self.stale: set[int] = set()  # frames whose masks predate the last correction (not re-tracked yet)

    def put(self, frame: int, masks: Sequence[np.ndarray | None]) -> None:
        """The tracked masks of ``frame`` (one per operation; ``None`` where an operation is not tracked)."""
        if not 0 <= frame < self.frame_count:
            raise IndexError(f"frame {frame} outside the clip's {self.frame_count} frames")
        if len(masks) != len(self.shapes):
            raise ValueError(f"{len(masks)} masks for {len(self.shapes)} operations")
        packed: list[bytes | None] = []
        for i, mask in enumerate(masks):
            if mask is None:
                packed.append(None)
                continue
            arr = np.asarray(mask)
            if arr.shape != self.shapes[i]:
                raise ValueError(f"mask of operation {i} on frame {frame} is {arr.shape}, expected {self.shapes[i]}")
            packed.append(pack_bits(arr > 127))
        with self._lock:
            self._masks[frame] = packed
            self._stamps[frame] = self._stamps.get(frame, 0) + 1
            self.stale.discard(frame)

    def get(self, frame: int) -> list[np.ndarray | None] | None:
        """The masks of ``frame`` (0/255 per operation), or ``None`` when it has not been tracked."""
        with self._lock:
            packed = self._masks.get(frame)
        if packed is None:
            return None
        out: list[np.ndarray | None] = []
        for i, raw in enumerate(packed):
            if raw is None:
                out.append(None)
            else:
                out.append(unpack_bits(raw, self.shapes[i]).view(np.uint8) * np.uint8(255))
        return out

    def stamp(self, frame: int) -> tuple[int, bool]:
        """(times written, out of date) of ``frame``: what a view compares to know it must redraw."""
        with self._lock:
            return self._stamps.get(frame, 0), frame in self.stale

    def mark_stale(self, start: int, stop: int) -> None:
        with self._lock:
            self.stale.update(f for f in range(start, stop) if f in self._masks)

    @property
    def tracked(self) -> int:
        with self._lock:
            return len(self._masks)

    def tracked_frames(self) -> list[int]:
        with self._lock:
            return sorted(self._masks)

    @classmethod
    def for_edit(cls, edit: FirstFrameEdit, frame_count: int) -> MaskPreview:
        return cls(frame_count, [op.mask.shape for op in edit.operations])


@dataclass
class MaskTrackJob:
    """Track the operations' masks over frames ``[start, stop)`` into ``store`` (a job: progress, cancel).

    Runs ``engine.engines.mask_track.track_operation_masks`` (the engine's own tracker, with the
    edit's keyframes; no fill). ``cache`` (one per open clip, kept between jobs) lets a re-track
    reuse the runs a correction did not change, so it costs time in proportion to its frames.
    Returns the frames it tracked as ``(start, stop)``.
    """

    clip: FrameSource
    edit: FirstFrameEdit
    store: MaskPreview
    options: dict[str, Any] = field(default_factory=dict)
    start: int = 0
    stop: int | None = None
    cache: Any = None  # engine.engines.mask_track.TrackCache (imported where the tracker runs)

    def __call__(self, progress: ProgressCallback, cancel: CancelToken) -> tuple[int, int]:
        from engine.engines.mask_track import track_operation_masks

        stop = len(self.clip) if self.stop is None else self.stop
        progress(Progress("mask track", 0, max(1, stop - self.start), f"tracking masks on frames {self.start + 1}-{stop}"))
        frames = track_operation_masks(
            self.clip, self.edit, self.options, start=self.start, stop=stop, progress=progress, cancel=cancel, cache=self.cache
        )
        for t, masks in frames:
            self.store.put(t, masks)
        return self.start, stop
