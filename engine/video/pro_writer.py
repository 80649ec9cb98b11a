"""ProRes and DNxHR in QuickTime .mov: what editors conform, grade and composite.

Frames arrive as RGB (uint8, or uint16 from the full-depth path) and are converted to
the codec's 10-bit YUV by FFmpeg's scaler with the source's matrix and range, so the
colours an FFmpeg-based reader decodes are the ones that went in. The source's colour
tags are written on the stream and on every frame (the mov ``colr`` atom and the
ProRes frame header both carry them) and its timecode becomes a ``tmcd`` track.

Encoders, from the FFmpeg inside the PyAV wheel (checked by :func:`encoder_for`):
ProRes by ``prores_ks`` (falling back to ``prores_aw``, FFmpeg's other ProRes encoder,
when a build lacks it), DNxHR by ``dnxhd`` (no fallback: an FFmpeg without it cannot
write DNxHR; the error says to use ProRes). See docs/formats.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.video.colour import ColourTags, check_timecode
from engine.video.depth import widen
from engine.video.errors import VideoError
from engine.video.writer import _TIME_BASE, _close_quietly, _copy_audio, _rate_fraction, _verify_written

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MovCodec:
    """How one .mov format is encoded: encoders in order of preference, pixel format, options."""

    encoders: tuple[str, ...]
    pix_fmt: str
    options: dict[str, str] = field(default_factory=dict)
    alpha: bool = False
    min_size: tuple[int, int] = (1, 1)
    #: the YUV matrix the bitstream implies whatever the tags say (FFmpeg's DNxHR decoder
    #: always applies BT.709), so frames are converted with it and tagged with it
    fixed_matrix: int | None = None


MOV_CODECS: dict[str, MovCodec] = {
    # vendor apl0: some Apple software trusts only files that claim Apple's encoder
    "prores-422-hq": MovCodec(("prores_ks", "prores_aw"), "yuv422p10le", {"profile": "3", "vendor": "apl0"}),
    "prores-4444": MovCodec(
        ("prores_ks", "prores_aw"), "yuva444p10le", {"profile": "4", "alpha_bits": "16", "vendor": "apl0"}, alpha=True
    ),
    "dnxhr-hqx": MovCodec(("dnxhd",), "yuv422p10le", {"profile": "dnxhr_hqx"}, min_size=(256, 120), fixed_matrix=1),
}


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except (ValueError, av.error.FFmpegError):
        return False
    return True


def encoder_for(format_name: str) -> str:
    """The encoder this PyAV build will use for ``format_name``; VideoError-free ValueError if none."""
    codec = MOV_CODECS[format_name]
    for name in codec.encoders:
        if _has_encoder(name):
            return name
    hint = " (write prores-422-hq instead)" if format_name.startswith("dnxhr") else ""
    raise ValueError(f"this FFmpeg build has no encoder for {format_name} ({', '.join(codec.encoders)}){hint}")


def check_mov_size(format_name: str, width: int, height: int) -> None:
    """Refuse a frame size the codec cannot encode, before any work (ValueError)."""
    min_w, min_h = MOV_CODECS[format_name].min_size
    if width < min_w or height < min_h:
        raise ValueError(
            f"{format_name} needs frames of at least {min_w}x{min_h}; this clip is {width}x{height} "
            "(use prores-422-hq, png16 or exr)"
        )


#: RGB -> 4:2:2: accurate rounding, and the chroma filtered from full-resolution input (FFmpeg's
#: default drops every other chroma sample's neighbours: twice the error at colour edges).
_CHROMA_FILTER = (
    av.video.reformatter.Interpolation.BILINEAR
    | av.video.reformatter.Interpolation.ACCURATE_RND
    | av.video.reformatter.Interpolation.FULL_CHR_H_INP
)


def written_tags(format_name: str, tags: ColourTags) -> ColourTags:
    """The tags a ``format_name`` file gets for a source tagged ``tags`` (range: tv when unknown;
    DNxHR: the BT.709 matrix, the only one its decoders apply; primaries and transfer as given)."""
    codec = MOV_CODECS[format_name]
    matrix = codec.fixed_matrix if codec.fixed_matrix is not None else tags.matrix
    return ColourTags(tags.primaries, tags.transfer, matrix, tags.range if tags.range in (1, 2) else 1)


def _ffmpeg_range(tags: ColourTags) -> int:
    """The range written: the source's, or tv (what ProRes and DNxHR are) when it has none."""
    return tags.range if tags.range in (1, 2) else 1


def _to_uint16(frame: np.ndarray, what: str, index: int, path: Path) -> np.ndarray:
    try:
        return widen(frame)
    except ValueError:
        raise VideoError(path, f"{what} {index} must be uint8 or uint16, got {np.asarray(frame).dtype}") from None


def _yuv_frame(rgb16: np.ndarray, alpha16: np.ndarray | None, codec: MovCodec, tags: ColourTags) -> av.VideoFrame:
    """RGB(A) uint16 -> the codec's YUV(A) frame with the source's matrix and range, tagged."""
    if codec.alpha:
        a = alpha16 if alpha16 is not None else np.full(rgb16.shape[:2], 65535, np.uint16)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.dstack([rgb16, a])), format="rgba64le")
    else:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb16), format="rgb48le")
    # The RGB is already in the source's primaries and transfer: tag it so, or FFmpeg's
    # scaler would convert the gamut (slowly) from "unspecified" to the tags.
    frame.color_primaries, frame.color_trc = tags.primaries, tags.transfer
    out = frame.reformat(
        format=codec.pix_fmt,
        interpolation=_CHROMA_FILTER,
        dst_colorspace=tags.conversion_matrix(),
        dst_color_range=_ffmpeg_range(tags),
    )
    out.color_primaries, out.color_trc = tags.primaries, tags.transfer
    out.colorspace = tags.matrix
    out.color_range = _ffmpeg_range(tags)
    return out


def encode_mov_into(
    tmp: Path,
    path: Path,
    frames: Iterable[np.ndarray],
    fps: float,
    format_name: str,
    *,
    colour: ColourTags = ColourTags(),
    timecode: str = "",
    alpha: Iterable[np.ndarray] | None = None,
    timestamps: Sequence[float] | None = None,
    audio_from: str | Path | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> str:
    """Encode RGB frames (uint8/uint16 ``[H, W, 3]``) into ``tmp`` as ``format_name``; returns the encoder used.

    ``alpha``: per-frame ``[H, W]`` uint8/uint16 alpha for ProRes 4444 (opaque when
    ``None``). ``timestamps``: per-frame times in seconds (a variable-frame-rate source);
    default a constant ``fps`` with time base 1/fps, what NLEs expect. ``path`` names the
    file in errors. The written file is demuxed before returning (every frame there).
    """
    codec = MOV_CODECS[format_name]
    colour = written_tags(format_name, colour)
    try:
        encoder = encoder_for(format_name)
        if timecode:
            check_timecode(timecode)
    except ValueError as exc:
        raise VideoError(path, str(exc)) from None
    if not fps > 0:
        raise VideoError(path, f"frame rate must be positive, got {fps}")
    rate = _rate_fraction(fps)
    constant = timestamps is None
    time_base = Fraction(rate.denominator, rate.numerator) if constant else _TIME_BASE
    try:
        container = av.open(os.path.abspath(tmp), mode="w", format="mov", options={"movflags": "+faststart"})
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(path, f"cannot be written: {exc}") from None
    if timecode:
        container.metadata["timecode"] = timecode
    alphas = iter(alpha) if alpha is not None else None
    written, last_pts = 0, -1
    stream = None
    mux_audio = None
    try:
        for frame in frames:
            rgb16 = _to_uint16(frame, "frame", written, path)
            if rgb16.ndim != 3 or rgb16.shape[2] != 3:
                raise VideoError(path, f"frame {written} must be [H, W, 3], got {rgb16.shape}")
            a16 = None
            if alphas is not None:
                try:
                    a16 = _to_uint16(next(alphas), "alpha", written, path)
                except StopIteration:
                    raise VideoError(path, f"the alpha has fewer frames than the video ({written})") from None
                if a16.shape != rgb16.shape[:2]:
                    raise VideoError(path, f"alpha {written} is {a16.shape[::-1]}, the frame {rgb16.shape[1::-1]}")
            if stream is None:
                h, w = rgb16.shape[:2]
                try:
                    check_mov_size(format_name, w, h)
                except ValueError as exc:
                    raise VideoError(path, str(exc)) from None
                stream = container.add_stream(encoder, rate=rate)
                stream.width, stream.height, stream.pix_fmt = w, h, codec.pix_fmt
                stream.options = dict(codec.options)
                stream.time_base = time_base
                stream.codec_context.time_base = time_base
                colour.apply_to(stream.codec_context)
                if audio_from is not None:
                    mux_audio = _copy_audio(Path(audio_from), container)
            elif rgb16.shape[:2] != (stream.height, stream.width):
                raise VideoError(
                    path, f"frame {written} is {rgb16.shape[1]}x{rgb16.shape[0]}, the clip {stream.width}x{stream.height}"
                )
            video_frame = _yuv_frame(rgb16, a16, codec, colour)
            if constant:
                pts = written
            else:
                t = timestamps[written] if written < len(timestamps) else written / fps  # type: ignore[index]
                pts = max(int(round(t / _TIME_BASE)), last_pts + 1)
            video_frame.pts, video_frame.time_base = pts, time_base
            last_pts = pts
            for packet in stream.encode(video_frame):
                container.mux(packet)
            written += 1
            if on_frame is not None:
                on_frame(written)
        if stream is None:
            raise VideoError(path, "no frames to write")
        for packet in stream.encode():
            container.mux(packet)
        if mux_audio is not None:
            mux_audio(float((last_pts + 1) * time_base) if constant else float(last_pts * _TIME_BASE) + 1.0 / fps)
    except av.error.FFmpegError as exc:
        _close_quietly(container)
        raise VideoError(path, f"writing failed after {written} frames: {exc}") from None
    except BaseException:
        _close_quietly(container)
        raise
    try:
        container.close()
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(path, f"finishing the file failed: {exc}") from None
    _verify_written(tmp, path, written)
    return encoder


def encoders_found() -> dict[str, str | None]:
    """Format name -> the encoder this build uses, or ``None`` (docs, tests, diagnostics)."""
    found: dict[str, str | None] = {}
    for name in MOV_CODECS:
        try:
            found[name] = encoder_for(name)
        except ValueError:
            found[name] = None
    found["exr"] = "exr" if _has_encoder("exr") else None
    found["png16"] = "opencv png"
    return found


__all__ = ["MOV_CODECS", "MovCodec", "check_mov_size", "encode_mov_into", "encoder_for", "encoders_found", "written_tags"]
