"""Transport and timeline: play/pause, stepping, scrubbing, frame number and timecode,
and the keyframe strip under the scrub bar (issue 19: corrections on later frames)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QContextMenuEvent, QHelpEvent, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

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


def _groove(slider: QSlider) -> tuple[QStyleOptionSlider, int, int]:
    """(style option, x of frame 0's handle centre, span in pixels) of a horizontal slider."""
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    style = slider.style()
    handle = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider)
    groove = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, slider)
    return option, groove.x() + handle.width() // 2, max(1, groove.width() - handle.width())


class KeyframeStrip(QWidget):
    """Markers for the keyframes under the scrub bar, each at its frame's handle position.

    Click a marker to jump there; right-click for a menu (go to, delete); Delete removes the
    keyframe at the marker last clicked. The tooltip says what the keyframe holds.
    """

    jump_requested = Signal(int)
    delete_requested = Signal(int)
    correct_requested = Signal(int)
    HIT = 6  # pixels either side of a marker that count as a click on it

    def __init__(self, slider: QSlider) -> None:
        super().__init__()
        self._slider = slider
        self._marks: dict[int, str] = {}  # frame -> tooltip
        self._edited: set[int] = set()  # frames whose keyframe holds an edited frame (drawn blue)
        self.selected: int | None = None
        self.setFixedHeight(12)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Keyframes (corrections on later frames): click one to go there, right-click to delete it")

    @property
    def frames(self) -> list[int]:
        return sorted(self._marks)

    def set_keyframes(self, marks: dict[int, str], edited: set[int] | frozenset[int] = frozenset()) -> None:
        """Frame -> what it holds (the marker's tooltip); ``edited``: frames with an edited frame."""
        self._marks = dict(marks)
        self._edited = set(edited)
        if self.selected not in self._marks:
            self.selected = None
        self.update()

    def x_of(self, frame: int) -> int:
        """The x (in this widget) of ``frame``'s handle centre on the scrub bar above."""
        option, x0, span = _groove(self._slider)
        lo, hi = self._slider.minimum(), self._slider.maximum()
        x = x0 + QStyle.sliderPositionFromValue(lo, hi, min(max(frame, lo), hi), span, option.upsideDown)
        return x + self._slider.mapTo(self.parentWidget(), QPoint(0, 0)).x() - self.x() if self.parentWidget() else x

    def frame_at(self, x: float) -> int | None:
        """The keyframe whose marker is at ``x`` (nearest within ``HIT`` pixels)."""
        best = min(self._marks, key=lambda f: abs(self.x_of(f) - x), default=None)
        return best if best is not None and abs(self.x_of(best) - x) <= self.HIT else None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        h = self.height()
        for frame in self._marks:
            x = self.x_of(frame)
            colour = QColor(90, 170, 255) if frame in self._edited else QColor(255, 200, 40)
            if frame == self.selected:
                colour = colour.lighter(150)
            painter.setPen(QPen(QColor(20, 20, 20), 1))
            painter.setBrush(colour)
            painter.drawPolygon(QPolygonF([QPointF(x, 1), QPointF(x + 5, h / 2), QPointF(x, h - 1), QPointF(x - 5, h / 2)]))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        frame = self.frame_at(event.position().x())
        if frame is not None and event.button() == Qt.MouseButton.LeftButton:
            self.selected = frame
            self.update()
            self.jump_requested.emit(frame)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected is not None:
            self.delete_requested.emit(self.selected)
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt override
        frame = self.frame_at(event.pos().x())
        if frame is None:
            return
        menu = QMenu(self)
        menu.addAction(f"Go to frame {frame + 1}", lambda: self.jump_requested.emit(frame))
        menu.addAction(f"Correct frame {frame + 1}…", lambda: self.correct_requested.emit(frame))
        menu.addAction(f"Delete keyframe {frame + 1}", lambda: self.delete_requested.emit(frame))
        menu.exec(event.globalPos())

    def event(self, event) -> bool:  # type: ignore[no-untyped-def]
        if isinstance(event, QHelpEvent) and event.type() == event.Type.ToolTip:
            frame = self.frame_at(event.pos().x())
            QToolTip.showText(event.globalPos(), self._marks[frame] if frame is not None else self.toolTip(), self)
            return True
        return super().event(event)


class Timeline(QWidget):
    """Emits ``frame_requested(index)``; the window answers by showing that frame."""

    frame_requested = Signal(int)
    keyframe_delete_requested = Signal(int)
    keyframe_correct_requested = Signal(int)

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
        self.keyframe_strip = KeyframeStrip(self.slider)
        self.keyframe_strip.jump_requested.connect(lambda f: (self.pause(), self.seek(f)))
        self.keyframe_strip.delete_requested.connect(self.keyframe_delete_requested)
        self.keyframe_strip.correct_requested.connect(self.keyframe_correct_requested)
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
        bar = QWidget()  # the scrub bar with the keyframe strip under it, sharing its width
        column = QVBoxLayout(bar)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.slider)
        column.addWidget(self.keyframe_strip)
        layout.addWidget(bar, 1)
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
        self._fix_label_sizes()
        self.setEnabled(count > 0)

    def _fix_label_sizes(self) -> None:
        """Size the position labels for their widest text, fixed: a label whose size may change makes Qt
        lay out and repaint the whole tab on every step of a scrub (a third of the GUI thread's time at 1080p)."""
        metrics = self.frame_label.fontMetrics()
        widest = "8" * len(str(max(1, self._count)))
        for label, text in ((self.frame_label, f"frame {widest} / {widest}"), (self.timecode_label, "88:88:88.888")):
            label.setFixedSize(metrics.horizontalAdvance(text) + 2 * label.margin() + 6, label.sizeHint().height())

    def set_keyframes(self, marks: dict[int, str], edited: set[int] | frozenset[int] = frozenset()) -> None:
        """Show keyframe markers: frame -> what it holds; ``edited``: those holding an edited frame."""
        self.keyframe_strip.set_keyframes(marks, edited)

    def jump_keyframe(self, direction: int) -> None:
        """Go to the next (``direction`` > 0) or previous keyframe from the shown frame."""
        frames = self.keyframe_strip.frames
        here = self.position
        target = (
            min((f for f in frames if f > here), default=None)
            if direction > 0
            else max((f for f in frames if f < here), default=None)
        )
        if target is not None:
            self.pause()
            self.seek(target)

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
