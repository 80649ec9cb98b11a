"""Encoding clips: H.264 mp4 for delivery, exact lossless for round trips, PNG sequences.

Every output goes through ``atomic_file``/``atomic_folder``, and every write is checked:
PNGs are encoded in memory and written with checked system calls (``cv2.imwrite``
reports success on a full disk), and a finished video is demuxed once before it is
renamed into place, so a file missing frames (a full disk under FFmpeg) is an error,
never a "wrote out.mp4". The source's audio track is carried over (stream copy when the
container accepts it, AAC otherwise), trimmed to the video's duration.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from engine.video.atomic import atomic_file, atomic_folder, check_destinations
from engine.video.errors import VideoError
from engine.video.png import write_png

log = logging.getLogger(__name__)

CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
#: Timestamps are written in this time base, fine enough for any real frame rate.
_TIME_BASE = Fraction(1, 90000)


def check_output_path(path: str | Path) -> Path:
    """The output's container from its suffix, refused early when unsupported."""
    path = Path(path)
    if path.suffix.lower() not in CONTAINERS:
        raise VideoError(path, f"unsupported output type {path.suffix.lower()!r}; use one of {', '.join(CONTAINERS)}")
    return path


def _verify_written(tmp: Path, final: Path, expected_frames: int) -> None:
    """Demux the finished file: it must hold every frame written (a full disk truncates it)."""
    try:
        with av.open(os.path.abspath(tmp)) as check:
            count = sum(1 for p in check.demux(check.streams.video[0]) if p.size)
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        raise VideoError(final, f"the written file cannot be read back ({exc}); disk full or failing?") from None
    if count != expected_frames:
        raise VideoError(final, f"only {count} of {expected_frames} frames reached the disk (disk full?); nothing was kept")


def _close_quietly(container: av.container.OutputContainer) -> None:
    """Close after a failure without hiding it (closing a broken file may fail too)."""
    try:
        container.close()
    except (av.error.FFmpegError, OSError):
        log.debug("closing a failed output also failed", exc_info=True)


#: x264's preset medium buffers 40 frames of lookahead, the peak of a long clip's export (a 1080p
#: encode alone peaked at 439 MB). 10 frames (what preset veryfast uses) peaked at 243 MB, with file
#: size and PSNR equal to 0.3 % and 0.01 dB on the shared 1080p/720p clips at CRF 18
#: (docs/benchmarks.md, issue 16).
_X264_OPTIONS = {"preset": "medium", "rc-lookahead": "10"}


def _rate_fraction(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def _video_stream(container: av.container.OutputContainer, suffix: str, fps: float, w: int, h: int, quality: int, lossless: bool):
    rate = _rate_fraction(fps)
    if suffix == ".webm":
        stream = container.add_stream("libvpx-vp9" if "libvpx-vp9" in av.codecs_available else "libvpx", rate=rate)
        stream.pix_fmt = "yuv444p" if lossless else "yuv420p"
        stream.options = {"lossless": "1"} if lossless else {"crf": str(quality), "b": "0"}
    elif lossless and suffix == ".mkv":
        stream = container.add_stream("ffv1", rate=rate)
        stream.pix_fmt = "bgr0"
    elif lossless:
        stream = container.add_stream("libx264rgb", rate=rate)
        stream.pix_fmt = "rgb24"
        stream.options = {"qp": "0", **_X264_OPTIONS}
    else:
        stream = container.add_stream("libx264", rate=rate)
        # yuv420p is what every player expects; it needs even sizes, so odd-sized clips
        # (641x359) keep their exact size in yuv444p rather than being cropped.
        stream.pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
        stream.options = {"crf": str(quality), **_X264_OPTIONS}
    stream.width, stream.height = w, h
    stream.time_base = _TIME_BASE
    stream.codec_context.time_base = _TIME_BASE  # else the encoder snaps timestamps to 1/fps
    return stream


def _copy_audio(source: Path, container: av.container.OutputContainer) -> Callable[[float], None] | None:
    """Prepare the audio copy; returns a function that muxes it (after the video)."""
    try:
        src = av.open(os.path.abspath(source))
    except (av.error.FFmpegError, OSError):
        log.warning("audio source %s cannot be opened; exporting without audio", source)
        return None
    if not src.streams.audio:
        src.close()
        return None
    in_audio = src.streams.audio[0]
    try:
        out_audio = container.add_stream_from_template(in_audio)
        transcode = False
    except (ValueError, av.error.FFmpegError):
        out_audio = container.add_stream("aac", rate=in_audio.rate)
        transcode = True

    def mux_audio(duration: float) -> None:
        try:
            if not transcode:
                for packet in src.demux(in_audio):
                    if packet.dts is None:
                        continue
                    if packet.pts is not None and packet.pts * packet.time_base > duration:
                        break
                    packet.stream = out_audio
                    container.mux(packet)
            else:
                for frame in src.decode(in_audio):
                    if frame.time is not None and frame.time > duration:
                        break
                    frame.pts = None
                    for packet in out_audio.encode(frame):
                        container.mux(packet)
                for packet in out_audio.encode():
                    container.mux(packet)
        finally:
            src.close()

    return mux_audio


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    quality: int = 18,
    lossless: bool = False,
    audio_from: str | Path | None = None,
    timestamps: Sequence[float] | None = None,
    size: tuple[int, int] | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> Path:
    """Encode ``[H, W, 3]`` uint8 RGB frames to ``path`` atomically.

    Args:
        quality: x264 CRF (0 best .. 51 worst); 18 is visually lossless.
        lossless: exact RGB (libx264rgb qp 0 in mp4/mov, FFV1 in mkv, VP9 lossless in webm).
        audio_from: a file whose first audio track is carried over.
        timestamps: per-frame presentation times in seconds (keeps a variable frame
            rate source's timing); default is a constant ``fps``.
        size: (width, height) to resize frames to (default: the first frame's).
        on_frame: called with the number of frames written so far (progress, cancel).

    Raises:
        VideoError: a bad argument, or the file could not be written completely.
    """
    path = check_output_path(path)
    if not fps > 0:
        raise VideoError(path, f"frame rate must be positive, got {fps}")
    with atomic_file(path) as tmp:
        _encode_into(tmp, path, frames, fps, quality, lossless, audio_from, timestamps, size, on_frame)
    return path


def _encode_into(
    tmp: Path,
    path: Path,
    frames: Iterable[np.ndarray],
    fps: float,
    quality: int,
    lossless: bool,
    audio_from: str | Path | None,
    timestamps: Sequence[float] | None,
    size: tuple[int, int] | None,
    on_frame: Callable[[int], None] | None,
) -> None:
    """The encoding itself, into the temporary file ``tmp`` (``path`` names it in errors)."""
    suffix = path.suffix.lower()
    written = 0
    # faststart puts the index first so players and browsers can start before the end
    options = {"movflags": "+faststart"} if suffix in (".mp4", ".mov") else {}
    try:
        container = av.open(os.path.abspath(tmp), mode="w", format=CONTAINERS[suffix], options=options)
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(path, f"cannot be written: {exc}") from None
    try:
        stream = None
        mux_audio = None
        last_pts = -1
        for frame in frames:
            frame = np.asarray(frame)
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise VideoError(path, f"frame {written} must be [H, W, 3] uint8, got {frame.shape} {frame.dtype}")
            if stream is None:
                w, h = size or (frame.shape[1], frame.shape[0])
                stream = _video_stream(container, suffix, fps, w, h, quality, lossless)
                if audio_from is not None and suffix != ".avi":
                    mux_audio = _copy_audio(Path(audio_from), container)
            if (frame.shape[1], frame.shape[0]) != (stream.width, stream.height):
                if size is None:
                    raise VideoError(
                        path,
                        f"frame {written} is {frame.shape[1]}x{frame.shape[0]}, the clip is {stream.width}x{stream.height}",
                    )
                frame = cv2.resize(frame, (stream.width, stream.height), interpolation=cv2.INTER_AREA)
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            t = timestamps[written] if timestamps is not None and written < len(timestamps) else written / fps
            pts = max(int(round(t / _TIME_BASE)), last_pts + 1)
            video_frame.pts, video_frame.time_base = pts, _TIME_BASE
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
            mux_audio(float(last_pts * _TIME_BASE) + 1.0 / fps)
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


def write_png_sequence(
    folder: str | Path,
    frames: Iterable[np.ndarray],
    *,
    prefix: str = "frame_",
    digits: int = 5,
    on_frame: Callable[[int], None] | None = None,
) -> Path:
    """Write frames (RGB ``[H, W, 3]`` or masks ``[H, W]``) as numbered PNGs, atomically, every write checked.

    The folder is replaced whole, so an existing one may hold only such PNGs (an earlier export):
    a folder with anything else in it (the user's files) is refused with a ``VideoError`` first.
    """
    folder = Path(folder)
    check_destinations(folders=[folder], folder_entries=rf"{re.escape(prefix)}\d+\.png")
    with atomic_folder(folder) as tmp:
        _pngs_into(tmp, folder, frames, prefix, digits, on_frame)
    return folder


def _pngs_into(
    tmp: Path, folder: Path, frames: Iterable[np.ndarray], prefix: str, digits: int, on_frame: Callable[[int], None] | None
) -> None:
    count = 0
    for i, frame in enumerate(frames):
        name = f"{prefix}{i:0{digits}d}.png"
        try:
            write_png(tmp / name, np.asarray(frame))
        except (OSError, ValueError) as exc:
            raise VideoError(folder, f"could not write {name}: {getattr(exc, 'strerror', None) or exc}") from None
        count = i + 1
        if on_frame is not None:
            on_frame(count)
    if count == 0:
        raise VideoError(folder, "no frames to write")


def write_video_and_masks(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    masks_folder: str | Path | None,
    masks: Iterable[np.ndarray] = (),
    *,
    mask_prefix: str = "mask_",
    on_frame: Callable[[int], None] | None = None,
    **video_options: Any,
) -> None:
    """A video and (optionally) its masks folder, as one unit: both are written to
    temporary names first and renamed into place only when both are complete, so a
    failure (full disk, cancel) leaves neither, and no old output is lost.

    ``video_options`` are :func:`write_video`'s (``lossless``, ``audio_from``, ``timestamps``...).
    """
    path = check_output_path(path)
    if not fps > 0:
        raise VideoError(path, f"frame rate must be positive, got {fps}")
    if masks_folder is None:
        write_video(path, frames, fps, on_frame=on_frame, **video_options)
        return
    masks_folder = Path(masks_folder)
    check_destinations(folders=[masks_folder], folder_entries=rf"{re.escape(mask_prefix)}\d+\.png")  # replaced whole
    with atomic_folder(masks_folder) as masks_tmp:
        with atomic_file(path) as tmp:
            _pngs_into(masks_tmp, masks_folder, masks, mask_prefix, 5, on_frame)
            _encode_into(
                tmp,
                path,
                frames,
                fps,
                video_options.get("quality", 18),
                video_options.get("lossless", False),
                video_options.get("audio_from"),
                video_options.get("timestamps"),
                video_options.get("size"),
                on_frame,
            )
