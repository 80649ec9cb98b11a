"""GenProp Studio's main window: open a clip, view and scrub it."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from app.document import ClipDocument
from app.paths import user_dirs
from app.settings import Settings
from app.version import APP_NAME, __version__
from engine.video import VIDEO_SUFFIXES, VideoError
from ui.errors import show_error
from ui.frame_loader import FrameLoader
from ui.frame_view import FrameView
from ui.icons import icon
from ui.timeline import Timeline

log = logging.getLogger(__name__)

SHORTCUTS = [
    ("Ctrl+O", "Open a clip"),
    ("Space", "Play / pause"),
    ("Left / Right", "Previous / next frame"),
    ("Home / End", "First / last frame"),
    ("Ctrl+0", "Fit the frame to the window"),
    ("Ctrl++ / Ctrl+-", "Zoom in / out (or the mouse wheel)"),
    ("F1", "This list"),
    ("Ctrl+Q", "Quit"),
]


class MainWindow(QMainWindow):
    clip_opened = Signal(str)
    frame_shown = Signal(int)

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings if settings is not None else Settings.load(user_dirs().settings_file)
        self.document: ClipDocument | None = None
        self._loader: FrameLoader | None = None
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.view = FrameView()
        self.timeline = Timeline()
        self.timeline.frame_requested.connect(self._request_frame)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.timeline)
        self.setCentralWidget(central)
        self._build_menus()
        self.clip_label = QLabel("no clip")
        self.engine_label = QLabel(f"engine: {self.settings.engine} · device: {_device_text()}")
        self.statusBar().addWidget(self.clip_label, 1)
        self.statusBar().addPermanentWidget(self.engine_label)
        self.resize(1200, 760)
        geometry = QSettings().value("main_window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    # ------------------------------------------------------------------ menus
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action("Open clip…", QKeySequence.StandardKey.Open, self.open_dialog, "open")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open recent")
        self._fill_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(self._action("Quit", QKeySequence.StandardKey.Quit, self.close))
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self._action("Fit to window", QKeySequence("Ctrl+0"), self.view.fit, "fit"))
        view_menu.addAction(self._action("Zoom in", QKeySequence.StandardKey.ZoomIn, lambda: self.view.set_zoom(self.view.zoom * 1.25), "zoom_in"))
        view_menu.addAction(self._action("Zoom out", QKeySequence.StandardKey.ZoomOut, lambda: self.view.set_zoom(self.view.zoom / 1.25), "zoom_out"))
        play_menu = self.menuBar().addMenu("&Playback")
        play_menu.addAction(self._action("Play / pause", QKeySequence(Qt.Key.Key_Space), self.timeline.toggle_play))
        play_menu.addAction(self._action("Previous frame", QKeySequence(Qt.Key.Key_Left), lambda: self.timeline.step(-1)))
        play_menu.addAction(self._action("Next frame", QKeySequence(Qt.Key.Key_Right), lambda: self.timeline.step(1)))
        play_menu.addAction(self._action("First frame", QKeySequence(Qt.Key.Key_Home), lambda: self.timeline.seek(0)))
        play_menu.addAction(self._action("Last frame", QKeySequence(Qt.Key.Key_End), lambda: self.timeline.seek(10**9)))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("Keyboard shortcuts", QKeySequence(Qt.Key.Key_F1), self.show_shortcuts, "help"))
        help_menu.addAction(self._action(f"About {APP_NAME}", None, self.show_about))

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

    # ------------------------------------------------------------------ clips
    def open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Open clip", "", f"Videos ({patterns});;All files (*)")
        if path:
            self.open_clip(path)

    def open_clip(self, path: str | Path) -> bool:
        """Open a clip; on failure show why and keep the current clip."""
        try:
            document = ClipDocument.open(path)
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
        self.setWindowTitle(f"{Path(path).name} — {APP_NAME}")
        self.clip_label.setText(
            f"{Path(path).name} · {info.width}x{info.height} · {info.frame_count} frames · {info.fps:.2f} fps"
            + (" · " + "; ".join(info.warnings) if info.warnings else "")
        )
        self.settings.add_recent(path)
        self._save_settings()
        self._fill_recent_menu()
        self._request_frame(0)
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

    def _close_document(self) -> None:
        if self._loader is not None:
            self._loader.shutdown()
            self._loader.deleteLater()
            self._loader = None
        if self.document is not None:
            self.document.close()
            self.document = None
        self.view.clear()

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

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME} {__version__}</b><p>Propagate a first-frame edit through a whole clip.</p>"
            "<p>Apache-2.0. See NOTICE for third-party licences.</p>",
        )

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        self.timeline.pause()
        QSettings().setValue("main_window/geometry", self.saveGeometry())
        self._close_document()
        super().closeEvent(event)


def _device_text() -> str:
    """Cheap device description for the status bar (torch is imported only if present)."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"GPU ({torch.cuda.get_device_name(0)})"
    except Exception:  # noqa: BLE001 - no torch or a broken driver just means CPU
        pass
    return "CPU"
