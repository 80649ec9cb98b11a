"""GrabCut selector: the fallback when no SAM2 weights are installed.

Same API as SAM2 (points and box in, masks out), built on OpenCV's GrabCut. It runs on a
crop around the prompt, downscaled to ``work_size``, so a click answers in a fraction of
a second even on a 1280x720 frame (full-frame GrabCut takes seconds). With a box the box
is the object's extent; with clicks only, the object's size is unknown, so (like SAM's
whole/part ambiguity) it tries three box sizes around the clicks and returns one mask
each, best first.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.edits.masks import check_frame, keep_components_at
from engine.edits.selection.base import Prompt, SelectionResult, check_prompt, frame_key

#: Half-size of the guessed box around click(s), as a fraction of the frame's short side.
CLICK_SCALES = (0.08, 0.16, 0.3)
#: A click guess is an object only if it fills this much of its guessed box (GrabCut keeps the
#: clicked seed itself, so a collapsed cut is a blob of a few hundred pixels under the click) ...
MIN_FILL = 0.03
#: ... and its colours differ from its surroundings (a cut through uniform background scores ~0).
MIN_SEPARATION = 0.05


def colour_separation(image: np.ndarray, mask: np.ndarray, ring_px: int = 8) -> float:
    """1 - histogram intersection of colours inside ``mask`` vs a ring just outside it.

    Near 1 when the selection's colours differ from its surroundings (a clean cut),
    near 0 when the cut runs through uniform colour. This is the GrabCut score.
    """
    inside = mask > 0
    if not inside.any() or inside.all():
        return 0.0
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring_px + 1, 2 * ring_px + 1))
    ring = (cv2.dilate(mask, k) > 0) & ~inside
    if not ring.any():
        return 0.0
    q = (image // 32).astype(np.int32)  # 8 levels per channel
    codes = q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]
    hf = np.bincount(codes[inside], minlength=512).astype(np.float64)
    hb = np.bincount(codes[ring], minlength=512).astype(np.float64)
    return float(1.0 - np.minimum(hf / hf.sum(), hb / hb.sum()).sum())


#: ``_cut``'s attempt value meaning "first attempt, no retries" (one of several click guesses).
RETRY_NONE = -1


def _plausible(mask: np.ndarray, score: float, box: np.ndarray) -> bool:
    """Is a click guess an object: enough of its box filled, and colours unlike its surroundings?"""
    h, w = mask.shape
    x0, y0, x1, y1 = max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])
    area = max(1.0, (x1 - x0) * (y1 - y0))
    return int((mask > 0).sum()) >= MIN_FILL * area and score >= MIN_SEPARATION


class GrabCutSelector:
    """Interactive GrabCut with the :class:`~engine.edits.selection.base.Selector` API.

    Args:
        work_size: longest side, in pixels, of the crop GrabCut runs on.
        iterations: GrabCut iterations per prediction.
        reason: why the fallback is in use (shown to the user), e.g. missing weights.
    """

    backend = "grabcut"
    is_fallback = True

    def __init__(self, work_size: int = 256, iterations: int = 3, reason: str = "") -> None:
        if not isinstance(work_size, int) or work_size < 32:
            raise ValueError(f"work_size must be an int >= 32, got {work_size!r}")
        if not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be an int >= 1, got {iterations!r}")
        self.work_size = work_size
        self.iterations = iterations
        self.reason = reason
        self._frame: np.ndarray | None = None
        self._key: str | None = None

    def set_image(self, frame: np.ndarray) -> None:
        """Remember ``frame``; GrabCut has no embedding, so this is cheap."""
        check_frame(frame)
        key = frame_key(frame)
        if key != self._key:
            self._frame, self._key = frame.copy(), key

    def predict(
        self,
        points: np.ndarray | list | None,
        labels: np.ndarray | list | None,
        box: np.ndarray | list | None = None,
        multimask: bool = True,
    ) -> SelectionResult:
        """Masks for a box and/or clicks; see the module docstring.

        Click guesses that are not plausible objects (see ``MIN_FILL``, ``MIN_SEPARATION``)
        come back empty with score 0, so an all-empty result means "found nothing here".
        """
        if self._frame is None:
            raise RuntimeError("call set_image(frame) before predict()")
        h, w = self._frame.shape[:2]
        prompt = check_prompt(points, labels, box, (h, w))
        if prompt.box is not None:
            boxes = [prompt.box]
        else:
            fg = prompt.points[prompt.labels == 1]
            (x0, y0), (x1, y1) = fg.min(axis=0), fg.max(axis=0)
            short = min(h, w)
            boxes = [np.array([x0 - s * short, y0 - s * short, x1 + s * short, y1 + s * short], np.float32) for s in CLICK_SCALES]
        masks, scores = [], []
        for b in boxes:
            # A user's box is the whole instruction: a collapsed cut is retried. Click guesses
            # are three alternatives: one that is not a plausible object is dropped.
            m, s = self._cut(prompt, b, attempt=0 if prompt.box is not None else RETRY_NONE)
            if prompt.box is None and not _plausible(m, s, b):
                m, s = np.zeros_like(m), 0.0
            masks.append(m)
            scores.append(s)
        order = np.argsort(scores)[::-1]
        if not multimask:
            order = order[:1]
        return SelectionResult(
            masks=np.stack([masks[i] for i in order]),
            scores=np.asarray([scores[i] for i in order], np.float32),
            backend=self.backend,
            is_fallback=True,
        )

    def _cut(self, prompt: Prompt, box: np.ndarray, attempt: int = 0) -> tuple[np.ndarray, float]:
        """GrabCut inside ``box`` on a downscaled crop; returns full-size mask and score.

        GrabCut's colour models can collapse to "all background" on a downscaled crop
        (seen on real clips); an empty cut is retried at twice the working size
        (``attempt`` 1, usually enough), at full resolution (2), then with the whole frame
        as context (3). Only hard cases pay for the retries.
        """
        retry = attempt != RETRY_NONE
        attempt = max(attempt, 0)
        whole_frame = attempt >= 3
        frame = self._frame
        assert frame is not None  # guarded in predict
        h, w = frame.shape[:2]
        bx0, by0 = max(0.0, float(box[0])), max(0.0, float(box[1]))
        bx1, by1 = min(float(w), float(box[2])), min(float(h), float(box[3]))
        pad = float(max(w, h)) if whole_frame else max(16.0, 0.25 * max(bx1 - bx0, by1 - by0))
        rx0, ry0 = int(max(0, np.floor(bx0 - pad))), int(max(0, np.floor(by0 - pad)))
        rx1, ry1 = int(min(w, np.ceil(bx1 + pad))), int(min(h, np.ceil(by1 + pad)))
        crop = frame[ry0:ry1, rx0:rx1]
        work = (self.work_size, 2 * self.work_size)[attempt] if attempt < 2 else max(crop.shape[:2])
        scale = min(1.0, work / max(crop.shape[:2]))
        sw, sh = max(8, int(round(crop.shape[1] * scale))), max(8, int(round(crop.shape[0] * scale)))
        sx, sy = sw / crop.shape[1], sh / crop.shape[0]
        small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA)
        small_bgr = np.ascontiguousarray(small[..., ::-1])

        gc = np.full((sh, sw), cv2.GC_BGD, np.uint8)
        ix0, iy0 = int(np.floor((bx0 - rx0) * sx)), int(np.floor((by0 - ry0) * sy))
        ix1, iy1 = int(np.ceil((bx1 - rx0) * sx)), int(np.ceil((by1 - ry0) * sy))
        gc[iy0:iy1, ix0:ix1] = cv2.GC_PR_FGD
        if (gc == cv2.GC_BGD).sum() < 16:  # box covers the whole crop: let the border be background
            gc[[0, -1], :] = cv2.GC_PR_BGD
            gc[:, [0, -1]] = cv2.GC_PR_BGD
        r = max(2, int(round(0.01 * max(sw, sh))))
        for (px, py), lab in zip(prompt.points, prompt.labels, strict=True):
            c = (int(round((px - rx0) * sx)), int(round((py - ry0) * sy)))
            if 0 <= c[0] < sw and 0 <= c[1] < sh:
                cv2.circle(gc, c, r, int(cv2.GC_FGD if lab == 1 else cv2.GC_BGD), -1)
        if not np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
            return np.zeros((h, w), np.uint8), 0.0
        cv2.setRNGSeed(0)  # GrabCut's GMM initialisation is random; keep results repeatable
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(small_bgr, gc, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
        fg_small = np.where((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD), np.uint8(255), np.uint8(0))
        box_area = max(1, (ix1 - ix0) * (iy1 - iy0))
        if retry and int((fg_small > 0).sum()) < 0.005 * box_area and attempt < 3:  # empty or a few stray pixels
            return self._cut(prompt, box, attempt + 1)
        score = colour_separation(small, fg_small)
        up = cv2.resize(fg_small, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
        full = np.zeros((h, w), np.uint8)
        full[ry0:ry1, rx0:rx1] = np.where(up >= 128, np.uint8(255), np.uint8(0))
        fg_points = prompt.points[prompt.labels == 1]
        if len(fg_points):
            full = keep_components_at(full, [tuple(p) for p in fg_points])
        return full, score
