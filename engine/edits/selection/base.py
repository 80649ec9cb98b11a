"""The selector protocol shared by SAM2 and the GrabCut fallback.

A selector is a two-stage object, as a brush needs: ``set_image(frame)`` does the
expensive per-frame work once (cached by frame content), then ``predict(points, labels,
box)`` answers each click quickly. Several objects on one frame are several ``predict``
calls after one ``set_image``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from engine.edits.masks import check_frame


class SelectorUnavailableError(RuntimeError):
    """The requested selector cannot be built (no weights, bad checkpoint...)."""


@dataclass
class SelectionResult:
    """Candidate masks for one prompt, best first.

    Attributes:
        masks: ``[K, H, W]`` uint8 (0/255) at the frame's size, ``K >= 1``.
        scores: ``[K]`` float32 quality estimates (SAM2's predicted IoU; for GrabCut the
            colour separation between inside and a ring outside, 0..1).
        backend: which selector made them, e.g. ``"sam2.1-hiera-tiny"`` or ``"grabcut"``.
        is_fallback: True when made by the fallback selector (the GUI says so).
    """

    masks: np.ndarray
    scores: np.ndarray
    backend: str
    is_fallback: bool

    @property
    def best(self) -> np.ndarray:
        """``[H, W]`` mask with the highest score."""
        return self.masks[int(np.argmax(self.scores))]


@runtime_checkable
class Selector(Protocol):
    """What the GUI's selection brush and the CLI call."""

    backend: str
    is_fallback: bool

    def set_image(self, frame: np.ndarray) -> None:
        """Prepare for clicks on ``frame`` (``[H, W, 3]`` uint8 RGB); cached per frame."""
        ...

    def predict(
        self,
        points: np.ndarray | list | None,
        labels: np.ndarray | list | None,
        box: np.ndarray | list | None = None,
        multimask: bool = True,
    ) -> SelectionResult:
        """Masks for clicks ``points`` ``[N, 2]`` (x, y pixels) with ``labels`` ``[N]``
        (1 = object, 0 = background) and/or ``box`` (x0, y0, x1, y1)."""
        ...


def frame_key(frame: np.ndarray) -> str:
    """Content hash of a frame: the cache key for per-frame embeddings."""
    check_frame(frame)
    digest = hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=16)
    digest.update(str(frame.shape).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Prompt:
    """Validated prompt: points ``[N, 2]`` float32, labels ``[N]`` int32, box ``[4]`` or None."""

    points: np.ndarray
    labels: np.ndarray
    box: np.ndarray | None


def check_prompt(
    points: np.ndarray | list | None,
    labels: np.ndarray | list | None,
    box: np.ndarray | list | None,
    size_hw: tuple[int, int],
) -> Prompt:
    """Validate click/box input against the frame size; raise naming the bad value."""
    h, w = size_hw
    if points is None or len(points) == 0:
        pts = np.zeros((0, 2), np.float32)
        if labels is not None and len(labels) > 0:
            raise ValueError(f"labels given ({len(labels)}) without points")
        lab = np.zeros((0,), np.int32)
    else:
        pts = np.asarray(points, dtype=np.float32)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"points must be [N, 2] (x, y), got shape {pts.shape}")
        if labels is None:
            raise ValueError("labels are required with points (1 = object, 0 = background)")
        lab = np.asarray(labels)
        if lab.shape != (len(pts),):
            raise ValueError(f"labels must be [{len(pts)}] to match points, got shape {lab.shape}")
        if not np.isin(lab, (0, 1)).all():
            raise ValueError(f"labels must be 0 (background) or 1 (object), got {lab.tolist()}")
        lab = lab.astype(np.int32)
        if not np.isfinite(pts).all():
            raise ValueError(f"points must be finite, got {pts.tolist()}")
        outside = (pts[:, 0] < 0) | (pts[:, 0] > w - 1) | (pts[:, 1] < 0) | (pts[:, 1] > h - 1)
        if outside.any():
            raise ValueError(f"points {pts[outside].tolist()} lie outside the {w}x{h} frame")
    bx = None
    if box is not None:
        bx = np.asarray(box, dtype=np.float32)
        if bx.shape != (4,) or not np.isfinite(bx).all():
            raise ValueError(f"box must be (x0, y0, x1, y1), got {box!r}")
        x0, y0, x1, y1 = bx
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"box must have x1 > x0 and y1 > y0, got {bx.tolist()}")
        if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
            raise ValueError(f"box {bx.tolist()} lies outside the {w}x{h} frame")
        bx = np.array([max(0, x0), max(0, y0), min(w, x1), min(h, y1)], np.float32)
    if bx is None and not (lab == 1).any():
        raise ValueError("give a box or at least one object point (label 1)")
    return Prompt(pts, lab, bx)
