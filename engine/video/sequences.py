"""Image sequences for VFX and NLEs: 8/16-bit PNG, half-float OpenEXR, DAVIS indexed PNGs.

Every still is encoded in memory and written with the checked writer
(``engine.video.png.write_file_checked``), into a temporary folder the caller renames
into place (``atomic_folder``). A sequence folder holds ``frame_00000.png`` ... and a
``sequence.json`` sidecar: frame rate, the source's timecode and colour tags, and what
the values mean (EXR: scene-linear; PNG: the source's encoding). Stills cannot carry a
timecode an NLE reads, so the sidecar is where it travels.

OpenEXR is written by FFmpeg's ``exr`` encoder inside the PyAV wheel (half float, ZIP
compression): OpenCV's EXR support is compiled out of some wheels and disabled by
default in others (``OPENCV_IO_ENABLE_OPENEXR``), so it is not used. DAVIS-style
indexed PNGs (palette images: index 0 background, index k = operation k) are written
by Pillow; DAVIS, YouTube-VOS and most VOS tools read exactly this.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from engine.video.colour import TRANSFERS, ColourTags, from_linear, linearizable, to_linear
from engine.video.depth import narrow, widen
from engine.video.errors import VideoError
from engine.video.png import encode_png, write_file_checked

FRAME_PREFIX = "frame_"
DIGITS = 5
SIDECAR = "sequence.json"
#: Names a sequence folder of ours may hold (an earlier run's output is replaced whole).
SEQUENCE_ENTRIES = r"frame_\d+\.(?:png|exr)|\d{5}\.png|sequence\.json"


def frame_name(index: int, suffix: str, prefix: str = FRAME_PREFIX) -> str:
    return f"{prefix}{index:0{DIGITS}d}{suffix}"


# ----------------------------------------------------------------------------- EXR
def encode_exr(image: np.ndarray, *, half: bool = True) -> bytes:
    """OpenEXR bytes of ``[H, W, 3]`` RGB or ``[H, W, 4]`` RGBA float32 (ZIP, half float by default)."""
    import av

    image = np.ascontiguousarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"an EXR image must be [H, W, 3 or 4] float, got {image.shape}")
    pix_fmt = "gbrpf32le" if image.shape[2] == 3 else "gbrapf32le"
    ctx = av.CodecContext.create("exr", "w")
    ctx.width, ctx.height, ctx.pix_fmt = image.shape[1], image.shape[0], pix_fmt
    ctx.time_base = Fraction(1, 25)
    ctx.thread_count = 1  # one frame in, its packet out
    ctx.options = {"compression": "zip16", "format": "half" if half else "float"}
    frame = av.VideoFrame.from_ndarray(image, format=pix_fmt)
    frame.pts = 0
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    if len(packets) != 1:
        raise ValueError(f"the EXR encoder returned {len(packets)} packets for one image")
    return bytes(packets[0])


def decode_exr(data: bytes, name: str = "image.exr") -> np.ndarray:
    """``[H, W, 3|4]`` float32 from OpenEXR bytes (FFmpeg's decoder; RGB or RGBA as stored)."""
    import av

    try:
        ctx = av.CodecContext.create("exr", "r")
        frames = ctx.decode(av.Packet(data))
        frames += ctx.decode(None)
    except (av.error.FFmpegError, ValueError) as exc:
        raise VideoError(Path(name), f"not a readable OpenEXR image: {exc}") from None
    if not frames:
        raise VideoError(Path(name), "not a readable OpenEXR image")
    frame = frames[0]
    target = "gbrapf32le" if "a" in frame.format.name.replace("gbr", "") else "gbrpf32le"
    return frame.reformat(format=target).to_ndarray()


# ----------------------------------------------------------------------------- indexed PNG
def davis_palette() -> list[int]:
    """The DAVIS / PASCAL VOC colour map (index 1 dark red, 2 green, 3 olive, 4 navy, ...), flat RGB."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


def encode_indexed_png(labels: np.ndarray) -> bytes:
    """A palette PNG of ``[H, W]`` uint8 object indices (0 = background) with the DAVIS palette."""
    from PIL import Image

    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise ValueError(f"labels must be [H, W] uint8, got {labels.shape} {labels.dtype}")
    image = Image.fromarray(labels, mode="P")
    image.putpalette(davis_palette())
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def labels_from_masks(masks: Sequence[np.ndarray]) -> np.ndarray:
    """``[H, W]`` indices from per-object masks: object k (0-based) is index k + 1; later objects on top."""
    if not masks:
        raise ValueError("no masks to index")
    if len(masks) > 255:
        raise ValueError(f"an indexed PNG holds at most 255 objects, got {len(masks)}")
    labels = np.zeros(np.asarray(masks[0]).shape, np.uint8)
    for k, mask in enumerate(masks):
        labels[np.asarray(mask) > 0] = k + 1
    return labels


# ----------------------------------------------------------------------------- writing
def _write(tmp: Path, folder: Path, name: str, data: bytes) -> None:
    try:
        write_file_checked(tmp / name, data)
    except OSError as exc:
        raise VideoError(folder, f"could not write {name}: {exc.strerror or exc}") from None


def write_sidecar(tmp: Path, folder: Path, facts: dict[str, Any]) -> None:
    _write(tmp, folder, SIDECAR, (json.dumps(facts, indent=2) + "\n").encode("utf-8"))


def _still(frame: np.ndarray, alpha: np.ndarray | None, kind: str, transfer: int) -> bytes:
    """One still of a ``png``/``png16``/``exr`` sequence from RGB (uint8/uint16) [+ alpha]."""
    if kind == "png":
        frame = narrow(frame)
        return encode_png(frame if alpha is None else np.dstack([frame, narrow(alpha)]))
    rgb16 = widen(frame)
    a16 = None if alpha is None else widen(alpha)
    if kind == "png16":
        return encode_png(rgb16 if a16 is None else np.dstack([rgb16, a16]))
    rgb = rgb16.astype(np.float32) / 65535.0
    if linearizable(transfer):
        rgb = to_linear(rgb, transfer)
    image = rgb if a16 is None else np.dstack([rgb, a16.astype(np.float32) / 65535.0])
    return encode_exr(image)


def write_sequence_into(
    tmp: Path,
    folder: Path,
    frames: Iterable[np.ndarray],
    kind: str,
    *,
    fps: float,
    colour: ColourTags = ColourTags(),
    timecode: str = "",
    alpha: Iterable[np.ndarray] | None = None,
    linear_values: bool = True,
    on_frame: Callable[[int], None] | None = None,
) -> list[str]:
    """Write ``frame_NNNNN.png|exr`` stills and ``sequence.json`` into ``tmp``; returns notes for the user.

    ``kind``: ``png`` (8-bit), ``png16``, ``exr``. ``frames``: RGB uint8 or uint16;
    ``alpha``: per-frame ``[H, W]`` uint8/uint16 (RGBA stills). ``linear_values=False``
    (mattes) writes EXR values as they are (coverage is already linear).
    """
    if kind not in ("png", "png16", "exr"):
        raise ValueError(f"unknown sequence kind {kind!r}")
    suffix = ".exr" if kind == "exr" else ".png"
    transfer = colour.transfer if linear_values else 8
    notes: list[str] = []
    if kind == "exr" and linear_values and not linearizable(colour.transfer):
        notes.append(
            f"{folder.name}: the source's transfer ({TRANSFERS.get(colour.transfer, colour.transfer)}) has no linear "
            "conversion here; the EXR frames hold its encoded values, not linear light"
        )
    alphas = iter(alpha) if alpha is not None else None
    count = 0
    for i, frame in enumerate(frames):
        a = None
        if alphas is not None:
            try:
                a = next(alphas)
            except StopIteration:
                raise VideoError(folder, f"the alpha has fewer frames than the images ({i})") from None
        try:
            data = _still(frame, a, kind, transfer)
        except ValueError as exc:
            raise VideoError(folder, f"frame {i} cannot be encoded: {exc}") from None
        _write(tmp, folder, frame_name(i, suffix), data)
        count = i + 1
        if on_frame is not None:
            on_frame(count)
    if count == 0:
        raise VideoError(folder, "no frames to write")
    if kind == "exr":
        values = "scene-linear" if (not linear_values or linearizable(colour.transfer)) else "encoded"
    else:
        values = "encoded"
    write_sidecar(
        tmp,
        folder,
        {
            "format": kind,
            "frames": count,
            "first_frame": 0,
            "pattern": f"{FRAME_PREFIX}%0{DIGITS}d{suffix}",
            "fps": fps,
            "timecode": timecode,
            "colour": colour.to_dict(),
            "values": values,
            "alpha": alphas is not None,
        },
    )
    return notes


def write_indexed_into(
    tmp: Path,
    folder: Path,
    labels: Iterable[np.ndarray],
    *,
    objects: Sequence[str] = (),
    on_frame: Callable[[int], None] | None = None,
) -> None:
    """DAVIS layout: ``00000.png`` ... palette PNGs of per-frame object indices, plus a sidecar naming the objects."""
    count = 0
    for i, frame_labels in enumerate(labels):
        try:
            data = encode_indexed_png(frame_labels)
        except ValueError as exc:
            raise VideoError(folder, f"frame {i} cannot be encoded: {exc}") from None
        _write(tmp, folder, f"{i:0{DIGITS}d}.png", data)
        count = i + 1
        if on_frame is not None:
            on_frame(count)
    if count == 0:
        raise VideoError(folder, "no frames to write")
    write_sidecar(
        tmp,
        folder,
        {"format": "davis-indexed-png", "frames": count, "objects": {str(k + 1): name for k, name in enumerate(objects)}},
    )


def read_sidecar(folder: Path) -> dict[str, Any]:
    """The ``sequence.json`` of a folder we wrote ({} when absent or unreadable)."""
    from engine.safe_paths import UnsafePathError, load_json

    try:
        data = load_json(folder / SIDECAR, "sequence sidecar", max_bytes=1 << 20)
    except UnsafePathError:  # absent or unreadable: no facts
        return {}
    return data if isinstance(data, dict) else {}


SEQUENCE_ENTRY = re.compile(SEQUENCE_ENTRIES)

__all__ = [
    "DIGITS",
    "FRAME_PREFIX",
    "SEQUENCE_ENTRIES",
    "SIDECAR",
    "davis_palette",
    "decode_exr",
    "encode_exr",
    "encode_indexed_png",
    "frame_name",
    "from_linear",
    "labels_from_masks",
    "read_sidecar",
    "write_indexed_into",
    "write_sequence_into",
]
