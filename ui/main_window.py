"""GenProp Studio's main window: open a clip, edit frame 1, propagate, review, export.

Layout: a central tab widget (Clip viewer, first-frame Edit canvas, Review), dockable
Edit-tools and Engine panels, a job bar with progress and Cancel. The window wires the
parts together; the state lives in the app layer (``Project``, ``EditSession``), the
menus in the actions table (``ui.actions``), long work in the job controller
(``ui.job_controller``) and saving/opening/recovery in the project controller
(``ui.project_controller``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.document import ClipDocument
from app.export_choices import default_filter
from app.jobs import AttentionRecordJob, ExportJob, PropagationJob
from app.keyframes import KeyframeNoticeJob
from app.paths import user_dirs
from app.project import Project
from app.project_io import is_project
from app.session import EditSession
from app.settings import Settings
from app.version import APP_NAME
from engine.engines.base import PropagationResult
from engine.video import VIDEO_SUFFIXES, VideoError, require_propagatable
from ui.actions import build_actions
from ui.dialogs import ask_stop_job
from ui.edit_canvas import EditCanvas
from ui.edit_panel import TOOLS, EditPanel
from ui.engine_panel import EnginePanel
from ui.errors import show_error
from ui.export_dialog import ask_export_target
from ui.frame_loader import FrameLoader
from ui.frame_view import FrameView
from ui.help_dialogs import device_text
from ui.image import qimage_from_rgb
from ui.job_controller import JobController
from ui.job_panel import JobPanel
from ui.keyframe_controller import KeyframeController
from ui.project_controller import ProjectController
from ui.review_view import ReviewView
from ui.theme import apply_theme
from ui.timeline import Timeline
from ui.wheel_guard import WheelGuard, guard_wheel

log = logging.getLogger(__name__)


def window_state() -> QSettings:
    """Geometry and dock layout, kept with the app's other settings (GENPROP_STUDIO_HOME honoured)."""
    return QSettings(str(user_dirs().config / "window.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    clip_opened = Signal(str)
    frame_shown = Signal(int)
    job_finished = Signal(str)  # "succeeded" | "failed" | "cancelled"

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings if settings is not None else Settings.load(user_dirs().settings_file)
        self.document: ClipDocument | None = None
        self.project = Project()
        self.session = EditSession(self.project)
        self.undo_stack = QUndoStack(self)
        self.confirm_unsaved = True  # ask Save / Discard / Cancel before open work is replaced or the app quits
        self._loader: FrameLoader | None = None
        self._demo_model = False  # the bundled demo model is searched once the user asks for it
        self._export_filter = ""  # the export format last chosen in this window (the dialog starts on it)
        self._applying_settings = False
        self._closed = False
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
        self._clip_tab = clip_tab
        self.tabs.addTab(self.canvas, "Edit frame 1")
        self.tabs.addTab(self.review, "Review")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.job_panel = JobPanel()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.job_panel)
        self.setCentralWidget(central)
        self.jobs = JobController(self.job_panel, self)
        self.jobs.busy_changed.connect(lambda _busy: (self._update_actions(), self._update_status()))
        self.jobs.finished.connect(self.job_finished)

        self.edit_panel = EditPanel(self.canvas, self.session, self.undo_stack, self.settings, self.model_dirs)
        self.edit_panel.error.connect(lambda title, msg: show_error(self, title, msg))
        self.edit_panel.tool_changed.connect(self._edit_tool_picked)
        self.session.on_change(self._session_changed)
        self.engine_panel = EnginePanel(self.model_dirs)
        self.engine_panel.propagate_requested.connect(self.propagate)
        self.engine_panel.settings_changed.connect(self._engine_settings_changed)
        self._wheel_guard = WheelGuard(self)
        self._dock("Edit tools", self.edit_panel, Qt.DockWidgetArea.RightDockWidgetArea, "editDock")
        self._dock("Engine", self.engine_panel, Qt.DockWidgetArea.RightDockWidgetArea, "engineDock")
        self.project.on_change(self._project_changed)
        self.projects = ProjectController(self)
        self.keyframes = KeyframeController(self)  # the keyframe strip, "correct here", the mask preview (issue 19)

        self.recent_menu = None  # type: ignore[assignment]  # made by build_actions
        self.actions, self.menus = build_actions(self)
        self.projects.fill_recent_menu()
        self.clip_label = QLabel("no clip")
        self.tool_label = QLabel("")
        self.engine_label = QLabel("")
        self.statusBar().addWidget(self.clip_label, 1)
        self.statusBar().addPermanentWidget(self.tool_label)
        self.statusBar().addPermanentWidget(self.engine_label)
        self._applying_settings = True
        self.engine_panel.choose(self.settings.engine, {})
        self._applying_settings = False
        self.project.set_engine(self.engine_panel.engine, self.engine_panel.options(), by_user=False)
        self._tab_changed(self.tabs.currentIndex())
        self._update_status()
        self._update_actions()
        self.projects.update_title()
        self.resize(1400, 860)
        state = window_state()
        if (geometry := state.value("main_window/geometry")) is not None:
            self.restoreGeometry(geometry)
        if (dock_state := state.value("main_window/state")) is not None:
            self.restoreState(dock_state)

    @property
    def ask_on_close(self) -> bool:  # the older name, kept for scripts
        return self.confirm_unsaved

    @ask_on_close.setter
    def ask_on_close(self, value: bool) -> None:
        self.confirm_unsaved = value

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # never cut off, at worst scrolled
        scroll.setWidget(widget)
        scroll.setMinimumWidth(widget.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)
        dock.setWidget(scroll)
        self.addDockWidget(area, dock)
        guard_wheel(widget, self._wheel_guard)
        return dock

    # ------------------------------------------------------------------ views & tools
    def current_view(self) -> FrameView:
        return [self.view, self.canvas, self.review.view, self.keyframes.view.canvas][self.tabs.currentIndex()]

    def current_timeline(self) -> Timeline:
        """The player of the visible tab (the Review's on the Review tab, else the clip's)."""
        return self.review.timeline if self.tabs.currentWidget() is self.review else self.timeline

    def _tab_changed(self, index: int) -> None:
        for timeline in (self.timeline, self.review.timeline):
            if timeline is not self.current_timeline():
                timeline.pause()  # a hidden player never plays on
        has_player = self.tabs.widget(index) is not self.canvas and index != getattr(
            getattr(self, "keyframes", None), "tab_index", -1
        )
        for key in ("play", "prev_frame", "next_frame", "first_frame", "last_frame"):
            if key in getattr(self, "actions", {}):
                self.actions[key].setEnabled(has_player)
        if hasattr(self, "tool_label"):
            self._update_status()

    def _edit_tool_picked(self, _tool: str) -> None:
        """A tool picked in the Edit tools panel acts on frame 1: show it, rather than leave the click
        on the Clip or Review tab doing nothing (the Correct frame tab keeps its own tools)."""
        if self.tabs.currentWidget() in (self._clip_tab, self.review):
            self.tabs.setCurrentWidget(self.canvas)
        self._update_status()

    def use_tool(self, tool: str) -> None:
        if self.tabs.currentWidget() is self.keyframes.view and self.keyframes.correction.active:
            self.keyframes.view.set_tool(tool)  # the tools act on the frame being corrected
            return
        self.tabs.setCurrentWidget(self.canvas)
        self.edit_panel.set_tool(tool)

    def set_theme(self, theme: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.settings.theme = theme
        self.save_settings()

    def dialog_dir(self, kind: str) -> str:
        return self.settings.dialog_dir(kind)

    def remember_dir(self, kind: str, path: str | Path) -> None:
        self.settings.remember_dir(kind, path)
        self.save_settings()

    # ------------------------------------------------------------------ clips
    def open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)

        def ask() -> None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open clip", self.dialog_dir("clip"), f"Videos ({patterns});;All files (*)"
            )
            if path:
                self.remember_dir("clip", path)
                self.open_clip(path, confirmed=True)

        self.projects.confirm_replace(ask, "opening another clip")

    def open_clip(self, path: str | Path, *, fps: float | None = None, confirmed: bool = False) -> bool:
        """Open a clip for new work (``fps`` for frame folders), asking first when work is unsaved.
        On failure show why and keep the current clip."""
        if not confirmed:
            return bool(
                self.projects.confirm_replace(lambda: self.open_clip(path, fps=fps, confirmed=True), "opening another clip")
            )
        try:
            document = ClipDocument.open(path, fps=fps)
        except VideoError as err:
            show_error(self, "Cannot open clip", str(err))
            return False
        self.undo_stack.clear()
        self._set_document(document)
        self.project.start_over(document.path)
        self.settings.add_recent(path)
        self.save_settings()
        self.projects.fill_recent_menu()
        self.clip_opened.emit(str(path))
        return True

    def adopt(self, project: Project, *, unsaved: bool = False) -> bool:
        """Make a loaded project (Open project, a restored recovery copy) the open work."""
        if project.clip_path is None:
            show_error(self, "Cannot open project", "the project names no clip")
            return False
        try:
            document = ClipDocument.open(project.clip_path)
        except VideoError as err:
            show_error(self, "Cannot open the project's clip", str(err))
            return False
        self.undo_stack.clear()
        self._set_document(document)  # frame 1 of the new clip first: the edits are composed on it
        self.project.replace_with(project, unsaved=unsaved)
        self._applying_settings = True
        self.engine_panel.choose(project.engine.engine, project.engine.options)
        self._applying_settings = False
        self.clip_opened.emit(str(project.clip_path))
        return True

    def _set_document(self, document: ClipDocument) -> None:
        self._close_document()
        self.document = document
        self._loader = FrameLoader(document.reader, parent=self)
        self._loader.frame_ready.connect(self._show_frame)
        self._loader.failed.connect(lambda i, msg: show_error(self, "Cannot decode frame", msg))
        info = document.info
        self.timeline.set_clip(info.frame_count, info.fps)
        self.clip_label.setText(
            f"{document.path.name} · {info.width}x{info.height} · {info.frame_count} frames · {info.fps:.2f} fps"
            + (" · " + "; ".join(info.warnings) if info.warnings else "")
        )
        self.review.set_clip(document.reader)
        self.edit_panel.load_first_frame(document.reader)
        self._request_frame(0)
        self.projects.update_title()
        self._update_actions()

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

    def _session_changed(self, what: str) -> None:
        """The edit canvas shows the working canvas: frame 1 with every edit, enlarged after an outpaint."""
        if what in ("frame", "edit") and self.session.canvas is not None:
            self.canvas.show_image(qimage_from_rgb(self.session.canvas))
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
    def propagate(self) -> None:
        if self.document is None or self.jobs.busy:
            return
        edit = self.session.edit
        if edit is None:
            show_error(self, "Nothing to propagate", "Edit the first frame first: select an object and apply an edit.")
            return
        edit = self.keyframes.edit_for_run(edit)  # with the keyframe corrections
        if edit is None:
            return
        try:
            require_propagatable(self.document.reader)
        except VideoError as err:
            show_error(self, "Cannot propagate", str(err))
            return
        job = PropagationJob(
            self.engine_panel.engine,
            self.document.reader,
            edit,
            self.engine_panel.options(),
            tuple(self.model_dirs()),
            engines=self.jobs.engines,
        )
        self.jobs.start(KeyframeNoticeJob(job), "propagate", "Propagate", self._propagation_done)

    def _propagation_done(self, result: PropagationResult) -> None:
        self.project.add_result(result)
        self.tabs.setCurrentWidget(self.review)
        warnings = [str(w) for w in result.extras.get("warnings", ())]
        for warning in warnings:
            log.warning("%s result: %s", result.engine, warning)
        if warnings:
            more = f" (+{len(warnings) - 1} more in the Review tab)" if len(warnings) > 1 else ""
            self.statusBar().showMessage(f"Propagated, with a warning: {warnings[0]}{more}", 15000)

    def record_attention(self, result: PropagationResult) -> None:
        """Record G's attention for ``result`` once (its first window); clicks are answered from the record.

        With the edit the result was made with (the session's may have changed since), when the run kept it.
        """
        edit = result.extras.get("edit")
        edit = self.session.edit if edit is None else edit
        if edit is None or self.document is None or self.jobs.busy:
            return
        windows = result.extras.get("windows") or [(0, len(result.frames))]
        options = dict(self.project.engine.options) if self.project.engine.engine == result.engine else {}
        job = AttentionRecordJob(
            result.engine,
            self.document.reader,
            edit,
            options,
            frames=int(windows[0][1]),
            model_dirs=tuple(self.model_dirs()),
            engines=self.jobs.engines,
        )
        self.jobs.start(job, "attention", "Attention maps", lambda record: self.review.set_attention_record(result, record))

    def export_dialog(self, kind: str) -> None:
        if self.review.current is None:
            return
        start = self.dialog_dir("export")
        fmt: str | None = None
        if kind == "video":
            answer = ask_export_target(self, start, self._export_filter or default_filter())
            if answer is None:
                return
            target, fmt, self._export_filter = answer
            path = str(target)
        else:
            path = QFileDialog.getExistingDirectory(self, "Export into folder", start)
            path = str(Path(path) / ("frames" if kind == "frames" else "masks")) if path else ""
        if path:
            self.remember_dir("export", path)
            self.export(kind, Path(path), fmt)

    def export(self, kind: str, target: Path, format: str | None = None) -> None:
        """Export the result shown in Review (``format``: a name of ``engine.video.formats.FORMATS``)."""
        result = self.review.current
        if result is None:
            return
        source = self.document.reader if self.document is not None else None
        job = ExportJob(result, kind, target, source=source, format=format)

        def done(path: Path) -> None:
            notes = "; ".join(job.notes)
            self.statusBar().showMessage(f"exported {path}" + (f" ({notes})" if notes else ""), 15000 if notes else 8000)

        self.jobs.start(job, f"export-{kind}", f"Export {kind}", done)

    # ------------------------------------------------------------------ edits
    def import_edit(self, path: Path) -> bool:
        return self.projects.import_edit(path)

    # ------------------------------------------------------------------ state
    def _project_changed(self, what: str) -> None:
        if what == "results":
            self.review.set_results([(e.name, e.result) for e in self.project.results])
        self._update_actions()

    def _engine_settings_changed(self, engine: str, options: dict) -> None:
        self.project.set_engine(engine, options, by_user=not self._applying_settings)
        if not self._applying_settings:
            self.settings.engine = engine  # remembered for the next start (a fallback is not a choice)
        self._update_status()
        self._update_actions()
        guard_wheel(self.engine_panel, self._wheel_guard)  # the option fields were rebuilt

    def _update_status(self) -> None:
        self.engine_label.setText(f"engine: {self.engine_panel.engine} · device: {device_text()}")
        label, key, _tip = TOOLS[self.edit_panel.tool]
        self.tool_label.setText(f"Tool: {label} ({key})")
        self.tool_label.setVisible(self.tabs.currentWidget() is self.canvas)

    def _update_actions(self) -> None:
        if not hasattr(self, "actions"):
            return
        busy = self.jobs.busy
        has_result = self.review.current is not None
        for key in ("export_video", "export_frames", "export_masks"):
            self.actions[key].setEnabled(has_result and not busy)
        can_run = self.document is not None and self.session.edit is not None and not busy
        self.actions["propagate"].setEnabled(can_run)
        available = self.engine_panel.available
        self.engine_panel.propagate_button.setEnabled(can_run and available)
        why = (
            "open a clip first"
            if self.document is None
            else "a job is running"
            if busy
            else "edit frame 1 first: select an object and apply an edit (or File → Try the sample edit)"
            if self.session.edit is None
            else "this engine cannot run here (see the reason above)"
            if not available
            else "Propagate the first-frame edit through the whole clip (Ctrl+R)"
        )
        self.engine_panel.propagate_button.setToolTip(why)

    def save_settings(self) -> None:
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
            path = urls[0].toLocalFile()
            self.projects.open(path) if is_project(path) else self.open_clip(path)
            event.acceptProposedAction()

    # ------------------------------------------------------------------ dialogs
    def model_dirs(self) -> list[str]:
        """Folders the engines search for weights: the app's models folder, the user's, the demo's if asked."""
        from app.model_manager import model_search_dirs
        from engine.pipelines.weights_locator import DEMO_MODEL_DIR

        dirs = [*model_search_dirs(), *self.settings.model_dirs]
        return [*dirs, str(DEMO_MODEL_DIR)] if self._demo_model else dirs

    def use_demo_model(self) -> None:
        """Search the bundled demo model from now on (File → Try GenProp with the demo model)."""
        if not self._demo_model:
            self._demo_model = True
            self.refresh_engines()

    def refresh_engines(self) -> None:
        """Weights may have appeared: re-check which engines can run, and rebuild the selector on next use."""
        self.edit_panel.selector = None
        self._applying_settings = True
        self.engine_panel.refresh_availability()
        self._applying_settings = False
        self._update_actions()

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        if self.jobs.busy and self.confirm_unsaved:
            event.ignore()
            if ask_stop_job(self, self.jobs.running_titles):
                self.jobs.cancel_all()  # quits once the job has stopped (within a step or a few seconds)
                self.statusBar().showMessage("Stopping the job, then quitting…")
                self.jobs.finished.connect(lambda _outcome: self.close(), Qt.ConnectionType.SingleShotConnection)
            return
        if not self.projects.may_close(self._quit_now):
            event.ignore()
            return
        self._shutdown()
        super().closeEvent(event)

    def _quit_now(self) -> None:
        """Close after the work was saved (called by the save job; the question is answered)."""
        self.confirm_unsaved = False
        self.close()

    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        from app import recovery

        self.jobs.stop_all()
        self.timeline.pause()
        self.review.shutdown()
        self.edit_panel.shutdown()
        self.keyframes.shutdown()
        self.save_settings()
        state = window_state()
        state.setValue("main_window/geometry", self.saveGeometry())
        state.setValue("main_window/state", self.saveState())
        self._close_document()
        self.projects.detach()
        recovery.discard()  # a clean exit: nothing to recover next time
