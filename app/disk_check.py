"""Refuse a run that cannot fit on disk before it starts, in the GUI and the CLI alike (issue 16)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from engine.disk_room import DiskNeed, require_disk_room
from engine.edit import FirstFrameEdit
from engine.result_store import store_disk_need


def require_room_for_run(
    engine: Any,
    clip: Any,
    edit: FirstFrameEdit,
    store: str | os.PathLike[str],
    *,
    proxies: bool,
    exports: Iterable[DiskNeed] = (),
) -> None:
    """Raise ``engine.disk_room.DiskRoomError`` when the engine's working files, the result store of
    ``edit`` over ``clip`` and the ``exports`` written from it (the CLI's outputs, which exist beside the
    store until it is removed) would not fit in the free space of their disks."""
    frames = len(clip)
    needs = engine.disk_needs(frames, tuple(clip.size), edit)
    needs.append(store_disk_need(store, frames, edit.canvas_size, len(edit.operations), proxies=proxies))
    require_disk_room([*needs, *exports])
