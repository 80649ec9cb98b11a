"""The output formats, defined once: the ``propagate``/``batch`` flags and the GUI's export
choices are read from :data:`FORMATS` and :data:`MATTE_FORMATS`.

Light on purpose (no PyAV import): ``--help`` and the export dialog list them. Which
encoder writes each one, and what happens when the wheel lacks it, is in
``engine/video/pro_writer.py`` and ``docs/formats.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AUTO = "auto"


@dataclass(frozen=True)
class OutputFormat:
    """One way of writing frames.

    Attributes:
        name: the value of ``--format`` / ``--matte-format``.
        label: what the GUI shows.
        sequence: a folder of numbered stills (``frame_00000.png``) rather than one file.
        suffixes: file suffixes accepted for a file format (the first is the default);
            for a sequence, the suffix of its stills.
        bit_depth: bits per component written (16 for half-float EXR: its precision
            exceeds 16-bit integers in the dark end).
        alpha: the format carries an alpha channel (mattes).
        lossless: pixels come back exactly (8-/16-bit integer formats) or to float precision.
        full_depth: a 10-bit or deeper source is carried at more than 8 bits (see
            ``engine/video/full_depth.py``); 8-bit formats get the engine's 8-bit frames.
        summary: one line for ``--help`` and tooltips.
        max_bytes_per_pixel: what one frame takes on disk per pixel, at most, for the disk check
            before an export (``engine.disk_room``): the raw size of the format's samples (ProRes
            4444: 12-bit 4:4:4 + 16-bit alpha; 422 HQ and DNxHR HQX: 10-bit 4:2:2; a sequence matte
            adds its alpha), more where the encoder exceeds raw on grain (FFV1: 3.43 on pure noise),
            and for H.264/VP9 at crf 18, whose raw 4:2:0 (1.5) is far above any footage, 1.0 (pure
            noise: 0.65; grainy footage 0.2, clean 0.04; tests/test_disk_room.py).
    """

    name: str
    label: str
    sequence: bool
    suffixes: tuple[str, ...]
    bit_depth: int
    alpha: bool
    lossless: bool
    full_depth: bool
    summary: str
    max_bytes_per_pixel: float


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat(
            "video",
            "Video (H.264 mp4, 8-bit)",
            False,
            (".mp4", ".mov", ".mkv", ".avi", ".webm"),
            8,
            False,
            False,
            False,
            "8-bit delivery video: H.264 yuv420p (VP9 in .webm), the source's audio kept",
            1.0,
        ),
        OutputFormat(
            "lossless",
            "Lossless video (8-bit exact)",
            False,
            (".mkv", ".mp4", ".mov", ".webm"),
            8,
            False,
            True,
            False,
            "8-bit exact RGB: FFV1 (.mkv), libx264rgb qp 0 (.mp4/.mov), VP9 lossless (.webm)",
            3.6,
        ),
        OutputFormat(
            "prores-422-hq",
            "ProRes 422 HQ (.mov, 10-bit)",
            False,
            (".mov",),
            10,
            False,
            False,
            True,
            "Apple ProRes 422 HQ, 10-bit 4:2:2, colour tags and timecode of the source (prores_ks)",
            2.5,
        ),
        OutputFormat(
            "prores-4444",
            "ProRes 4444 with alpha (.mov, 12-bit)",
            False,
            (".mov",),
            12,
            True,
            False,
            True,
            "Apple ProRes 4444, 12-bit 4:4:4 + 16-bit alpha, colour tags and timecode of the source (prores_ks)",
            6.5,
        ),
        OutputFormat(
            "dnxhr-hqx",
            "DNxHR HQX (.mov, 10-bit)",
            False,
            (".mov",),
            10,
            False,
            False,
            True,
            "Avid DNxHR HQX, 10-bit 4:2:2 (frames at least 256x120), colour tags and timecode of the source",
            2.5,
        ),
        OutputFormat(
            "png",
            "PNG sequence (8-bit)",
            True,
            (".png",),
            8,
            True,
            True,
            False,
            "a folder of 8-bit RGB PNGs (frame_00000.png ...)",
            3.0,
        ),
        OutputFormat(
            "png16",
            "PNG sequence (16-bit)",
            True,
            (".png",),
            16,
            True,
            True,
            True,
            "a folder of 16-bit RGB PNGs, the source's full depth where the engine allows",
            6.0,
        ),
        OutputFormat(
            "exr",
            "OpenEXR sequence (half float, linear)",
            True,
            (".exr",),
            16,
            True,
            True,
            True,
            "a folder of half-float OpenEXR (ZIP) in scene-linear light (the source's transfer undone)",
            6.0,
        ),
    )
}

#: Formats an alpha matte can be written in (``--matte-format``): each stores the matte
#: both as alpha and as grey RGB, so NLEs can key by alpha or by luma.
MATTE_FORMATS: dict[str, OutputFormat] = {n: FORMATS[n] for n in ("prores-4444", "png16", "exr", "png")}


def output_format(name: str, *, matte: bool = False) -> OutputFormat:
    """The format called ``name``; ValueError listing the choices otherwise."""
    table = MATTE_FORMATS if matte else FORMATS
    if name not in table:
        raise ValueError(f"unknown {'matte ' if matte else ''}format {name!r}; choose one of {', '.join(table)}")
    return table[name]


def resolve_format(path: str | Path, name: str = AUTO, *, lossless: bool = False, matte: bool = False) -> OutputFormat:
    """The format to write ``path`` in, checked against the path, before any work.

    ``auto``: a file's suffix decides (``.mov`` for a matte means ProRes 4444; other
    video suffixes mean the 8-bit ``video``, or ``lossless`` with ``lossless=True``); a
    path without a suffix is a folder: PNG (16-bit for mattes).

    Raises:
        ValueError: naming the path, the format and what would fit.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if name == AUTO:
        if matte:
            name = "prores-4444" if suffix == ".mov" else ("png16" if not suffix else "")
            if not name:
                raise ValueError(f"{path}: a matte is a .mov (ProRes 4444 with alpha) or a folder (PNG/EXR sequence)")
        elif not suffix:
            raise ValueError(
                f"{path}: unsupported output type (no suffix); give a video file (.mp4 .mov .mkv .webm .avi), "
                "or --format png/png16/exr for a folder"
            )
        else:
            name = "lossless" if lossless else "video"
    elif lossless and name != "lossless":
        raise ValueError(f"--lossless applies to 8-bit video; the {name} format is chosen by --format alone")
    fmt = output_format(name, matte=matte)
    if fmt.sequence:
        if suffix in (".mp4", ".mov", ".mkv", ".webm", ".avi"):
            raise ValueError(f"{path}: the {fmt.name} format writes a folder of {fmt.suffixes[0]} frames; give a folder name")
    elif suffix not in fmt.suffixes:
        raise ValueError(
            f"{path}: unsupported output type {suffix or '(a folder)'!r} for the {fmt.name} format; use {' '.join(fmt.suffixes)}"
        )
    return fmt


__all__ = ["AUTO", "FORMATS", "MATTE_FORMATS", "OutputFormat", "output_format", "resolve_format"]
