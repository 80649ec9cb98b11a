"""Clips with instance masks, the unit every dataset reader produces.

A ``ClipEntry`` is cheap to create and to pickle (paths and numbers only); frames and
masks are read on demand, so DataLoader workers open files themselves. Indices refer
to the clip's *annotated* frames, whose rate is ``fps``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from engine.procedural import ProceduralClip, generate_clip
from engine.video import open_video


class DatasetLayoutError(ValueError):
    """A dataset folder does not have the layout its reader expects (names the path)."""


class ClipEntry(ABC):
    """One clip: ``len(entry)`` annotated frames at ``entry.fps``."""

    name: str
    fps: float

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def frames(self, indices: Sequence[int]) -> np.ndarray:
        """``[n, H, W, 3]`` uint8 RGB."""

    @abstractmethod
    def masks(self, indices: Sequence[int]) -> np.ndarray:
        """``[n, H, W]`` int32 instance ids, 0 = background."""


def read_id_png(path: Path) -> np.ndarray:
    """Instance ids from a palette ("P") or grey ("L"/"I") PNG; 255 (VOC/DAVIS void) -> 0."""
    with Image.open(path) as img:
        if img.mode not in ("P", "L", "I", "I;16"):
            raise DatasetLayoutError(f"{path}: mask PNGs must hold instance ids (palette or grey), got mode {img.mode!r}")
        ids = np.asarray(img).astype(np.int32)
    ids[ids == 255] = 0
    return ids


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


class ImageSequenceClip(ClipEntry):
    """Frames as image files with one id-PNG per frame (DAVIS, YouTube-VOS)."""

    def __init__(self, name: str, frame_paths: Sequence[Path], mask_paths: Sequence[Path], fps: float) -> None:
        if len(frame_paths) != len(mask_paths) or not frame_paths:
            raise DatasetLayoutError(f"clip {name!r}: {len(frame_paths)} frames but {len(mask_paths)} masks")
        self.name = name
        self.fps = float(fps)
        self.frame_paths = [Path(p) for p in frame_paths]
        self.mask_paths = [Path(p) for p in mask_paths]

    def __len__(self) -> int:
        return len(self.frame_paths)

    def frames(self, indices: Sequence[int]) -> np.ndarray:
        return np.stack([read_rgb(self.frame_paths[i]) for i in indices])

    def masks(self, indices: Sequence[int]) -> np.ndarray:
        return np.stack([read_id_png(self.mask_paths[i]) for i in indices])


@lru_cache(maxsize=4)
def _reader(path: str):  # noqa: ANN202 - one open reader per worker process and file
    return open_video(path)


class VideoMaskClip(ClipEntry):
    """A video file whose annotated frames are ``frame_numbers``; masks come from ``load_mask(i)``.

    ``mask_source`` is either a list of id-PNG paths or a list of lists of COCO RLEs
    (SA-V masklets: one RLE per object, object k gets id k + 1).
    """

    def __init__(
        self,
        name: str,
        video: Path,
        frame_numbers: Sequence[int],
        mask_source: Sequence[Path] | Sequence[Sequence[dict]],
        fps: float,
    ) -> None:
        if len(frame_numbers) != len(mask_source) or not frame_numbers:
            raise DatasetLayoutError(f"clip {name!r}: {len(frame_numbers)} annotated frames, {len(mask_source)} masks")
        self.name = name
        self.video = Path(video)
        self.fps = float(fps)
        self.frame_numbers = list(frame_numbers)
        self.mask_source = list(mask_source)

    def __len__(self) -> int:
        return len(self.frame_numbers)

    def frames(self, indices: Sequence[int]) -> np.ndarray:
        reader = _reader(str(self.video))
        return np.stack([reader[self.frame_numbers[i]] for i in indices])

    def masks(self, indices: Sequence[int]) -> np.ndarray:
        from training.data.rle import decode_rle

        out = []
        for i in indices:
            src = self.mask_source[i]
            if isinstance(src, (str, Path)):
                out.append(read_id_png(Path(src)))
                continue
            ids = None
            for k, rle in enumerate(src):
                m = decode_rle(rle)
                ids = np.zeros(m.shape, np.int32) if ids is None else ids
                ids[m] = k + 1
            if ids is None:
                raise DatasetLayoutError(f"clip {self.name!r}: annotated frame {i} has no objects")
            out.append(ids)
        return np.stack(out)


@lru_cache(maxsize=2)
def _procedural(seed: int, width: int, height: int, frames: int, objects: int, fps: float) -> ProceduralClip:
    return generate_clip(width=width, height=height, num_frames=frames, num_objects=objects, seed=seed, fps=fps)


class ProceduralClipEntry(ClipEntry):
    """A clip from ``engine.procedural`` with exact instance masks (object k -> id k + 1)."""

    def __init__(self, seed: int, width: int, height: int, num_frames: int, num_objects: int, fps: float = 24.0) -> None:
        self.name = f"procedural-{seed}"
        self.fps = float(fps)
        self._args = (int(seed), int(width), int(height), int(num_frames), int(num_objects), float(fps))

    def clip(self) -> ProceduralClip:
        return _procedural(*self._args)

    def __len__(self) -> int:
        return self._args[3]

    def frames(self, indices: Sequence[int]) -> np.ndarray:
        return self.clip().frames[list(indices)]

    def masks(self, indices: Sequence[int]) -> np.ndarray:
        clip = self.clip()
        ids = np.zeros((len(indices), clip.size[1], clip.size[0]), np.int32)
        for k in range(clip.num_objects):  # back to front; visible masks never overlap
            ids[clip.object_masks[k][list(indices)]] = k + 1
        return ids


def resize_ids(ids: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an id map to ``size = (width, height)``."""
    return cv2.resize(ids.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)
