"""Folders of numbered still frames (frame_0001.png, 00002.jpg, ...) as a clip.

VFX and research tools exchange image sequences rather than encoded video. Numbering
must be contiguous and every frame the same size: a gap or a stray size almost always
means a broken render, so we refuse it and name the culprit rather than guess.
"""

from __future__ import annotations

import math
import re
import threading
import warnings
from pathlib import Path

import cv2
import numpy as np

from engine.video.cache import FrameCache
from engine.video.depth import narrow, widen
from engine.video.errors import VideoError
from engine.video.info import VideoInfo
from engine.video.source import frame_index

#: Frame files larger than this are refused from their header (the video reader's bound
#: is 4K UHD after downscaling; frame folders are not downscaled).
MAX_FRAME_PIXELS = 64 * 1024 * 1024
MAX_FPS = 1000.0

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_NUMBER = re.compile(r"(\d+)(?=\.[^.]+$)")


def read_image_rgb(path: Path, depth: int = 8) -> tuple[np.ndarray, dict[str, object]]:
    """Read any 8/16-bit, grey/RGB/RGBA still as ``[H, W, 3]`` RGB plus facts.

    ``depth=8``: uint8 (16-bit files rounded to 8 bits); ``depth=16``: uint16 0..65535
    (16-bit files exactly, 8-bit ones widened by 257 so 255 stays white).
    """
    if depth not in (8, 16):
        raise ValueError(f"depth must be 8 or 16, got {depth!r}")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise VideoError(path, "not a readable image")
    facts: dict[str, object] = {"bit_depth": 16 if image.dtype == np.uint16 else 8, "has_alpha": False, "gray": False}
    if depth == 16:
        if image.dtype not in (np.uint8, np.uint16):
            image = np.clip(image, 0, 255).astype(np.uint8)
        image = widen(image)
    elif image.dtype == np.uint16:
        image = narrow(image)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        facts["gray"] = True
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        facts["has_alpha"] = True
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image, facts


def list_numbered_frames(folder: Path, confine_to: Path | None = None) -> list[Path]:
    """The folder's image files ordered by frame number; refuses gaps and duplicates.

    With ``confine_to`` every frame file must really (after symlinks) lie inside that
    folder: a test set or project may not make us read frames from elsewhere.
    """
    numbered: dict[int, Path] = {}
    root = None if confine_to is None else confine_to.resolve()
    for entry in folder.iterdir():
        if entry.suffix.lower() not in IMAGE_SUFFIXES or not entry.is_file():
            continue
        if root is not None and not entry.resolve().is_relative_to(root):
            raise VideoError(entry, f"resolves to {entry.resolve()}, outside {root} (symlink?); refused")
        match = _NUMBER.search(entry.name)
        if match is None:
            raise VideoError(folder, f"frame file {entry.name!r} has no frame number")
        number = int(match.group(1))
        if number in numbered:
            raise VideoError(folder, f"frame number {number} appears twice ({numbered[number].name}, {entry.name})")
        numbered[number] = entry
    if not numbered:
        raise VideoError(folder, f"contains no image frames ({', '.join(IMAGE_SUFFIXES)})")
    numbers = sorted(numbered)
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise VideoError(folder, f"frame sequence has gaps: missing frame number(s) {shown}")
    return [numbered[n] for n in numbers]


class FrameFolderReader:
    """A clip made of numbered image files; same interface as ``VideoFileReader``.

    ``depth=16`` returns uint16 frames (16-bit PNG/TIFF sequences at full depth).
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        fps: float = 24.0,
        cache_bytes: int = 512 * 1024 * 1024,
        confine_to: str | Path | None = None,
        depth: int = 8,
    ) -> None:
        self.path = Path(folder)
        if depth not in (8, 16):
            raise ValueError(f"depth must be 8 or 16, got {depth!r}")
        self.depth = depth
        if not self.path.exists():
            raise VideoError(self.path, "folder not found")
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= MAX_FPS):
            raise VideoError(self.path, f"frame rate must be a positive number up to {MAX_FPS:g}, got {fps}")
        self._files = list_numbered_frames(self.path, None if confine_to is None else Path(confine_to))
        self._cache = FrameCache(cache_bytes)
        self._lock = threading.Lock()
        self._check_first_size()
        first, facts = read_image_rgb(self._files[0], depth)
        self._size = (first.shape[1], first.shape[0])
        self._check_sizes()
        self._cache.put(0, first)
        count = len(self._files)
        self.info = VideoInfo(
            path=self.path,
            container="image sequence",
            codec=self._files[0].suffix.lower().lstrip("."),
            width=self._size[0],
            height=self._size[1],
            frame_count=count,
            fps=float(fps),
            average_fps=float(fps),
            duration=count / fps,
            pixel_format="gray" if facts["gray"] else ("rgba" if facts["has_alpha"] else "rgb"),
            bit_depth=int(facts["bit_depth"]),  # type: ignore[arg-type]
            has_alpha=bool(facts["has_alpha"]),
            is_grayscale=bool(facts["gray"]),
            source_width=self._size[0],
            source_height=self._size[1],
            warnings=("a single frame: there is nothing to propagate",) if count == 1 else (),
        )

    def _check_first_size(self) -> None:
        """Refuse a giant first frame from its header, before decoding it."""
        from PIL import Image

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked right here
                with Image.open(self._files[0]) as im:
                    w, h = im.size
        except Exception as exc:  # noqa: BLE001 - any decoder failure means a bad frame
            raise VideoError(self._files[0], f"not a readable image ({exc})") from None
        if w * h > MAX_FRAME_PIXELS:
            raise VideoError(self._files[0], f"frame is {w}x{h}; frames up to {MAX_FRAME_PIXELS / 1e6:.0f} megapixels are read")

    def _check_sizes(self) -> None:
        """Read only the headers' sizes (cheap) so a mixed-size folder fails at open."""
        from PIL import Image  # Pillow reads the size without decoding pixels

        for file in self._files[1:]:
            try:
                with Image.open(file) as im:
                    size = im.size
            except Exception as exc:  # noqa: BLE001 - any decoder failure means a bad frame
                raise VideoError(file, f"not a readable image ({exc})") from None
            if size != self._size:
                raise VideoError(
                    file, f"frame size {size[0]}x{size[1]} differs from the first frame's {self._size[0]}x{self._size[1]}"
                )

    @property
    def fps(self) -> float:
        return self.info.fps

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def __len__(self) -> int:
        return len(self._files)

    def timestamps(self) -> list[float]:
        return [i / self.info.fps for i in range(len(self))]

    def __getitem__(self, index: int) -> np.ndarray:
        index = frame_index(index, len(self), self.path.name)
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        frame, _ = read_image_rgb(self._files[index], self.depth)
        if (frame.shape[1], frame.shape[0]) != self._size:
            raise VideoError(self._files[index], "frame size differs from the first frame's")
        self._cache.put(index, frame)
        return frame

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i in range(len(self)):
            yield self[i]

    def close(self) -> None:
        self._cache.clear()

    def __enter__(self) -> FrameFolderReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
