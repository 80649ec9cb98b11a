"""Classic engine end to end on real footage from ../shared/data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.edit import EditKind, EditOperation, FirstFrameEdit
from engine.edits.recolour import recolour
from engine.edits.remove import remove
from engine.edits.track import track
from engine.engines.classic import ClassicEngine
from engine.video.source import ArrayClip

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _read(name: str, n: int) -> tuple[np.ndarray, float]:
    path = DATA / "clips" / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    return np.stack(frames), fps


def _centre_mask(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (w // 2, h // 2), (w // 8, h // 6), 0, 0, 360, 255, -1)
    return m


def _edits(frame: np.ndarray) -> dict[str, FirstFrameEdit]:
    h, w = frame.shape[:2]
    m = _centre_mask(h, w)
    out = {}
    f, op = track(frame, m)
    out["track"] = FirstFrameEdit(frame, f, op.mask, [op])
    f, op = recolour(frame, m, hue_shift=90)
    out["recolour"] = FirstFrameEdit(frame, f, op.mask, [op])
    f, op = remove(frame, m, method="telea")
    out["remove"] = FirstFrameEdit(frame, f, op.mask, [op])
    layer = np.zeros((h, w, 4), np.uint8)
    layer[h // 4 : h // 4 + h // 8, w // 4 : w // 4 + w // 8] = (255, 255, 0, 200)
    ins = EditOperation(EditKind.INSERT, mask=(layer[..., 3] > 0).astype(np.uint8) * 255, layer_rgba=layer)
    a = layer[..., 3:4] / 255.0
    out["insert"] = FirstFrameEdit(frame, np.rint(frame * (1 - a) + layer[..., :3] * a).astype(np.uint8), ins.mask, [ins])
    pad = w // 10
    canvas = cv2.copyMakeBorder(frame, 0, 0, pad, pad, cv2.BORDER_REFLECT)
    cm = np.full(canvas.shape[:2], 255, np.uint8)
    cm[:, pad : pad + w] = 0
    op = EditOperation(EditKind.OUTPAINT, mask=cm, params={"left": pad, "top": 0, "right": pad, "bottom": 0})
    out["outpaint"] = FirstFrameEdit(frame, canvas, cm, [op], canvas_offset=(pad, 0))
    return out


@pytest.mark.parametrize("name", ["motion.mov", "cockatoo.mp4"])
def test_every_task_end_to_end(name: str) -> None:
    frames, fps = _read(name, 8)
    clip = ArrayClip(frames, fps)
    for task, edit in _edits(frames[0]).items():
        result = ClassicEngine().propagate(clip, edit)
        cw, ch = edit.canvas_size
        assert result.frames.shape == (len(frames), ch, cw, 3), task
        assert result.fps == pytest.approx(fps), task
        assert np.array_equal(result.frames[0], edit.edited_frame), task
        if task != "outpaint":
            outside = result.masks == 0
            assert np.array_equal(result.frames[outside], frames[outside]), task
        else:
            pad = (cw - frames.shape[2]) // 2
            assert np.array_equal(result.frames[:, :, pad : pad + frames.shape[2]], frames), task
        assert (result.masks[1:] > 0).any(), task
