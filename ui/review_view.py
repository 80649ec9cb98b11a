"""Reviewing results: result alone, side by side with the original, or an A/B wipe,
with the predicted edit mask as an overlay, the run's warnings, and (GenProp) G's
attention from a Shift+clicked point. Several results can be kept and compared.

Attention is recorded once per result (one re-run of its first window, for every query
cell: ``engine.engines.genprop_attention.AttentionRecord``); every later Shift+click is
answered from that record at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
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
from ui.frame_view import FrameView
from ui.image import qimage_from_rgb
from ui.review_render import GAP, MODES, SCRUB_SECONDS, ReviewRenderer, ViewRequest, heat_colours
from ui.timeline import Timeline

if TYPE_CHECKING:  # torch stays out of the window's start-up: the record arrives from a job
    from engine.engines.genprop_attention import AttentionRecord


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
