"""Frame-accurate reading of video files through PyAV (FFmpeg).

Why an index: timeline scrubbing needs "give me frame 173" to return exactly that
frame, also for variable-frame-rate phone clips and AVIs with dropped frames. On open
we demux the video stream once (no decoding: milliseconds even for long clips) and
keep the sorted presentation timestamps of every frame. Random access then seeks to
the keyframe before the wanted timestamp and decodes forward; sequential access just
keeps decoding. Decoded frames land in a bounded cache.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from engine.video.cache import FrameCache
from engine.video.errors import VideoError
from engine.video.info import VideoInfo
from engine.video.source import frame_index

log = logging.getLogger(__name__)

#: Frames larger than this (pixels) are delivered downscaled; 4K UHD is the bound.
DEFAULT_MAX_PIXELS = 3840 * 2160

#: While seeking forward to a frame, the frames this close before it are kept in the cache
#: too (cheap backward steps on a timeline); earlier ones are decoded but not converted.
KEEP_BEFORE_TARGET = 8

_ALPHA_FORMATS = ("yuva", "rgba", "bgra", "argb", "abgr", "ya8", "ya16", "gbrap", "pal8")


def _bit_depth(pix_fmt: str) -> int:
    for depth in (16, 14, 12, 10, 9):
        if str(depth) in pix_fmt:
            return depth
    return 8


def _as_float(rate: Fraction | None) -> float:
    return float(rate) if rate else 0.0


class VideoFileReader:
    """Random-access, thread-safe reader of one video file.

    Frames are ``[H, W, 3]`` uint8 RGB, rotated as the file's display matrix says
    (phones store portrait video as rotated landscape) and bounded to ``max_pixels``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        cache_bytes: int = 512 * 1024 * 1024,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._cache = FrameCache(cache_bytes)
        self._container = self._open_container()
        try:
            self._stream = self._video_stream()
            self._check_decoder()
            self._pts, self._keyframe_pts, self._last_duration = self._build_index()
            self._rotation, first_pix_fmt = self._probe_first_frame()
            self.info = self._make_info(max_pixels, first_pix_fmt)
        except Exception:
            self._container.close()
            raise
        self._decoder: Iterator[av.VideoFrame] | None = None
        self._next_index = 0  # index the running decoder will produce next (if known)

    # ----------------------------------------------------------------- opening
    def _open_container(self) -> av.container.InputContainer:
        if not self.path.exists():
            raise VideoError(self.path, "file not found")
        if self.path.is_dir():
            raise VideoError(self.path, "is a folder, not a video file (open it as a frame folder)")
        if self.path.stat().st_size == 0:
            raise VideoError(self.path, "the file is empty (0 bytes)")
        try:
            return av.open(str(self.path), mode="r", metadata_errors="ignore")
        except av.error.EOFError:
            raise VideoError(self.path, "contains zero frames (the file ends before its first frame)") from None
        except av.error.InvalidDataError:
            raise VideoError(self.path, "not a video file, or a truncated/corrupt one (FFmpeg cannot parse it)") from None
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(self.path, f"cannot be opened as a video: {exc}") from None

    def _video_stream(self) -> av.video.stream.VideoStream:
        streams = self._container.streams.video
        if not streams:
            raise VideoError(self.path, "contains no video stream")
        stream = streams[0]
        stream.thread_type = "AUTO"
        return stream

    def _check_decoder(self) -> None:
        ctx = self._stream.codec_context
        if ctx is None or not getattr(ctx, "name", None) or ctx.name == "none":
            tag = self._stream.codec_tag if hasattr(self._stream, "codec_tag") else "?"
            raise VideoError(self.path, f"unreadable codec (no decoder for codec tag {tag!r})")

    def _build_index(self) -> tuple[list[int], list[int], int]:
        """Presentation timestamps of every frame, and of the keyframes, by demuxing."""
        pts: list[int] = []
        keyframes: list[int] = []
        last_duration = 0
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keyframes.append(packet.pts)
                last_duration = packet.duration or last_duration
        except av.error.FFmpegError as exc:
            log.warning("%s: index stopped early: %s", self.path, exc)
        if not pts:
            raise VideoError(self.path, "contains zero frames")
        pts.sort()
        keyframes.sort()
        if not keyframes:
            keyframes = [pts[0]]
        pts = self._trim_undecodable_tail(pts, keyframes[-1])
        if not pts:
            raise VideoError(self.path, "contains zero decodable frames")
        return pts, [k for k in keyframes if k <= pts[-1]] or [pts[0]], last_duration

    def _trim_undecodable_tail(self, pts: list[int], last_keyframe: int) -> list[int]:
        """Drop trailing packets that yield no frame (edit lists, truncated files).

        The index must promise only frames that decode, so we decode the last GOP once.
        """
        self._container.seek(last_keyframe, stream=self._stream, backward=True, any_frame=False)
        decoded: list[int] = []
        try:
            for frame in self._container.decode(self._stream):
                if frame.pts is not None:
                    decoded.append(frame.pts)
        except av.error.FFmpegError as exc:
            log.warning("%s: decoding stops early: %s", self.path, exc)
        if not decoded:
            return [p for p in pts if p < last_keyframe]
        last = max(decoded)
        return [p for p in pts if p <= last]

    def _probe_first_frame(self) -> tuple[int, str]:
        """Decode frame 0 once: proves the codec works and reveals rotation/pixel format."""
        self._seek_to(self._pts[0])
        try:
            for frame in self._container.decode(self._stream):
                rotation = int(round(getattr(frame, "rotation", 0) or 0)) % 360
                return rotation, frame.format.name
        except av.error.FFmpegError as exc:
            raise VideoError(self.path, f"the video data cannot be decoded ({self._stream.codec_context.name}): {exc}") from None
        raise VideoError(self.path, "no frame could be decoded (truncated or corrupt file)")

    def _make_info(self, max_pixels: int, pix_fmt: str) -> VideoInfo:
        stream = self._stream
        tb = stream.time_base or Fraction(1, 1)
        count = len(self._pts)
        nominal = _as_float(stream.average_rate) or _as_float(stream.guessed_rate) or _as_float(stream.base_rate)
        span = (self._pts[-1] - self._pts[0] + (self._last_duration or 0)) * tb
        duration = float(span) if span > 0 else (count / nominal if nominal else 0.0)
        if not nominal:
            nominal = count / duration if duration > 0 else 25.0
        average = count / duration if duration > 0 else nominal
        deltas = np.diff(np.asarray(self._pts, dtype=np.int64))
        vfr = bool(len(deltas) > 1 and (deltas.max() - deltas.min()) * tb > 0.5 / max(nominal, 1e-6))
        w, h = stream.codec_context.width, stream.codec_context.height
        if self._rotation % 180 == 90:
            w, h = h, w
        warnings: list[str] = []
        out_w, out_h = w, h
        if w * h > max_pixels:
            scale = (max_pixels / (w * h)) ** 0.5
            out_w, out_h = max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)
            warnings.append(f"very large frames ({w}x{h}); processing at {out_w}x{out_h}")
        if vfr:
            warnings.append(f"variable frame rate: {count} frames over {duration:.2f} s")
        if count == 1:
            warnings.append("a single frame: there is nothing to propagate")
        audio = self._container.streams.audio
        return VideoInfo(
            path=self.path,
            container=self._container.format.name,
            codec=stream.codec_context.name,
            width=out_w,
            height=out_h,
            frame_count=count,
            fps=nominal,
            average_fps=average,
            duration=duration,
            variable_frame_rate=vfr,
            rotation=self._rotation,
            pixel_format=pix_fmt,
            bit_depth=_bit_depth(pix_fmt),
            has_alpha=pix_fmt.startswith(_ALPHA_FORMATS) or pix_fmt.endswith(("a", "ap")),
            is_grayscale=pix_fmt.startswith(("gray", "ya", "y400")) or pix_fmt in ("monow", "monob"),
            has_audio=bool(audio),
            audio_codec=audio[0].codec_context.name if audio else "",
            source_width=w,
            source_height=h,
            warnings=tuple(warnings),
        )

    # ----------------------------------------------------------------- FrameSource
    @property
    def fps(self) -> float:
        return self.info.fps

    @property
    def size(self) -> tuple[int, int]:
        return self.info.width, self.info.height

    def __len__(self) -> int:
        return self.info.frame_count

    def timestamps(self) -> list[float]:
        """Presentation time of every frame in seconds, from the first frame."""
        tb = float(self._stream.time_base or 1)
        return [(p - self._pts[0]) * tb for p in self._pts]

    def __getitem__(self, index: int) -> np.ndarray:
        index = frame_index(index, len(self), self.path.name)
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                return cached
            return self._decode_to(index)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    # ----------------------------------------------------------------- decoding
    def _seek_to(self, pts: int) -> None:
        self._container.seek(pts, stream=self._stream, backward=True, any_frame=False)
        self._decoder = None

    def _decode_to(self, index: int) -> np.ndarray:
        target = self._pts[index]
        if self._decoder is None or not (self._next_index <= index <= self._next_index + 32):
            # A far jump: seek to the keyframe at or before the target.
            k = bisect.bisect_right(self._keyframe_pts, target) - 1
            self._seek_to(self._keyframe_pts[max(k, 0)])
            self._decoder = self._container.decode(self._stream)
            self._next_index = -1  # unknown until the first frame's pts is seen
        for _ in range(2):
            frame = self._decode_forward(index)
            if frame is not None:
                return frame
            # The seek landed past the target (broken index): restart from the file's start.
            self._seek_to(self._pts[0])
            self._decoder = self._container.decode(self._stream)
            self._next_index = -1
        raise VideoError(self.path, f"frame {index} cannot be decoded (file may be truncated)")

    def _decode_forward(self, index: int) -> np.ndarray | None:
        assert self._decoder is not None
        while True:
            try:
                frame = next(self._decoder)
            except StopIteration:
                self._decoder = None
                return None
            except av.error.FFmpegError as exc:
                log.warning("%s: decode error near frame %d: %s", self.path, index, exc)
                self._decoder = None
                return None
            i = self._index_of(frame)
            if i is None:
                continue
            self._next_index = i + 1
            if i > index:
                return None
            if i < index - KEEP_BEFORE_TARGET:
                continue  # decoded only to reach the target: skip the costly RGB conversion
            rgb = self._to_rgb(frame)
            self._cache.put(i, rgb)
            if i == index:
                return rgb

    def _index_of(self, frame: av.VideoFrame) -> int | None:
        pts = frame.pts if frame.pts is not None else getattr(frame, "dts", None)
        if pts is None:
            return self._next_index if self._next_index >= 0 else None
        i = bisect.bisect_left(self._pts, pts)
        if i < len(self._pts) and self._pts[i] == pts:
            return i
        return None

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        if self._rotation:
            # The display matrix rotates counter-clockwise by ``rotation`` degrees.
            rgb = np.ascontiguousarray(np.rot90(rgb, k=self._rotation // 90))
        if (rgb.shape[1], rgb.shape[0]) != (self.info.width, self.info.height):
            rgb = cv2.resize(rgb, (self.info.width, self.info.height), interpolation=cv2.INTER_AREA)
        return rgb

    def close(self) -> None:
        with self._lock:
            self._decoder = None
            self._container.close()
            self._cache.clear()

    def __enter__(self) -> VideoFileReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
