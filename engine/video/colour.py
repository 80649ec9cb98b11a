"""Colour tags and timecode of a clip, read from the source and copied onto outputs.

Editors conform by these: a ProRes file tagged bt709/bt709/bt709/tv lands in Resolve
or Premiere with the same colours as its source; an untagged one is guessed at. The
tags are FFmpeg's codes (``AVColorPrimaries``, ``AVColorTransferCharacteristic``,
``AVColorSpace``, ``AVColorRange``), the same numbers PyAV's codec contexts and frames
use, shown with FFmpeg's names (what ``ffmpeg -i`` prints).

The transfer functions here turn display-encoded video values into scene-linear light
for OpenEXR (VFX tools read EXR as linear) and back.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: FFmpeg's names of the codes a video file can carry (libavutil/pixdesc.c).
PRIMARIES = {
    1: "bt709",
    2: "unknown",
    4: "bt470m",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "film",
    9: "bt2020",
    10: "smpte428",
    11: "smpte431",
    12: "smpte432",
    22: "ebu3213",
}
TRANSFERS = {
    1: "bt709",
    2: "unknown",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    9: "log100",
    10: "log316",
    11: "iec61966-2-4",
    12: "bt1361e",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    17: "smpte428",
    18: "arib-std-b67",
}
MATRICES = {
    0: "gbr",
    1: "bt709",
    2: "unknown",
    4: "fcc",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "ycgco",
    9: "bt2020nc",
    10: "bt2020c",
    14: "ictcp",
}
RANGES = {0: "unknown", 1: "tv", 2: "pc"}
UNSPECIFIED = 2

#: Transfers whose values are Rec. 709-style camera encoding (BT.709 OETF).
_BT709_OETF = (1, 6, 14, 15)
_TIMECODE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;.]\d{2,3}$")


@dataclass(frozen=True)
class ColourTags:
    """The four colour tags of a video stream, as FFmpeg codes (2 / 0 = unspecified)."""

    primaries: int = UNSPECIFIED
    transfer: int = UNSPECIFIED
    matrix: int = UNSPECIFIED
    range: int = 0

    @classmethod
    def of(cls, obj: Any) -> ColourTags:
        """The tags of a PyAV codec context or frame (anything with the four attributes)."""

        def code(name: str, default: int) -> int:
            value = getattr(obj, name, default)
            try:
                return int(value)
            except (TypeError, ValueError):
                return default

        return cls(
            code("color_primaries", UNSPECIFIED),
            code("color_trc", UNSPECIFIED),
            code("colorspace", UNSPECIFIED),
            code("color_range", 0),
        )

    def apply_to(self, codec_context: Any) -> None:
        """Tag an encoder's codec context (the muxer writes them: ``colr``/``nclx`` in mov)."""
        codec_context.color_primaries = self.primaries
        codec_context.color_trc = self.transfer
        codec_context.colorspace = self.matrix
        codec_context.color_range = self.range

    @property
    def names(self) -> dict[str, str]:
        """FFmpeg's names: {"primaries": "bt709", "transfer": ..., "matrix": ..., "range": "tv"}."""
        return {
            "primaries": PRIMARIES.get(self.primaries, f"code {self.primaries}"),
            "transfer": TRANSFERS.get(self.transfer, f"code {self.transfer}"),
            "matrix": MATRICES.get(self.matrix, f"code {self.matrix}"),
            "range": RANGES.get(self.range, f"code {self.range}"),
        }

    @property
    def specified(self) -> bool:
        return any((self.primaries != UNSPECIFIED, self.transfer != UNSPECIFIED, self.matrix != UNSPECIFIED, self.range != 0))

    def describe(self) -> str:
        n = self.names
        return f"{n['primaries']} primaries, {n['transfer']} transfer, {n['matrix']} matrix, {n['range']} range"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"names": self.names}

    def conversion_matrix(self) -> str | None:
        """The YUV<->RGB matrix name PyAV's reformatter takes, or ``None`` for FFmpeg's default (BT.601).

        Writing with the matrix the reader decoded with keeps colours the same through
        FFmpeg-based tools: an untagged source is decoded (and so re-encoded) with BT.601.
        """
        return {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}.get(self.matrix)


def stream_timecode(container: Any, stream: Any) -> str:
    """The start timecode ("01:00:00:00", ";" for drop-frame) of a file, "" when it has none.

    Looked for where FFmpeg's demuxers put it: the video stream's metadata (mov/mxf),
    a timecode data track (``tmcd``), then the file's metadata.
    """
    candidates = [getattr(stream, "metadata", {}) or {}]
    candidates += [getattr(s, "metadata", {}) or {} for s in getattr(container.streams, "data", ())]
    candidates.append(getattr(container, "metadata", {}) or {})
    for metadata in candidates:
        value = str(metadata.get("timecode", "")).strip()
        if _TIMECODE.match(value):
            return value
    return ""


def check_timecode(value: str) -> str:
    """A timecode as the mov muxer accepts it; ValueError otherwise."""
    if not _TIMECODE.match(value):
        raise ValueError(f"timecode must look like HH:MM:SS:FF (or ;FF for drop-frame), got {value!r}")
    return value


# ----------------------------------------------------------------------------- transfer functions
def linearizable(transfer: int) -> bool:
    """Whether :func:`to_linear` knows this transfer (unspecified counts as BT.709, as players assume)."""
    return transfer in (*_BT709_OETF, 0, UNSPECIFIED, 4, 5, 8, 13)


def to_linear(encoded: np.ndarray, transfer: int) -> np.ndarray:
    """Display-encoded values 0..1 -> scene-linear light (float32), by the source's transfer.

    BT.709-family (bt709, smpte170m, bt2020-10/12) and unspecified: the inverse BT.709
    OETF (what Nuke calls ``rec709``); iec61966-2-1: the sRGB curve; gamma22/28: a power.
    Transfers not in that list (PQ, HLG, log) raise: their values are not converted.
    """
    v = np.clip(np.asarray(encoded, np.float32), 0.0, 1.0)
    if transfer == 8:
        return v
    if transfer in (4, 5):
        return np.power(v, 2.2 if transfer == 4 else 2.8, dtype=np.float32)
    if transfer == 13:
        return np.where(v <= 0.04045, v / 12.92, np.power((v + 0.055) / 1.055, 2.4)).astype(np.float32)
    if transfer in (*_BT709_OETF, 0, UNSPECIFIED):
        return np.where(v < 0.081, v / 4.5, np.power((v + 0.099) / 1.099, 1 / 0.45)).astype(np.float32)
    raise ValueError(f"no linearisation for transfer {TRANSFERS.get(transfer, transfer)}")


def from_linear(linear: np.ndarray, transfer: int) -> np.ndarray:
    """Inverse of :func:`to_linear` (float32 0..1)."""
    x = np.clip(np.asarray(linear, np.float32), 0.0, 1.0)
    if transfer == 8:
        return x
    if transfer in (4, 5):
        return np.power(x, 1 / (2.2 if transfer == 4 else 2.8), dtype=np.float32)
    if transfer == 13:
        return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)
    if transfer in (*_BT709_OETF, 0, UNSPECIFIED):
        return np.where(x < 0.018, x * 4.5, 1.099 * np.power(x, 0.45) - 0.099).astype(np.float32)
    raise ValueError(f"no linearisation for transfer {TRANSFERS.get(transfer, transfer)}")


__all__ = [
    "ColourTags",
    "MATRICES",
    "PRIMARIES",
    "RANGES",
    "TRANSFERS",
    "check_timecode",
    "from_linear",
    "linearizable",
    "stream_timecode",
    "to_linear",
]
