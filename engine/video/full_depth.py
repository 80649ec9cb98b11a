"""The result at the source's full bit depth, built beside the engine, not inside it.

Engines work on 8-bit RGB (the :class:`~engine.video.source.FrameSource` protocol): a
10-bit ProRes or 16-bit PNG source would come out crushed to 256 levels, banding in
skies and grades. This step rebuilds each result frame at 16 bits from three things:
the 16-bit source, the engine's own per-operation masks
(``PropagationResult.extras["operation_masks"]``) with the edit's operation parameters,
and the engine's 8-bit result.

Per operation kind (classic engine; see docs/formats.md):

- pixels no operation touched: the 16-bit source, untouched;
- ``track``: the same colour fill at the op's opacity, in float, over the 16-bit source;
- ``recolour``: the same colour transform (``apply_recolour_float``, the one definition
  the 8-bit path uses too) in float on the 16-bit source, inside the tracked mask;
- ``remove``/``insert``/``replace``/``outpaint``: the engine's 8-bit pixels inside that
  op's mask (fills come from other frames' 8-bit pixels and layers are 8-bit art), the
  16-bit source around them;
- engines without per-operation masks (GenProp): the 16-bit source wherever the engine
  kept the source's pixels, the engine's 8-bit pixels where it generated new ones.

The model is checked against the engine, pixel by pixel: it is run on the same 8-bit
frames the engine read, and wherever it does not reproduce the engine's 8-bit result
to within :data:`TOLERANCE` levels (an engine that changed, a blend we do not model),
that pixel is the engine's 8-bit value widened. So the full-depth output never
disagrees with what the engine made; it only restores precision where the engine's
operation is known exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.edit import EditKind, FirstFrameEdit
from engine.video.depth import widen
from engine.video.source import FrameSource

#: Largest difference (8-bit levels, any channel) between the model run on the engine's
#: 8-bit input and the engine's 8-bit output for a pixel to be carried at full depth.
#: Covers the engine rounding after every op where the model rounds once.
TOLERANCE = 2

#: Ops whose effect is a colour transform the model re-applies in float.
_FLOAT_OPS = (EditKind.TRACK, EditKind.RECOLOUR)
#: Ops whose pixels are the engine's 8-bit ones.
_EIGHT_BIT_OPS = (EditKind.REMOVE, EditKind.INSERT, EditKind.REPLACE, EditKind.OUTPAINT)


@dataclass
class FullDepthReport:
    """What was carried at full depth, counted over the frames produced so far."""

    frames: int = 0
    pixels: int = 0
    full_depth: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # op kind -> pixels left at 8 bits inside its masks
    model: str = ""

    @property
    def fraction(self) -> float:
        return self.full_depth / self.pixels if self.pixels else 0.0

    def describe(self) -> str:
        if not self.pixels:
            return "full depth: no frames"
        eight = self.pixels - self.full_depth
        where = ", ".join(f"{k} {v / self.pixels:.1%}" for k, v in sorted(self.by_kind.items()) if v)
        return (
            f"full depth ({self.model}): {self.fraction:.2%} of pixels carried at the source's depth, "
            f"{eight / self.pixels:.2%} at 8 bits" + (f" ({where})" if where else "")
        )


class FullDepthFrames:
    """The result's frames as ``[H, W, 3]`` uint16, computed one at a time (iterate it).

    Args:
        result_frames: the engine's ``[T, H, W, 3]`` uint8 frames.
        source8: the clip the engine read (8-bit).
        source_hi: the same clip read with ``depth=16``.
        edit: the edit the engine propagated (its operations' kinds and params).
        operation_masks: ``extras["operation_masks"]``: one ``[T, H, W]`` array per op,
            or ``None`` for engines that do not give them.
    """

    def __init__(
        self,
        result_frames: np.ndarray,
        source8: FrameSource,
        source_hi: Any,
        edit: FirstFrameEdit,
        operation_masks: Sequence[np.ndarray] | None = None,
        *,
        tolerance: int = TOLERANCE,
    ) -> None:
        self._frames = result_frames
        self._src8, self._src16 = source8, source_hi
        self._edit = edit
        self._tolerance = tolerance
        ops = list(edit.operations)
        usable = operation_masks is not None and len(operation_masks) == len(ops)
        if usable:
            usable = all(np.shape(m) == tuple(result_frames.shape[:3]) for m in operation_masks)  # type: ignore[union-attr]
        self._ops = ops if usable else []
        self._op_masks = list(operation_masks) if usable else []  # type: ignore[arg-type]
        self.report = FullDepthReport(model="per operation" if usable else "kept source pixels")
        if len(source8) != len(result_frames) or len(source_hi) != len(result_frames):
            raise ValueError(f"the result has {len(result_frames)} frames, the source {len(source8)}: cannot carry full depth")
        if tuple(source8.size) != tuple(source_hi.size):
            raise ValueError(f"8-bit and 16-bit readings differ in size ({source8.size} vs {source_hi.size})")

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[np.ndarray]:
        self.report = FullDepthReport(model=self.report.model)
        for t in range(len(self._frames)):
            yield self.frame(t)

    # ------------------------------------------------------------------ one frame
    def _on_canvas(self, frame: np.ndarray, canvas_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The source frame placed on the edited canvas (outpaint) and where it is known."""
        h, w = frame.shape[:2]
        if (h, w) == canvas_hw:
            return frame, np.ones(canvas_hw, bool)
        x, y = self._edit.canvas_offset
        if x < 0 or y < 0 or y + h > canvas_hw[0] or x + w > canvas_hw[1]:
            return np.zeros((*canvas_hw, 3), frame.dtype), np.zeros(canvas_hw, bool)
        canvas = np.zeros((*canvas_hw, 3), frame.dtype)
        canvas[y : y + h, x : x + w] = frame
        known = np.zeros(canvas_hw, bool)
        known[y : y + h, x : x + w] = True
        return canvas, known

    def _model(self, x: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(the float ops applied to ``x`` (0..1), pixels inside 8-bit ops' masks)."""
        from engine.edits.recolour import apply_recolour_float

        eight_bit = np.zeros(x.shape[:2], bool)
        for op, masks in zip(self._ops, self._op_masks, strict=True):
            mask = np.asarray(masks[t])
            if op.kind in _EIGHT_BIT_OPS:
                eight_bit |= mask > 0
            elif op.kind == EditKind.RECOLOUR and mask.any():
                x = apply_recolour_float(x, mask, dict(op.params))
            elif op.kind == EditKind.TRACK and mask.any():
                colour = np.asarray(op.params.get("colour", (255, 0, 255)), np.float32) / 255.0
                opacity = float(op.params.get("opacity", 1.0))
                inside = mask > 0
                x = x.copy()
                x[inside] = x[inside] * (1.0 - opacity) + colour * opacity
        return x, eight_bit

    def frame(self, t: int) -> np.ndarray:
        """Result frame ``t`` at 16 bits."""
        r8 = np.asarray(self._frames[t])
        canvas_hw = r8.shape[:2]
        s8, known = self._on_canvas(np.asarray(self._src8[t]), canvas_hw)
        s16, _ = self._on_canvas(np.asarray(self._src16[t]), canvas_hw)
        x8, eight_bit = self._model(s8.astype(np.float32) / 255.0, t)
        x16, _ = self._model(s16.astype(np.float32) / 65535.0, t)
        predicted = np.clip(np.rint(x8 * 255.0), 0, 255).astype(np.int16)
        agrees = np.abs(predicted - r8.astype(np.int16)).max(axis=2) <= self._tolerance
        carried = known & ~eight_bit & agrees
        out = widen(r8).copy()
        out[carried] = np.clip(np.rint(x16[carried] * 65535.0), 0, 65535).astype(np.uint16)
        self._count(t, carried)
        return out

    def _count(self, t: int, carried: np.ndarray) -> None:
        rep = self.report
        rep.frames += 1
        rep.pixels += carried.size
        rep.full_depth += int(carried.sum())
        for op, masks in zip(self._ops, self._op_masks, strict=True):
            left = int((np.asarray(masks[t]) > 0)[~carried].sum())
            rep.by_kind[op.kind.value] = rep.by_kind.get(op.kind.value, 0) + left


__all__ = ["TOLERANCE", "FullDepthFrames", "FullDepthReport"]
