"""qtawesome icons by role, with a plain fallback if the icon font cannot load."""

from __future__ import annotations

import logging

from PySide6.QtGui import QIcon

log = logging.getLogger(__name__)

_NAMES = {
    "open": "fa5s.folder-open",
    "play": "fa5s.play",
    "pause": "fa5s.pause",
    "prev": "fa5s.step-backward",
    "next": "fa5s.step-forward",
    "first": "fa5s.fast-backward",
    "last": "fa5s.fast-forward",
    "fit": "fa5s.expand",
    "zoom_in": "fa5s.search-plus",
    "zoom_out": "fa5s.search-minus",
    "help": "fa5s.question-circle",
}


def icon(role: str) -> QIcon:
    try:
        import qtawesome as qta

        return qta.icon(_NAMES[role], color="#c8c8c8")
    except Exception as exc:  # noqa: BLE001 - a missing icon font must not stop the app
        log.debug("icon %s unavailable: %s", role, exc)
        return QIcon()
