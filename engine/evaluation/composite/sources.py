"""Real material for composite cases: camera plates from the shared clips, VOC cut-outs.

A *plate* is a real clip read at a fixed width (480 px for the benchmark), optionally
seen through a moving crop window (a digital pan over real footage, whose motion is
then smooth and known) or spliced from two clips (a shot cut at a known frame). A
*cut-out* is one PASCAL VOC instance (photo pixels + its instance mask) as an RGBA
sprite. Everything is read from the shared data folder (``../shared/data``, or the
folder in ``$GENPROP_SHARED_DATA``); nothing is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

DATA_ENV = "GENPROP_SHARED_DATA"
"""Environment variable naming the shared data folder (overrides ``../shared/data``)."""

_ROOT = Path(__file__).resolve().parents[3]


def default_data_dir() -> Path:
    """``$GENPROP_SHARED_DATA`` when set, else ``../shared/data`` beside the project."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else _ROOT.parent / "shared" / "data"


def has_data(data: Path | None = None) -> bool:
    """True when the clips and the VOC cut-outs the composite cases need are present."""
    data = data or default_data_dir()
    return (data / "clips").is_dir() and (data / "masks" / "voc_instances" / "SegmentationObjectPNG").is_dir()


@dataclass(frozen=True)
class Pan:
    """A crop window ``(x, y, w, h)`` in source pixels, moving linearly (smoothstep) from ``start`` to ``end``."""

    start: tuple[float, float, float, float]
    end: tuple[float, float, float, float]

    def window(self, u: float) -> tuple[float, float, float, float]:
        s = u * u * (3 - 2 * u)
        return tuple(a + (b - a) * s for a, b in zip(self.start, self.end, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True)
class PlateSpec:
    """One source clip: the file, the first frame used, and an optional moving window."""

    clip: str
    first: int = 0
    pan: Pan | None = None


PLATES: dict[str, PlateSpec] = {
    "cockatoo": PlateSpec("cockatoo.mp4"),  # handheld; the bird walks up to the camera
    "dog_pan": PlateSpec("dog.mp4", pan=Pan((0, 135, 1440, 810), (480, 165, 1440, 810))),  # digital pan over a phone video
    "motion": PlateSpec("motion.mov"),  # static top-down table, a pen pushes a coin
    "vtest": PlateSpec("vtest.avi"),  # static camera, pedestrians
    "vtest_pan": PlateSpec("vtest.avi", first=40, pan=Pan((0, 48, 640, 480), (128, 40, 640, 480))),
    "tree": PlateSpec("tree.avi"),  # static camera, a tree in the wind
}
"""Plates by name; pans are given in the clip's own pixels."""


def _read_frames(path: Path, first: int, count: int) -> tuple[np.ndarray, float]:
    from engine.video import open_video

    if not path.is_file():
        raise FileNotFoundError(f"clip {path} not found (the composite cases need the shared data)")
    with open_video(path) as reader:
        if first + count > len(reader):
            raise ValueError(f"{path.name} has {len(reader)} frames; frames {first}..{first + count - 1} were asked for")
        frames = np.stack([reader[first + i] for i in range(count)])
        return frames, float(reader.fps)


def plate_size(spec: PlateSpec, native: tuple[int, int], width: int) -> tuple[int, int]:
    """Output (w, h): ``width`` wide, the window's (or clip's) aspect, even height."""
    w, h = (spec.pan.start[2], spec.pan.start[3]) if spec.pan else native
    return width, int(round(width * h / w / 2)) * 2


def load_plate(name: str, count: int, width: int = 480, data: Path | None = None) -> tuple[np.ndarray, float]:
    """``[count, H, width, 3]`` uint8 RGB frames of plate ``name`` and its frame rate."""
    spec = PLATES[name]
    frames, fps = _read_frames((data or default_data_dir()) / "clips" / spec.clip, spec.first, count)
    native = (frames.shape[2], frames.shape[1])
    out_w, out_h = plate_size(spec, native, width)
    out = np.empty((count, out_h, out_w, 3), np.uint8)
    for t, frame in enumerate(frames):
        if spec.pan is None:
            interp = cv2.INTER_AREA if out_w < native[0] else cv2.INTER_CUBIC
            out[t] = cv2.resize(frame, (out_w, out_h), interpolation=interp)
            continue
        x, y, w, h = spec.pan.window(t / max(1, count - 1))
        s = out_w / w
        # Downscale the whole frame first (no aliasing), then crop the window sub-pixel.
        small = cv2.resize(frame, (int(round(native[0] * s)), int(round(native[1] * s))), interpolation=cv2.INTER_AREA)
        m = np.array([[1.0, 0.0, -x * s], [0.0, 1.0, -y * s]], np.float64)
        out[t] = cv2.warpAffine(small, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out, fps


def load_still(clip: str, frame: int = 0, data: Path | None = None) -> np.ndarray:
    """One full-resolution RGB frame of a shared clip (the texture of a planar surface)."""
    frames, _ = _read_frames((data or default_data_dir()) / "clips" / clip, frame, 1)
    return frames[0]


@dataclass(frozen=True)
class CutoutSpec:
    """A VOC 2011 instance: photo id and instance id in ``SegmentationObjectPNG``."""

    image: str
    instance: int
    what: str


CUTOUTS: dict[str, CutoutSpec] = {
    "man": CutoutSpec("2011_000003", 1, "a crouching man"),
    "bottle": CutoutSpec("2011_000003", 3, "a bottle"),
    "woman": CutoutSpec("2011_000006", 2, "a sitting woman"),
    "girl": CutoutSpec("2011_000006", 3, "a woman in green"),
    "bus": CutoutSpec("2011_000025", 1, "a bus seen from the front"),
    "bus_side": CutoutSpec("2011_000025", 2, "the side of a bus"),
}
"""Cut-outs by name."""


def load_cutout(name: str, data: Path | None = None) -> np.ndarray:
    """``[h, w, 4]`` uint8 straight-alpha sprite of cut-out ``name``, cropped to the instance.

    VOC marks a thin "void" band around every instance; the alpha is the instance mask
    softened by half a pixel so pasted edges look like a photo's, not a stencil's.
    """
    spec = CUTOUTS[name]
    root = (data or default_data_dir()) / "masks" / "voc_instances"
    rgb = np.asarray(Image.open(root / "JPEGImages" / f"{spec.image}.jpg").convert("RGB"))
    ids = np.asarray(Image.open(root / "SegmentationObjectPNG" / f"{spec.image}.png"))
    mask = ids == spec.instance
    if not mask.any():
        raise ValueError(f"instance {spec.instance} not found in {spec.image}")
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0.5)[y0:y1, x0:x1]
    sprite = np.dstack([rgb[y0:y1, x0:x1], np.clip(np.rint(alpha * 255), 0, 255).astype(np.uint8)])
    return np.ascontiguousarray(sprite)
