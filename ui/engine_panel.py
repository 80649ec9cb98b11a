"""Engine choice and options (with defaults and tooltips), and the Propagate button.

Engines that cannot run here (no weights, no GPU package) stay in the list, disabled,
with the reason as their tooltip: a clear state, never a crash. A remembered engine that
cannot run here is replaced by an available one (``choose``), with one line saying why
and the full reason behind "Details".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.engine_options import choice_states, defaults, gui_options, pick_available, short_reason, validate
from engine.engines.base import engine_names, engine_spec
from engine.options import OptionInfo


class EnginePanel(QWidget):
    propagate_requested = Signal()
    settings_changed = Signal(str, dict)

    def __init__(self, model_dirs: Callable[[], Sequence[str]] = list) -> None:
        """``model_dirs`` gives the folders where engines look for weights (the app's settings)."""
        super().__init__()
        self._model_dirs = model_dirs
        self.engine_box = QComboBox()
        self.engine_box.setToolTip("Which engine propagates the edit")
        self.engine_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.engine_box.setMinimumContentsLength(14)
        self.reason = QLabel("")
        self.reason.setWordWrap(True)
        self.notice = QLabel("")
        self.notice.setObjectName("engineNotice")
        self.notice.setWordWrap(True)
        self.details_button = QToolButton()
        self.details_button.setText("Details…")
        self.details_button.setAutoRaise(True)
        self.details_button.clicked.connect(self.show_details)
        self._details = ""
        notice_row = QHBoxLayout()
        notice_row.setContentsMargins(0, 0, 0, 0)
        notice_row.addWidget(self.notice, 1)
        notice_row.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        self.notice_box = QWidget()
        self.notice_box.setLayout(notice_row)
        self.notice_box.hide()
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.widgets: dict[str, QWidget] = {}
        self.propagate_button = QPushButton("Propagate")
        self.propagate_button.setToolTip("Propagate the first-frame edit through the whole clip (Ctrl+R)")
        self.propagate_button.clicked.connect(self.propagate_requested)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Engine"))
        layout.addWidget(self.engine_box)
        layout.addWidget(self.notice_box)
        layout.addWidget(self.reason)
        layout.addLayout(self.form)
        layout.addWidget(self.propagate_button)
        layout.addStretch(1)
        self._fill_engines()
        self.engine_box.currentIndexChanged.connect(lambda _i: self._engine_changed())
        self._engine_changed()

    def _fill_engines(self) -> None:
        model = self.engine_box.model()
        for name in engine_names():
            spec = engine_spec(name)
            ok, why = spec.availability(self._model_dirs())
            self.engine_box.addItem(spec.label, name)
            item = model.item(self.engine_box.count() - 1) if isinstance(model, QStandardItemModel) else None
            if item is not None:
                item.setToolTip(spec.description or spec.label if ok else f"Unavailable: {why}")
                if not ok:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
        index = self.engine_box.findData("classic")
        if index >= 0:
            self.engine_box.setCurrentIndex(index)

    @property
    def engine(self) -> str:
        return str(self.engine_box.currentData())

    @property
    def available(self) -> bool:
        """Can the selected engine run here (with the current weight-search folders)?"""
        return self.engine in engine_names() and engine_spec(self.engine).availability(self._model_dirs())[0]

    def refresh_availability(self) -> None:
        """Weights may have appeared or gone: re-check which engines can run, keep the choice and values."""
        current, values = self.engine, self.options()
        self.engine_box.blockSignals(True)
        self.engine_box.clear()
        self._fill_engines()
        self.engine_box.blockSignals(False)
        self.choose(current, values)

    def choose(self, preferred: str, options: dict[str, Any]) -> str:
        """Select ``preferred`` if it can run here, else the best available engine, saying why in one
        line (the full reason behind Details). Returns the engine selected."""
        dirs = self._model_dirs()
        try:
            engine, note = pick_available(preferred if preferred in engine_names() else None, dirs)
        except RuntimeError as exc:  # nothing runs: keep the choice, the reason says why
            engine, note = preferred, str(exc)
        details = ""
        if engine != preferred and preferred in engine_names():
            details = engine_spec(preferred).availability(dirs)[1]
            note = f"{engine_spec(preferred).label} cannot run here: {short_reason(details)}. Using {engine_spec(engine).label}."
        self.set_settings(engine, options if engine == preferred else {})
        self.show_notice(note if engine != preferred else "", details)
        return engine

    def show_notice(self, text: str, details: str = "") -> None:
        self.notice.setText(text)
        self._details = details
        self.details_button.setVisible(bool(details))
        self.notice_box.setVisible(bool(text))

    def show_details(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Why this engine", self._details, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("engineDetails")
        box.open()

    def options(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, widget in self.widgets.items():
            if isinstance(widget, QComboBox):
                data = widget.currentData()
                values[name] = widget.currentText() if widget.isEditable() or data is None else data
            elif isinstance(widget, QCheckBox):
                values[name] = widget.isChecked()
            elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
                values[name] = widget.value()
        return values

    def set_settings(self, engine: str, options: dict[str, Any]) -> None:
        index = self.engine_box.findData(engine)
        if index >= 0:
            self.engine_box.setCurrentIndex(index)
        for name, value in validate(self.engine, options).items():
            widget = self.widgets.get(name)
            if isinstance(widget, QComboBox) and not widget.isEditable():
                _select_usable(widget, value)
            elif isinstance(widget, QComboBox):
                widget.setCurrentText(str(value))
            elif isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
                widget.setValue(value)

    def _engine_changed(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.widgets = {}
        name = self.engine
        if name not in engine_names():  # the list is being refilled
            self.propagate_button.setEnabled(False)
            return
        ok, why = engine_spec(name).availability(self._model_dirs())
        self.reason.setText("" if ok else f"Unavailable here: {short_reason(why)}")
        self.reason.setToolTip(why)
        self.show_notice("")  # a fallback notice is about the last automatic choice only
        for info in gui_options(name):
            widget = self._widget(info)
            widget.setToolTip(info.help)
            self.form.addRow(info.label, widget)
            self.widgets[info.name] = widget
        self.propagate_button.setEnabled(ok)
        self.settings_changed.emit(name, self.options() or defaults(name))

    def _widget(self, spec: OptionInfo) -> QWidget:
        if spec.kind == "choice" or spec.choices:
            box = QComboBox()
            # long labels ("sam2 (unavailable)") must not widen the dock past a small window
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(10)
            # A choice that cannot run here (e.g. sam2 without SAM2 weights) stays listed,
            # disabled, with the reason; a usable one is labelled with what it will use.
            for choice, ok, note in choice_states(self.engine, spec, self._model_dirs()):
                short = note and len(note) <= 40 and not spec.open_choices  # an editable box's text is its value
                box.addItem(f"{choice} ({note})" if ok and short else choice if ok else f"{choice} (unavailable)", choice)
                item = box.model().item(box.count() - 1) if isinstance(box.model(), QStandardItemModel) else None
                if item is not None:
                    item.setToolTip(note if ok else f"Unavailable: {note}")
                    if not ok:
                        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            box.setEditable(spec.open_choices)  # e.g. the device: cuda:1 is valid beyond the list
            if spec.open_choices:
                box.setCurrentText(str(spec.default))
            else:
                _select_usable(box, spec.default)
            box.currentTextChanged.connect(lambda _t: self.settings_changed.emit(self.engine, self.options()))
            return box
        if spec.kind == "bool":
            check = QCheckBox()
            check.setChecked(bool(spec.default))
            check.toggled.connect(lambda _v: self.settings_changed.emit(self.engine, self.options()))
            return check
        spin: QSpinBox | QDoubleSpinBox = QSpinBox() if spec.kind == "int" else QDoubleSpinBox()
        low = -(2**31) if spec.minimum is None else spec.minimum
        high = 2**31 - 1 if spec.maximum is None else spec.maximum
        spin.setRange(low, high)  # type: ignore[arg-type]
        spin.setValue(spec.default)
        spin.valueChanged.connect(lambda _v: self.settings_changed.emit(self.engine, self.options()))
        return spin


def _select_usable(box: QComboBox, value: Any) -> None:
    """Select ``value`` if that item is enabled (a remembered choice may have become unusable), else keep the current one."""
    index = box.findData(value)
    model = box.model()
    item = model.item(index) if index >= 0 and isinstance(model, QStandardItemModel) else None
    if index >= 0 and (item is None or item.flags() & Qt.ItemFlag.ItemIsEnabled):
        box.setCurrentIndex(index)
