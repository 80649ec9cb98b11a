"""Reviewing results: result alone, side by side with the original, or an A/B wipe,
with the predicted edit mask as an overlay, the run's warnings, and (GenProp) G's
attention from a Shift+clicked point. Several results can be kept and compared.

Attention is recorded once per result (one re-run of its first window, for every query
cell: ``engine.engines.genprop_attention.AttentionRecord``); every later Shift+click is
answered from that record at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QMouseEvent, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine.engines.base import PropagationResult
from engine.video import Reader
from ui.frame_loader import DecodedCache, LatestRequestPool
from ui.frame_view import FrameView
from ui.image import qimage_from_rgb
from ui.timeline import Timeline

if TYPE_CHECKING:  # torch stays out of the window's start-up: the record arrives from a job
    from engine.engines.genprop_attention import AttentionRecord

MODES = ("Result", "Side by side", "A/B wipe", "Original")
GAP = 8  # pixels between the two halves of "Side by side"


def tint(frame: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], opacity: float) -> np.ndarray:
    """Blend ``colour`` into ``frame`` where ``mask`` is set, and outline the region.

    Only the mask's bounding box is worked on (a 1080p frame with a small object: ~3 ms, not 35)."""
    out = frame.copy()
    on = mask > 127
    x, y, w, h = cv2.boundingRect(on.view(np.uint8))
    if w == 0 or opacity <= 0:
        return out
    y0, x0 = max(0, y - 1), max(0, x - 1)  # one pixel more: the outline's outer edge
    y1, x1 = min(out.shape[0], y + h + 1), min(out.shape[1], x + w + 1)
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


class PointMarker(QGraphicsEllipseItem):
    """The clicked query point: a white ring with a dark edge, the same size on screen at any zoom."""

    RADIUS = 7.0

    def __init__(self) -> None:
        r = self.RADIUS
        super().__init__(-r, -r, 2 * r, 2 * r)
        self.setPen(QPen(QColor(255, 255, 255), 2))
        self.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setZValue(5)
        edge = QGraphicsEllipseItem(-r - 2, -r - 2, 2 * r + 4, 2 * r + 4, self)
        edge.setPen(QPen(QColor(0, 0, 0), 1.5))
        dot = QGraphicsEllipseItem(-1.5, -1.5, 3, 3, self)
        dot.setBrush(QBrush(QColor(255, 255, 255)))
        dot.setPen(QPen(Qt.PenStyle.NoPen))


def legend_pixmap(width: int = 120, height: int = 10) -> QPixmap:
    """The attention colour scale, low (left) to high (right)."""
    ramp = heat_colours(np.tile(np.linspace(0, 1, width, dtype=np.float32), (height, 1)))
    return QPixmap.fromImage(qimage_from_rgb(np.ascontiguousarray(ramp)))


class _ClickableView(FrameView):
    """A FrameView that reports clicks in image pixels (for attention queries)."""

    clicked = Signal(float, float)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            p = self.mapToScene(event.position().toPoint())
            self.clicked.emit(p.x(), p.y())
            event.accept()
            return
        super().mousePressEvent(event)


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


class ReviewView(QWidget):
    """Plays a result against the original clip."""

    frame_shown = Signal(int)
    attention_requested = Signal(object)  # the result whose attention should be recorded

    def __init__(self) -> None:
        super().__init__()
        self.results: list[tuple[str, PropagationResult]] = []
        self.reader: Reader | None = None
        self.renderer = ReviewRenderer(self)
        self.renderer.pool.ready.connect(self._on_rendered)
        self.renderer.pool.failed.connect(self._on_render_failed)
        self._last_refresh = 0.0
        self.shown_preview = False  # the image on screen is a scrubbing preview (the exact frame follows)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(int(SCRUB_SECONDS * 1000))
        self._settle.timeout.connect(lambda: self.refresh(exact=True))
        self._records: dict[int, AttentionRecord] = {}  # id(result) -> its recording
        self.query_point: tuple[float, float] | None = None  # on the result canvas
        self.view = _ClickableView()
        self.view.clicked.connect(self._on_click)
        self.marker = PointMarker()
        self.marker.hide()
        self.view.scene().addItem(self.marker)
        self.timeline = Timeline()
        self.timeline.frame_requested.connect(self.show_frame)
        self.result_box = QComboBox()
        self.result_box.setToolTip("Results kept in this project; pick one to review")
        self.result_box.currentIndexChanged.connect(lambda _i: self._result_changed())
        self.compare_box = QComboBox()
        self.compare_box.setToolTip("What the side-by-side and A/B wipe views compare the result with")
        self.compare_box.addItem("Original")
        self.compare_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.mode_box = QComboBox()
        self.mode_box.addItems(MODES)
        self.mode_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.wipe = QSlider(Qt.Orientation.Horizontal)
        self.wipe.setRange(0, 100)
        self.wipe.setValue(50)
        self.wipe.setToolTip("A/B wipe position: original on the left, result on the right")
        self.wipe.setMinimumWidth(60)
        self.wipe.valueChanged.connect(lambda _v: self.refresh())
        self.mask_check = QCheckBox("Edit mask")
        self.mask_check.setChecked(True)
        self.mask_check.setToolTip("Overlay the per-frame edit mask (MPD for GenProp, tracked mask for classic)")
        self.mask_check.toggled.connect(lambda _v: self.refresh())
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(40)
        self.opacity.setToolTip("Mask overlay opacity")
        self.opacity.setMinimumWidth(60)
        self.opacity.valueChanged.connect(lambda _v: self.refresh())
        self.info = QLabel("No result yet: edit the first frame, then Propagate.")
        self.info.setWordWrap(True)
        self.warnings = QLabel("")
        self.warnings.setObjectName("resultWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #e8b339;")
        self.warnings.hide()
        self.attention_check = QCheckBox("Attention")
        self.attention_check.setToolTip(
            "GenProp results: Shift+click a point to see where G attends from there, per layer and denoising step"
        )
        self.attention_check.toggled.connect(lambda _v: self.refresh())
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("Attention layer of G")
        self.layer_box.setMinimumContentsLength(18)
        self.layer_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.step_box = QComboBox()
        self.step_box.setToolTip("Denoising step of the recorded maps")
        self.step_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.legend = QWidget()
        legend_layout = QHBoxLayout(self.legend)
        legend_layout.setContentsMargins(6, 0, 0, 0)
        ramp = QLabel()
        ramp.setPixmap(legend_pixmap())
        ramp.setToolTip("Attention colour scale: blue = little attention, red = the most (each map scaled to its own range)")
        for w in (QLabel("low"), ramp, QLabel("high")):
            legend_layout.addWidget(w)
        self.legend.hide()
        for box in (self.result_box, self.compare_box, self.layer_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
        bar = QHBoxLayout()  # two short rows rather than one long one: a small window keeps them all
        for w in (QLabel("Result"), self.result_box, QLabel("View"), self.mode_box, QLabel("vs"), self.compare_box):
            bar.addWidget(w)
        bar.addStretch(1)
        attention_bar = QHBoxLayout()
        for w in (QLabel("Wipe"), self.wipe, self.mask_check, self.opacity, self.attention_check, self.layer_box, self.step_box):
            attention_bar.addWidget(w)
        attention_bar.addWidget(self.legend)
        attention_bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addLayout(attention_bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.timeline)
        layout.addWidget(self.warnings)
        layout.addWidget(self.info)
        self._fill_attention_boxes()

    def set_clip(self, reader: Reader | None) -> None:
        self.renderer.pool.drop_and_wait()  # no render still reads the clip that is closing
        self.reader = reader
        self.renderer.cache.clear()

    def set_results(self, results: list[tuple[str, PropagationResult]], select: int | None = None) -> None:
        self.results = list(results)
        self.renderer.cache.clear()  # keys are ids of the frames' containers: never of a dropped result
        alive = {id(r) for _, r in self.results}
        self._records = {k: v for k, v in self._records.items() if k in alive}
        self.result_box.blockSignals(True)
        self.result_box.clear()
        self.result_box.addItems([name for name, _ in self.results])
        if self.results:
            self.result_box.setCurrentIndex(len(self.results) - 1 if select is None else select)
        self.result_box.blockSignals(False)
        self.compare_box.blockSignals(True)
        chosen = self.compare_box.currentText()
        self.compare_box.clear()
        self.compare_box.addItems(["Original", *[name for name, _ in self.results]])
        self.compare_box.setCurrentText(chosen if chosen in [name for name, _ in self.results] else "Original")
        self.compare_box.blockSignals(False)
        self._result_changed()

    @property
    def current(self) -> PropagationResult | None:
        i = self.result_box.currentIndex()
        return self.results[i][1] if 0 <= i < len(self.results) else None

    @property
    def attention(self) -> AttentionRecord | None:
        """The current result's attention record, once recorded."""
        result = self.current
        return None if result is None else self._records.get(id(result))

    # ------------------------------------------------------------ attention
    def _on_click(self, x: float, y: float) -> None:
        result = self.current
        if result is None:
            return
        if not self.attention_check.isEnabled():
            self.info.setText("Attention maps exist for GenProp results only.")
            return
        if self.mode_box.currentText() == "Side by side":
            x -= result.frames.shape[2] + GAP  # the result is the right half
        if self.mode_box.currentText() != "Original":
            self.ask_attention(x, y)

    def ask_attention(self, x: float, y: float) -> None:
        """G's attention from point (x, y) of the current result (recorded first if need be)."""
        result = self.current
        if result is None or not self.attention_check.isEnabled():
            return
        h, w = result.frames.shape[1:3]
        if not (0 <= x < w and 0 <= y < h):
            return
        self.query_point = (x, y)
        self.attention_check.setChecked(True)
        if self.attention is None:
            self.info.setText("Recording G's attention for this result (once; every later click is instant)…")
            self.attention_requested.emit(result)
        self.refresh()

    def set_attention_record(self, result: PropagationResult, record: AttentionRecord) -> None:
        """The recording for ``result`` (from the attention job); clicks are answered from it."""
        self._records[id(result)] = record
        if result is self.current:
            self._fill_attention_boxes()
            self._describe()
            self.refresh()

    def _fill_attention_boxes(self) -> None:
        record = self.attention
        for box in (self.layer_box, self.step_box):
            box.blockSignals(True)
            box.clear()
        if record is not None:
            self.layer_box.addItems(sorted(record.spatial))
            self.step_box.addItems([f"step {s}" for s in record.steps])
            self.step_box.setCurrentIndex(self.step_box.count() - 1)
        for box in (self.layer_box, self.step_box):
            box.blockSignals(False)
            box.setVisible(record is not None)  # shown once there are maps to choose from

    def _result_changed(self) -> None:
        self.query_point = None
        result = self.current
        genprop = result is not None and result.engine.startswith("genprop")
        self.attention_check.setEnabled(genprop)
        self.attention_check.setToolTip(
            "Shift+click a point of the result to see G's attention from there (recorded once per result)"
            if genprop
            else "Attention maps exist for GenProp results only"
        )
        self._fill_attention_boxes()
        if result is None:
            self.timeline.set_clip(0, 24)
            self.view.clear()
            self.warnings.hide()
            self.info.setText("No result yet: edit the first frame, then Propagate.")
            return
        self.timeline.set_clip(len(result.frames), result.fps)
        warnings = [str(w) for w in result.extras.get("warnings", ())]
        self.warnings.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.warnings.setVisible(bool(warnings))
        self._describe()
        self.show_frame(0)

    def _describe(self, index: int | None = None) -> None:
        result = self.current
        if result is None:
            return
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
        text = f"{result.engine} ({result.mode or 'default'}) · {len(result.frames)} frames" + (f" · {timing}" if timing else "")
        note = result.extras.get("frame_notes", {}).get(index) if index is not None else None
        if note:
            text += f" · frame {index + 1}: {note}"
        self.info.setText(text)

    # ------------------------------------------------------------ frames
    def show_frame(self, index: int) -> None:
        result = self.current
        if result is None:
            return
        seconds = index / result.fps
        self.timeline.show_position(index, f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:{seconds % 60:06.3f}")
        if result.extras.get("frame_notes"):
            self._describe(index)
        self.refresh()  # requests the original frame itself when the view needs it

    def _comparison(self) -> PropagationResult | None:
        """The result chosen in "vs", or None for the original clip."""
        i = self.compare_box.currentIndex() - 1
        return self.results[i][1] if 0 <= i < len(self.results) else None

    def refresh(self, *, exact: bool = False) -> None:
        """Ask the renderer for the image of the current position and settings (shown when it arrives).

        While the user scrubs (refreshes closer than ``SCRUB_SECONDS``) the store's small copies
        are shown and the exact frame follows once the position rests; ``exact`` asks for it now."""
        result = self.current
        if result is None:
            return
        now = time.monotonic()
        scrubbing = not exact and now - self._last_refresh < SCRUB_SECONDS
        self._last_refresh = now
        if scrubbing:
            self._settle.start()  # the exact frame when the position has rested
        index = min(self.timeline.position, len(result.frames) - 1)
        mode = self.mode_box.currentText()
        other = self._comparison() if mode in ("Side by side", "A/B wipe") else None
        record, point = self.attention, self.query_point
        show_attention = self.attention_check.isChecked() and point is not None
        self.legend.setVisible(show_attention and record is not None)
        self.marker.setVisible(show_attention and mode != "Original")
        attention = None
        if show_attention:
            offset = result.frames.shape[2] + GAP if mode == "Side by side" else 0
            self.marker.setPos(point[0] + offset, point[1])
            if record is not None and self.layer_box.currentText():
                attention = (record, self.layer_box.currentText(), max(0, self.step_box.currentIndex()), point)
        request = ViewRequest(
            index,
            mode,
            result,
            other,
            self.reader,
            self.mask_check.isChecked(),
            self.wipe.value() / 100,
            self.opacity.value() / 100,
            attention,
            preview=scrubbing,
        )
        self.renderer.pool.request(request)

    @property
    def rendering(self) -> bool:
        """An image asked for has not been shown yet, or the exact frame after a scrub is still to come."""
        return self.renderer.pool.busy or self._settle.isActive()

    def _on_rendered(self, request: ViewRequest, rendered: tuple[QImage, tuple[int, int]]) -> None:
        if request.result is not self.current:
            return  # the result was replaced while this image was made
        image, (w, h) = rendered
        self.view.show_image(image, QSize(w, h))  # a preview covers the frame's own size in the scene
        self.shown_preview = request.preview and image.width() < w
        self.frame_shown.emit(request.index)

    def _on_render_failed(self, request: ViewRequest, message: str) -> None:
        if request.result is not self.current or request.reader is not self.reader:
            return  # about a result or clip no longer shown
        self.info.setText(f"Cannot show frame {request.index + 1}: {message}")

    def shutdown(self) -> None:
        self.timeline.pause()
        self._settle.stop()
        self.set_clip(None)
        self.renderer.shutdown()
