"""The edit tools: selection (SAM2 or the GrabCut fallback), refinement, operations.

Selection prompts and previews run on a ``LatestOnlyRunner`` (never the GUI thread);
every change is an undo command on the window's QUndoStack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QUndoStack
from PySide6.QtWidgets import (
    QButtonGroup,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.project import Project
from engine.edit import FirstFrameEdit
from engine.edits import masks as mask_ops
from engine.edits.insert import InsertSpec
from engine.edits.layers import cut_layer, load_layer_png
from engine.edits.outpaint import OutpaintSpec
from engine.edits.recolour import RecolourSpec
from engine.edits.remove import RemoveSpec
from engine.edits.replace import ReplaceSpec
from engine.edits.selection import Selector, build_selector
from engine.edits.specs import OpSpec
from engine.edits.track import TrackSpec
from ui.edit_canvas import EditCanvas
from ui.undo import AddOperationCommand, RemoveOperationCommand, SelectionCommand
from ui.workers import LatestOnlyRunner

log = logging.getLogger(__name__)

ASPECTS = ("16:9", "4:3", "1:1", "9:16", "21:9")
MARGINS = "margins (px)"


def describe_spec(spec: OpSpec) -> str:
    """One line for the edits list."""
    if spec.op == "recolour":
        s = spec  # type: ignore[assignment]
        if s.mode == "target" and s.target_rgb is not None:
            return f"recolour → rgb{tuple(s.target_rgb)}"
        return f"recolour (hue {s.hue_shift:+.0f}°, sat ×{s.saturation:.2f}, bright ×{s.brightness:.2f})"
    if spec.op == "outpaint":
        s = spec  # type: ignore[assignment]
        return f"outpaint to {s.aspect}" if s.aspect else f"outpaint L{s.left} T{s.top} R{s.right} B{s.bottom}"
    mask = getattr(spec, "mask", None)
    area = f" ({int((mask > 127).sum())} px)" if isinstance(mask, np.ndarray) else ""
    return f"{spec.op}{area}"


class EditPanel(QWidget):
    """Tools for the first frame. Emits ``edit_changed(FirstFrameEdit | None)``."""

    edit_changed = Signal(object)
    selection_changed = Signal(object)
    first_frame_ready = Signal()
    error = Signal(str, str)

    def __init__(
        self,
        canvas: EditCanvas,
        project: Project,
        undo_stack: QUndoStack,
        model_dirs: Callable[[], Sequence[str]] = list,
    ) -> None:
        """``model_dirs`` gives the folders where SAM2 weights are searched (the app's models folder and hub cache)."""
        super().__init__()
        self.canvas, self.project, self.undo_stack = canvas, project, undo_stack
        self._model_dirs = model_dirs
        self.frame: np.ndarray | None = None
        self.edit: FirstFrameEdit | None = None
        self.selection: np.ndarray | None = None
        self.selector: Selector | None = None
        self.selector_status = "not started"
        self.runner = LatestOnlyRunner("edit-panel")
        self.runner.done.connect(self._on_done)
        self.runner.error.connect(lambda _tag, msg: self.error.emit("Edit failed", msg))
        self._target_colour = QColor(220, 40, 40)
        self.layer: np.ndarray | None = None
        self._build()
        canvas.points_changed.connect(self._on_points)
        canvas.box_drawn.connect(self._on_box)
        canvas.mask_painted.connect(lambda before, after: self._push_selection(before, after, "Paint selection"))
        project.on_change(self._on_project_change)

    # ------------------------------------------------------------ layout
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        tools = QGroupBox("Select")
        tools_layout = QVBoxLayout(tools)
        row = QGridLayout()
        self.tool_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        tips = {
            "pan": "Pan and zoom the frame",
            "select": "Click the object: left click adds, right or Ctrl+click removes",
            "box": "Drag a box around the object",
            "brush": "Paint the selection (shadows, reflections)",
            "erase": "Erase from the selection",
        }
        tips["move"] = "Drag the layer being inserted"
        for i, tool in enumerate(("pan", "select", "box", "brush", "erase", "move")):
            button = QToolButton()
            button.setText(tool.capitalize())
            button.setCheckable(True)
            button.setToolTip(tips[tool])
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, t=tool: self.set_tool(t))
            group.addButton(button)
            row.addWidget(button, i // 3, i % 3)
            self.tool_buttons[tool] = button
        tools_layout.addLayout(row)
        size_row = QFormLayout()
        self.brush_size = QSpinBox()
        self.brush_size.setRange(1, 200)
        self.brush_size.setValue(self.canvas.brush_radius)
        self.brush_size.valueChanged.connect(lambda v: setattr(self.canvas, "brush_radius", v))
        size_row.addRow("Brush radius", self.brush_size)
        tools_layout.addLayout(size_row)
        refine = QGridLayout()
        for i, (text, fn) in enumerate(
            (
                ("Grow", lambda m: mask_ops.grow(m, 3)),
                ("Shrink", lambda m: mask_ops.shrink(m, 3)),
                ("Fill holes", mask_ops.fill_holes),
                ("Largest", mask_ops.keep_largest_component),
            )
        ):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, f=fn, t=text: self._refine(f, t))
            refine.addWidget(button, i // 2, i % 2)
        tools_layout.addLayout(refine)
        clear = QPushButton("Clear selection")
        clear.clicked.connect(self.clear_selection)
        tools_layout.addWidget(clear)
        self.selector_label = QLabel("Selector: starting…")
        self.selector_label.setWordWrap(True)
        tools_layout.addWidget(self.selector_label)
        layout.addWidget(tools)

        ops = QGroupBox("Edit the selection")
        form = QFormLayout(ops)
        self.remove_button = QPushButton("Remove object")
        self.remove_button.setToolTip("Fill the selection (object + painted shadow) from its surroundings")
        self.remove_button.clicked.connect(self.add_remove)
        form.addRow(self.remove_button)
        self.hue = QSpinBox()
        self.hue.setRange(-180, 180)
        self.hue.setSuffix("°")
        self.saturation = QDoubleSpinBox()
        self.saturation.setRange(0.0, 4.0)
        self.saturation.setSingleStep(0.1)
        self.saturation.setValue(1.0)
        self.brightness = QDoubleSpinBox()
        self.brightness.setRange(0.0, 4.0)
        self.brightness.setSingleStep(0.1)
        self.brightness.setValue(1.0)
        form.addRow("Hue shift", self.hue)
        form.addRow("Saturation ×", self.saturation)
        form.addRow("Brightness ×", self.brightness)
        recolour_row = QHBoxLayout()
        self.recolour_button = QPushButton("Recolour")
        self.recolour_button.setToolTip("Shift hue/saturation/brightness inside the selection, keeping shading")
        self.recolour_button.clicked.connect(self.add_recolour)
        self.target_button = QPushButton("To colour…")
        self.target_button.setToolTip("Map the selection to a picked colour, keeping shading and texture")
        self.target_button.clicked.connect(self.pick_target_colour)
        recolour_row.addWidget(self.recolour_button)
        recolour_row.addWidget(self.target_button)
        form.addRow(recolour_row)
        self.track_button = QPushButton("Track only")
        self.track_button.setToolTip("Propagate the selection as a mask (colour fill) without changing the frame's look")
        self.track_button.clicked.connect(self.add_track)
        form.addRow(self.track_button)
        layer_row = QVBoxLayout()
        self.load_layer_button = QPushButton("Layer from PNG…")
        self.load_layer_button.setToolTip("Load an image with alpha to insert (drag it with Move)")
        self.load_layer_button.clicked.connect(lambda: self.load_layer(None))
        self.cut_layer_button = QPushButton("Layer from selection")
        self.cut_layer_button.setToolTip("Cut the selected object out of frame 1 as a layer to place elsewhere")
        self.cut_layer_button.clicked.connect(self.cut_selection_layer)
        layer_row.addWidget(self.load_layer_button)
        layer_row.addWidget(self.cut_layer_button)
        form.addRow(layer_row)
        self.layer_scale = QDoubleSpinBox()
        self.layer_scale.setRange(0.05, 10.0)
        self.layer_scale.setSingleStep(0.05)
        self.layer_scale.setValue(1.0)
        self.layer_rotation = QDoubleSpinBox()
        self.layer_rotation.setRange(-180.0, 180.0)
        self.layer_rotation.setSuffix("°")
        self.layer_opacity = QDoubleSpinBox()
        self.layer_opacity.setRange(0.0, 1.0)
        self.layer_opacity.setSingleStep(0.05)
        self.layer_opacity.setValue(1.0)
        self.layer_feather = QDoubleSpinBox()
        self.layer_feather.setRange(0.0, 50.0)
        self.layer_feather.setValue(1.0)
        flips = QHBoxLayout()
        self.flip_h = QToolButton()
        self.flip_h.setText("Flip ↔")
        self.flip_h.setCheckable(True)
        self.flip_v = QToolButton()
        self.flip_v.setText("Flip ↕")
        self.flip_v.setCheckable(True)
        flips.addWidget(self.flip_h)
        flips.addWidget(self.flip_v)
        for w in (self.layer_scale, self.layer_rotation, self.layer_opacity):
            w.valueChanged.connect(lambda _v: self._preview_layer())
        for b in (self.flip_h, self.flip_v):
            b.toggled.connect(lambda _v: self._preview_layer())
        form.addRow("Layer scale", self.layer_scale)
        form.addRow("Layer rotation", self.layer_rotation)
        form.addRow("Layer opacity", self.layer_opacity)
        form.addRow("Edge feather (px)", self.layer_feather)
        form.addRow(flips)
        insert_row = QVBoxLayout()
        self.insert_button = QPushButton("Insert layer")
        self.insert_button.setToolTip("Place the layer where it is shown")
        self.insert_button.clicked.connect(self.add_insert)
        self.replace_button = QPushButton("Replace selection with layer")
        self.replace_button.setToolTip("Remove the selected object and place the layer")
        self.replace_button.clicked.connect(self.add_replace)
        insert_row.addWidget(self.insert_button)
        insert_row.addWidget(self.replace_button)
        form.addRow(insert_row)
        outpaint_row = QGridLayout()
        self.aspect = QComboBox()
        self.aspect.addItems([*ASPECTS, MARGINS])
        self.aspect.setToolTip("Extend to an aspect ratio, or by the same margin on every side")
        self.margin = QSpinBox()
        self.margin.setRange(1, 2000)
        self.margin.setValue(32)
        self.margin.setSuffix(" px")
        self.outpaint_button = QPushButton("Outpaint")
        self.outpaint_button.setToolTip("Extend the canvas; the new area is filled for frame 1 and propagated")
        self.outpaint_button.clicked.connect(lambda: self.add_outpaint(self.aspect.currentText()))
        outpaint_row.addWidget(self.aspect, 0, 0)
        outpaint_row.addWidget(self.margin, 0, 1)
        outpaint_row.addWidget(self.outpaint_button, 1, 0, 1, 2)
        form.addRow("Canvas", outpaint_row)
        layout.addWidget(ops)

        edits = QGroupBox("Edits (applied in order)")
        edits_layout = QVBoxLayout(edits)
        self.edits_list = QListWidget()
        edits_layout.addWidget(self.edits_list)
        delete = QPushButton("Delete edit")
        delete.clicked.connect(self.delete_selected_edit)
        edits_layout.addWidget(delete)
        layout.addWidget(edits, 1)
        self._update_enabled()

    # ------------------------------------------------------------ frame & selector
    def set_frame(self, frame: np.ndarray | None) -> None:
        """A new clip's first frame: reset prompts, build the selector on the worker."""
        self.frame = frame
        self.selection = None
        self.canvas.clear_prompts()
        self.canvas.set_mask(None)
        if frame is None:
            self.edit = None  # an edit belongs to its clip's frame 1
        else:
            self.selector_label.setText("Selector: loading…")
            self.runner.submit("selector", self._prepare_selector)
            self._recompose()
        self._update_enabled()

    def load_first_frame(self, reader) -> None:  # type: ignore[no-untyped-def]
        """Decode frame 1 on the worker, then ``set_frame`` it.

        The previous clip's frame is dropped at once, so edits added before the new
        frame arrives are composed on the new frame, never on the old one.
        """
        self.set_frame(None)
        self.runner.submit("frame", lambda: reader[0].copy())

    def _prepare_selector(self) -> tuple[Selector, str]:
        selector = self.selector or build_selector("auto", model_dirs=self._model_dirs())
        if self.frame is None:
            raise ValueError("no clip is open")
        selector.set_image(self.frame)
        reason = getattr(selector, "reason", "")
        name = type(selector).__name__.replace("Selector", "").replace("Sam2", "SAM2")
        status = f"{name} (fallback)" if reason else name
        return selector, f"{status}\n{reason}" if reason else status

    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        self.tool_buttons[tool].setChecked(True)

    # ------------------------------------------------------------ selection
    def _on_points(self, points: list, labels: list) -> None:
        self._predict(points=points, labels=labels, box=None)

    def _on_box(self, box: tuple) -> None:
        self._predict(points=self.canvas.points, labels=self.canvas.labels, box=box)

    def _predict(self, points: list, labels: list, box: tuple | None) -> None:
        if self.frame is None:
            return

        def run() -> np.ndarray:
            selector, _status = self._prepare_selector()  # set_image is cached per frame
            self.selector = selector
            result = selector.predict(
                np.asarray(points, float).reshape(-1, 2) if points else None,
                np.asarray(labels, int) if labels else None,
                box=np.asarray(box, float) if box is not None else None,
            )
            return result.masks[int(np.argmax(result.scores))]

        self.runner.submit(("predict", self.selection), run)

    def _on_done(self, tag: object, value: object) -> None:
        if tag == "frame":
            self.set_frame(value)  # type: ignore[arg-type]
            self.first_frame_ready.emit()
        elif tag == "selector":
            self.selector, self.selector_status = value  # type: ignore[misc]
            headline, _, reason = self.selector_status.partition("\n")
            self.selector_label.setText(f"Selector: {headline}")
            self.selector_label.setToolTip(reason or headline)
        elif isinstance(tag, tuple) and tag[0] == "predict":
            self._push_selection(tag[1], value, "Select object")  # type: ignore[arg-type]
        elif isinstance(tag, tuple) and tag[0] == "compose":
            if tag[1] is not self.frame:
                return  # composed on a frame that is no longer frame 1 (another clip was opened)
            self.edit = value  # type: ignore[assignment]
            self.edit_changed.emit(self.edit)

    def _push_selection(self, before: np.ndarray | None, after: np.ndarray | None, text: str) -> None:
        self.undo_stack.push(SelectionCommand(self.set_selection, before, after, text))

    def set_selection(self, mask: np.ndarray | None) -> None:
        self.selection = None if mask is None else mask.copy()
        self.canvas.set_mask(self.selection)
        self._update_enabled()
        self.selection_changed.emit(self.selection)

    def clear_selection(self) -> None:
        if self.selection is not None:
            self._push_selection(self.selection, None, "Clear selection")
        self.canvas.clear_prompts()

    def _refine(self, fn, text: str) -> None:  # type: ignore[no-untyped-def]
        if self.selection is not None:
            self._push_selection(self.selection, fn(self.selection), text)

    # ------------------------------------------------------------ operations
    def _add(self, spec: OpSpec) -> None:
        self.undo_stack.push(AddOperationCommand(self.project, spec))
        self.canvas.clear_prompts()

    def add_remove(self) -> None:
        if self.selection is not None:
            self._add(RemoveSpec(mask=self.selection.copy()))

    def add_recolour(self) -> None:
        if self.selection is not None:
            self._add(
                RecolourSpec(
                    mask=self.selection.copy(),
                    hue_shift=float(self.hue.value()),
                    saturation=self.saturation.value(),
                    brightness=self.brightness.value(),
                )
            )

    def pick_target_colour(self, colour: QColor | None = None) -> None:
        colour = colour or QColorDialog.getColor(self._target_colour, self, "Target colour")
        if colour.isValid() and self.selection is not None:
            self._target_colour = colour
            self._add(
                RecolourSpec(mask=self.selection.copy(), mode="target", target_rgb=[colour.red(), colour.green(), colour.blue()])
            )

    def add_track(self) -> None:
        if self.selection is not None:
            self._add(TrackSpec(mask=self.selection.copy()))

    def _ask_png(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self, "Layer image (PNG with alpha)", "", "Images (*.png *.webp *.jpg)")
        return Path(path) if path else None

    def load_layer(self, png: Path | None) -> bool:
        """Load a PNG as the layer to place, centred on the selection (or the frame)."""
        png = png or self._ask_png()
        if png is None or self.frame is None:
            return False
        try:
            layer = load_layer_png(png)
        except (OSError, ValueError) as exc:
            self.error.emit("Cannot load layer", f"{png}: {exc}")
            return False
        centre = (self.frame.shape[1] / 2, self.frame.shape[0] / 2)
        if self.selection is not None and self.selection.any():
            ys, xs = np.nonzero(self.selection)
            centre = (float(xs.mean()), float(ys.mean()))
        self._set_layer(layer, centre)
        return True

    def cut_selection_layer(self) -> None:
        """The selected object becomes the layer (e.g. to duplicate it elsewhere)."""
        if self.frame is None or self.selection is None or not self.selection.any():
            return
        layer, (cx, cy) = cut_layer(self.frame, self.selection)
        self._set_layer(layer, (cx + 0.1 * self.frame.shape[1], cy))

    def _set_layer(self, layer: np.ndarray, centre: tuple[float, float]) -> None:
        self.layer = layer
        self._layer_pos = centre
        self._preview_layer()
        self.set_tool("move")
        self._update_enabled()

    def _preview_layer(self) -> None:
        if self.layer is None:
            return
        pos = self.canvas.layer_position() or self._layer_pos
        self.canvas.show_layer(
            self.layer,
            pos[0],
            pos[1],
            self.layer_scale.value(),
            self.layer_rotation.value(),
            self.flip_h.isChecked(),
            self.flip_v.isChecked(),
            self.layer_opacity.value(),
        )

    def placement(self) -> dict:
        """The layer's placement as shown on the canvas (InsertSpec fields)."""
        x, y = self.canvas.layer_position() or self._layer_pos
        return {
            "x": float(x),
            "y": float(y),
            "scale": self.layer_scale.value(),
            "rotation": self.layer_rotation.value(),
            "flip_h": self.flip_h.isChecked(),
            "flip_v": self.flip_v.isChecked(),
            "opacity": self.layer_opacity.value(),
            "feather": self.layer_feather.value(),
        }

    def _layer_done(self) -> None:
        self.layer = None
        self.canvas.hide_layer()
        self._update_enabled()

    def add_insert(self) -> None:
        if self.layer is None or self.frame is None:
            return
        self._add(InsertSpec(layer=self.layer, **self.placement()))
        self._layer_done()

    def add_replace(self) -> None:
        if self.layer is None or self.selection is None:
            return
        self._add(ReplaceSpec(mask=self.selection.copy(), layer=self.layer, **self.placement()))
        self._layer_done()

    def add_outpaint(self, aspect: str) -> None:
        if self.frame is None:
            return
        if aspect == MARGINS:
            m = self.margin.value()
            self._add(OutpaintSpec(left=m, top=m, right=m, bottom=m))
        else:
            self._add(OutpaintSpec(aspect=aspect))

    def delete_selected_edit(self) -> None:
        row = self.edits_list.currentRow()
        if 0 <= row < len(self.project.operations):
            self.undo_stack.push(RemoveOperationCommand(self.project, row))

    # ------------------------------------------------------------ model -> view
    def _on_project_change(self, what: str) -> None:
        if what == "operations":
            self.edits_list.clear()
            self.edits_list.addItems([describe_spec(s) for s in self.project.operations])
            self._recompose()
            self._update_enabled()

    def _recompose(self) -> None:
        if self.frame is None:
            return
        frame, ops = self.frame, list(self.project.operations)
        if not ops:
            self.edit = None
            self.edit_changed.emit(None)
            return
        from engine.edits import compose

        self.runner.submit(("compose", frame), lambda: compose(frame, ops))

    def _update_enabled(self) -> None:
        has_sel = self.selection is not None and bool(self.selection.any())
        has_layer = self.layer is not None
        for button in (self.remove_button, self.recolour_button, self.target_button, self.track_button, self.cut_layer_button):
            button.setEnabled(has_sel)
        self.replace_button.setEnabled(has_sel and has_layer)
        self.insert_button.setEnabled(has_layer and self.frame is not None)
        self.load_layer_button.setEnabled(self.frame is not None)
        self.outpaint_button.setEnabled(self.frame is not None)

    def shutdown(self) -> None:
        self.runner.shutdown()
