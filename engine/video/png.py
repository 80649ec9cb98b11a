"""PNG files we did not write, read strictly; PNG files we write, written checked.

Masks and layers arrive in edit files, projects and test sets. A damaged PNG must be
refused, not decoded into wrong pixels: Pillow does not check the CRC of image data
(``IDAT``) chunks and tolerates some damaged streams, so :func:`read_png` first walks
every chunk (CRC, order, sizes), refuses an image from its header when it is too large
(before any pixel is decoded: a 13000x13000 mask costs nothing to refuse), inflates the
image data completely (zlib's Adler-32 check, exact expected length), and only then
decodes it with Pillow.

:func:`encode_png` + :func:`write_file_checked` replace ``cv2.imwrite``, which returns
``True`` on a full disk and leaves 0-byte files.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from engine.safe_paths import ErrorFactory, read_bytes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Largest image accepted, per side and in total: 4x a 4K UHD frame, the largest canvas
#: an edit can make (engine/edits/specs.py MAX_CANVAS_*).
MAX_SIDE = 16384
MAX_PIXELS = 64 * 1024 * 1024
MAX_PNG_BYTES = 256 * 1024 * 1024

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# Adam7 passes: (x start, y start, x step, y step)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_MODES = ("L", "RGB", "RGBA")


class PngError(ValueError):
    """A PNG is damaged, too large or not a PNG; the message says which and why."""


def _raw_size(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """Bytes of filtered scanlines (one filter byte per row) the image data must inflate to."""

    def rows(w: int, h: int) -> int:
        return 0 if w == 0 or h == 0 else h * (1 + (w * bits_per_pixel + 7) // 8)

    if not interlaced:
        return rows(width, height)
    return sum(rows((width - x + dx - 1) // dx, (height - y + dy - 1) // dy) for x, y, dx, dy in _ADAM7)


def check_png(data: bytes, name: str, *, max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """Verify a whole PNG byte string without decoding pixels; returns (width, height).

    Raises:
        PngError: not a PNG, a bad chunk CRC or order, an image larger than the caps,
            image data that does not inflate to exactly the size the header promises.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise PngError(f"{name} is not PNG (it does not start with the PNG signature)")
    pos, n = len(PNG_SIGNATURE), len(data)
    header: tuple[int, int, int, int, int] | None = None
    idat: list[bytes] = []
    idat_done = False
    seen_end = False
    seen_plte = False
    while pos < n:
        if n - pos < 12:
            raise PngError(f"{name}: truncated chunk at byte {pos}")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        if length > 0x7FFFFFFF or pos + 12 + length > n:
            raise PngError(f"{name}: chunk {ctype!r} at byte {pos} runs past the end of the file (truncated?)")
        if not all(65 <= c <= 90 or 97 <= c <= 122 for c in ctype):
            raise PngError(f"{name}: invalid chunk type {ctype!r} at byte {pos}")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise PngError(f"{name}: chunk {ctype.decode('ascii')} at byte {pos} is damaged (CRC mismatch)")
        pos += 12 + length
        if header is None:
            if ctype != b"IHDR" or length != 13:
                raise PngError(f"{name}: the first chunk must be IHDR")
            w, h, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
            if w == 0 or h == 0:
                raise PngError(f"{name}: image size {w}x{h} is empty")
            if w > max_side or h > max_side or w * h > max_pixels:
                raise PngError(
                    f"{name}: image is {w}x{h}; the largest accepted is {max_side} pixels a side and "
                    f"{max_pixels / 1e6:.0f} megapixels; refused"
                )
            if colour not in _DEPTHS or depth not in _DEPTHS[colour] or compression or filtering or interlace > 1:
                raise PngError(f"{name}: invalid IHDR (bit depth {depth}, colour type {colour})")
            header = (w, h, depth, colour, interlace)
            continue
        if ctype == b"IHDR":
            raise PngError(f"{name}: a second IHDR chunk")
        if ctype == b"PLTE":
            if idat or header[3] in (0, 4) or length == 0 or length % 3 or length > 768:
                raise PngError(f"{name}: invalid PLTE chunk")
            seen_plte = True
        if ctype == b"IDAT":
            if header[3] == 3 and not seen_plte:
                raise PngError(f"{name}: a palette image without a palette (PLTE)")
            if idat_done:
                raise PngError(f"{name}: IDAT chunks are not consecutive")
            idat.append(body)
        elif idat:
            idat_done = True
        if ctype == b"IEND":
            seen_end = True
            break
    if header is None:
        raise PngError(f"{name}: no IHDR chunk")
    if not seen_end:
        raise PngError(f"{name}: no IEND chunk (the file is truncated)")
    if pos != n:
        raise PngError(f"{name}: {n - pos} bytes of garbage after the IEND chunk")
    if not idat:
        raise PngError(f"{name}: no image data (IDAT)")
    w, h, depth, colour, interlace = header
    expected = _raw_size(w, h, _CHANNELS[colour] * depth, bool(interlace))
    inflater = zlib.decompressobj()
    try:
        # At most expected + 1 bytes come out: a "zip bomb" costs nothing to refuse.
        raw = inflater.decompress(b"".join(idat), expected + 1)
    except zlib.error as exc:
        raise PngError(f"{name}: image data is damaged ({exc})") from None
    if len(raw) > expected or inflater.unconsumed_tail:
        raise PngError(f"{name}: image data inflates to more than the {w}x{h} header allows")
    if not inflater.eof:
        raise PngError(f"{name}: image data is truncated (the compressed stream does not end)")
    if len(raw) != expected:
        raise PngError(f"{name}: image data holds {len(raw)} bytes, the {w}x{h} header needs {expected}")
    if not interlace:
        stride = 1 + (w * _CHANNELS[colour] * depth + 7) // 8
        filters = np.frombuffer(raw, np.uint8)[::stride]
        if filters.size and int(filters.max()) > 4:
            raise PngError(f"{name}: invalid row filter type {int(filters.max())}")
    return w, h


def decode_png(data: bytes, mode: str, name: str, **caps: int) -> np.ndarray:
    """Fully verify (:func:`check_png`) then decode to ``mode`` (``L``, ``RGB``, ``RGBA``) uint8."""
    from PIL import Image

    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    check_png(data, name, **caps)
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
            im.load()
            return np.asarray(im.convert(mode), dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, struct.error) as exc:
        raise PngError(f"{name}: cannot decode the PNG: {exc}") from None


def read_png(
    path: str | os.PathLike[str],
    mode: str,
    what: str = "image",
    *,
    max_bytes: int = MAX_PNG_BYTES,
    error: ErrorFactory = PngError,
    **caps: int,
) -> np.ndarray:
    """A PNG file as ``[H, W]`` (``L``) or ``[H, W, C]`` uint8, verified; ``error`` says what is wrong."""
    path = Path(path)
    data = read_bytes(path, what, max_bytes=max_bytes, error=error)
    try:
        return decode_png(data, mode, path.name, **caps)
    except PngError as exc:
        raise error(f"{what}: {exc}") from None


# ----------------------------------------------------------------------------- writing
def encode_png(image: np.ndarray, *, compression: int = 3, fast: bool = False) -> bytes:
    """PNG bytes of a ``[H, W]`` grey or ``[H, W, 3]`` RGB / ``[H, W, 4]`` RGBA uint8/uint16 array.

    ``fast``: the "sub" filter and run-length coding (about twice as fast to encode and
    30% faster to decode than the default filters, files about 10% larger; the result store);
    with ``compression=0`` no filter at all (nothing is compressed that a filter could help, and
    at 1080p encoding takes 15 ms instead of 22, decoding 13 instead of 20)."""
    import cv2

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    elif image.ndim != 2:
        raise ValueError(f"cannot encode an image of shape {image.shape} as PNG")
    params = [cv2.IMWRITE_PNG_COMPRESSION, compression]
    if fast and compression == 0:
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    elif fast:
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    ok, buf = cv2.imencode(".png", image, params)
    if not ok:
        raise ValueError(f"PNG encoding failed for an image of shape {image.shape} {image.dtype}")
    return buf.tobytes()


def _write_all(fd: int, data: bytes | memoryview) -> None:
    """``os.write`` until done: a short write is retried, an error (ENOSPC, EIO) raises."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(f"write returned {written}")
        view = view[written:]


def write_file_checked(path: str | os.PathLike[str], data: bytes, *, sync: bool = False) -> None:
    """Write ``data`` to a new file at ``path``; any failure raises ``OSError`` (never a silent short file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        _write_all(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    size = os.stat(path).st_size
    if size != len(data):
        raise OSError(f"{path}: {size} bytes on disk, {len(data)} written")


def write_png(path: str | os.PathLike[str], image: np.ndarray, *, sync: bool = False) -> None:
    """Encode and write one PNG, checked (see :func:`write_file_checked`)."""
    write_file_checked(path, encode_png(image), sync=sync)


__all__: list[str] = [
    "MAX_PIXELS",
    "MAX_SIDE",
    "PngError",
    "check_png",
    "decode_png",
    "encode_png",
    "read_png",
    "write_file_checked",
    "write_png",
]
