"""The window's actions as one table: menus, keyboard shortcuts and the F1 list come from it.

Each row names its menu, text, shortcuts and what it calls on the window; the F1 list is
read back from the built actions (their real shortcuts), so it cannot advertise a key
that nothing binds. Mouse gestures, which are not actions, are listed in ``GESTURES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu

from ui.edit_panel import TOOLS
from ui.icons import icon
from ui.theme import THEMES

if TYPE_CHECKING:
    from ui.main_window import MainWindow

Key = str | QKeySequence.StandardKey | Qt.Key
TABS = ("Clip", "Edit frame 1", "Review", "Correct frame")


@dataclass(frozen=True)
class ActionSpec:
    """One action: ``key`` is its name in ``window.actions``; ``run`` gets the window."""

    key: str
    menu: str
    text: str
    run: Callable[[MainWindow], Any] | None = None
    shortcuts: tuple[Key, ...] = ()
    icon: str | None = None
    tip: str = ""
    separator: bool = False  # a separator line before it
    submenu: str | None = None  # inside this submenu of ``menu``
    make: Callable[[MainWindow], QAction] | None = None  # actions Qt builds itself (undo/redo)


def _specs() -> list[ActionSpec]:
    from ui import demos, help_dialogs  # they import this module's GESTURES / the window

    a = ActionSpec
    rows = [
        a("open", "&File", "Open clip…", lambda w: w.open_dialog(), (QKeySequence.StandardKey.Open,), "open"),
        a("open_project", "&File", "Open project…", lambda w: w.projects.open_dialog(), ("Ctrl+Shift+O",)),
        a("import_edit", "&File", "Import edit file…", lambda w: w.projects.import_edit_dialog()),
        a("sample_edit", "&File", "Try the sample edit (recolour the coin)", lambda w: demos.try_sample_edit(w), separator=True),
        a(
            "genprop_demo",
            "&File",
            "Try GenProp with the procedural demo model",
            lambda w: demos.try_genprop_demo(w),
            tip="A toy model trained here on 64x64 procedural clips: shows the mechanism, not for real footage",
        ),
        a("save", "&File", "Save project", lambda w: w.projects.save(), (QKeySequence.StandardKey.Save,), separator=True),
        a("save_as", "&File", "Save project as…", lambda w: w.projects.save(ask=True), ("Ctrl+Shift+S",)),
        a(
            "export_video",
            "&File",
            "Export result…",
            lambda w: w.export_dialog("video"),
            ("Ctrl+E",),
            separator=True,
            tip="Any format the CLI writes: H.264, lossless, ProRes 422 HQ / 4444, DNxHR HQX, PNG, 16-bit PNG or EXR frames",
        ),
        a("export_frames", "&File", "Export result as PNG frames…", lambda w: w.export_dialog("frames")),
        a("export_masks", "&File", "Export edit masks…", lambda w: w.export_dialog("masks")),
        a("quit", "&File", "Quit", lambda w: w.close(), (QKeySequence.StandardKey.Quit,), separator=True),
        a(
            "undo",
            "&Edit",
            "Undo",
            make=lambda w: w.undo_stack.createUndoAction(w, "Undo"),
            shortcuts=(QKeySequence.StandardKey.Undo,),
        ),
        a(
            "redo",
            "&Edit",
            "Redo",
            make=lambda w: w.undo_stack.createRedoAction(w, "Redo"),
            shortcuts=(QKeySequence.StandardKey.Redo,),
        ),
        a("propagate", "&Edit", "Propagate", lambda w: w.propagate(), ("Ctrl+R",), separator=True),
        a(
            "correct_here",
            "&Edit",
            "Correct here (keyframe)",
            lambda w: w.keyframes.correct_here(),
            ("K",),
            separator=True,
            tip="Fix an edit's tracked mask on the frame shown in the Clip or Review tab; it becomes a keyframe",
        ),
        a(
            "preview_masks",
            "&Edit",
            "Preview tracked masks",
            lambda w: w.keyframes.run_preview(),
            ("Ctrl+Shift+R",),
            tip="Track the edit's masks alone (no fill) and draw them over the clip while you scrub",
        ),
        a("delete_keyframe", "&Edit", "Delete keyframe at this frame", lambda w: w.keyframes.delete_here(), ("Shift+Del",)),
    ]
    rows += [
        a(f"tab_{i}", "&View", f"{name} tab", lambda w, i=i: w.tabs.setCurrentIndex(i), (str(i + 1),))
        for i, name in enumerate(TABS)
    ]
    rows += [
        a("fit", "&View", "Fit to window", lambda w: w.current_view().fit(), ("Ctrl+0",), "fit", separator=True),
        a("zoom_in", "&View", "Zoom in", lambda w: w.current_view().zoom_by(1), ("Ctrl++", "Ctrl+="), "zoom_in"),
        a("zoom_out", "&View", "Zoom out", lambda w: w.current_view().zoom_by(-1), ("Ctrl+-",), "zoom_out"),
    ]
    rows += [a(f"theme_{t}", "&View", t.capitalize(), lambda w, t=t: w.set_theme(t), submenu="Theme") for t in THEMES]
    player = "the player of the visible tab (Clip or Review)"
    rows += [
        a("play", "&Playback", "Play / pause", lambda w: w.current_timeline().toggle_play(), (Qt.Key.Key_Space,), tip=player),
        a("prev_frame", "&Playback", "Previous frame", lambda w: w.current_timeline().step(-1), (Qt.Key.Key_Left,)),
        a("next_frame", "&Playback", "Next frame", lambda w: w.current_timeline().step(1), (Qt.Key.Key_Right,)),
        a("first_frame", "&Playback", "First frame", lambda w: w.current_timeline().seek(0), (Qt.Key.Key_Home,)),
        a("last_frame", "&Playback", "Last frame", lambda w: w.current_timeline().seek(10**9), (Qt.Key.Key_End,)),
        a("prev_keyframe", "&Playback", "Previous keyframe", lambda w: w.keyframes.jump(-1), ("Alt+Left",), separator=True),
        a("next_keyframe", "&Playback", "Next keyframe", lambda w: w.keyframes.jump(1), ("Alt+Right",)),
    ]
    rows += [
        a(f"tool_{tool}", "&Tools", f"{label} tool", lambda w, t=tool: w.use_tool(t), (key,), tip=tip)
        for tool, (label, key, tip) in TOOLS.items()
    ]
    rows += [
        a("models", "&Tools", "Models…", lambda w: help_dialogs.show_model_manager(w), separator=True),
        a("shortcuts", "&Help", "Keyboard shortcuts", lambda w: help_dialogs.show_shortcuts(w), (Qt.Key.Key_F1,), "help"),
        a("logs", "&Help", "Where are my logs?", lambda w: help_dialogs.show_log_location(w)),
        a("about", "&Help", "About GenProp Studio", lambda w: help_dialogs.show_about(w)),
    ]
    return rows


ACTIONS: tuple[ActionSpec, ...] = tuple(_specs())

#: Mouse gestures (not actions): shown after the keys in the F1 list.
GESTURES = (
    ("Edit tab, Select tool", "left click adds to the selection, right or Ctrl+click removes"),
    ("Edit tab, Box tool", "drag a box around the object"),
    ("Review tab", "Shift+click a point of a GenProp result: G's attention from there"),
    ("Mouse wheel over a frame", "zoom; over a panel it scrolls (a field takes the wheel once clicked)"),
    ("Timeline", "click anywhere on the bar to jump there"),
    (
        "Keyframe strip (under the timeline)",
        "click a marker to go there; right-click it to correct that frame or delete it (or click it and press Delete)",
    ),
)


def _sequence(key: Key) -> QKeySequence:
    if isinstance(key, Qt.Key):
        return QKeySequence(key)
    return QKeySequence(key)


def build_actions(window: MainWindow) -> tuple[dict[str, QAction], dict[str, QMenu]]:
    """Create every action of the table in the window's menus; returns (actions, menus)."""
    actions: dict[str, QAction] = {}
    menus: dict[str, QMenu] = {}
    for spec in ACTIONS:
        menu = menus.get(spec.menu)
        if menu is None:
            menu = menus[spec.menu] = window.menuBar().addMenu(spec.menu)
        if spec.submenu is not None:
            key = f"{spec.menu}/{spec.submenu}"
            menu = menus.get(key) or menus.setdefault(key, menus[spec.menu].addMenu(spec.submenu))
        elif spec.separator:
            menu.addSeparator()
        action = spec.make(window) if spec.make is not None else QAction(spec.text, window)
        if spec.shortcuts:
            action.setShortcuts([_sequence(k) for k in spec.shortcuts])
        if spec.icon:
            action.setIcon(icon(spec.icon))
        if spec.tip:
            action.setToolTip(spec.tip)
            action.setStatusTip(spec.tip)
        if spec.run is not None:
            action.triggered.connect(lambda _=False, run=spec.run: run(window))
        window.addAction(action)  # shortcuts work whichever widget has focus
        menu.addAction(action)
        actions[spec.key] = action
        if spec.key == "open":
            window.recent_menu = menu.addMenu("Open recent")  # filled by the project controller
    view = menus["&View"]
    view.addSeparator()
    for dock in window.findChildren(QDockWidget):
        view.addAction(dock.toggleViewAction())
    return actions, menus


def shortcut_rows(actions: dict[str, QAction]) -> list[tuple[str, str]]:
    """(keys, what) for every action that has a shortcut, in table order: the F1 list."""
    rows = []
    for spec in ACTIONS:
        action = actions.get(spec.key)
        if action is None or not action.shortcuts():
            continue
        keys = " or ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        what = action.text().replace("&", "")
        if spec.menu == "&Playback" and spec.key == "play":
            what += " (the visible tab's player)"
        rows.append((keys, what))
    return rows
