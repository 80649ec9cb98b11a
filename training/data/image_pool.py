"""A pool of still objects (image + instance mask) for Copy-and-Paste, e.g. PASCAL VOC's
``JPEGImages/*.jpg`` + ``SegmentationObjectPNG/*.png`` (as in ../shared/data/masks/voc_instances).

Pasted objects are static (their first-frame mask broadcast over time, as the paper allows).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from training.data.clips import DatasetLayoutError, read_id_png, read_rgb


class ImagePool:
    """``(image path, mask path, object id)`` triples; loading happens per draw."""

    def __init__(self, root: str | Path, min_area: float = 0.01) -> None:
        root = Path(root)
        images, masks = root / "JPEGImages", root / "SegmentationObjectPNG"
        if not images.is_dir() or not masks.is_dir():
            raise DatasetLayoutError(f"image pool {root} needs JPEGImages/ and SegmentationObjectPNG/")
        self.items: list[tuple[Path, Path, int]] = []
        for mp in sorted(masks.glob("*.png")):
            ip = images / f"{mp.stem}.jpg"
            if not ip.is_file():
                continue
            ids = read_id_png(mp)
            for k in np.unique(ids):
                if k and (ids == k).mean() >= min_area:
                    self.items.append((ip, mp, int(k)))
        if not self.items:
            raise DatasetLayoutError(f"image pool {root} holds no objects")

    def __len__(self) -> int:
        return len(self.items)

    def draw(self, rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """A random object as (image ``[H, W, 3]``, mask ``[H, W]`` bool) resized to ``size = (w, h)``.

        The object is scaled to 30-70 % of the frame height and placed at a random spot.
        """
        ip, mp, k = self.items[int(rng.integers(len(self.items)))]
        image, mask = read_rgb(ip), read_id_png(mp) == k
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        obj, om = image[y0:y1, x0:x1], mask[y0:y1, x0:x1].astype(np.uint8)
        w, h = size
        scale = min(rng.uniform(0.3, 0.7) * h / obj.shape[0], 0.9 * w / obj.shape[1])
        ow, oh = max(1, int(obj.shape[1] * scale)), max(1, int(obj.shape[0] * scale))
        obj = cv2.resize(obj, (ow, oh), interpolation=cv2.INTER_AREA)
        om = cv2.resize(om, (ow, oh), interpolation=cv2.INTER_NEAREST).astype(bool)
        px, py = int(rng.integers(0, w - ow + 1)), int(rng.integers(0, h - oh + 1))
        canvas = np.zeros((h, w, 3), np.uint8)
        full = np.zeros((h, w), bool)
        canvas[py : py + oh, px : px + ow] = obj
        full[py : py + oh, px : px + ow] = om
        return canvas, full
