"""The first-frame editing canvas: click/box prompts, brush and eraser, mask overlays.

The canvas only turns mouse gestures into requests (points, a box, a painted mask);
the edit panel decides what they mean, runs selectors on workers and pushes undo
commands. Coordinates are image pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QMouseEvent, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsView

from ui.frame_view import FrameView

TOOLS = ("pan", "select", "box", "brush", "shadow", "erase", "move")


def mask_overlay(mask: np.ndarray, colour: tuple[int, int, int], opacity: float) -> QImage:
    """``[H, W]`` uint8 mask -> translucent RGBA image (outline drawn fully opaque)."""
    h, w = mask.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    on = mask > 127
    rgba[on, :3] = colour
    rgba[on, 3] = int(255 * opacity)
    edge = cv2.morphologyEx(on.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    rgba[edge, :3] = colour
    rgba[edge, 3] = 255
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


class EditCanvas(FrameView):
    """A FrameView with a selection overlay and prompt markers."""

    points_changed = Signal(list, list)  # [(x, y)], [1 | 0]
    box_drawn = Signal(tuple)  # (x0, y0, x1, y1)
    mask_painted = Signal(object, object)  # mask before, mask after (for undo)
    extras_painted = Signal(object, object)  # the painted shadow before, after (the Shadow brush, the eraser)

    def __init__(self) -> None:
        super().__init__()
        self._overlay = QGraphicsPixmapItem()
        self._overlay.setZValue(1)
        self.scene().addItem(self._overlay)
        self._extras_overlay = QGraphicsPixmapItem()
        self._extras_overlay.setZValue(1)
        self.scene().addItem(self._extras_overlay)
        self._markers: list[QGraphicsEllipseItem] = []
        self._box_item: QGraphicsRectItem | None = None
        self._box_start: QPointF | None = None
        self.points: list[tuple[float, float]] = []
        self.labels: list[int] = []
        self.mask: np.ndarray | None = None
        self.extras: np.ndarray | None = None
        self._stroke_before: np.ndarray | None = None
        self._extras_before: np.ndarray | None = None
        self._layer_item: QGraphicsPixmapItem | None = None
        self.brush_radius = 12
        self.overlay_colour = (0, 200, 255)
        self.extras_colour = (255, 150, 0)
        self.overlay_opacity = 0.45
        self.tool = "pan"

    # ------------------------------------------------------------ state
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {TOOLS}, got {tool!r}")
        self.tool = tool
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag if tool == "pan" else QGraphicsView.DragMode.NoDrag)
        cursor = {"pan": Qt.CursorShape.OpenHandCursor, "move": Qt.CursorShape.SizeAllCursor}.get(
            tool, Qt.CursorShape.CrossCursor
        )
        self.viewport().setCursor(cursor)

    def set_mask(self, mask: np.ndarray | None) -> None:
        """Show ``mask`` (the working selection) over the frame."""
        self.mask = None if mask is None else mask.copy()
        self._show(self._overlay, mask, self.overlay_colour)

    def set_extras(self, mask: np.ndarray | None) -> None:
        """Show ``mask`` (the painted shadow / reflection) over the frame, in its own colour."""
        self.extras = None if mask is None else mask.copy()
        self._show(self._extras_overlay, mask, self.extras_colour)

    def _show(self, item: QGraphicsPixmapItem, mask: np.ndarray | None, colour: tuple[int, int, int]) -> None:
        if mask is None or not mask.any():
            item.setPixmap(QPixmap())
        else:
            item.setPixmap(QPixmap.fromImage(mask_overlay(mask, colour, self.overlay_opacity)))

    # ------------------------------------------------------------ layer preview
    def show_layer(
        self, rgba: np.ndarray, x: float, y: float, scale: float, rotation: float, flip_h: bool, flip_v: bool, opacity: float
    ) -> None:
        """Preview a layer to insert; drag it with the Move tool (its centre is the position)."""
        if self._layer_item is None:
            self._layer_item = QGraphicsPixmapItem()
            self._layer_item.setZValue(3)
            self._layer_item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, True)
            self.scene().addItem(self._layer_item)
        h, w = rgba.shape[:2]
        image = QImage(np.ascontiguousarray(rgba).data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
        self._layer_item.setPixmap(QPixmap.fromImage(image))
        self._layer_item.setOffset(-w / 2, -h / 2)
        # flips first, then scale and (counter-clockwise) rotation, as engine.edits.layers does
        self._layer_item.setTransform(
            QTransform().rotate(-rotation).scale(scale * (-1 if flip_h else 1), scale * (-1 if flip_v else 1))
        )
        self._layer_item.setOpacity(opacity)
        self._layer_item.setPos(x, y)

    def layer_position(self) -> tuple[float, float] | None:
        if self._layer_item is None:
            return None
        return self._layer_item.pos().x(), self._layer_item.pos().y()

    def hide_layer(self) -> None:
        if self._layer_item is not None:
            self.scene().removeItem(self._layer_item)
            self._layer_item = None

    def clear_prompts(self) -> None:
        self.points, self.labels = [], []
        self._draw_markers()
        if self._box_item is not None:
            self.scene().removeItem(self._box_item)
            self._box_item = None

    def image_size(self) -> tuple[int, int]:
        pixmap = self._item.pixmap()
        return pixmap.width(), pixmap.height()

    # ------------------------------------------------------------ gestures
    def add_point(self, x: float, y: float, positive: bool) -> None:
        self.points.append((x, y))
        self.labels.append(1 if positive else 0)
        self._draw_markers()
        self.points_changed.emit(list(self.points), list(self.labels))

    def paint(self, x: float, y: float, erase: bool, shadow: bool = False) -> None:
        """One brush dab: into the selection, into the painted shadow (``shadow``), or erased from both."""
        w, h = self.image_size()
        centre = (int(round(x)), int(round(y)))
        if erase and self.extras is not None and self.extras.shape == (h, w):
            cv2.circle(self.extras, centre, self.brush_radius, 0, -1)
            self.set_extras(self.extras)
        if shadow:
            if self.extras is None or self.extras.shape != (h, w):
                self.extras = np.zeros((h, w), np.uint8)
            cv2.circle(self.extras, centre, self.brush_radius, 255, -1)
            self.set_extras(self.extras)
            return
        if self.mask is None or self.mask.shape != (h, w):
            self.mask = np.zeros((h, w), np.uint8)
        cv2.circle(self.mask, centre, self.brush_radius, 0 if erase else 255, -1)
        self.set_mask(self.mask)

    def _draw_markers(self) -> None:
        for item in self._markers:
            self.scene().removeItem(item)
        self._markers = []
        r = max(3.0, 5.0 / max(self.zoom, 1e-3))
        for (x, y), label in zip(self.points, self.labels, strict=True):
            item = QGraphicsEllipseItem(x - r, y - r, 2 * r, 2 * r)
            item.setBrush(QBrush(QColor(40, 220, 90) if label else QColor(235, 60, 60)))
            item.setPen(QPen(QColor(255, 255, 255), 1))
            item.setZValue(2)
            self.scene().addItem(item)
            self._markers.append(item)

    def _inside(self, p: QPointF) -> bool:
        w, h = self.image_size()
        return 0 <= p.x() < w and 0 <= p.y() < h

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        p = self.mapToScene(event.position().toPoint())
        if self.tool in ("pan", "move") or not self._inside(p):
            super().mousePressEvent(event)  # the Move tool lets the layer item take the drag
            return
        if self.tool == "select":
            negative = event.button() == Qt.MouseButton.RightButton or bool(
                event.modifiers() & Qt.KeyboardModifier.ControlModifier
            )
            self.add_point(p.x(), p.y(), positive=not negative)
        elif self.tool == "box":
            self._box_start = p
        elif self.tool in ("brush", "erase", "shadow"):
            self._stroke_before = None if self.mask is None else self.mask.copy()
            self._extras_before = None if self.extras is None else self.extras.copy()
            self.paint(p.x(), p.y(), erase=self.tool == "erase", shadow=self.tool == "shadow")
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        p = self.mapToScene(event.position().toPoint())
        if self.tool == "box" and self._box_start is not None:
            rect = QRectF(self._box_start, p).normalized()
            if self._box_item is None:
                self._box_item = self.scene().addRect(rect, QPen(QColor(255, 210, 0), 0))
                self._box_item.setZValue(2)
            else:
                self._box_item.setRect(rect)
        elif self.tool in ("brush", "erase", "shadow") and event.buttons() & Qt.MouseButton.LeftButton and self._inside(p):
            self.paint(p.x(), p.y(), erase=self.tool == "erase", shadow=self.tool == "shadow")
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        p = self.mapToScene(event.position().toPoint())
        if self.tool == "box" and self._box_start is not None:
            x0, y0 = self._box_start.x(), self._box_start.y()
            self._box_start = None
            w, h = self.image_size()
            box = (max(0.0, min(x0, p.x())), max(0.0, min(y0, p.y())), min(w - 1.0, max(x0, p.x())), min(h - 1.0, max(y0, p.y())))
            if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
                self.box_drawn.emit(box)
        elif self.tool in ("brush", "erase", "shadow") and (self.mask is not None or self.extras is not None):
            if self.tool in ("erase", "shadow") and self.extras is not None:
                before = self._extras_before if self._extras_before is not None else np.zeros_like(self.extras)
                if not np.array_equal(before, self.extras):
                    self.extras_painted.emit(before, self.extras.copy())
            if self.tool in ("brush", "erase") and self.mask is not None:
                before = self._stroke_before if self._stroke_before is not None else np.zeros_like(self.mask)
                self.mask_painted.emit(before, self.mask.copy())
            self._stroke_before = self._extras_before = None
        else:
            super().mouseReleaseEvent(event)
