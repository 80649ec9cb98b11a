"""Rendering the Review tab's image off the GUI thread: decode, compose (A/B wipe, side by
side, mask overlay, attention heat), and scrubbing previews.

``ReviewRenderer`` runs on a ``ui.frame_loader.LatestRequestPool``: the newest position
wins while the slider moves, older answers are dropped, the frames ahead are decoded while
idle. The pure helpers (``compose_view``, ``tint``...) are tested without Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from engine.engines.base import PropagationResult
from engine.pipelines.compositing import mask_box
from engine.video import Reader
from ui.frame_loader import DecodedCache, LatestRequestPool
from ui.image import qimage_from_rgb

if TYPE_CHECKING:  # torch stays out of the window's start-up: the record arrives from a job
    from engine.engines.genprop_attention import AttentionRecord

MODES = ("Result", "Side by side", "A/B wipe", "Original")
GAP = 8  # pixels between the two halves of "Side by side"


def tint(frame: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], opacity: float) -> np.ndarray:
    """Blend ``colour`` into ``frame`` where ``mask`` is set, and outline the region.

    Only the mask's bounding box is worked on (a 1080p frame with a small object: ~3 ms, not 35)."""
    out = frame.copy()
    on = mask > 127
    box = mask_box(on, 1)  # one pixel more: the outline's outer edge
    if box is None or opacity <= 0:
        return out
    y0, y1, x0, x1 = box
    box, inside = out[y0:y1, x0:x1], np.ascontiguousarray(on[y0:y1, x0:x1]).view(np.uint8)
    paint = np.empty_like(box)
    paint[:] = colour
    blended = cv2.addWeighted(box, 1 - opacity, paint, opacity, 0)
    edge = cv2.morphologyEx(inside, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    cv2.copyTo(blended, inside, box)  # writes through the view into ``out``
    cv2.copyTo(paint, edge, box)
    return out


def fit_to(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Letterbox ``frame`` into ``size`` (w, h) so originals and outpainted results align."""
    w, h = size
    if (frame.shape[1], frame.shape[0]) == (w, h):
        return frame
    scale = min(w / frame.shape[1], h / frame.shape[0])
    resized = cv2.resize(
        frame, (max(1, int(frame.shape[1] * scale)), max(1, int(frame.shape[0] * scale))), interpolation=cv2.INTER_AREA
    )
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - resized.shape[0]) // 2, (w - resized.shape[1]) // 2
    out[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return out


def heat_colours(weights: np.ndarray) -> np.ndarray:
    """0..1 weights -> RGB in the attention colour map (JET: blue low, red high)."""
    return cv2.cvtColor(cv2.applyColorMap((np.clip(weights, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def heat(frame: np.ndarray, weights: np.ndarray, opacity: float = 0.55) -> np.ndarray:
    """Draw a 0..1 attention map over a frame (JET colours where attention is high)."""
    alpha = (opacity * np.clip(weights, 0, 1) ** 0.5)[..., None]
    return (frame * (1 - alpha) + heat_colours(weights) * alpha).astype(np.uint8)


def compose_view(
    mode: str, original: np.ndarray, result: np.ndarray, mask: np.ndarray | None, wipe: float, overlay: float
) -> np.ndarray:
    """The displayed image for a review mode (pure; tested without Qt)."""
    shown = result if mask is None or overlay <= 0 else tint(result, mask, (255, 60, 200), overlay)
    size = (shown.shape[1], shown.shape[0])
    if mode == "Result":
        return shown
    if mode == "Original":
        return original
    original = fit_to(original, size)
    if mode == "Side by side":
        gap = np.full((size[1], GAP, 3), 20, np.uint8)
        return np.hstack([original, gap, shown])
    if mode == "A/B wipe":
        split = int(round(wipe * size[0]))
        out = shown.copy()
        out[:, :split] = original[:, :split]
        out[:, max(0, split - 1) : split + 1] = (255, 255, 255)
        return out
    raise ValueError(f"review mode must be one of {MODES}, got {mode!r}")


@dataclass(frozen=True)
class ViewRequest:
    """Everything one displayed review image depends on, taken on the GUI thread (rendered on a worker)."""

    index: int
    mode: str
    result: PropagationResult
    other: PropagationResult | None  # the result chosen in "vs"; None: the original clip
    reader: Reader | None
    mask: bool
    wipe: float
    opacity: float
    attention: tuple[AttentionRecord, str, int, tuple[float, float]] | None = None  # record, layer, step, point
    preview: bool = False  # the slider is moving: the store's small copies will do (the exact frame follows)


#: Decoded frames and masks the review keeps (the frames around the one shown): ~5 1080p frames with mask and original.
REVIEW_CACHE_BYTES = 64 * 1024 * 1024
#: Frames decoded ahead of the shown one, in the direction the user is moving, while no request waits.
REVIEW_PREFETCH = 4
#: Two refreshes closer than this: the user is scrubbing (or dragging the wipe), previews are shown,
#: and the exact frame is rendered once the position has rested this long.
SCRUB_SECONDS = 0.12


class ReviewRenderer:
    """Decodes and composes review images on worker threads (``ui.frame_loader.LatestRequestPool``).

    A stored result decodes a 1080p frame in ~45 ms and its mask in ~10 ms: on the GUI
    thread, scrubbing would stall the window; here two workers serve the newest position
    (older ones are skipped while the slider moves) and decode ahead of it while idle."""

    def __init__(self, parent: QObject, threads: int = 2) -> None:
        self.cache = DecodedCache(REVIEW_CACHE_BYTES)
        self._last_index = 0
        self._preview_sizes: dict[int, tuple[int, int] | None] = {}
        self.pool = LatestRequestPool(self.render, threads=threads, prefetch=self._ahead, name="review", parent=parent)

    def _get(self, source: Any, index: int, preview: tuple[int, int] | None = None) -> np.ndarray:
        """Frame ``index`` of a result's frames or masks, or of the clip (clamped to its length);
        with ``preview`` (w, h): the store's small copy, or the frame brought to that size."""
        i = min(index, len(source) - 1)
        if preview is None:
            return self.cache.get((id(source), i), lambda: np.asarray(source[i]))

        def small() -> np.ndarray:
            stored = source.preview(i) if getattr(source, "has_preview", False) else None
            if stored is not None and (stored.shape[1], stored.shape[0]) == preview:
                return stored
            full = self._get(source, i)
            return cv2.resize(full, preview, interpolation=cv2.INTER_AREA if full.ndim == 3 else cv2.INTER_NEAREST)

        return self.cache.get((id(source), i, preview), small)

    def _preview_size(self, r: ViewRequest) -> tuple[int, int] | None:
        """The size a request is composed at: the store's proxy size while scrubbing, else None (full size)."""
        if not r.preview or r.attention is not None or r.mode not in ("Result", "A/B wipe"):
            return None
        frames = r.result.frames
        if not getattr(frames, "has_preview", False):
            return None
        key = id(frames)
        if key not in self._preview_sizes:
            sample = frames.preview(0)
            self._preview_sizes[key] = None if sample is None else (sample.shape[1], sample.shape[0])
        return self._preview_sizes[key]

    def _sources(self, r: ViewRequest) -> list[Any]:
        """What the image for ``r`` is made of."""
        if r.mode == "Original":
            return [r.reader] if r.reader is not None else []
        out: list[Any] = [r.result.frames] + ([r.result.masks] if r.mask else [])
        if r.mode in ("Side by side", "A/B wipe"):
            b = r.other.frames if r.other is not None else r.reader
            out += [b] if b is not None else []
        return out

    def render(self, r: ViewRequest) -> tuple[QImage, tuple[int, int]]:
        """The displayed image for ``r`` and its size in scene pixels (a preview is smaller; runs on a worker)."""
        if r.mode == "Original":
            if r.reader is None:
                raise ValueError("no clip is open")
            image = self._get(r.reader, r.index)
            return qimage_from_rgb(image), (image.shape[1], image.shape[0])
        h, w = r.result.frames.shape[1:3]
        small = self._preview_size(r)
        shown = self._get(r.result.frames, r.index, small)
        if r.attention is not None:
            record, layer, step, point = r.attention
            if r.index < record.num_frames:
                shown = heat(shown, record.overlay(layer, step, r.index, *point))
        mask = self._get(r.result.masks, r.index, small) if r.mask else None
        if r.mode in ("Side by side", "A/B wipe"):
            b = r.other.frames if r.other is not None else r.reader
            original = self._get(b, r.index, small) if b is not None else shown
        else:
            original = shown
        image = compose_view(r.mode, original, shown, mask, r.wipe, r.opacity)
        scene = (w, h) if small is not None else (image.shape[1], image.shape[0])
        return qimage_from_rgb(image), scene

    def _ahead(self, r: ViewRequest) -> list[Callable[[], object]]:
        """Decode the next frames in the direction of travel into the cache (while nothing newer waits)."""
        step = -1 if r.index < self._last_index else 1
        self._last_index = r.index
        jobs: list[Callable[[], object]] = []
        small = self._preview_size(r)
        for k in range(1, REVIEW_PREFETCH + 1):
            i = r.index + step * k
            if not 0 <= i < len(r.result.frames):
                break
            jobs += [lambda s=source, i=i: self._get(s, i, small) for source in self._sources(r)]
        return jobs

    def shutdown(self) -> None:
        self.pool.shutdown()
        self.cache.clear()
