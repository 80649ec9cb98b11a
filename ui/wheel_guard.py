"""The mouse wheel scrolls a panel instead of changing the field under the pointer.

Qt gives spin boxes, combo boxes and sliders wheel events whenever the pointer is over
them, so scrolling down a dock silently changes values (Brightness x went to 0.00). The
guard lets such a field take the wheel only while it has keyboard focus (clicked or
tabbed into); otherwise the event goes to the scroll area around it. Scroll bars are
sliders too but not value fields: they are never guarded (a list forwards its wheel to
its own scroll bar; guarding that bar sent the event round in a circle).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QWidget,
)

GUARDED = (QAbstractSpinBox, QComboBox, QAbstractSlider)


class WheelGuard(QObject):
    """Event filter for value fields: wheel events are ignored unless the field has focus."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() != QEvent.Type.Wheel or not _is_value_field(watched) or watched.hasFocus():
            return False
        area = watched.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None and area.verticalScrollBar() is not watched:  # the panel's scroll area scrolls instead
            QApplication.sendEvent(area.verticalScrollBar(), event)
        return True


def _is_value_field(widget: QObject) -> bool:
    return isinstance(widget, GUARDED) and not isinstance(widget, QScrollBar)


def guard_wheel(root: QWidget, guard: WheelGuard) -> int:
    """Install ``guard`` on every value field under ``root``; returns how many were guarded."""
    count = 0
    for kind in GUARDED:
        for field in root.findChildren(kind):
            if field.property("wheelGuarded") or not _is_value_field(field):
                continue
            field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel alone no longer focuses it
            field.installEventFilter(guard)
            field.setProperty("wheelGuarded", True)
            count += 1
    return count
