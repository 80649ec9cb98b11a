"""The "Correct frame" tab: fix an operation's tracked mask on a later frame (issue 19).

Shows the ``CorrectionSession`` (app/correction.py): the frame's ORIGINAL picture on an
``EditCanvas`` with the working selection, the operation being corrected, and the same
selection tools frame 1 has (clicks and box through the frame-1 selector, SAM2 when it is
installed; brush and eraser). Every selection change is an undo step; Apply hands the
correction to the keyframe controller, which makes it one undo command and re-tracks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.correction import CorrectionSession
from engine.edits import masks as mask_ops
from ui.edit_canvas import EditCanvas
from ui.edit_panel import NOTHING_FOUND, TOOLS, EditPanel
from ui.undo import SelectionCommand

_CURRENT = object()  # "the selection as it is now"
#: The tools a correction offers (no Move: there is no layer to place on a correction).
CORRECTION_TOOLS = ("select", "box", "brush", "erase", "pan")
IDLE_TEXT = (
    "Correct a track on any frame: scrub to the frame where the mask goes wrong (Clip or Review tab), "
    "then press <b>Correct here</b> (K). Fix the mask with the selection tools and Apply: the frames it "
    "changes are tracked again. Run <b>Preview masks</b> on the Clip tab to see the tracked masks first."
)


class CorrectionView(QWidget):
    """Emits ``apply_requested`` / ``cancel_requested`` / ``remove_requested`` (the controller acts)."""

    apply_requested = Signal()
    cancel_requested = Signal()
    remove_requested = Signal()
    export_requested = Signal()  # this frame as a PNG to retouch elsewhere
    edited_frame_requested = Signal()  # use a retouched PNG as this frame's edited version
    remove_edited_requested = Signal()

    def __init__(self, session: CorrectionSession, panel: EditPanel, undo_stack: QUndoStack) -> None:
        super().__init__()
        self.session, self.panel, self.undo_stack = session, panel, undo_stack
        self.op_names: Callable[[], list[str]] = lambda: [s.op for s in panel.session.project.operations]
        self.has_correction: Callable[[], bool] = lambda: False
        self.has_edited_frame: Callable[[], bool] = lambda: False
        self.canvas = EditCanvas()
        self.canvas.overlay_colour = (255, 170, 0)
        self.title = QLabel("")
        self.title.setObjectName("correctionTitle")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # gives way in a small window
        self.title.setMinimumWidth(20)
        self.op_box = QComboBox()
        self.op_box.setToolTip("The edit whose tracked mask you correct on this frame")
        self.op_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.op_box.setMinimumContentsLength(8)
        self.op_box.currentIndexChanged.connect(self._op_chosen)
        self.tool_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        tools_row = QHBoxLayout()
        for tool in CORRECTION_TOOLS:
            label, key, tip = TOOLS[tool]
            button = QToolButton()
            button.setText(label)
            button.setCheckable(True)
            button.setToolTip(f"{tip} ({key})")
            button.setStyleSheet("QToolButton:checked { background: palette(highlight); color: palette(highlighted-text); }")
            button.clicked.connect(lambda _=False, t=tool: self.set_tool(t))
            group.addButton(button)
            tools_row.addWidget(button)
            self.tool_buttons[tool] = button
        self.brush_size = QSpinBox()
        self.brush_size.setRange(1, 200)
        self.brush_size.setValue(self.canvas.brush_radius)
        self.brush_size.setPrefix("radius ")
        self.brush_size.setToolTip("Brush and eraser radius in pixels")
        self.brush_size.valueChanged.connect(lambda v: setattr(self.canvas, "brush_radius", v))
        tools_row.addWidget(self.brush_size)
        tools_row.addStretch(1)
        refine_row = QHBoxLayout()  # three short rows, so a small window keeps every control
        for text, fn in (("Grow", lambda m: mask_ops.grow(m, 3)), ("Shrink", lambda m: mask_ops.shrink(m, 3))):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, f=fn, t=text: self._refine(f, t))
            refine_row.addWidget(button)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Empty the selection on this frame (then select the object again)")
        self.clear_button.clicked.connect(lambda: self._push(None, "Clear correction selection"))
        refine_row.addWidget(self.clear_button)
        refine_row.addStretch(1)
        self.apply_button = QPushButton("Apply correction")
        self.apply_button.setToolTip("Make this mask a keyframe of the edit and track the frames it changes again (Enter)")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self.apply_requested)
        self.remove_button = QPushButton("Remove correction")
        self.remove_button.setToolTip("Delete this edit's correction on this frame (the track goes back to what it was)")
        self.remove_button.clicked.connect(self.remove_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Leave without changing the keyframes (Esc)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)  # takes the room left; gives way first in a small window
        for w in (QLabel("Edit"), self.op_box):
            head.addWidget(w)
        head.addSpacing(12)
        for w in (self.cancel_button, self.apply_button):
            head.addWidget(w)
        refine_row.addWidget(self.remove_button)
        edited_row = QHBoxLayout()
        self.export_button = QPushButton("Export frame…")
        self.export_button.setToolTip(
            "Save this frame as a PNG (the reviewed result's frame when there is one) to retouch in an image editor"
        )
        self.export_button.clicked.connect(self.export_requested)
        self.edited_button = QPushButton("Use edited frame…")
        self.edited_button.setToolTip(
            "Your own version of this frame (a PNG at the edited canvas's size, e.g. the exported frame retouched): "
            "the edit takes its look from it from this frame on (a recolour re-learned, an inserted layer re-placed; "
            "GenProp starts a window there); an engine that cannot use it says so with its result"
        )
        self.edited_button.clicked.connect(self.edited_frame_requested)
        self.remove_edited_button = QPushButton("Remove edited frame")
        self.remove_edited_button.clicked.connect(self.remove_edited_requested)
        for w in (self.export_button, self.edited_button, self.remove_edited_button):
            edited_row.addWidget(w)
        edited_row.addStretch(1)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.note = QLabel("")
        self.note.setObjectName("correctionNote")
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        working = QWidget()
        layout = QVBoxLayout(working)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.addLayout(head)
        layout.addLayout(tools_row)
        layout.addLayout(refine_row)
        layout.addLayout(edited_row)
        layout.addWidget(self.busy)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.note)
        self.idle = QLabel(IDLE_TEXT)
        self.idle.setWordWrap(True)
        self.idle.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.idle.setMargin(40)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.idle)
        self.stack.addWidget(working)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        for key, slot in (
            (Qt.Key.Key_Return, self._apply_key),
            (Qt.Key.Key_Enter, self._apply_key),
            (Qt.Key.Key_Escape, self.cancel_requested.emit),
        ):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self.canvas.points_changed.connect(lambda points, labels: self._predict(points, labels, None))
        self.canvas.box_drawn.connect(lambda box: self._predict(self.canvas.points, self.canvas.labels, box))
        self.canvas.mask_painted.connect(lambda before, after: self._push(after, "Paint correction", before))
        panel.runner.done.connect(self._on_done)
        panel.runner.error.connect(self._on_error)
        session.on_change(self._on_session)
        self.set_tool("select")
        self._update_enabled()

    # ------------------------------------------------------------ tools
    def set_tool(self, tool: str) -> None:
        if tool not in CORRECTION_TOOLS:
            return  # the Move tool has nothing to move here
        self.canvas.set_tool(tool)
        self.tool_buttons[tool].setChecked(True)

    def _predict(self, points: list, labels: list, box: tuple | None) -> None:
        image = self.session.image
        if image is None:
            return
        self.busy.show()
        self.note.setText("Finding the object…")
        tag = ("correction-predict", self.session.generation, self.session.operation, self.session.selection)
        self.panel.select_on(tag, image, points, labels, box)

    def _on_done(self, tag: object, value: object) -> None:
        if not (isinstance(tag, tuple) and tag[0] == "correction-predict"):
            return
        self.busy.hide()
        if tag[1] != self.session.generation or tag[2] != self.session.operation:
            return  # asked for a correction that has been left since
        mask = np.asarray(value)
        if not mask.any():
            self.note.setText(NOTHING_FOUND)
            self.canvas.clear_prompts()
            return
        self._push(mask, "Select object (correction)", tag[3])

    def _on_error(self, tag: object, _message: str) -> None:
        if isinstance(tag, tuple) and tag[0] == "correction-predict":
            self.busy.hide()
            self.note.setText("")  # the message itself reaches the user through the panel's error box

    def _push(self, after: np.ndarray | None, text: str, before: object = _CURRENT) -> None:
        """One undo step from ``before`` (default: the selection now) to ``after``; a step of a
        correction that has been left drops itself from the stack when undone (``SelectionCommand``)."""
        if not self.session.active or self.session.operation is None:
            return
        generation = self.session.generation
        if before is _CURRENT:
            before = self.session.selection
        assert before is None or isinstance(before, np.ndarray)
        self.undo_stack.push(
            SelectionCommand(lambda m: self.session.set_selection(m, generation), before, after, text, self.undo_stack)
        )

    def _refine(self, fn: Callable[[np.ndarray], np.ndarray], text: str) -> None:
        if self.session.selection is not None:
            self._push(fn(self.session.selection), f"{text} correction")

    def _apply_key(self) -> None:
        if self.apply_button.isEnabled():
            self.apply_requested.emit()

    def _op_chosen(self, row: int) -> None:
        ops = self.session.operations
        if self.session.active and 0 <= row < len(ops) and ops[row] != self.session.operation:
            self.session.set_operation(ops[row])

    # ------------------------------------------------------------ session -> view
    def _on_session(self, what: str) -> None:
        if what == "begin":
            assert self.session.image is not None and self.session.frame is not None
            from ui.image import qimage_from_rgb

            self.canvas.clear_prompts()
            self.canvas.show_image(qimage_from_rgb(self.session.image))
            self.canvas.fit()
            self.title.setText(f"<b>Frame {self.session.frame + 1}</b>, original picture")
            names = self.op_names()
            self.op_box.blockSignals(True)
            self.op_box.clear()
            self.op_box.addItems([f"{i + 1}: {names[i] if i < len(names) else ''}" for i in self.session.operations])
            self.op_box.blockSignals(False)
            self.note.setText(
                "Click the object (or drag a box, or paint it), then Apply correction (Enter)."
                if self.session.operations
                else "No edit here has a tracked mask (an inserted layer or an outpaint is not tracked): "
                "give this frame your edited version instead (Export frame…, retouch it, Use edited frame…)."
            )
            self.stack.setCurrentIndex(1)
            self.canvas.setFocus()  # Enter applies, Esc cancels, at once
            if not self.session.operations:
                self.set_tool("pan")
        elif what == "operation":
            self.canvas.clear_prompts()
            if self.session.operation in self.session.operations:
                self.op_box.blockSignals(True)
                self.op_box.setCurrentIndex(self.session.operations.index(self.session.operation))
                self.op_box.blockSignals(False)
        elif what == "selection":
            self.canvas.set_mask(self.session.selection)
            if self.session.has_selection:
                self.note.setText(
                    f"Selected {int((self.session.selection > 127).sum())} px. Apply correction (Enter) when it fits."
                )
            elif self.session.operation is not None:
                self.note.setText("Nothing selected on this frame: click the object, drag a box around it, or paint it.")
        elif what == "end":
            self.canvas.clear_prompts()
            self.canvas.set_mask(None)
            self.busy.hide()
            self.stack.setCurrentIndex(0)
        self._update_enabled()

    def refresh(self) -> None:
        """The keyframes changed under an open correction (an edited frame set, an undo)."""
        self._update_enabled()

    def _update_enabled(self) -> None:
        active = self.session.active
        self.apply_button.setEnabled(active and self.session.has_selection)
        self.remove_button.setVisible(active and self.has_correction())
        self.remove_edited_button.setVisible(active and self.has_edited_frame())
        self.clear_button.setEnabled(active and self.session.selection is not None)
        masks = active and self.session.operation is not None  # the mask tools need an edit with a tracked mask
        for widget in (*self.tool_buttons.values(), self.op_box, self.brush_size):
            widget.setEnabled(masks)
