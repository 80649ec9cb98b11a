"""Readers for the dataset layouts GenProp trains on. Each returns ``list[ClipEntry]``.

- DAVIS 2017: ``JPEGImages/480p/<seq>/*.jpg`` + ``Annotations/480p/<seq>/*.png`` (palette),
  optional ``ImageSets/2017/<split>.txt``. 24 fps.
- YouTube-VOS 2019: ``[<split>/]JPEGImages/<vid>/*.jpg``, ``Annotations/<vid>/*.png``,
  ``meta.json``. Only annotated frames are used; the stored JPEGs are every 5th frame of
  30 fps video, hence 6 fps by default.
- SA-V: ``<id>.mp4`` + ``<id>_manual.json`` (``masklet[frame][object]`` COCO RLEs on every
  ``annotation_stride``-th video frame).
- Folder: ``clips/<name>.mp4`` (or ``clips/<name>/`` with numbered frames) and
  ``masks/<name>/<frame number>.png`` (ids, 0 = background) for the frames that have one.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.video import VIDEO_SUFFIXES, open_video
from training.data.clips import (
    ClipEntry,
    DatasetLayoutError,
    ImageSequenceClip,
    ProceduralClipEntry,
    VideoMaskClip,
)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _need_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetLayoutError(f"{what}: folder {path} does not exist")
    return path


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _paired(name: str, frames_dir: Path, masks_dir: Path, fps: float) -> ImageSequenceClip | None:
    """Frames that have a mask with the same stem (annotated frames only)."""
    masks = {p.stem: p for p in masks_dir.glob("*.png")} if masks_dir.is_dir() else {}
    frames = [p for p in _images(frames_dir) if p.stem in masks]
    if not frames:
        return None
    return ImageSequenceClip(name, frames, [masks[p.stem] for p in frames], fps)


def read_davis(root: str | Path, split: str | None = None, resolution: str = "480p", fps: float = 24.0) -> list[ClipEntry]:
    """DAVIS 2017 sequences (all, or those listed in ``ImageSets/2017/<split>.txt``)."""
    root = Path(root)
    images = _need_dir(root / "JPEGImages" / resolution, "DAVIS")
    annotations = _need_dir(root / "Annotations" / resolution, "DAVIS")
    if split:
        listing = root / "ImageSets" / "2017" / f"{split}.txt"
        if not listing.is_file():
            raise DatasetLayoutError(f"DAVIS: split file {listing} does not exist")
        names = [n.strip() for n in listing.read_text().splitlines() if n.strip()]
    else:
        names = sorted(p.name for p in images.iterdir() if p.is_dir())
    clips = [_paired(n, _need_dir(images / n, "DAVIS sequence"), annotations / n, fps) for n in names]
    return [c for c in clips if c is not None]


def read_youtube_vos(root: str | Path, split: str | None = "train", fps: float = 6.0) -> list[ClipEntry]:
    """YouTube-VOS 2019 videos listed in ``meta.json`` (``root`` or ``root/<split>``)."""
    root = Path(root)
    base = root / split if split and (root / split).is_dir() else root
    meta_path = base / "meta.json"
    if not meta_path.is_file():
        raise DatasetLayoutError(f"YouTube-VOS: {meta_path} does not exist")
    try:
        videos = json.loads(meta_path.read_text())["videos"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetLayoutError(f"YouTube-VOS: {meta_path} has no 'videos' mapping ({exc})") from exc
    images = _need_dir(base / "JPEGImages", "YouTube-VOS")
    clips = []
    for vid in sorted(videos):
        clip = _paired(vid, _need_dir(images / vid, "YouTube-VOS video"), base / "Annotations" / vid, fps)
        if clip is not None:
            clips.append(clip)
    return clips


def read_sav(root: str | Path, annotation_stride: int = 4) -> list[ClipEntry]:
    """SA-V videos with manual masklets (``<id>.mp4`` + ``<id>_manual.json``)."""
    root = _need_dir(Path(root), "SA-V")
    clips: list[ClipEntry] = []
    for annot in sorted(root.glob("*_manual.json")):
        vid = annot.name[: -len("_manual.json")]
        video = root / f"{vid}.mp4"
        if not video.is_file():
            raise DatasetLayoutError(f"SA-V: {annot.name} has no video {video}")
        try:
            masklet = json.loads(annot.read_text())["masklet"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DatasetLayoutError(f"SA-V: {annot} has no 'masklet' list ({exc})") from exc
        if not masklet:
            continue
        reader = open_video(video)
        n_video, fps = len(reader), reader.fps
        reader.close()
        numbers = [j * annotation_stride for j in range(len(masklet)) if j * annotation_stride < n_video]
        clips.append(VideoMaskClip(vid, video, numbers, masklet[: len(numbers)], fps / annotation_stride))
    return clips


def read_folder(root: str | Path, fps: float | None = None) -> list[ClipEntry]:
    """Users' own data: ``clips/<name>.<video>`` or ``clips/<name>/`` + ``masks/<name>/<n>.png``."""
    root = Path(root)
    clips_dir = _need_dir(root / "clips", "clip folder layout")
    masks_root = _need_dir(root / "masks", "clip folder layout")
    clips: list[ClipEntry] = []
    for item in sorted(clips_dir.iterdir()):
        if not (item.is_dir() or item.suffix.lower() in VIDEO_SUFFIXES):
            continue
        name = item.stem if item.is_file() else item.name
        mask_dir = masks_root / name
        if not mask_dir.is_dir():
            continue
        numbered = []
        for p in mask_dir.glob("*.png"):
            try:
                numbered.append((int(p.stem), p))
            except ValueError:
                raise DatasetLayoutError(f"{p}: mask files must be named by frame number, e.g. 00012.png") from None
        numbered.sort()
        reader = open_video(item, fps=fps)
        n, clip_fps = len(reader), reader.fps
        reader.close()
        bad = [num for num, _ in numbered if num >= n]
        if bad:
            raise DatasetLayoutError(f"{mask_dir}: mask for frame {bad[0]} but {item.name} has {n} frames")
        if numbered:
            clips.append(VideoMaskClip(name, item, [num for num, _ in numbered], [p for _, p in numbered], clip_fps))
    return clips


def read_procedural(count: int, width: int, height: int, frames: int, objects: int, seed: int = 0) -> list[ClipEntry]:
    """``count`` procedural clips (seeds ``seed .. seed + count - 1``)."""
    return [ProceduralClipEntry(seed + i, width, height, frames, objects) for i in range(count)]


def read_source(source) -> list[ClipEntry]:  # noqa: ANN001 - a training.config.SourceConfig
    """Dispatch on ``source.kind``; an empty result is an error naming the folder."""
    kind = source.kind
    if kind == "procedural":
        clips = read_procedural(source.count, source.width, source.height, source.frames, source.objects, source.seed)
    elif kind == "davis":
        clips = read_davis(source.root, source.split, fps=source.fps or 24.0)
    elif kind == "youtube_vos":
        clips = read_youtube_vos(source.root, source.split or "train", fps=source.fps or 6.0)
    elif kind == "sav":
        clips = read_sav(source.root, source.annotation_stride)
    elif kind == "folder":
        clips = read_folder(source.root, fps=source.fps)
    else:
        raise ValueError(f"unknown source kind {kind!r}")
    if not clips:
        raise DatasetLayoutError(f"{kind} source {source.root!r} holds no annotated clips")
    return clips
