"""Window planning for clips longer than the model's frame window (pure functions).

SVD generates a fixed number of frames conditioned on one image. A long clip is cut
into windows that overlap by ``overlap`` frames: window ``k`` starts at
``previous.stop - overlap`` and is conditioned on the frame the previous window
generated there. With ``overlap == 1`` that is exactly the previous window's last
frame. Inside an overlap the outputs are blended with :func:`overlap_weights`, whose
first weight is 0, so the conditioning frame itself is never changed by the window
it conditions (the chain stays exact).

Keyframes (issue 19) start windows: ``starts`` are frames at which a window must begin
(the previous one is cut short to end ``overlap`` frames after it), so a window can be
conditioned on the user's edited keyframe instead of a generated frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """Frames ``[start, stop)`` of the clip, processed as one model call."""

    index: int
    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


def plan_windows(num_frames: int, window_size: int, overlap: int = 1, starts: Sequence[int] = ()) -> list[Window]:
    """Cover ``num_frames`` frames with windows of at most ``window_size`` frames.

    Every window after the first starts ``overlap`` frames before the previous one
    ends; the last window may be shorter (but always has at least ``overlap + 1``
    frames, so it adds at least one new frame). Each frame of ``starts`` begins a window
    when it can: not frame 0 (always a start), and not within the clip's last ``overlap``
    frames (a window starting there would add no frame); :func:`unplaced_starts` names those.
    """
    if num_frames < 2:
        raise ValueError(f"num_frames must be >= 2 (propagation needs a first frame and one more), got {num_frames}")
    if window_size < 2:
        raise ValueError(f"window_size must be >= 2, got {window_size}")
    if not 1 <= overlap < window_size:
        raise ValueError(f"overlap must be in [1, window_size - 1] = [1, {window_size - 1}], got {overlap}")
    forced = sorted({int(k) for k in starts if 0 < int(k) < num_frames - overlap})
    windows: list[Window] = []
    start = 0
    while True:
        stop = min(start + window_size, num_frames)
        k = next((k for k in forced if k > start), None)
        # A forced start before the next window's natural one (or past the last window's
        # start) cuts this window short so the next one begins there.
        if k is not None and (stop == num_frames or k < stop - overlap):
            stop = k + overlap
        windows.append(Window(len(windows), start, stop))
        if stop >= num_frames:
            return windows
        start = stop - overlap


def unplaced_starts(windows: list[Window], starts: Sequence[int]) -> list[int]:
    """The frames of ``starts`` (other than 0) that no window of ``windows`` begins at."""
    begun = {w.start for w in windows}
    return sorted(k for k in set(starts) if k != 0 and k not in begun)


def overlap_weights(overlap: int) -> np.ndarray:
    """Weight of the NEW window for each of the ``overlap`` shared frames: ``j / overlap``.

    The first shared frame (the new window's conditioning frame) keeps the previous
    window's value; later shared frames fade linearly to the new window.
    """
    if overlap < 1:
        raise ValueError(f"overlap must be >= 1, got {overlap}")
    return np.arange(overlap, dtype=np.float32) / float(overlap)
