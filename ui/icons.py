"""Icons by role, from the Qt style's own set (no icon font to load: the window paints sooner).

Roles without a standard icon (zoom, fit) have none; their menu text says what they do.
"""

from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

SP = QStyle.StandardPixmap
_STANDARD = {
    "open": SP.SP_DialogOpenButton,
    "play": SP.SP_MediaPlay,
    "pause": SP.SP_MediaPause,
    "prev": SP.SP_MediaSeekBackward,
    "next": SP.SP_MediaSeekForward,
    "first": SP.SP_MediaSkipBackward,
    "last": SP.SP_MediaSkipForward,
    "help": SP.SP_DialogHelpButton,
}
_cache: dict[str, QIcon] = {}


def icon(role: str) -> QIcon:
    if role not in _cache:
        app = QApplication.instance()
        pixmap = _STANDARD.get(role)
        _cache[role] = app.style().standardIcon(pixmap) if pixmap is not None and isinstance(app, QApplication) else QIcon()
    return _cache[role]
