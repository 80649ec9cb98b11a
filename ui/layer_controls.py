"""The layer being placed (Insert / Replace): its image, scale, rotation, flips, opacity, feather.

The layer is previewed on the edit canvas and dragged with the Move tool; these
controls hold its other placement values and build the ``InsertSpec`` fields.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QHBoxLayout, QToolButton, QWidget

from ui.edit_canvas import EditCanvas


def _spin(low: float, high: float, value: float, step: float = 1.0, suffix: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    if suffix:
        box.setSuffix(suffix)
    return box


class LayerControls:
    """Owns the layer under placement; adds its rows to a form."""

    def __init__(self, canvas: EditCanvas, form: QFormLayout, changed: Signal | None = None) -> None:
        self.canvas = canvas
        self.layer: np.ndarray | None = None
        self._pos = (0.0, 0.0)
        self.scale = _spin(0.05, 10.0, 1.0, 0.05)
        self.rotation = _spin(-180.0, 180.0, 0.0, 1.0, "°")
        self.opacity = _spin(0.0, 1.0, 1.0, 0.05)
        self.feather = _spin(0.0, 50.0, 1.0)
        self.flip_h = QToolButton()
        self.flip_h.setText("Flip ↔")
        self.flip_h.setCheckable(True)
        self.flip_v = QToolButton()
        self.flip_v.setText("Flip ↕")
        self.flip_v.setCheckable(True)
        flips = QHBoxLayout()
        flips.addWidget(self.flip_h)
        flips.addWidget(self.flip_v)
        for w in (self.scale, self.rotation, self.opacity):
            w.valueChanged.connect(lambda _v: self.preview())
        for b in (self.flip_h, self.flip_v):
            b.toggled.connect(lambda _v: self.preview())
        form.addRow("Layer scale", self.scale)
        form.addRow("Layer rotation", self.rotation)
        form.addRow("Layer opacity", self.opacity)
        form.addRow("Edge feather (px)", self.feather)
        holder = QWidget()
        holder.setLayout(flips)
        form.addRow(holder)

    def set_layer(self, layer: np.ndarray, centre: tuple[float, float]) -> None:
        self.layer = layer
        self._pos = centre
        self.preview()

    def preview(self) -> None:
        if self.layer is None:
            return
        x, y = self.canvas.layer_position() or self._pos
        self.canvas.show_layer(
            self.layer,
            x,
            y,
            self.scale.value(),
            self.rotation.value(),
            self.flip_h.isChecked(),
            self.flip_v.isChecked(),
            self.opacity.value(),
        )

    def placement(self) -> dict:
        """The layer's placement as shown on the canvas (InsertSpec fields)."""
        x, y = self.canvas.layer_position() or self._pos
        return {
            "x": float(x),
            "y": float(y),
            "scale": self.scale.value(),
            "rotation": self.rotation.value(),
            "flip_h": self.flip_h.isChecked(),
            "flip_v": self.flip_v.isChecked(),
            "opacity": self.opacity.value(),
            "feather": self.feather.value(),
        }

    def done(self) -> None:
        self.layer = None
        self.canvas.hide_layer()
