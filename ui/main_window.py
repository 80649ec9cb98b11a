"""GenProp Studio's main window: open a clip, edit frame 1, propagate, review, export.

Layout: a central tab widget (Clip viewer, first-frame Edit canvas, Review), dockable
Edit-tools and Engine panels, a job bar with progress and Cancel. Long work runs in
``JobWorker`` threads; the project autosaves to a recovery copy after every change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QImage, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import recovery
from app.document import ClipDocument
from app.jobs import AttentionJob, ExportJob, PropagationJob
from app.paths import user_dirs
from app.project import Project, ProjectError
from app.settings import Settings
from app.version import APP_NAME, __version__
from engine.edit import FirstFrameEdit
from engine.engines.base import PropagationResult
from engine.video import VIDEO_SUFFIXES, VideoError, require_propagatable
from ui.edit_canvas import EditCanvas
from ui.edit_panel import EditPanel
from ui.engine_panel import EnginePanel
from ui.errors import show_error
from ui.frame_loader import FrameLoader
from ui.frame_view import FrameView
from ui.icons import icon
from ui.image import qimage_from_rgb
from ui.job_panel import JobPanel
from ui.review_view import ReviewView
from ui.theme import THEMES, apply_theme
from ui.timeline import Timeline
from ui.undo import AddOperationCommand
from ui.workers import JobWorker

log = logging.getLogger(__name__)

SHORTCUTS = [
    ("Ctrl+O", "Open a clip"),
    ("Ctrl+Shift+O / Ctrl+S", "Open / save a project"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo"),
    ("Ctrl+R", "Propagate the edit"),
    ("Ctrl+E", "Export the result as mp4"),
    ("Space", "Play / pause"),
    ("Left / Right", "Previous / next frame"),
    ("Home / End", "First / last frame"),
    ("1 / 2 / 3", "Clip / Edit / Review tab"),
    ("Ctrl+0, Ctrl++ / Ctrl+-", "Fit, zoom in / out (or the mouse wheel)"),
    ("Edit tab", "Select tool: left click adds, right or Ctrl+click removes; Box: drag"),
    ("F1", "This list"),
]


class MainWindow(QMainWindow):
    clip_opened = Signal(str)
    frame_shown = Signal(int)
    job_finished = Signal(str)  # "succeeded" | "failed" | "cancelled"

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings if settings is not None else Settings.load(user_dirs().settings_file)
        self.document: ClipDocument | None = None
        self.project = Project()
        self.undo_stack = QUndoStack(self)
        self.ask_on_close = True
        self._loader: FrameLoader | None = None
        self._workers: list[JobWorker] = []
        self._saved_index = 0
        self._demo_model = False  # the bundled demo model is searched once the user asks for it
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)

        self.view = FrameView()
        self.timeline = Timeline()
        self.timeline.frame_requested.connect(self._request_frame)
        clip_tab = QWidget()
        clip_layout = QVBoxLayout(clip_tab)
        clip_layout.setContentsMargins(0, 0, 0, 0)
        clip_layout.addWidget(self.view, 1)
        clip_layout.addWidget(self.timeline)
        self.canvas = EditCanvas()
        self.review = ReviewView()
        self.review.attention_requested.connect(self.record_attention)
        self.tabs = QTabWidget()
        self.tabs.addTab(clip_tab, "Clip")
        self.tabs.addTab(self.canvas, "Edit frame 1")
        self.tabs.addTab(self.review, "Review")
        self.job_panel = JobPanel()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.job_panel)
        self.setCentralWidget(central)

        self.edit_panel = EditPanel(self.canvas, self.project, self.undo_stack, self.model_dirs)
        self.edit_panel.edit_changed.connect(self._show_edit)
        self.edit_panel.error.connect(lambda title, msg: show_error(self, title, msg))
        self.edit_panel.first_frame_ready.connect(lambda: self._show_edit(self.edit_panel.edit))
        self.engine_panel = EnginePanel(self.model_dirs)
        self.engine_panel.propagate_requested.connect(self.propagate)
        self.engine_panel.settings_changed.connect(self.project.set_engine)
        self._dock("Edit tools", self.edit_panel, Qt.DockWidgetArea.RightDockWidgetArea, "editDock")
        self._dock("Engine", self.engine_panel, Qt.DockWidgetArea.RightDockWidgetArea, "engineDock")
        self.project.on_change(self._project_changed)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

        self._build_menus()
        self.clip_label = QLabel("no clip")
        self.engine_label = QLabel("")
        self.statusBar().addWidget(self.clip_label, 1)
        self.statusBar().addPermanentWidget(self.engine_label)
        self.engine_panel.settings_changed.connect(lambda *_: self._update_status())
        self.engine_panel.settings_changed.connect(self._remember_engine)
        if self.settings.engine != self.engine_panel.engine:
            self.engine_panel.set_settings(self.settings.engine, {})
        self._update_status()
        self._update_actions()
        self.resize(1400, 860)
        qsettings = QSettings()
        if (geometry := qsettings.value("main_window/geometry")) is not None:
            self.restoreGeometry(geometry)
        if (state := qsettings.value("main_window/state")) is not None:
            self.restoreState(state)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(widget)
        scroll.setMinimumWidth(widget.minimumSizeHint().width() + 24)
        dock.setWidget(scroll)
        self.addDockWidget(area, dock)
        return dock

    # ------------------------------------------------------------------ menus
    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self.open_action = self._action("Open clip…", QKeySequence.StandardKey.Open, self.open_dialog, "open")
        m.addAction(self.open_action)
        self.recent_menu = m.addMenu("Open recent")
        self._fill_recent_menu()
        m.addAction(self._action("Open project…", QKeySequence("Ctrl+Shift+O"), self.open_project_dialog))
        m.addAction(self._action("Import edit file…", None, self.import_edit_dialog))
        self.sample_edit_action = self._action("Try the sample edit (recolour the coin)", None, self.try_sample_edit)
        m.addAction(self.sample_edit_action)
        self.genprop_demo_action = self._action("Try GenProp with the procedural demo model", None, self.try_genprop_demo)
        self.genprop_demo_action.setToolTip(
            "A toy model trained here on 64x64 procedural clips: shows the mechanism, not for real footage"
        )
        m.addAction(self.genprop_demo_action)
        m.addAction(self._action("Save project", QKeySequence.StandardKey.Save, self.save_project))
        m.addAction(self._action("Save project as…", QKeySequence("Ctrl+Shift+S"), lambda: self.save_project(ask=True)))
        m.addSeparator()
        self.export_actions = [
            self._action("Export result as mp4…", QKeySequence("Ctrl+E"), lambda: self.export_dialog("video")),
            self._action("Export result as PNG frames…", None, lambda: self.export_dialog("frames")),
            self._action("Export edit masks…", None, lambda: self.export_dialog("masks")),
        ]
        for action in self.export_actions:
            m.addAction(action)
        m.addSeparator()
        m.addAction(self._action("Quit", QKeySequence.StandardKey.Quit, self.close))
        e = self.menuBar().addMenu("&Edit")
        undo = self.undo_stack.createUndoAction(self, "Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        e.addAction(undo)
        e.addAction(redo)
        self.propagate_action = self._action("Propagate", QKeySequence("Ctrl+R"), self.propagate)
        e.addAction(self.propagate_action)
        v = self.menuBar().addMenu("&View")
        for i, name in enumerate(("Clip", "Edit frame 1", "Review")):
            v.addAction(self._action(f"{name} tab", QKeySequence(str(i + 1)), lambda _=False, i=i: self.tabs.setCurrentIndex(i)))
        v.addSeparator()
        v.addAction(self._action("Fit to window", QKeySequence("Ctrl+0"), self._current_view_fit, "fit"))
        theme_menu = v.addMenu("Theme")
        for theme in THEMES:
            theme_menu.addAction(self._action(theme.capitalize(), None, lambda _=False, t=theme: self.set_theme(t)))
        for dock in self.findChildren(QDockWidget):
            v.addAction(dock.toggleViewAction())
        p = self.menuBar().addMenu("&Playback")
        p.addAction(self._action("Play / pause", QKeySequence(Qt.Key.Key_Space), self.timeline.toggle_play))
        p.addAction(self._action("Previous frame", QKeySequence(Qt.Key.Key_Left), lambda: self.timeline.step(-1)))
        p.addAction(self._action("Next frame", QKeySequence(Qt.Key.Key_Right), lambda: self.timeline.step(1)))
        p.addAction(self._action("First frame", QKeySequence(Qt.Key.Key_Home), lambda: self.timeline.seek(0)))
        p.addAction(self._action("Last frame", QKeySequence(Qt.Key.Key_End), lambda: self.timeline.seek(10**9)))
        tools = self.menuBar().addMenu("&Tools")
        tools.addAction(self._action("Models…", None, self.show_model_manager))
        h = self.menuBar().addMenu("&Help")
        h.addAction(self._action("Keyboard shortcuts", QKeySequence(Qt.Key.Key_F1), self.show_shortcuts, "help"))
        h.addAction(self._action("Where are my logs?", None, self.show_log_location))
        h.addAction(self._action(f"About {APP_NAME}", None, self.show_about))

    def _action(self, text: str, shortcut, slot, icon_role: str | None = None) -> QAction:  # type: ignore[no-untyped-def]
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        if icon_role:
            action.setIcon(icon(icon_role))
        action.triggered.connect(slot)
        return action

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_clip(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    def _current_view_fit(self) -> None:
        [self.view, self.canvas, self.review.view][self.tabs.currentIndex()].fit()

    def set_theme(self, theme: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.settings.theme = theme
        self._save_settings()

    # ------------------------------------------------------------------ clips
    def open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Open clip", "", f"Videos ({patterns});;All files (*)")
        if path:
            self.open_clip(path)

    def open_clip(self, path: str | Path, *, keep_edits: bool = False, fps: float | None = None) -> bool:
        """Open a clip (``fps`` for frame folders); on failure show why and keep the current clip."""
        try:
            document = ClipDocument.open(path, fps=fps)
        except VideoError as err:
            show_error(self, "Cannot open clip", str(err))
            return False
        self._close_document()
        self.document = document
        self._loader = FrameLoader(document.reader, parent=self)
        self._loader.frame_ready.connect(self._show_frame)
        self._loader.failed.connect(lambda i, msg: show_error(self, "Cannot decode frame", msg))
        info = document.info
        self.timeline.set_clip(info.frame_count, info.fps)
        self.clip_label.setText(
            f"{Path(path).name} · {info.width}x{info.height} · {info.frame_count} frames · {info.fps:.2f} fps"
            + (" · " + "; ".join(info.warnings) if info.warnings else "")
        )
        if not keep_edits:
            self.undo_stack.clear()
            self.project.operations.clear()
            self.project.results.clear()
            self.project._emit("operations")
            self.project._emit("results")
        self.project.set_clip(document.path)
        self.review.set_clip(document.reader)
        self.edit_panel.load_first_frame(document.reader)
        self.settings.add_recent(path)
        self._save_settings()
        self._fill_recent_menu()
        self._request_frame(0)
        self._update_title()
        self._update_actions()
        self.clip_opened.emit(str(path))
        return True

    def _request_frame(self, index: int) -> None:
        if self.document is None or self._loader is None:
            return
        self.document.set_current_frame(index)
        self.timeline.show_position(index, self.document.timecode(index))
        self._loader.request(index)

    def _show_frame(self, index: int, image: QImage) -> None:
        if self.document is None or index != self.document.current_frame:
            return  # a stale frame: the user has moved on
        self.view.show_image(image)
        self.frame_shown.emit(index)

    def _show_edit(self, edit: FirstFrameEdit | None) -> None:
        frame = self.edit_panel.frame
        if frame is None:
            return
        shown = frame
        if edit is not None and edit.edited_frame.shape == frame.shape:
            shown = edit.edited_frame
        self.canvas.show_image(qimage_from_rgb(shown))
        self._update_actions()

    def _close_document(self) -> None:
        self.timeline.pause()
        if self._loader is not None:
            self._loader.shutdown()
            self._loader.deleteLater()
            self._loader = None
        self.review.set_clip(None)
        if self.document is not None:
            self.document.close()
            self.document = None
        self.view.clear()

    # ------------------------------------------------------------------ jobs
    def _start(self, worker: JobWorker, title: str, on_success) -> None:  # type: ignore[no-untyped-def]
        """Run a job; ``job_finished(outcome)`` fires once the worker is fully done."""
        outcome = {"value": "failed"}
        self._workers.append(worker)
        self.job_panel.track(worker, title)  # connected first: the bar is idle before job_finished

        def succeeded(value: object) -> None:
            outcome["value"] = "succeeded"
            on_success(value)

        def cancelled() -> None:
            outcome["value"] = "cancelled"
            self.statusBar().showMessage(f"{title} cancelled", 5000)

        worker.succeeded.connect(succeeded)
        worker.failed.connect(lambda msg, details: show_error(self, f"{title} failed", msg, details))
        worker.cancelled.connect(cancelled)
        worker.finished.connect(lambda: self._job_done(worker, outcome["value"]))
        self._update_actions()
        worker.start()

    def _job_done(self, worker: JobWorker, outcome: str) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        worker.deleteLater()
        self._update_actions()
        self.job_finished.emit(outcome)

    def propagate(self) -> None:
        if self.document is None or self.job_panel.busy:
            return
        edit = self.edit_panel.edit
        if edit is None:
            show_error(self, "Nothing to propagate", "Edit the first frame first: select an object and apply an edit.")
            return
        try:
            require_propagatable(self.document.reader)
        except VideoError as err:
            show_error(self, "Cannot propagate", str(err))
            return
        job = PropagationJob(
            self.engine_panel.engine, self.document.reader, edit, self.engine_panel.options(), tuple(self.model_dirs())
        )
        self._start(JobWorker(job, "propagate"), "Propagate", self._propagation_done)

    def _propagation_done(self, result: PropagationResult) -> None:
        self.project.add_result(result)
        self.tabs.setCurrentWidget(self.review)

    def record_attention(self, query) -> None:  # type: ignore[no-untyped-def]
        """Re-run the first window of the current GenProp result, recording attention for ``query``."""
        result, edit = self.review.current, self.edit_panel.edit
        if result is None or edit is None or self.document is None or self.job_panel.busy:
            return
        windows = result.extras.get("windows") or [(0, len(result.frames))]
        options = dict(self.project.engine.options) if self.project.engine.engine == result.engine else {}
        job = AttentionJob(
            result.engine,
            self.document.reader,
            edit,
            options,
            query,
            frames=int(windows[0][1]),
            model_dirs=tuple(self.model_dirs()),
        )
        self._start(JobWorker(job, "attention"), "Attention maps", self.review.set_attention)

    def export_dialog(self, kind: str) -> None:
        if self.review.current is None:
            return
        if kind == "video":
            path, _ = QFileDialog.getSaveFileName(self, "Export video", "result.mp4", "MP4 video (*.mp4);;Matroska (*.mkv)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Export into folder")
            path = str(Path(path) / ("frames" if kind == "frames" else "masks")) if path else ""
        if path:
            self.export(kind, Path(path))

    def export(self, kind: str, target: Path) -> None:
        result = self.review.current
        if result is None:
            return
        if self.job_panel.busy:
            self.statusBar().showMessage("another job is running; export it when it has finished", 5000)
            return
        audio = self.document.path if self.document is not None else None
        job = ExportJob(result, kind, target, audio_from=audio)
        self._start(
            JobWorker(job, f"export-{kind}"),
            f"Export {kind}",
            lambda path: self.statusBar().showMessage(f"exported {path}", 8000),
        )

    def cancel_jobs(self) -> None:
        for worker in list(self._workers):
            worker.cancel()

    # ------------------------------------------------------------------ project
    def _project_changed(self, what: str) -> None:
        if what == "results":
            self.review.set_results([(e.name, e.result) for e in self.project.results])
        if self.project.clip_path is not None and what in ("operations", "engine", "clip"):
            try:
                if self.project.operations:
                    recovery.autosave(self.project)
                else:
                    recovery.discard()  # nothing the user made yet: nothing to offer back
            except OSError as exc:
                log.warning("autosave failed: %s", exc)
        self._update_title()
        self._update_actions()

    def save_project(self, ask: bool = False) -> bool:
        folder = self.project.folder
        if folder is None or ask:
            chosen = QFileDialog.getExistingDirectory(self, "Save project into folder")
            if not chosen:
                return False
            folder = Path(chosen) / "project.genprop"
        return self.save_project_to(folder)

    def save_project_to(self, folder: Path) -> bool:
        try:
            self.project.save(folder)
        except (OSError, ValueError) as exc:
            show_error(self, "Cannot save project", str(exc))
            return False
        self.undo_stack.setClean()
        self.statusBar().showMessage(f"saved {folder}", 5000)
        self._update_title()
        return True

    def import_edit_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import edit file", "", "Edit files (*.json)")
        if path:
            self.import_edit(Path(path))

    def import_edit(self, path: Path) -> bool:
        """Append an edit file's operations (the CLI's format) as undoable edits."""
        from engine.edits import EditFileError, load_edit

        try:
            spec, _ = load_edit(path)
        except EditFileError as exc:
            show_error(self, "Cannot import edit", str(exc))
            return False
        frame = self.edit_panel.frame
        if frame is not None and spec.frame_size is not None and spec.frame_size != (frame.shape[1], frame.shape[0]):
            show_error(
                self,
                "Cannot import edit",
                f"{path.name} was made on a {spec.frame_size[0]}x{spec.frame_size[1]} frame; this clip is {frame.shape[1]}x{frame.shape[0]}",
            )
            return False
        self.undo_stack.beginMacro(f"Import {path.name}")
        for op in spec.operations:
            self.undo_stack.push(AddOperationCommand(self.project, op))
        self.undo_stack.endMacro()
        return True

    def try_sample_edit(self) -> None:
        """Open the bundled sample with its ready first-frame edit: a demo in one click."""
        from app.paths import RESOURCES, SAMPLE_CLIP

        if self.document is None or self.document.path != SAMPLE_CLIP.resolve():
            if not self.open_clip(SAMPLE_CLIP):
                return
        if not self.project.operations:
            self.import_edit(RESOURCES / "samples" / "coin_edit" / "edit.json")
        self.tabs.setCurrentWidget(self.canvas)

    def try_genprop_demo(self) -> None:
        """The GenProp engine, MPD overlay and attention viewer on the bundled demo model.

        The demo model (resources/demo_model, issue #10) is searched only from here on,
        and the status bar says it is a procedural-domain demonstration.
        """
        from engine.pipelines.weights_locator import DEMO_MODEL_DIR

        if not self._demo_model:
            self._demo_model = True
            self._refresh_engines()
        if not self.open_clip(DEMO_MODEL_DIR / "case" / "frames", fps=8.0):
            return
        self.import_edit(DEMO_MODEL_DIR / "case" / "edit.json")
        self.engine_panel.set_settings(
            "genprop", {"steps": 8, "long_side": 64, "min_guidance": 1.0, "max_guidance": 1.0, "fps_id": 8, "feather": 2}
        )
        self.tabs.setCurrentWidget(self.canvas)
        self.statusBar().showMessage(
            "GenProp demo: a toy model trained on 64x64 procedural clips (resources/demo_model) — it shows the mechanism, not real-footage quality",
            20000,
        )

    def open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open project folder")
        if folder:
            self.open_project(Path(folder))

    def open_project(self, path: Path) -> bool:
        try:
            project = Project.load(path)
        except ProjectError as exc:
            show_error(self, "Cannot open project", str(exc))
            return False
        return self._adopt(project)

    def restore_recovery(self) -> bool:
        """Bring back the autosaved state of a session that did not exit cleanly."""
        try:
            project = recovery.restore()
        except ProjectError as exc:
            show_error(self, "Cannot restore", str(exc))
            return False
        return self._adopt(project)

    def _adopt(self, project: Project) -> bool:
        if project.clip_path is None or not self.open_clip(project.clip_path):
            if project.clip_path is not None:
                return False
        self.undo_stack.clear()
        self.project.operations[:] = project.operations
        self.project.results[:] = project.results
        self.project.folder = project.folder
        self.engine_panel.set_settings(project.engine.engine, project.engine.options)
        self.project._emit("operations")
        self.project._emit("results")
        return True

    # ------------------------------------------------------------------ state
    def _on_clean_changed(self, _clean: bool) -> None:
        self._update_title()

    def _update_title(self) -> None:
        name = self.document.path.name if self.document is not None else "no clip"
        dirty = "" if self.undo_stack.isClean() else " *"
        self.setWindowTitle(f"{name}{dirty} — {APP_NAME}")

    def _remember_engine(self, engine: str, _options: dict) -> None:
        self.settings.engine = engine

    def _update_status(self) -> None:
        self.engine_label.setText(f"engine: {self.engine_panel.engine} · device: {_device_text()}")

    def _update_actions(self) -> None:
        busy = self.job_panel.busy
        has_result = self.review.current is not None
        for action in self.export_actions:
            action.setEnabled(has_result and not busy)
        can_run = self.document is not None and self.edit_panel.edit is not None and not busy
        self.propagate_action.setEnabled(can_run)
        available = get_available(self.engine_panel.engine, self.model_dirs())
        self.engine_panel.propagate_button.setEnabled(can_run and available)
        why = (
            "open a clip first"
            if self.document is None
            else "a job is running"
            if busy
            else "edit frame 1 first: select an object and apply an edit (or File → Try the sample edit)"
            if self.edit_panel.edit is None
            else "this engine cannot run here (see the reason above)"
            if not available
            else "Propagate the first-frame edit through the whole clip (Ctrl+R)"
        )
        self.engine_panel.propagate_button.setToolTip(why)

    def _save_settings(self) -> None:
        try:
            self.settings.save(user_dirs().settings_file)
        except OSError as exc:
            log.warning("settings not saved: %s", exc)

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_clip(urls[0].toLocalFile())
            event.acceptProposedAction()

    # ------------------------------------------------------------------ dialogs
    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def show_model_manager(self) -> None:
        from ui.model_manager_dialog import ModelManagerDialog

        dialog = ModelManagerDialog(user_dirs().ensure().models, self)
        dialog.finished.connect(lambda _r: self._refresh_engines())
        dialog.open()

    def model_dirs(self) -> list[str]:
        """Folders the engines search for weights: the app's models folder, the user's, the demo's if asked."""
        from app.model_manager import model_search_dirs
        from engine.pipelines.weights_locator import DEMO_MODEL_DIR

        dirs = [*model_search_dirs(), *self.settings.model_dirs]
        return [*dirs, str(DEMO_MODEL_DIR)] if self._demo_model else dirs

    def _refresh_engines(self) -> None:
        """Weights may have appeared: re-check which engines can run, and rebuild the selector on next use."""
        self.edit_panel.selector = None
        current = self.engine_panel.engine
        self.engine_panel.engine_box.clear()
        self.engine_panel._fill_engines()
        self.engine_panel.set_settings(current, self.engine_panel.options())
        self._update_actions()

    def show_log_location(self) -> None:
        QMessageBox.information(self, "Logs", f"The log file is in:\n{user_dirs().logs}\nPlease attach it to bug reports.")

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME} {__version__}</b><p>Propagate a first-frame edit through a whole clip.</p>"
            "<p>Apache-2.0. See NOTICE for third-party licences.</p>",
        )

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        if self.ask_on_close and not self.undo_stack.isClean():
            answer = QMessageBox.question(
                self,
                "Unsaved changes",
                "Save the project before closing?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            )
            if answer == QMessageBox.StandardButton.Cancel or (
                answer == QMessageBox.StandardButton.Save and not self.save_project()
            ):
                event.ignore()
                return
        self.cancel_jobs()
        for worker in list(self._workers):
            worker.wait(30000)
        self.timeline.pause()
        self.review.shutdown()
        self.edit_panel.shutdown()
        self._save_settings()
        qsettings = QSettings()
        qsettings.setValue("main_window/geometry", self.saveGeometry())
        qsettings.setValue("main_window/state", self.saveState())
        self._close_document()
        if not getattr(self, "_closed", False):
            self.undo_stack.cleanChanged.disconnect(self._on_clean_changed)  # the stack emits while being destroyed
            self._closed = True
        recovery.discard()  # a clean exit: nothing to recover next time
        super().closeEvent(event)


def get_available(engine: str, model_dirs: Sequence[str] = ()) -> bool:
    from engine.engines.base import engine_names, engine_spec

    return engine in engine_names() and engine_spec(engine).availability(model_dirs)[0]


def _device_text() -> str:
    """Cheap device description for the status bar (torch is imported only if present)."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"GPU ({torch.cuda.get_device_name(0)})"
    except Exception:  # noqa: BLE001 - no torch or a broken driver just means CPU
        pass
    return "CPU"
