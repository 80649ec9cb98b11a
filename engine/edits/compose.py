"""Apply a list of operation specs, in order, to frame 1 -> one ``FirstFrameEdit``.

This is the paper's "multiple edits in a single run": each op sees the canvas left by
the ones before it (so a mask given after an outpaint is in the enlarged canvas's
coordinates), and the edit mask is the union of every op's mask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from engine.edit import EditKind, FirstFrameEdit, Keyframe
from engine.edits.masks import check_frame
from engine.edits.specs import OpSpec, spec_from_dict


def as_spec(item: OpSpec | Mapping[str, Any], index: int = 0) -> OpSpec:
    """Accept a spec object or a ``{"op": ..., **fields}`` dict."""
    if isinstance(item, Mapping):
        try:
            return spec_from_dict(dict(item))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"operations[{index}]: {exc}") from exc
    if not isinstance(item, OpSpec):
        raise TypeError(f"operations[{index}] must be an op spec or a dict, got {type(item).__name__}")
    return item


def compose(
    original_frame: np.ndarray,
    ops_spec: Iterable[OpSpec | Mapping[str, Any]],
    progress: Callable[[int, int], None] | None = None,
    keyframes: Iterable[Keyframe] = (),
) -> FirstFrameEdit:
    """Apply ``ops_spec`` in order to ``original_frame``.

    Args:
        original_frame: ``[H, W, 3]`` uint8 RGB frame 1.
        ops_spec: specs (``RemoveSpec(...)``...) or dicts ``{"op": "remove", ...}``.
        progress: called as ``progress(done, total)`` after each op.
        keyframes: corrections on later frames (``engine.edit.Keyframe``), checked against
            the composed operations and canvas (``engine.edit.check_keyframes``).

    Returns:
        The ``FirstFrameEdit`` with every op's ``EditOperation`` and ``canvas_offset`` =
        where the original's top-left corner ended up after any outpaints.

    Raises:
        ValueError: a bad spec or an op that failed; the message starts with its index.
    """
    check_frame(original_frame, "original_frame")
    specs_list = [as_spec(item, i) for i, item in enumerate(ops_spec)]
    canvas = original_frame.copy()
    edit_mask = np.zeros(canvas.shape[:2], np.uint8)
    offset_x, offset_y = 0, 0
    operations = []
    for i, spec in enumerate(specs_list):
        try:
            canvas, op = spec.apply(canvas)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"operations[{i}] ({spec.op}): {exc}") from exc
        if op.kind is EditKind.OUTPAINT:
            p = op.params
            edit_mask = np.pad(edit_mask, ((p["top"], p["bottom"]), (p["left"], p["right"])))
            offset_x, offset_y = offset_x + p["left"], offset_y + p["top"]
        edit_mask = np.maximum(edit_mask, op.mask)
        operations.append(op)
        if progress is not None:
            progress(i + 1, len(specs_list))
    return FirstFrameEdit(
        original_frame=original_frame.copy(),
        edited_frame=canvas,
        edit_mask=edit_mask,
        operations=operations,
        canvas_offset=(offset_x, offset_y),
        keyframes=list(keyframes),
    )
