"""Transport and timeline: play/pause, stepping, scrubbing, frame number and timecode."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QStyle, QStyleOptionSlider, QToolButton, QWidget

from ui.icons import icon


class SeekSlider(QSlider):
    """A slider where a click on the groove jumps to that frame (not a page step towards it)."""

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and self.maximum() > self.minimum():
            option = QStyleOptionSlider()
            self.initStyleOption(option)
            handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self)
            if not handle.contains(event.position().toPoint()):
                groove = self.style().subControlRect(
                    QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, self
                )
                span = max(1, groove.width() - handle.width())
                x = int(event.position().x()) - groove.x() - handle.width() // 2
                self.setValue(QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), x, span, option.upsideDown))
        super().mousePressEvent(event)  # a press on the handle (now under the cursor) starts a drag


class Timeline(QWidget):
    """Emits ``frame_requested(index)``; the window answers by showing that frame."""

    frame_requested = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self._count = 0
        self._fps = 24.0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self.play_button = self._button("play", "Play / pause (Space)", self.toggle_play)
        self.first_button = self._button("first", "First frame (Home)", lambda: self.seek(0))
        self.prev_button = self._button("prev", "Previous frame (Left)", lambda: self.step(-1))
        self.next_button = self._button("next", "Next frame (Right)", lambda: self.step(1))
        self.last_button = self._button("last", "Last frame (End)", lambda: self.seek(self._count - 1))
        self.slider = SeekSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub through the clip; click anywhere on it to jump there")
        self.slider.setMinimumWidth(80)
        self.slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.slider.valueChanged.connect(self.frame_requested)
        self.frame_label = QLabel("frame – / –")
        self.timecode_label = QLabel("00:00:00.000")
        for label in (self.frame_label, self.timecode_label):
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            label.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
        self.timecode_label.setToolTip("Time of the shown frame")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(2)
        for w in (self.first_button, self.prev_button, self.play_button, self.next_button, self.last_button):
            layout.addWidget(w)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.frame_label)
        layout.addWidget(self.timecode_label)
        self.set_clip(0, 24.0)

    def _button(self, role: str, tip: str, slot) -> QToolButton:  # type: ignore[no-untyped-def]
        button = QToolButton()
        button.setIcon(icon(role))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def set_clip(self, count: int, fps: float) -> None:
        self.pause()
        self._count, self._fps = count, fps if fps > 0 else 24.0
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, count - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.frame_label.setText(f"frame 1 / {count}" if count > 0 else "frame – / –")
        self.timecode_label.setText("00:00:00.000")
        self.setEnabled(count > 0)

    @property
    def position(self) -> int:
        return self.slider.value()

    @property
    def count(self) -> int:
        return self._count

    def show_position(self, index: int, timecode: str) -> None:
        self.frame_label.setText(f"frame {index + 1} / {self._count}")
        self.timecode_label.setText(timecode)

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        """In a narrow window the timecode gives way first, so the scrub bar keeps its width."""
        super().resizeEvent(event)
        self.timecode_label.setVisible(self.width() >= 520)

    def seek(self, index: int) -> None:
        self.slider.setValue(max(0, min(self._count - 1, index)))

    def step(self, delta: int) -> None:
        self.pause()
        self.seek(self.position + delta)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def play(self) -> None:
        if self._count < 2:
            return
        if self.position >= self._count - 1:
            self.seek(0)
        self._timer.start(max(1, int(1000 / self._fps)))
        self.play_button.setIcon(icon("pause"))

    def pause(self) -> None:
        self._timer.stop()
        self.play_button.setIcon(icon("play"))

    def _tick(self) -> None:
        if self.position >= self._count - 1:
            self.pause()
        else:
            self.seek(self.position + 1)
