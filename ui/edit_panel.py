"""The edit tools: selection (SAM2 or the GrabCut fallback), refinement, operations.

The panel shows the app's ``EditSession`` (frame 1, selection, composed edit) and sends
it commands; every change is an undo command on the window's QUndoStack. Selection
prompts and composing run on a ``LatestOnlyRunner`` (never the GUI thread), with a busy
indicator while a selection is computed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
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
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.session import EditSession
from app.settings import Settings
from engine.edits import masks as mask_ops
from engine.edits.specs import OpSpec
from ui.edit_canvas import EditCanvas
from ui.layer_controls import LayerControls
from ui.undo import AddOperationCommand, RemoveOperationCommand, SelectionCommand
from ui.workers import LatestOnlyRunner

log = logging.getLogger(__name__)

ASPECTS = ("16:9", "4:3", "1:1", "9:16", "21:9")
MARGINS = "margins (px)"
#: tool -> (label, keyboard shortcut, tooltip); the window's Tools menu and F1 list are built from it.
TOOLS: dict[str, tuple[str, str, str]] = {
    "pan": ("Pan", "H", "Pan and zoom the frame"),
    "select": ("Select", "V", "Click the object: left click adds, right or Ctrl+click removes"),
    "box": ("Box", "R", "Drag a box around the object"),
    "brush": ("Brush", "B", "Paint the selection"),
    "shadow": ("Shadow", "S", "Paint the object's shadow or reflection (orange): Remove takes it, keeping the ground"),
    "erase": ("Erase", "E", "Erase from the selection and the painted shadow"),
    "move": ("Move", "M", "Drag the layer being inserted"),
}
NOTHING_FOUND = "No object found there: click nearer its middle, drag a box, or paint it with the Brush."


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
    tool_changed = Signal(str)
    error = Signal(str, str)

    def __init__(
        self,
        canvas: EditCanvas,
        session: EditSession,
        undo_stack: QUndoStack,
        settings: Settings | None = None,
        model_dirs: Callable[[], Sequence[str]] = list,
    ) -> None:
        """``model_dirs`` gives the folders where SAM2 weights are searched (the app's models folder and hub cache)."""
        super().__init__()
        self.canvas, self.session, self.undo_stack = canvas, session, undo_stack
        self.settings = settings if settings is not None else Settings()  # where the layer dialog starts
        self._model_dirs = model_dirs
        self.selector = None
        self.selector_status = "not started"
        self.runner = LatestOnlyRunner("edit-panel")
        self.runner.done.connect(self._on_done)
        self.runner.error.connect(self._on_error)
        self._target_colour = QColor(220, 40, 40)
        self._build()
        canvas.points_changed.connect(self._on_points)
        canvas.box_drawn.connect(self._on_box)
        canvas.mask_painted.connect(lambda before, after: self._push_selection(before, after, "Paint selection"))
        canvas.extras_painted.connect(lambda before, after: self._push_extras(before, after, "Paint shadow"))
        session.on_change(self._on_session)
        session.project.on_change(self._on_project_change)
        self.set_tool("pan")

    # ------------------------------------------------------------ layout
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        tools = QGroupBox("Select")
        tools_layout = QVBoxLayout(tools)
        row = QGridLayout()
        self.tool_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        for i, (tool, (label, key, tip)) in enumerate(TOOLS.items()):
            button = QToolButton()
            button.setText(label)
            button.setCheckable(True)
            button.setToolTip(f"{tip} ({key})")
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setStyleSheet("QToolButton:checked { background: palette(highlight); color: palette(highlighted-text); }")
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
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # an indeterminate "working" bar
        self.busy.setMaximumHeight(8)
        self.busy.setTextVisible(False)
        self.busy.setToolTip("Finding the object…")
        self.busy.hide()
        tools_layout.addWidget(self.busy)
        self.selection_note = QLabel("")
        self.selection_note.setWordWrap(True)
        self.selection_note.setObjectName("selectionNote")
        tools_layout.addWidget(self.selection_note)
        self.selector_label = QLabel("Selector: starting…")
        self.selector_label.setWordWrap(True)
        tools_layout.addWidget(self.selector_label)
        layout.addWidget(tools)

        ops = QGroupBox("Edit the selection")
        form = QFormLayout(ops)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # labels above fields in a narrow dock
        self.remove_button = self._button(
            "Remove object", "Fill the selection from its surroundings, with its painted shadow (Shadow brush: the ground kept)"
        )
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
        self.recolour_button = self._button("Recolour", "Shift hue/saturation/brightness inside the selection, keeping shading")
        self.recolour_button.clicked.connect(self.add_recolour)
        self.target_button = self._button("To colour…", "Map the selection to a picked colour, keeping shading and texture")
        self.target_button.clicked.connect(self.pick_target_colour)
        recolour_row.addWidget(self.recolour_button)
        recolour_row.addWidget(self.target_button)
        form.addRow(recolour_row)
        self.track_button = self._button(
            "Track only", "Propagate the selection as a mask (colour fill) without changing the frame's look"
        )
        self.track_button.clicked.connect(self.add_track)
        form.addRow(self.track_button)
        layer_row = QVBoxLayout()
        self.load_layer_button = self._button("Layer from PNG…", "Load an image with alpha to insert (drag it with Move)")
        self.load_layer_button.clicked.connect(lambda: self.load_layer(None))
        self.cut_layer_button = self._button("Layer from selection", "Cut the selected object out as a layer to place elsewhere")
        self.cut_layer_button.clicked.connect(self.cut_selection_layer)
        layer_row.addWidget(self.load_layer_button)
        layer_row.addWidget(self.cut_layer_button)
        form.addRow(layer_row)
        self.layers = LayerControls(self.canvas, form)
        insert_row = QVBoxLayout()
        self.insert_button = self._button("Insert layer", "Place the layer where it is shown")
        self.insert_button.clicked.connect(self.add_insert)
        self.replace_button = self._button("Replace with layer", "Remove the selected object and place the layer there")
        self.replace_button.clicked.connect(self.add_replace)
        insert_row.addWidget(self.insert_button)
        insert_row.addWidget(self.replace_button)
        form.addRow(insert_row)
        outpaint_row = QGridLayout()
        self.aspect = QComboBox()
        self.aspect.addItems([*ASPECTS, MARGINS])
        self.aspect.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.aspect.setMinimumContentsLength(5)
        self.aspect.setToolTip("Extend to an aspect ratio, or by the same margin on every side")
        self.margin = QSpinBox()
        self.margin.setRange(1, 2000)
        self.margin.setValue(32)
        self.margin.setSuffix(" px")
        self.outpaint_button = self._button("Outpaint", "Extend the canvas; the new area is filled for frame 1 and propagated")
        self.outpaint_button.clicked.connect(lambda: self.add_outpaint(self.aspect.currentText()))
        outpaint_row.addWidget(self.aspect, 0, 0)
        outpaint_row.addWidget(self.margin, 0, 1)
        outpaint_row.addWidget(self.outpaint_button, 1, 0, 1, 2)
        form.addRow(QLabel("Canvas"))
        form.addRow(outpaint_row)
        layout.addWidget(ops)

        edits = QGroupBox("Edits (applied in order)")
        edits_layout = QVBoxLayout(edits)
        self.edits_list = QListWidget()
        self.edits_list.setMinimumHeight(60)
        edits_layout.addWidget(self.edits_list)
        delete = QPushButton("Delete edit")
        delete.clicked.connect(self.delete_selected_edit)
        edits_layout.addWidget(delete)
        layout.addWidget(edits, 1)
        self._update_enabled()

    @staticmethod
    def _button(text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        return button

    # ------------------------------------------------------------ frame & selector
    def load_first_frame(self, reader) -> None:  # type: ignore[no-untyped-def]
        """Decode frame 1 on the worker, then hand it to the session.

        The previous clip's frame is dropped at once, so edits added before the new
        frame arrives are composed on the new frame, never on the old one.
        """
        self.session.set_frame(None)
        self.runner.submit("frame", lambda: reader[0].copy())

    def _prepare_selector(self, image: np.ndarray) -> tuple[object, str]:
        from engine.edits.selection import build_selector

        selector = self.selector or build_selector("auto", model_dirs=self._model_dirs())
        selector.set_image(image)
        reason = getattr(selector, "reason", "")
        name = type(selector).__name__.replace("Selector", "").replace("Sam2", "SAM2")
        status = f"{name} (fallback)" if reason else name
        return selector, f"{status}\n{reason}" if reason else status

    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        self.tool_buttons[tool].setChecked(True)
        self.tool_changed.emit(tool)

    @property
    def tool(self) -> str:
        return self.canvas.tool

    # ------------------------------------------------------------ selection
    def _on_points(self, points: list, labels: list) -> None:
        self._predict(points=points, labels=labels, box=None)

    def _on_box(self, box: tuple) -> None:
        self._predict(points=self.canvas.points, labels=self.canvas.labels, box=box)

    def _predict(self, points: list, labels: list, box: tuple | None) -> None:
        image = self.session.canvas
        if image is None:
            return
        self._set_busy(True)
        self.runner.submit(("predict", self.session.selection, image.shape), self._selection_work(image, points, labels, box))

    def _selection_work(self, image: np.ndarray, points: list, labels: list, box: tuple | None) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            selector, _status = self._prepare_selector(image)  # set_image is cached per image
            self.selector = selector
            result = selector.predict(  # type: ignore[attr-defined]
                np.asarray(points, float).reshape(-1, 2) if points else None,
                np.asarray(labels, int) if labels else None,
                box=np.asarray(box, float) if box is not None else None,
            )
            return result.masks[int(np.argmax(result.scores))]

        return run

    def select_on(self, tag: tuple, image: np.ndarray, points: list, labels: list, box: tuple | None) -> None:
        """Run the frame-1 selector on another picture (a keyframe correction's frame): the same
        selector (SAM2 or GrabCut) on the same worker, so one model serves both and never runs
        twice at once. The mask arrives as ``runner.done(tag, mask)``; ``tag[0]`` names the
        requester's kind (the newest request of a kind wins)."""
        self.runner.submit(tag, self._selection_work(image, points, labels, box))

    def _set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        if busy:
            self.selection_note.setText("Finding the object…")
            self.canvas.viewport().setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.canvas.set_tool(self.canvas.tool)  # the tool's own cursor again

    def _on_error(self, tag: object, message: str) -> None:
        if isinstance(tag, tuple) and tag[0] == "predict":
            self._set_busy(False)
            self.selection_note.setText("")
        self.error.emit("Edit failed", message)

    def _on_done(self, tag: object, value: object) -> None:
        if tag == "frame":
            self.session.set_frame(value)  # type: ignore[arg-type]
            self.runner.submit("selector", lambda image=value: self._prepare_selector(image))  # type: ignore[misc]
            self.selector_label.setText("Selector: loading…")
            self.first_frame_ready.emit()
        elif tag == "selector":
            self.selector, self.selector_status = value  # type: ignore[misc]
            headline, _, reason = self.selector_status.partition("\n")
            self.selector_label.setText(f"Selector: {headline}")
            self.selector_label.setToolTip(reason or headline)
        elif isinstance(tag, tuple) and tag[0] == "predict":
            self._set_busy(False)
            canvas = self.session.canvas
            if canvas is None or canvas.shape != tag[2]:
                self.selection_note.setText("")
                return  # asked on another canvas (clip changed, an outpaint was added)
            mask = np.asarray(value)
            if not mask.any():
                self.selection_note.setText(NOTHING_FOUND)
                self.canvas.clear_prompts()
                return
            self.selection_note.setText(f"Selected {int((mask > 127).sum())} px.")
            self._push_selection(tag[1], mask, "Select object")
        elif isinstance(tag, tuple) and tag[0] == "compose":
            self.session.set_edit(tag[1], value)  # type: ignore[arg-type]

    def _push_selection(self, before: np.ndarray | None, after: np.ndarray | None, text: str) -> None:
        self.undo_stack.push(SelectionCommand(self.session.set_selection, before, after, text))

    def _push_extras(self, before: np.ndarray | None, after: np.ndarray | None, text: str) -> None:
        self.undo_stack.push(SelectionCommand(self.session.set_extras, before, after, text))

    def set_selection(self, mask: np.ndarray | None) -> None:
        """Set the working selection directly (scripts, tests); the panel's own actions are undoable."""
        self.session.set_selection(mask)

    def clear_selection(self) -> None:
        if self.session.selection is not None or self.session.extras is not None:
            self.undo_stack.beginMacro("Clear selection")  # one undo brings back both
            self._push_selection(self.session.selection, None, "Clear selection")
            self._push_extras(self.session.extras, None, "Clear shadow")
            self.undo_stack.endMacro()
        self.canvas.clear_prompts()
        self.selection_note.setText("")

    def _refine(self, fn, text: str) -> None:  # type: ignore[no-untyped-def]
        if self.session.selection is not None:
            self._push_selection(self.session.selection, fn(self.session.selection), text)

    # ------------------------------------------------------------ operations
    def _add(self, spec: OpSpec) -> None:
        self.undo_stack.push(AddOperationCommand(self.session.project, spec))
        self.canvas.clear_prompts()

    def _selected(self) -> np.ndarray | None:
        return self.session.selection.copy() if self.session.has_selection else None  # type: ignore[union-attr]

    def add_remove(self) -> None:
        from engine.edits.remove import RemoveSpec

        if (mask := self._selected()) is not None:
            extras = self.session.extras.copy() if self.session.has_extras else None  # type: ignore[union-attr]
            self._add(RemoveSpec(mask=mask, extras_mask=extras))

    def add_recolour(self) -> None:
        from engine.edits.recolour import RecolourSpec

        if (mask := self._selected()) is not None:
            self._add(
                RecolourSpec(
                    mask=mask,
                    hue_shift=float(self.hue.value()),
                    saturation=self.saturation.value(),
                    brightness=self.brightness.value(),
                )
            )

    def pick_target_colour(self, colour: QColor | None = None) -> None:
        from engine.edits.recolour import RecolourSpec

        colour = colour or QColorDialog.getColor(self._target_colour, self, "Target colour")
        if colour.isValid() and (mask := self._selected()) is not None:
            self._target_colour = colour
            self._add(RecolourSpec(mask=mask, mode="target", target_rgb=[colour.red(), colour.green(), colour.blue()]))

    def add_track(self) -> None:
        from engine.edits.track import TrackSpec

        if (mask := self._selected()) is not None:
            self._add(TrackSpec(mask=mask))

    def _ask_png(self) -> Path | None:
        start = self.settings.dialog_dir("layer")
        path, _ = QFileDialog.getOpenFileName(self, "Layer image (PNG with alpha)", start, "Images (*.png *.webp *.jpg)")
        if path:
            self.settings.remember_dir("layer", path)
        return Path(path) if path else None

    def load_layer(self, png: Path | None) -> bool:
        """Load a PNG as the layer to place, centred on the selection (or the canvas)."""
        from engine.edits.layers import load_layer_png

        canvas = self.session.canvas
        png = png or self._ask_png()
        if png is None or canvas is None:
            return False
        try:
            layer = load_layer_png(png)
        except (OSError, ValueError) as exc:
            self.error.emit("Cannot load layer", f"{png}: {exc}")
            return False
        centre = (canvas.shape[1] / 2, canvas.shape[0] / 2)
        if self.session.has_selection:
            ys, xs = np.nonzero(self.session.selection)
            centre = (float(xs.mean()), float(ys.mean()))
        self._set_layer(layer, centre)
        return True

    def cut_selection_layer(self) -> None:
        """The selected object becomes the layer (e.g. to duplicate it elsewhere)."""
        from engine.edits.layers import cut_layer

        canvas, mask = self.session.canvas, self._selected()
        if canvas is None or mask is None:
            return
        layer, (cx, cy) = cut_layer(canvas, mask)
        self._set_layer(layer, (cx + 0.1 * canvas.shape[1], cy))

    def _set_layer(self, layer: np.ndarray, centre: tuple[float, float]) -> None:
        self.layers.set_layer(layer, centre)
        self.set_tool("move")
        self._update_enabled()

    @property
    def layer(self) -> np.ndarray | None:
        return self.layers.layer

    def add_insert(self) -> None:
        from engine.edits.insert import InsertSpec

        if self.layers.layer is None or self.session.canvas is None:
            return
        self._add(InsertSpec(layer=self.layers.layer, **self.layers.placement()))
        self.layers.done()
        self._update_enabled()

    def add_replace(self) -> None:
        from engine.edits.replace import ReplaceSpec

        if self.layers.layer is None or (mask := self._selected()) is None:
            return
        self._add(ReplaceSpec(mask=mask, layer=self.layers.layer, **self.layers.placement()))
        self.layers.done()
        self._update_enabled()

    def add_outpaint(self, aspect: str) -> None:
        from engine.edits.outpaint import OutpaintSpec

        if self.session.frame is None:
            return
        if aspect == MARGINS:
            m = self.margin.value()
            self._add(OutpaintSpec(left=m, top=m, right=m, bottom=m))
        else:
            self._add(OutpaintSpec(aspect=aspect))

    def delete_selected_edit(self) -> None:
        row = self.edits_list.currentRow()
        if 0 <= row < len(self.session.project.operations):
            self.undo_stack.push(RemoveOperationCommand(self.session.project, row))

    # ------------------------------------------------------------ model -> view
    def _on_session(self, what: str) -> None:
        if what == "compose":
            job = self.session.compose_job()
            if job is not None:
                token, work = job
                self.runner.submit(("compose", token), work)
        elif what == "selection":
            self.canvas.set_mask(self.session.selection)
            self.canvas.set_extras(self.session.extras)
            self.selection_changed.emit(self.session.selection)
        elif what == "edit":
            self.edit_changed.emit(self.session.edit)
        elif what == "frame":
            self.canvas.clear_prompts()
            self.canvas.set_mask(None)
            self.canvas.set_extras(None)
            self.selection_note.setText("")
        self._update_enabled()

    def _on_project_change(self, what: str) -> None:
        if what == "operations":
            self.edits_list.clear()
            self.edits_list.addItems([describe_spec(s) for s in self.session.project.operations])

    def _update_enabled(self) -> None:
        has_sel = self.session.has_selection
        has_layer = self.layers.layer is not None
        has_frame = self.session.frame is not None
        for button in (self.remove_button, self.recolour_button, self.target_button, self.track_button, self.cut_layer_button):
            button.setEnabled(has_sel)
        self.replace_button.setEnabled(has_sel and has_layer)
        self.insert_button.setEnabled(has_layer and has_frame)
        self.load_layer_button.setEnabled(has_frame)
        self.outpaint_button.setEnabled(has_frame)

    def shutdown(self) -> None:
        self.runner.shutdown()
