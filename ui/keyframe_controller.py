"""Keyframes in the window (issue 19): the strip on both timelines, "correct here", the
mask-only preview with its overlay, and re-tracking only the frames a correction changes.

The state lives in the app layer: the keyframes in ``Project.keyframes`` (every change an
undo command, ``ui.undo.KeyframesCommand``; saved with the edit), the correction being made in
``app.correction.CorrectionSession``, the tracked masks in ``app.mask_preview.MaskPreview``.
Decoding the frame to correct and selecting on it run on the edit panel's worker; tracking
runs as a ``MaskTrackJob`` through the job controller (progress, Cancel). Nothing here
tracks, decodes or writes on the GUI thread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from app import keyframes as kf
from app.correction import CorrectionSession
from app.mask_preview import MaskPreview, MaskTrackJob
from engine.edit import FirstFrameEdit, Keyframe
from ui.correction_view import CorrectionView
from ui.errors import show_error
from ui.mask_overlay import MaskOverlay, overlay_image
from ui.undo import KeyframesCommand
from ui.workers import LatestOnlyRunner

if TYPE_CHECKING:
    from ui.main_window import MainWindow
    from ui.timeline import Timeline

log = logging.getLogger(__name__)

CORRECT_TAB = "Correct frame"


class KeyframeController(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.project = window.project
        self.correction = CorrectionSession()
        self.view = CorrectionView(self.correction, window.edit_panel, window.undo_stack)
        self.view.has_correction = self._has_correction
        self.view.apply_requested.connect(self.apply)
        self.view.cancel_requested.connect(self.cancel)
        self.view.remove_requested.connect(self.remove_correction)
        self.view.has_edited_frame = self._has_edited_frame
        self.view.export_requested.connect(lambda: self.export_frame())
        self.view.edited_frame_requested.connect(lambda: self.use_edited_frame())
        self.view.remove_edited_requested.connect(self.remove_edited_frame)
        self.tab_index = window.tabs.addTab(self.view, CORRECT_TAB)
        self.preview: MaskPreview | None = None
        self._cache: object | None = None  # TrackCache: tracking kept between jobs on this clip (re-tracks reuse it)
        self._preview_edit: FirstFrameEdit | None = None  # the composed edit the preview tracks
        self._pending: tuple[int, int] | None = None  # frames to track again once the running job ends
        self._return_to: tuple[int, Timeline] | None = None  # where "correct here" was pressed
        self._last_op: int | None = None  # the operation corrected last: the next correction starts on it
        self._shown_frame: int | None = None  # the clip frame on screen (the overlay matches it)
        self.overlay = MaskOverlay()
        self._overlay_runner = LatestOnlyRunner("mask-overlay")  # newest frame wins
        self._overlay_runner.done.connect(self._overlay_done)
        self._overlay_runner.error.connect(lambda _tag, message: log.warning("mask overlay failed: %s", message))
        self._overlay_for: tuple | None = None  # (frame, store, its stamp) the overlay shows
        window.view.scene().addItem(self.overlay)
        self.bar = self._build_bar()
        clip_layout = window.tabs.widget(0).layout()
        clip_layout.insertWidget(clip_layout.count(), self.bar)  # under the clip's timeline
        for timeline in (window.timeline, window.review.timeline):
            timeline.keyframe_delete_requested.connect(self.delete_keyframe)
            timeline.keyframe_correct_requested.connect(lambda f, t=timeline: (t.seek(f), self.correct_here(f)))
        self.project.on_change(self._project_changed)
        window.session.on_change(self._session_changed)
        window.frame_shown.connect(self._frame_shown)
        window.clip_opened.connect(lambda _p: self._clip_changed())
        window.jobs.progressed.connect(self._job_progressed)
        window.jobs.finished.connect(lambda _o: self._run_pending())
        window.edit_panel.runner.done.connect(self._on_runner_done)
        self._update()

    def _build_bar(self) -> QWidget:
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(6, 0, 6, 2)
        self.preview_button = QPushButton("Preview masks")
        self.preview_button.setToolTip(
            "Track the edit's masks alone over the clip (no fill: quick) and draw them while you scrub (Ctrl+Shift+R)"
        )
        self.preview_button.clicked.connect(self.run_preview)
        self.overlay_check = QCheckBox("Show tracked masks")
        self.overlay_check.setChecked(True)
        self.overlay_check.setToolTip("Draw each edit's tracked mask over the clip, a colour per edit")
        self.overlay_check.toggled.connect(lambda _v: self.refresh_overlay(force=True))
        self.correct_button = QPushButton("Correct here")
        self.correct_button.setToolTip("Fix an edit's mask on the shown frame: it becomes a keyframe (K)")
        self.correct_button.clicked.connect(lambda: self.correct_here())  # clicked(bool) would arrive as the frame
        self.status = QLabel("")
        self.status.setObjectName("keyframeStatus")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the window
        for w in (self.preview_button, self.overlay_check, self.correct_button):
            row.addWidget(w)
        row.addWidget(self.status, 1)  # takes the rest of the row (its size policy never widens the window)
        return bar

    # ------------------------------------------------------------ derived
    @property
    def edit(self) -> FirstFrameEdit | None:
        """The composed frame-1 edit (without keyframes)."""
        return self.w.session.edit

    def edit_for_run(self, edit: FirstFrameEdit) -> FirstFrameEdit | None:
        """``edit`` carrying the project's keyframes (what Propagate runs); None (and an error shown) if they do not fit."""
        try:
            return kf.edit_with_keyframes(edit, self.project.keyframes)
        except ValueError as exc:
            show_error(self.w, "The keyframes do not fit the edit", f"{exc}. Delete that keyframe (right-click its marker).")
            return None

    def _op_names(self) -> list[str]:
        return [s.op for s in self.project.operations]

    def _has_correction(self) -> bool:
        k = kf.find(self.project.keyframes, self.correction.frame or -1)
        return k is not None and self.correction.operation in k.masks

    def _has_edited_frame(self) -> bool:
        k = kf.find(self.project.keyframes, self.correction.frame or -1)
        return k is not None and k.edited_frame is not None

    def _timeline_frame(self) -> tuple[int, Timeline] | None:
        """(frame, timeline) of the visible player: the Review's on the Review tab, else the clip's."""
        w = self.w
        if w.tabs.currentWidget() is w.review:
            return w.review.timeline.position, w.review.timeline
        if w.tabs.currentWidget() is w.canvas:
            return None
        return w.timeline.position, w.timeline

    # ------------------------------------------------------------ correct here
    def correct_here(self, frame: int | None = None) -> bool:
        """Start a correction on ``frame`` (default: the visible player's frame); False with a reason when it cannot."""
        w = self.w
        if w.tabs.currentWidget() is self.view:
            if self.correction.active:
                return False  # already correcting: Apply or Cancel first
            where: tuple[int, Timeline] | None = (w.timeline.position, w.timeline)
        else:
            where = self._timeline_frame()
        if frame is None:
            frame = where[0] if where is not None else 0
        if w.document is None:
            w.statusBar().showMessage("Open a clip first", 6000)
            return False
        if self.edit is None:
            show_error(
                w, "Nothing to correct", "Edit frame 1 first (select an object and apply an edit); then correct its track."
            )
            return False
        if frame < 1:
            w.statusBar().showMessage("Frame 1 is edited in the Edit frame 1 tab: scrub to a later frame to correct it", 8000)
            return False
        frame = min(frame, w.document.frame_count - 1)
        back = 0 if w.tabs.currentWidget() is self.view else w.tabs.currentIndex()  # from the idle Correct tab: the Clip tab
        self._return_to = (back, where[1] if where is not None else w.timeline)
        reader = w.document.reader
        w.edit_panel.runner.submit(("correction-frame", frame, id(reader)), lambda: reader[frame].copy())
        w.statusBar().showMessage(f"Decoding frame {frame + 1} to correct…", 4000)
        return True

    def _on_runner_done(self, tag: object, value: object) -> None:
        if isinstance(tag, tuple) and tag[0] == "correction-edited":
            self._edited_frame_read(tag[1], tag[2], value)  # type: ignore[arg-type]
            return
        if isinstance(tag, tuple) and tag[0] == "correction-export":
            self.w.statusBar().showMessage(f"Frame {tag[1] + 1} saved as {value}", 8000)
            return
        if not (isinstance(tag, tuple) and tag[0] == "correction-frame"):
            return
        _kind, frame, reader_id = tag
        edit = self.edit
        if self.w.document is None or id(self.w.document.reader) != reader_id or edit is None:
            return  # the clip or the edit went away meanwhile
        image = np.asarray(value)
        starts = {i: self._start_mask(edit, i, frame, image.shape[:2]) for i in kf.correctable_operations(edit)}
        keep = self.correction.operation if self.correction.operation is not None else self._last_op
        self.correction.begin(frame, image, edit, starts, keep)
        self.w.statusBar().clearMessage()
        self.w.tabs.setCurrentIndex(self.tab_index)

    def _start_mask(self, edit: FirstFrameEdit, op: int, frame: int, hw: tuple[int, int]) -> np.ndarray | None:
        """What a correction of ``op`` on ``frame`` starts from: its keyframe mask, else the tracked one."""
        k = kf.find(self.project.keyframes, frame)
        if k is not None and op in k.masks and k.masks[op].shape == edit.operations[op].mask.shape:
            return kf.from_op_canvas(edit, op, k.masks[op], hw)
        if self.preview is not None and self._preview_edit is edit:
            masks = self.preview.get(frame)
            if masks is not None and masks[op] is not None:
                return kf.from_op_canvas(edit, op, masks[op], hw)
        return None

    def apply(self) -> None:
        """The correction becomes a keyframe (one undo step); the frames it changes are tracked again."""
        c = self.correction
        if not c.active or c.frame is None or c.operation is None:
            return
        try:
            after = c.keyframes_after(self.project.keyframes)
        except ValueError as exc:
            self.w.statusBar().showMessage(str(exc), 6000)
            return
        frame, op = c.frame, c.operation
        self._last_op = op
        text = f"Correct edit {op + 1} on frame {frame + 1}"
        self.w.undo_stack.push(KeyframesCommand(self.project, after, text, self._keyframes_changed))
        self._leave(frame)

    def remove_correction(self) -> None:
        c = self.correction
        if not c.active or c.frame is None or c.operation is None:
            return
        frame, op = c.frame, c.operation
        after = c.keyframes_without(self.project.keyframes)
        self.w.undo_stack.push(
            KeyframesCommand(
                self.project, after, f"Remove correction of edit {op + 1} on frame {frame + 1}", self._keyframes_changed
            )
        )
        self._leave(frame)

    # ------------------------------------------------------------ edited frames
    def export_frame(self, path: Path | None = None) -> bool:
        """Write the frame being corrected as a PNG (the reviewed result's frame when there is one, else the
        original) for the user to retouch and bring back with ``use_edited_frame``; written on a worker."""
        c, w = self.correction, self.w
        if not c.active or c.frame is None or c.image is None or c.edit is None:
            return False
        frame, original, canvas_hw = c.frame, c.image, c.edit.edited_frame.shape[:2]
        result = w.review.current
        if result is not None and frame >= len(result.frames):
            result = None
        if result is None and original.shape[:2] != canvas_hw:
            show_error(
                w, "Cannot export this frame", "the edit enlarges the canvas: propagate first, then export the result's frame"
            )
            return False
        if path is None:
            start = str(Path(w.dialog_dir("export")) / f"frame_{frame + 1:04d}.png")
            chosen, _ = QFileDialog.getSaveFileName(w, f"Export frame {frame + 1}", start, "PNG image (*.png)")
            if not chosen:
                return False
            w.remember_dir("export", chosen)
            path = Path(chosen)
        target = path if path.suffix.lower() == ".png" else path.with_suffix(".png")

        def write() -> Path:  # a stored result's frame is decoded here too, not on the GUI thread
            from engine.video import write_bytes_atomic
            from engine.video.png import encode_png

            image = np.asarray(result.frames[frame]) if result is not None else original
            write_bytes_atomic(target, encode_png(np.ascontiguousarray(image)))  # never a half-written PNG
            return target

        w.edit_panel.runner.submit(("correction-export", frame), write)
        return True

    def use_edited_frame(self, path: Path | None = None) -> bool:
        """Read the user's own version of this frame (a PNG, on a worker); it joins the keyframe as one undo step."""
        c, w = self.correction, self.w
        if not c.active or c.frame is None or c.edit is None:
            return False
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(w, f"Edited frame {c.frame + 1}", w.dialog_dir("export"), "PNG image (*.png)")
            if not chosen:
                return False
            path = Path(chosen)
        canvas_hw = c.edit.edited_frame.shape[:2]
        w.edit_panel.runner.submit(("correction-edited", c.frame, c.generation), lambda: kf.read_edited_frame(path, canvas_hw))
        return True

    def _edited_frame_read(self, frame: int, generation: int, image: np.ndarray) -> None:
        if generation != self.correction.generation:
            return  # the correction it was asked for has been left
        after = kf.with_edited_frame(self.project.keyframes, frame, image)
        self.w.undo_stack.push(KeyframesCommand(self.project, after, f"Edited frame {frame + 1}", self._keyframes_changed))
        self.view.note.setText(f"Frame {frame + 1} now has your edited version: the edit takes its look from it from here on.")
        self.view.refresh()

    def remove_edited_frame(self) -> None:
        c = self.correction
        if not c.active or c.frame is None or not self._has_edited_frame():
            return
        after = kf.with_edited_frame(self.project.keyframes, c.frame, None)
        self.w.undo_stack.push(
            KeyframesCommand(self.project, after, f"Remove edited frame {c.frame + 1}", self._keyframes_changed)
        )
        self.view.refresh()

    def cancel(self) -> None:
        frame = self.correction.frame
        if self.correction.active:
            self._leave(frame)

    def _leave(self, frame: int | None) -> None:
        """Back to the tab "correct here" was pressed on, at the corrected frame."""
        self.correction.end()
        index, timeline = self._return_to or (0, self.w.timeline)
        self._return_to = None
        self.w.tabs.setCurrentIndex(index)
        if frame is not None:
            timeline.seek(frame)

    def delete_keyframe(self, frame: int) -> None:
        """Delete the keyframe on ``frame`` (every correction it holds): one undo step."""
        if kf.find(self.project.keyframes, frame) is None:
            return
        after = kf.without_keyframe(self.project.keyframes, frame)
        self.w.undo_stack.push(KeyframesCommand(self.project, after, f"Delete keyframe {frame + 1}", self._keyframes_changed))

    def delete_here(self) -> None:
        where = self._timeline_frame()
        frame = where[0] if where is not None else None
        if frame is None or kf.find(self.project.keyframes, frame) is None:
            self.w.statusBar().showMessage("There is no keyframe on this frame", 4000)
            return
        self.delete_keyframe(frame)

    def jump(self, direction: int) -> None:
        where = self._timeline_frame()
        (where[1] if where is not None else self.w.timeline).jump_keyframe(direction)

    # ------------------------------------------------------------ tracking
    def _keyframes_changed(self, before: list[Keyframe], after: list[Keyframe]) -> None:
        """A keyframe change (done, undone or redone): track again the frames it touches."""
        if self.w.document is None:
            return
        from engine.engines.mask_track import retrack_range

        edit = self.edit
        if edit is None:
            return
        count = self.w.document.frame_count
        old, new = {k.frame: k for k in before}, {k.frame: k for k in after}
        changed = [f for f in set(old) | set(new) if not kf.same_masks(old.get(f), new.get(f))]  # masks, not edited frames
        ranges = []
        for keyframes in (before, after):  # the frames the old keyframes shaped and those the new ones shape
            try:
                with_kf = kf.edit_with_keyframes(edit, [k for k in keyframes if k.frame < count])
            except ValueError:
                continue
            ranges += [retrack_range(with_kf, f, count) for f in changed if f < count]
        ranges = [r for r in ranges if r[1] > r[0]]
        if not ranges:
            return
        span = (min(r[0] for r in ranges), max(r[1] for r in ranges))
        if self.preview is not None and self._preview_edit is edit:
            self.preview.mark_stale(*span)
        self._track(span)

    def run_preview(self) -> None:
        """Track the masks over the whole clip (the quick preview)."""
        if self.w.document is None or self.edit is None:
            show_error(self.w, "Nothing to preview", "Edit frame 1 first: select an object and apply an edit.")
            return
        self._track((0, self.w.document.frame_count), whole=True)

    def _track(self, span: tuple[int, int], whole: bool = False) -> bool:
        """Start a mask-track job over ``span`` (or remember it for when the running job ends)."""
        edit = self.edit
        if self.w.document is None or edit is None:
            return False
        if self.preview is None or self._preview_edit is not edit:  # the first track of this edit (a correction's range, or all)
            self.preview, self._preview_edit = MaskPreview.for_edit(edit, self.w.document.frame_count), edit
        run_edit = self.edit_for_run(edit)
        if run_edit is None:
            return False
        if self.w.jobs.busy:
            start, stop = span if self._pending is None else (min(span[0], self._pending[0]), max(span[1], self._pending[1]))
            self._pending = (start, stop)
            self._update()
            return False
        self._pending = None
        store = self.preview
        if self._cache is None:
            from engine.engines.mask_track import TrackCache  # the tracker's modules load on first use

            self._cache = TrackCache()
        job = MaskTrackJob(self.w.document.reader, run_edit, store, self._track_options(), span[0], span[1], self._cache)
        title = "Preview masks" if whole else f"Re-track frames {span[0] + 1}-{span[1]}"
        started = self.w.jobs.start(job, "mask-track", title, lambda done: self._tracked(store, done))
        self._update()
        return started

    def _track_options(self) -> dict:
        """The classic engine's options (the tracker's): the project's own when it runs the classic
        engine, else its defaults; with the weight folders (SAM2's video tracker when it is chosen)."""
        from app.engine_options import run_options

        engine = self.project.engine
        return run_options("classic", dict(engine.options) if engine.engine == "classic" else {}, self.w.model_dirs())

    def _tracked(self, store: MaskPreview, done: tuple[int, int]) -> None:
        if store is self.preview:
            self.w.statusBar().showMessage(f"Masks tracked on frames {done[0] + 1}-{done[1]}", 6000)
        self.refresh_overlay(force=True)
        self._update()

    def _run_pending(self) -> None:
        if self._pending is not None and not self.w.jobs.busy:
            self._track(self._pending)
        self._update()

    # ------------------------------------------------------------ overlay
    def _job_progressed(self, progress: object) -> None:
        if getattr(progress, "stage", "") == "mask track":  # the shown frame may have been tracked just now
            self.refresh_overlay()
            self._update()

    def _frame_shown(self, index: int) -> None:
        self._shown_frame = index
        self.refresh_overlay()

    def refresh_overlay(self, force: bool = False) -> None:
        """Draw the tracked masks of the shown clip frame (only when they changed)."""
        w = self.w
        store = self.preview if self._preview_edit is self.edit else None
        frame = self._shown_frame
        if store is None or w.document is None or frame is None or not self.overlay_check.isChecked():
            self.overlay.clear()
            self._overlay_for = None
            return
        key = (frame, id(store), store.stamp(frame))
        if key == self._overlay_for and not force:
            return
        self._overlay_for = key
        edit = self.edit
        assert edit is not None
        hw = edit.original_frame.shape[:2]

        def work() -> QImage | None:  # decompress, move to the frame, paint: off the GUI thread
            masks = store.get(frame)
            if masks is None or all(m is None for m in masks):
                return None
            return overlay_image([None if m is None else kf.from_op_canvas(edit, i, m, hw) for i, m in enumerate(masks)])

        self._overlay_runner.submit(("overlay", key), work)

    def _overlay_done(self, tag: object, image: object) -> None:
        if not (isinstance(tag, tuple) and tag[1] == self._overlay_for):
            return  # the user has moved on: a newer frame's overlay is coming
        if image is None:
            self.overlay.clear()
        else:
            self.overlay.show_image(image)  # type: ignore[arg-type]

    def shutdown(self) -> None:
        """Join the overlay worker (the window is closing)."""
        self._overlay_runner.shutdown()

    # ------------------------------------------------------------ model -> view
    def _project_changed(self, what: str) -> None:
        if what in ("keyframes", "operations"):
            names = self._op_names()
            marks = {k.frame: kf.describe(k, names) for k in self.project.keyframes}
            edited = {k.frame for k in self.project.keyframes if k.edited_frame is not None}
            self.w.timeline.set_keyframes(marks, edited)
            self.w.review.timeline.set_keyframes(marks, edited)
            self.view.refresh()
            self._update()

    def _session_changed(self, what: str) -> None:
        if what in ("edit", "frame"):  # a new frame-1 edit: the preview is of an older one
            if self.correction.active and self.correction.edit is not self.edit:
                self.correction.end()
            self.refresh_overlay(force=True)
            self._update()

    def _clip_changed(self) -> None:
        self.preview, self._preview_edit, self._pending, self._shown_frame = None, None, None, None
        self._cache = None  # the old clip's runs are of no use (and hold memory)
        if self.correction.active:
            self.correction.end()
        self.refresh_overlay(force=True)
        self._update()

    def _update(self) -> None:
        has_edit = self.w.document is not None and self.edit is not None
        self.preview_button.setEnabled(has_edit)
        self.correct_button.setEnabled(has_edit)
        n = len(self.project.keyframes)
        parts = [f"{n} keyframe{'s' if n != 1 else ''}"] if n else []
        store = self.preview if self._preview_edit is self.edit else None
        if store is not None:
            parts.append(f"masks tracked on {store.tracked}/{store.frame_count} frames")
            if store.stale:
                parts.append(f"{len(store.stale)} out of date")
        elif has_edit:
            parts.append("no mask preview yet")
        if self._pending is not None:
            parts.append(f"frames {self._pending[0] + 1}-{self._pending[1]} wait to be tracked again")
        self.status.setText(" · ".join(parts))
