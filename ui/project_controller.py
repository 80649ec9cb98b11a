"""Projects in the window: save, open, Open recent, the unsaved-work question, the recovery copy.

Unsaved work is the undo stack's changes plus what it does not track (results, engine
settings, a restored recovery copy: ``Project.unsaved``). Wherever the open work would
be replaced, ``confirm_replace`` asks Save / Discard / Cancel first. Save and open run
as jobs with progress (``app.project_io``); the recovery copy is written on a background
worker a moment after the last of a burst of changes (debounced), writing only what
changed, each result once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog

from app import recovery
from app.project import Project, ProjectError, ResultEntry
from app.project_io import OpenProjectJob, SaveProjectJob, check_save_target, is_project, project_folder
from app.version import APP_NAME
from ui.dialogs import CANCEL, DISCARD, SAVE, ask_unsaved
from ui.errors import show_error
from ui.undo import AddOperationCommand

if TYPE_CHECKING:
    from ui.main_window import MainWindow

log = logging.getLogger(__name__)


class ProjectController(QObject):
    #: The recovery copy is written this long after the last change of a burst (the change itself is kept in memory).
    AUTOSAVE_DELAY_MS = 1500

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.project: Project = window.project
        self.project.on_change(self._changed)
        self._autosave_timer = QTimer(self)  # a burst of changes (a brush stroke, undo x10) is written once
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(self.AUTOSAVE_DELAY_MS)
        self._autosave_timer.timeout.connect(self.autosave_now)
        window.undo_stack.cleanChanged.connect(self._undo_changed)
        window.undo_stack.indexChanged.connect(self._undo_changed)

    def _undo_changed(self, *_args: object) -> None:
        self.update_title()

    def detach(self) -> None:
        """Stop following the undo stack (it emits while being destroyed with the window) and autosaving."""
        self._autosave_timer.stop()
        self.w.undo_stack.cleanChanged.disconnect(self._undo_changed)
        self.w.undo_stack.indexChanged.disconnect(self._undo_changed)

    # ------------------------------------------------------------ unsaved work
    @property
    def has_unsaved_work(self) -> bool:
        dirty = not self.w.undo_stack.isClean() or self.project.unsaved
        made = bool(self.project.operations or self.project.results or self.project.folder is not None)
        return dirty and made

    def confirm_replace(self, then: Callable[[], Any], doing: str) -> Any:
        """Run ``then`` once the open work is safe: saved (after the save job), discarded, or
        there was nothing unsaved. Returns ``then()``'s value when it ran at once, else False."""
        if not self.w.confirm_unsaved or not self.has_unsaved_work:
            return then()
        answer = ask_unsaved(self.w, doing)
        if answer == CANCEL:
            return False
        if answer == SAVE:
            self.save(after=then)
            return False
        return then()

    def may_close(self, close_again: Callable[[], Any]) -> bool:
        """Before quitting: True to quit now (nothing unsaved, or discarded); False to stay open
        (cancelled, or a save job runs first and then calls ``close_again``)."""
        if not self.w.confirm_unsaved or not self.has_unsaved_work:
            return True
        answer = ask_unsaved(self.w, "quitting")
        if answer == SAVE:
            self.save(after=close_again)
        return answer == DISCARD

    def update_title(self) -> None:
        document = self.w.document
        name = document.path.name if document is not None else "no clip"
        if self.project.folder is not None:
            name = f"{self.project.folder.name} ({name})"
        dirty = " *" if (not self.w.undo_stack.isClean() or self.project.unsaved) else ""
        self.w.setWindowTitle(f"{name}{dirty} — {APP_NAME}")

    # ------------------------------------------------------------ save
    def save(self, ask: bool = False, after: Callable[[], Any] | None = None) -> bool:
        """Save into the project's folder (asking for one the first time); True if the save job started."""
        folder = self.project.folder
        if folder is None or ask:
            folder = self._ask_save_folder()
            if folder is None:
                return False
        return self.save_to(folder, after)

    def save_to(self, folder: Path, after: Callable[[], Any] | None = None) -> bool:
        folder = Path(folder).expanduser().resolve()
        try:
            check_save_target(folder)
        except ProjectError as exc:
            show_error(self.w, "Cannot save project", str(exc))
            return False
        snapshot, index = self.project.snapshot(), self.w.undo_stack.index()

        def saved(_folder: object) -> None:
            self.project.mark_saved(snapshot, folder)
            if self.w.undo_stack.index() == index:
                self.w.undo_stack.setClean()
            self.w.settings.add_recent_project(folder)
            self.w.save_settings()
            self.fill_recent_menu()
            self.w.statusBar().showMessage(f"saved {folder}", 5000)
            self.update_title()
            self.autosave()  # the recovery copy names the project now: after a crash, Save writes there
            if after is not None:
                after()

        return self.w.jobs.start(SaveProjectJob(snapshot, folder), "save-project", "Save project", saved)

    def _ask_save_folder(self) -> Path | None:
        document = self.w.document
        suggestion = f"{document.path.stem}.genprop" if document is not None else "project.genprop"
        start = str(Path(self.w.settings.dialog_dir("project")) / suggestion)
        path, _ = QFileDialog.getSaveFileName(
            self.w, "Save project as — a folder of this name holds the project", start, "GenProp Studio project folder (*)"
        )
        if not path:
            return None
        self.w.settings.remember_dir("project", path)
        return Path(path)

    # ------------------------------------------------------------ open
    def open_dialog(self) -> None:
        def ask() -> None:
            folder = QFileDialog.getExistingDirectory(self.w, "Open project folder", self.w.settings.dialog_dir("project"))
            if folder:
                self.w.settings.remember_dir("project", folder)
                self.open(Path(folder), confirmed=True)

        self.confirm_replace(ask, "opening a project")

    def open(self, path: str | Path, confirmed: bool = False) -> bool:
        """Open a project folder or its project.json (as a job); True if the open job started."""
        if not confirmed:
            return bool(self.confirm_replace(lambda: self.open(path, confirmed=True), "opening a project"))
        path = Path(path)
        if not is_project(path):
            show_error(self.w, "Cannot open project", f"{path} is not a GenProp Studio project folder (it has no project.json)")
            return False
        folder = project_folder(path).resolve()

        def adopt(project: Project) -> None:
            if self.w.adopt(project):
                self.w.settings.add_recent_project(folder)
                self.w.save_settings()
                self.fill_recent_menu()

        return self.w.jobs.start(
            OpenProjectJob(folder), "open-project", "Open project", self._unless_changed(adopt, "opening a project")
        )

    def _unless_changed(self, adopt: Callable[[Project], Any], doing: str) -> Callable[[Project], None]:
        """``adopt`` for a job's project, asking Save/Discard/Cancel again when the open work
        changed while the job ran (the first answer covered only the work as it was then)."""
        before = self.project.change_count

        def finished(project: Project) -> None:
            if self.project.change_count == before:
                adopt(project)
            else:
                self.confirm_replace(lambda: adopt(project), doing)

        return finished

    def restore_recovery(self) -> bool:
        """Bring back the autosaved state of a session that did not exit cleanly (counts as
        unsaved), read as a job: its results take seconds to decode. True if the job started."""
        if recovery.pending_recovery() is None:
            show_error(self.w, "Cannot restore", "there is nothing to restore")
            return False
        return self.w.jobs.start(
            recovery.RestoreJob(),
            "restore",
            "Restore your work",
            self._unless_changed(lambda project: self.w.adopt(project, unsaved=True), "restoring your work"),
        )

    # ------------------------------------------------------------ edits
    def import_edit_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Import edit file", self.w.dialog_dir("edit"), "Edit files (*.json)")
        if path:
            self.w.remember_dir("edit", path)
            self.import_edit(Path(path))

    def import_edit(self, path: Path) -> bool:
        """Append an edit file's operations (the CLI's format) as undoable edits."""
        from engine.edits import EditFileError, load_edit

        try:
            spec, _ = load_edit(path)
        except EditFileError as exc:
            show_error(self.w, "Cannot import edit", str(exc))
            return False
        frame = self.w.session.frame
        size = (frame.shape[1], frame.shape[0]) if frame is not None else None
        if size is None and self.w.document is not None:
            size = (self.w.document.info.width, self.w.document.info.height)
        if size is not None and spec.frame_size is not None and tuple(spec.frame_size) != size:
            show_error(
                self.w,
                "Cannot import edit",
                f"{path.name} was made on a {spec.frame_size[0]}x{spec.frame_size[1]} frame; this clip is {size[0]}x{size[1]}",
            )
            return False
        self.w.undo_stack.beginMacro(f"Import {path.name}")
        for op in spec.operations:
            self.w.undo_stack.push(AddOperationCommand(self.project, op))
        self.w.undo_stack.endMacro()
        return True

    # ------------------------------------------------------------ recent
    def fill_recent_menu(self) -> None:
        menu = self.w.recent_menu
        menu.clear()
        settings = self.w.settings
        projects = [p for p in settings.recent_projects if is_project(p)]
        if projects:
            menu.addSection("Projects")
            for path in projects:
                action = menu.addAction(f"{Path(path).name} — {Path(path).parent}")
                action.setToolTip(path)
                action.triggered.connect(lambda _=False, p=path: self.open(p))
        if settings.recent_files:
            menu.addSection("Clips")
            for path in settings.recent_files:
                action = menu.addAction(path)
                action.triggered.connect(lambda _=False, p=path: self.w.open_clip(p))
        menu.setEnabled(bool(projects or settings.recent_files))

    # ------------------------------------------------------------ recovery copy
    def _changed(self, what: str) -> None:
        if what == "results":
            for entry in self.project.results:
                self._write_recovery_result(entry)
        if what in ("operations", "keyframes", "engine", "clip", "results", "result_files"):
            self.autosave()
        self.update_title()

    def autosave(self) -> None:
        """Rewrite the recovery copy ``AUTOSAVE_DELAY_MS`` after the last change (each change restarts the wait)."""
        self._autosave_timer.start()

    @property
    def autosave_pending(self) -> bool:
        """A change waits for its recovery copy (the timer runs, or the background writer has it)."""
        return self._autosave_timer.isActive() or not self.w.jobs.background.idle

    def autosave_now(self) -> None:
        """Rewrite the recovery copy on the background worker (never before a clip is open: a
        recovery copy left by a crash waits untouched until the user answers the restore offer).
        The snapshot is taken here, on the GUI thread (cheap: references); the worker writes
        only what changed (``recovery.autosave``)."""
        self._autosave_timer.stop()
        snapshot = self.project.snapshot()
        if snapshot.clip_path is None:
            return
        self.w.jobs.run_quietly("autosave", lambda: recovery.autosave(snapshot), lambda _folder: None)

    def _write_recovery_result(self, entry: ResultEntry) -> None:
        if entry.files is not None and entry.files.parent.parent == recovery.recovery_folder():
            return  # written there already

        def written(folder: object) -> None:
            if entry in self.project.results:
                self.project.result_written(entry, Path(str(folder)))

        self.w.jobs.run_quietly(f"recovery-result-{entry.key}", lambda: recovery.write_result(entry), written)
