"""Reviewing results: result alone, side by side with the original, or an A/B wipe,
with the predicted edit mask as an overlay. Several results can be kept and compared."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QVBoxLayout, QWidget

from engine.engines.base import PropagationResult
from engine.engines.genprop_attention import AttentionResult
from engine.video import Reader
from ui.frame_loader import FrameLoader, frame_array
from ui.frame_view import FrameView
from ui.image import qimage_from_rgb
from ui.timeline import Timeline

MODES = ("Result", "Side by side", "A/B wipe", "Original")


def tint(frame: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], opacity: float) -> np.ndarray:
    """Blend ``colour`` into ``frame`` where ``mask`` is set, and outline the region."""
    out = frame.copy()
    on = mask > 127
    if on.any() and opacity > 0:
        out[on] = (out[on] * (1 - opacity) + np.asarray(colour) * opacity).astype(np.uint8)
        edge = cv2.morphologyEx(on.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        out[edge] = colour
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


def heat(frame: np.ndarray, weights: np.ndarray, opacity: float = 0.55) -> np.ndarray:
    """Draw a 0..1 attention map over a frame (JET colours where attention is high)."""
    colours = cv2.cvtColor(cv2.applyColorMap((weights * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    alpha = (opacity * np.clip(weights, 0, 1) ** 0.5)[..., None]
    return (frame * (1 - alpha) + colours * alpha).astype(np.uint8)


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
        gap = np.full((size[1], 8, 3), 20, np.uint8)
        return np.hstack([original, gap, shown])
    if mode == "A/B wipe":
        split = int(round(wipe * size[0]))
        out = shown.copy()
        out[:, :split] = original[:, :split]
        out[:, max(0, split - 1) : split + 1] = (255, 255, 255)
        return out
    raise ValueError(f"review mode must be one of {MODES}, got {mode!r}")


class ReviewView(QWidget):
    """Plays a result against the original clip."""

    frame_shown = Signal(int)
    attention_requested = Signal(object)  # [H, W] uint8 query mask on the result canvas

    def __init__(self) -> None:
        super().__init__()
        self.results: list[tuple[str, PropagationResult]] = []
        self.reader: Reader | None = None
        self._loader: FrameLoader | None = None
        self._original: tuple[int, np.ndarray] | None = None
        self.attention: AttentionResult | None = None
        self.view = _ClickableView()
        self.view.clicked.connect(self._on_click)
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
        self.wipe.valueChanged.connect(lambda _v: self.refresh())
        self.mask_check = QCheckBox("Edit mask")
        self.mask_check.setChecked(True)
        self.mask_check.setToolTip("Overlay the per-frame edit mask (MPD for GenProp, tracked mask for classic)")
        self.mask_check.toggled.connect(lambda _v: self.refresh())
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(40)
        self.opacity.setToolTip("Mask overlay opacity")
        self.opacity.valueChanged.connect(lambda _v: self.refresh())
        self.info = QLabel("No result yet: edit the first frame, then Propagate.")
        self.attention_check = QCheckBox("Attention")
        self.attention_check.setToolTip(
            "GenProp results: Shift+click a point to see where G attends from there, per layer and denoising step"
        )
        self.attention_check.toggled.connect(lambda _v: self.refresh())
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("Attention layer of G")
        self.layer_box.setMinimumContentsLength(18)
        self.layer_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.step_box = QSpinBox()
        self.step_box.setPrefix("step ")
        self.step_box.setToolTip("Denoising step of the recorded maps")
        self.step_box.valueChanged.connect(lambda _v: self.refresh())
        bar = QHBoxLayout()
        for w in (
            QLabel("Result"),
            self.result_box,
            QLabel("View"),
            self.mode_box,
            QLabel("vs"),
            self.compare_box,
            QLabel("Wipe"),
            self.wipe,
            self.mask_check,
            self.opacity,
        ):
            bar.addWidget(w)
        attention_bar = QHBoxLayout()
        for w in (self.attention_check, self.layer_box, self.step_box):
            attention_bar.addWidget(w)
        attention_bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addLayout(attention_bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.timeline)
        layout.addWidget(self.info)

    def set_clip(self, reader: Reader | None) -> None:
        if self._loader is not None:
            self._loader.shutdown()
            self._loader.deleteLater()
            self._loader = None
        self.reader = reader
        self._original = None
        if reader is not None:
            self._loader = FrameLoader(reader, prefetch=4, parent=self)
            self._loader.frame_ready.connect(self._on_original)

    def set_results(self, results: list[tuple[str, PropagationResult]], select: int | None = None) -> None:
        self.results = list(results)
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

    def _on_click(self, x: float, y: float) -> None:
        result = self.current
        if result is None or not self.attention_check.isEnabled():
            return
        h, w = result.frames.shape[1:3]
        if not (0 <= x < w and 0 <= y < h):
            return
        query = np.zeros((h, w), np.uint8)
        cv2.circle(query, (int(x), int(y)), max(2, min(w, h) // 24), 255, -1)
        self.attention_requested.emit(query)

    def set_attention(self, attention: AttentionResult | None) -> None:
        self.attention = attention
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        if attention is not None:
            self.layer_box.addItems(sorted(attention.spatial))
            self.step_box.setRange(0, max(0, attention.num_steps - 1))
            self.step_box.setValue(max(0, attention.num_steps - 1))
            self.attention_check.setChecked(True)
        self.layer_box.blockSignals(False)
        self.refresh()

    def _result_changed(self) -> None:
        self.set_attention(None)
        result = self.current
        genprop = result is not None and result.engine.startswith("genprop")
        self.attention_check.setEnabled(genprop)
        self.attention_check.setToolTip(
            "Shift+click a point of the result to record G's attention from there (re-runs the first window)"
            if genprop
            else "Attention maps exist for GenProp results only"
        )
        if result is None:
            self.timeline.set_clip(0, 24)
            self.view.clear()
            self.info.setText("No result yet: edit the first frame, then Propagate.")
            return
        self.timeline.set_clip(len(result.frames), result.fps)
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
        self.info.setText(
            f"{result.engine} ({result.mode or 'default'}) · {len(result.frames)} frames" + (f" · {timing}" if timing else "")
        )
        self.show_frame(0)

    def show_frame(self, index: int) -> None:
        result = self.current
        if result is None:
            return
        seconds = index / result.fps
        self.timeline.show_position(index, f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:{seconds % 60:06.3f}")
        self.refresh()  # requests the original frame itself when the view needs it

    def _comparison(self) -> PropagationResult | None:
        """The result chosen in "vs", or None for the original clip."""
        i = self.compare_box.currentIndex() - 1
        return self.results[i][1] if 0 <= i < len(self.results) else None

    def _on_original(self, index: int, image: QImage) -> None:
        self._original = (index, frame_array(image))
        self.refresh()

    def refresh(self) -> None:
        result = self.current
        if result is None:
            return
        index = min(self.timeline.position, len(result.frames) - 1)
        mode = self.mode_box.currentText()
        other = self._comparison()
        if other is not None and mode in ("Side by side", "A/B wipe"):
            mask = result.masks[index] if self.mask_check.isChecked() else None
            b = other.frames[min(index, len(other.frames) - 1)]
            image = compose_view(mode, b, result.frames[index], mask, self.wipe.value() / 100, self.opacity.value() / 100)
            self.view.show_image(qimage_from_rgb(image))
            self.frame_shown.emit(index)
            return
        if mode != "Result" and (self._original is None or self._original[0] != index):
            if self._loader is not None and self.reader is not None:
                self._loader.request(min(index, len(self.reader) - 1))
            if mode == "Original" or self._original is None:
                return
        original = self._original[1] if self._original is not None else result.frames[index]
        mask = result.masks[index] if self.mask_check.isChecked() else None
        shown = result.frames[index]
        if self.attention is not None and self.attention_check.isChecked() and self.layer_box.currentText():
            frames = self.attention.spatial[self.layer_box.currentText()].shape[1]
            if index < frames:
                shown = heat(shown, self.attention.overlay(self.layer_box.currentText(), self.step_box.value(), index))
        image = compose_view(mode, original, shown, mask, self.wipe.value() / 100, self.opacity.value() / 100)
        self.view.show_image(qimage_from_rgb(image))
        self.frame_shown.emit(index)

    def shutdown(self) -> None:
        self.timeline.pause()
        self.set_clip(None)
