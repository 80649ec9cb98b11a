"""The naive baselines a user could write in five lines of OpenCV, scored beside an engine.

- ``static``: the frame-1 mask kept still on every frame: recolour/track inside it,
  per-frame Telea inpainting of it for removal, the layer pasted at its frame-1 place
  for insert, the frame-1 margins kept for outpaint.
- ``telea_true``: per-frame Telea inpainting of the TRUE region (removal, outpaint
  margins): what a perfect tracker plus spatial inpainting would give. Not defined
  for track/insert (it would be the truth itself).

Each returns ``(frames, masks)`` like an engine, or ``None`` where it does not apply.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from engine.edit import EditKind
from engine.evaluation.testset import CaseData

Baseline = Callable[[CaseData], "tuple[np.ndarray, np.ndarray] | None"]


def _u8(mask: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(mask) > 0, np.uint8(255), np.uint8(0))


def _telea(frame: np.ndarray, mask: np.ndarray, radius: float = 5.0) -> np.ndarray:
    return cv2.inpaint(frame, _u8(mask), radius, cv2.INPAINT_TELEA) if np.any(mask) else frame.copy()


def _outpaint_canvas(data: CaseData, t: int) -> np.ndarray:
    canvas = data.edit.edited_frame.copy()
    ox, oy = data.edit.canvas_offset
    h, w = data.frames.shape[1:3]
    canvas[oy : oy + h, ox : ox + w] = data.frames[t]
    return canvas


def static(data: CaseData) -> tuple[np.ndarray, np.ndarray] | None:
    """The frame-1 mask kept static (see the module docstring)."""
    from engine.engines.classic.colour import frame_transform
    from engine.engines.classic.insert import composite_layer

    edit = data.edit
    if len(edit.operations) != 1:
        return None
    op = edit.operations[0]
    n = len(data.frames)
    out = np.empty((n, *edit.edited_frame.shape), np.uint8)
    masks = np.repeat(_u8(op.mask)[None], n, axis=0)
    for t in range(n):
        if op.kind in (EditKind.TRACK, EditKind.RECOLOUR):
            src = op.source_mask if op.source_mask is not None else op.mask
            out[t] = frame_transform(op)(data.frames[t], _u8(src))
        elif op.kind == EditKind.REMOVE:
            out[t] = _telea(data.frames[t], op.mask, float(op.params.get("radius", 5.0)))
        elif op.kind == EditKind.INSERT:
            out[t] = composite_layer(data.frames[t], op.layer_rgba, np.eye(3))[0]
        elif op.kind == EditKind.OUTPAINT:
            out[t] = _outpaint_canvas(data, t)
        else:
            return None
    out[0] = edit.edited_frame
    return out, masks


def telea_true(data: CaseData) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-frame Telea of the true region (removal and outpaint only)."""
    if data.masks is None or len(data.edit.operations) != 1:
        return None
    op = data.edit.operations[0]
    if op.kind == EditKind.REMOVE:
        frames = np.stack(
            [_telea(f, m, float(op.params.get("radius", 5.0))) for f, m in zip(data.frames, data.masks, strict=True)]
        )
    elif op.kind == EditKind.OUTPAINT:
        frames = np.stack([_telea(_outpaint_canvas(data, t), data.masks[t]) for t in range(len(data.frames))])
    else:
        return None
    frames[0] = data.edit.edited_frame
    return frames, _u8(data.masks)


BASELINES: dict[str, Baseline] = {"static": static, "telea_true": telea_true}
"""Baseline name -> function."""
