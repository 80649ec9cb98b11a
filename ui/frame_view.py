"""The frame display: fit, zoom with the wheel, pan by dragging."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView


class FrameView(QGraphicsView):
    """Shows one frame. ``zoom`` is relative to the image's pixels (1.0 = 100 %)."""

    def __init__(self) -> None:
        super().__init__()
        self._scene = QGraphicsScene(self)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._item)
        self.setScene(self._scene)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(Qt.GlobalColor.black)
        self._fit = True
        self._size = QSize()
        self.setMinimumSize(160, 90)

    def show_image(self, image: QImage, size: QSize | None = None) -> None:
        """Show ``image``; ``size``: its size in scene pixels when it is a smaller preview of a frame
        (scaled to cover the frame, so zoom, pan and clicks in image pixels stay where they were)."""
        size = image.size() if size is None else size
        first = self._item.pixmap().isNull() or self._size != size
        self._item.setPixmap(QPixmap.fromImage(image))
        self._item.setScale(size.width() / max(1, image.width()))
        self._size = QSize(size)
        if first:
            self._scene.setSceneRect(QRectF(0, 0, size.width(), size.height()))
        if first or self._fit:
            self.fit()

    def current_image(self) -> QImage:
        return self._item.pixmap().toImage()

    def clear(self) -> None:
        self._item.setPixmap(QPixmap())
        self._size = QSize()
        self._scene.setSceneRect(QRectF())

    def fit(self) -> None:
        self._fit = True
        if not self._item.pixmap().isNull():
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        self._fit = False
        factor = max(0.05, min(32.0, factor))
        self.resetTransform()
        self.scale(factor, factor)

    def zoom_by(self, steps: float) -> None:
        """Zoom in (positive) or out (negative) by mouse-wheel notches, about the view's centre."""
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        centre = self.mapToScene(self.viewport().rect().center())
        self.set_zoom(self.zoom * (1.25**steps))
        self.centerOn(centre)
        self.setTransformationAnchor(anchor)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        steps = event.angleDelta().y() / 120
        if steps:
            self.set_zoom(self.zoom * (1.25**steps))

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        super().resizeEvent(event)
        if self._fit:
            self.fit()
