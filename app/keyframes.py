"""Keyframe corrections as the app edits them (issue 19; no Qt).

A keyframe (``engine.edit.Keyframe``) holds, for a later frame, corrected masks of some
operations and/or the user's own version of that frame. The project keeps them as a list
sorted by frame and treats every ``Keyframe`` as a value: a change builds a new list
(these pure functions), so an undo command only swaps a list before for a list after.

Masks are drawn on the ORIGINAL picture of the corrected frame; an operation's mask lives
in its own canvas (larger after an outpaint before it), so ``to_op_canvas`` /
``from_op_canvas`` move a mask between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.edit import EditKind, FirstFrameEdit, Keyframe


def find(keyframes: Sequence[Keyframe], frame: int) -> Keyframe | None:
    """The keyframe on ``frame``, if there is one."""
    return next((k for k in keyframes if k.frame == frame), None)


def _sorted(keyframes: Sequence[Keyframe]) -> list[Keyframe]:
    return sorted(keyframes, key=lambda k: k.frame)


def with_correction(keyframes: Sequence[Keyframe], frame: int, op_index: int, mask: np.ndarray) -> list[Keyframe]:
    """The list with operation ``op_index``'s mask on ``frame`` set to ``mask`` (added or replaced)."""
    old = find(keyframes, frame)
    masks = dict(old.masks) if old is not None else {}
    masks[op_index] = mask
    new = Keyframe(frame, masks, None if old is None else old.edited_frame)
    return _sorted([*(k for k in keyframes if k.frame != frame), new])


def without_correction(keyframes: Sequence[Keyframe], frame: int, op_index: int) -> list[Keyframe]:
    """The list without operation ``op_index``'s correction on ``frame`` (the keyframe goes when nothing is left)."""
    old = find(keyframes, frame)
    if old is None or op_index not in old.masks:
        return list(keyframes)
    masks = {i: m for i, m in old.masks.items() if i != op_index}
    rest = [k for k in keyframes if k.frame != frame]
    if masks or old.edited_frame is not None:
        rest.append(Keyframe(frame, masks, old.edited_frame))
    return _sorted(rest)


def with_edited_frame(keyframes: Sequence[Keyframe], frame: int, image: np.ndarray | None) -> list[Keyframe]:
    """The list with the edited frame of ``frame`` set (``None`` removes it; an empty keyframe goes)."""
    old = find(keyframes, frame)
    masks = dict(old.masks) if old is not None else {}
    rest = [k for k in keyframes if k.frame != frame]
    if masks or image is not None:
        rest.append(Keyframe(frame, masks, image))
    return _sorted(rest)


def without_keyframe(keyframes: Sequence[Keyframe], frame: int) -> list[Keyframe]:
    return [k for k in keyframes if k.frame != frame]


def after_operation_removed(keyframes: Sequence[Keyframe], index: int) -> list[Keyframe]:
    """Corrections once operation ``index`` is gone: its masks dropped, later operations' indices shifted down."""
    out = []
    for k in keyframes:
        masks = {(i - 1 if i > index else i): m for i, m in k.masks.items() if i != index}
        if masks or k.edited_frame is not None:
            out.append(Keyframe(k.frame, masks, k.edited_frame))
    return out


def after_operation_inserted(keyframes: Sequence[Keyframe], index: int) -> list[Keyframe]:
    """Corrections once an operation is inserted at ``index``: later operations' indices shifted up."""
    return [Keyframe(k.frame, {(i + 1 if i >= index else i): m for i, m in k.masks.items()}, k.edited_frame) for k in keyframes]


def describe(keyframe: Keyframe, op_names: Sequence[str] = ()) -> str:
    """One line saying what a keyframe holds (the strip's tooltip)."""

    def name(i: int) -> str:
        return f"{i + 1}: {op_names[i]}" if i < len(op_names) else f"{i + 1}"

    parts = [f"mask of edit {name(i)} ({int((m > 127).sum())} px)" for i, m in sorted(keyframe.masks.items())]
    if keyframe.edited_frame is not None:
        parts.append("an edited frame")
    return f"Keyframe at frame {keyframe.frame + 1}: " + ", ".join(parts)


# ------------------------------------------------------------ coordinates
def correctable_operations(edit: FirstFrameEdit) -> list[int]:
    """Indices of the operations whose tracked region a mask correction can fix: those the engines
    track (track, recolour, remove, replace). An inserted layer and an outpaint are not tracked:
    their later frames are fixed with an edited keyframe, not a mask."""
    from engine.engines.mask_track import tracked_region

    return [i for i, op in enumerate(edit.operations) if tracked_region(op) is not None]


def op_offset(edit: FirstFrameEdit, index: int) -> tuple[int, int]:
    """(x, y) of the original frame's top-left corner on operation ``index``'s canvas (outpaints before it)."""
    x = y = 0
    for op in edit.operations[:index]:
        if op.kind is EditKind.OUTPAINT:
            x, y = x + int(op.params["left"]), y + int(op.params["top"])
    return x, y


def to_op_canvas(edit: FirstFrameEdit, index: int, mask: np.ndarray) -> np.ndarray:
    """A mask drawn on the original frame, placed on operation ``index``'s canvas (0/255)."""
    shape = edit.operations[index].mask.shape
    out = np.zeros(shape, np.uint8)
    x, y = op_offset(edit, index)
    h, w = mask.shape
    out[y : y + h, x : x + w] = np.where(mask[: shape[0] - y, : shape[1] - x] > 127, 255, 0)
    return out


def from_op_canvas(edit: FirstFrameEdit, index: int, mask: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """Operation ``index``'s canvas mask cut back to the original frame of size ``frame_hw``."""
    x, y = op_offset(edit, index)
    h, w = frame_hw
    out = np.zeros((h, w), np.uint8)
    part = mask[y : y + h, x : x + w]
    out[: part.shape[0], : part.shape[1]] = part
    return out


def edit_with_keyframes(edit: FirstFrameEdit, keyframes: Sequence[Keyframe]) -> FirstFrameEdit:
    """The composed frame-1 edit carrying the project's keyframes (what Propagate and the mask preview run)."""
    import dataclasses

    return dataclasses.replace(edit, keyframes=list(keyframes))


@dataclass
class KeyframeNoticeJob:
    """A propagation job whose result says so when its engine does not follow the edit's keyframes
    (``Engine.follows_keyframes``): the user corrected frames, so silence would mislead."""

    job: Any  # app.jobs.PropagationJob

    def __getattr__(self, name: str) -> Any:  # the wrapped job's fields (engine, edit, options, ...)
        if name == "job":
            raise AttributeError(name)
        return getattr(self.job, name)

    def __call__(self, progress: Any, cancel: Any) -> Any:
        result = self.job(progress, cancel)
        if self.job.edit.keyframes:
            from engine.engines.base import get_engine

            if not getattr(get_engine(self.job.engine), "follows_keyframes", False):  # imported by the job already
                n = len(self.job.edit.keyframes)
                result.extras.setdefault("warnings", []).append(
                    f"the {self.job.engine} engine does not use keyframes: {n} correction{'s' if n != 1 else ''} ignored"
                )
        return result


def read_edited_frame(path: str | Path, canvas_hw: tuple[int, int]) -> np.ndarray:
    """The user's own version of a frame from a PNG (e.g. a result frame retouched elsewhere), ``[H', W', 3]``
    at the edited canvas size; ValueError naming the file and the problem otherwise."""
    from engine.video.png import read_png

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path.name}: an edited frame must be a PNG file")
    image = read_png(path, "RGB", f"edited frame {path.name}", error=ValueError)
    if image.shape[:2] != tuple(canvas_hw):
        raise ValueError(
            f"{path.name} is {image.shape[1]}x{image.shape[0]}; the edited frame must be {canvas_hw[1]}x{canvas_hw[0]}, "
            "the size of the edited canvas (export the frame, retouch it, keep its size)"
        )
    return np.ascontiguousarray(image[..., :3], np.uint8)


def same_masks(a: Keyframe | None, b: Keyframe | None) -> bool:
    """Whether two keyframes hold the same corrected masks (a change of an edited frame alone: nothing to re-track)."""
    ma, mb = ({} if k is None else k.masks for k in (a, b))
    return ma.keys() == mb.keys() and all(np.array_equal(ma[i], mb[i]) for i in ma)
