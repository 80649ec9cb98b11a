"""Frame-accurate reading of video files through PyAV (FFmpeg).

Why an index: timeline scrubbing needs "give me frame 173" to return exactly that
frame, also for variable-frame-rate phone clips and AVIs with dropped frames. On open
we demux the video stream once (no decoding: milliseconds even for long clips) and
keep the sorted presentation timestamps of every frame. Random access then seeks to
the keyframe before the wanted timestamp and decodes forward; sequential access just
keeps decoding. Decoded frames land in a bounded cache.

The index promises only frames FFmpeg's own sequential decode returns: on open the
first frames are decoded from the start (a stream cut mid-GOP begins with packets that
decode to nothing) and the last GOP is decoded (truncated tails). Seeking is not
trusted either: MPEG program and transport streams land a GOP *after* the asked
keyframe, so a seek that lands past its keyframe is retried further back (the reader
learns by how much), and as a last resort the file is reopened and decoded from the
start. Frames decoded before the keyframe a seek aimed at are never used, so every
frame equals the sequential decode bit for bit.

Only plain video containers are opened (``ALLOWED_DEMUXERS``), and only local files:
FFmpeg's playlist and script demuxers (HLS, ffconcat) would open other files named
inside a file that merely calls itself ``.mp4``.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import os
import stat
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from engine.video.cache import FrameCache
from engine.video.colour import ColourTags, stream_timecode
from engine.video.depth import narrow
from engine.video.errors import VideoError
from engine.video.info import VideoInfo
from engine.video.source import frame_index

log = logging.getLogger(__name__)

#: Frames larger than this (pixels) are delivered downscaled; 4K UHD is the bound.
DEFAULT_MAX_PIXELS = 3840 * 2160

#: While seeking forward to a frame, the frames this close before it are kept in the cache
#: too (cheap backward steps on a timeline); earlier ones are decoded but not converted.
KEEP_BEFORE_TARGET = 8

#: ``depth`` -> the RGB pixel format frames are converted to (16: every source's full depth,
#: 10- and 12-bit values scaled to 0..65535 by FFmpeg).
RGB_FORMATS = {8: "rgb24", 16: "rgb48le"}

#: FFmpeg demuxers a clip may use: containers of audio/video only. Playlists (hls, dash),
#: scripts (concat), image-pattern readers (image2) and other indirections are refused.
ALLOWED_DEMUXERS = (
    "mov,matroska,webm,avi,mpeg,mpegts,mpegvideo,gif,apng,flv,asf,ogg,mxf,dv,h264,hevc,m4v,yuv4mpegpipe,nut,ivf,mjpeg,obu,vc1,rm"
)
#: How many keyframes further back a seek may be retried before reopening the file.
MAX_SEEK_BACK = 4

_ALPHA_FORMATS = ("yuva", "rgba", "bgra", "argb", "abgr", "ya8", "ya16", "gbrap", "pal8")


def _bit_depth(pix_fmt: str) -> int:
    """Bits per component of a pixel format (rgb48le: 16, yuv422p10le: 10; float formats: 32)."""
    try:
        bits = max(c.bits for c in av.VideoFormat(pix_fmt).components)
    except (ValueError, TypeError, av.error.FFmpegError):
        return 8
    return max(8, int(bits))


def _pts_of(frame: av.VideoFrame) -> int | None:
    """A decoded frame's presentation time (its dts when the decoder gives no pts)."""
    return frame.pts if frame.pts is not None else getattr(frame, "dts", None)


def _as_float(rate: Fraction | None) -> float:
    return float(rate) if rate else 0.0


class VideoFileReader:
    """Random-access, thread-safe reader of one video file.

    Frames are ``[H, W, 3]`` uint8 RGB (``depth=8``, the :class:`FrameSource` engines
    read) or ``[H, W, 3]`` uint16 RGB 0..65535 (``depth=16``: 10-, 12- and 16-bit sources
    without crushing them to 8 bits; the full-depth export path), rotated as the file's
    display matrix says (phones store portrait video as rotated landscape) and bounded to
    ``max_pixels``. A deep source's ``depth=8`` frame is its ``depth=16`` frame rounded
    (``engine.video.depth.narrow``): both readings agree, and neither is biased.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        cache_bytes: int = 512 * 1024 * 1024,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        depth: int = 8,
    ) -> None:
        self.path = Path(path)
        if depth not in RGB_FORMATS:
            raise ValueError(f"depth must be one of {sorted(RGB_FORMATS)}, got {depth!r}")
        self.depth = depth
        self._lock = threading.RLock()
        self._cache = FrameCache(cache_bytes)
        self._decoder: Iterator[av.VideoFrame] | None = None
        self._next_index = 0  # index the running decoder will produce next (if known)
        self._seek_back = 0  # keyframes further back than asked that seeks in this file need
        self._first_frame_facts: tuple[int, str, ColourTags] = (0, "", ColourTags())
        self._keyframe_set: set[int] = set()
        self._container_tags = ColourTags()
        self._deep = False
        self._container = self._open_container()
        try:
            self._stream = self._video_stream()
            self._check_decoder()
            self._pts, self._keyframe_pts, self._last_duration = self._build_index()
            self._rotation, first_pix_fmt, first_tags = self._probe_first_frame()
            # deep sources are converted at 16 bits and rounded (FFmpeg's rgb24 path truncates)
            self._deep = _bit_depth(first_pix_fmt) > 8
            self.info = self._make_info(max_pixels, first_pix_fmt, first_tags)
        except Exception:
            self._container.close()
            raise

    # ----------------------------------------------------------------- opening
    def _open_container(self) -> av.container.InputContainer:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise VideoError(self.path, "file not found") from None
        except (OSError, ValueError) as exc:
            raise VideoError(self.path, f"cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            raise VideoError(self.path, "is a folder, not a video file (open it as a frame folder)")
        if not stat.S_ISREG(st.st_mode):
            # a FIFO would block FFmpeg forever, a device would be read without end
            raise VideoError(self.path, "is not a regular file (a FIFO, device or socket); refused")
        if st.st_size == 0:
            raise VideoError(self.path, "the file is empty (0 bytes)")
        options = {"format_whitelist": ALLOWED_DEMUXERS, "protocol_whitelist": "file"}
        try:
            # an absolute path: a relative name such as "concat:a|b" must not select a protocol
            return av.open(os.path.abspath(self.path), mode="r", metadata_errors="ignore", options=options)
        except av.error.ArgumentError:
            raise VideoError(
                self.path, "is not a video container this app reads (a playlist, script or unsupported format)"
            ) from None
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
        first = self._first_decoded_pts()
        pts = [p for p in pts if p >= first]
        keyframes = [k for k in keyframes if k >= first]
        self._pts, self._keyframe_pts, self._keyframe_set = pts, keyframes, set(keyframes)
        pts = self._trim_undecodable_tail(pts, keyframes)
        if not pts:
            raise VideoError(self.path, "contains zero decodable frames")
        return pts, [k for k in keyframes if k <= pts[-1]], last_duration

    def _first_decoded_pts(self) -> int:
        """Presentation time of the first frame a decode from the start returns.

        A stream cut in the middle of a GOP starts with packets that decode to nothing;
        they are not frames of the clip.
        """
        self._restart()
        assert self._decoder is not None
        # the container's tags (mov colr atom), before decoding replaces them with the bitstream's
        self._container_tags = ColourTags.of(self._stream.codec_context)
        try:
            for frame in self._decoder:
                p = _pts_of(frame)
                if p is not None:
                    rotation = int(round(getattr(frame, "rotation", 0) or 0)) % 360
                    self._first_frame_facts = (rotation, frame.format.name, ColourTags.of(frame))
                    return int(p)
        except av.error.FFmpegError as exc:
            raise VideoError(self.path, f"the video data cannot be decoded ({self._stream.codec_context.name}): {exc}") from None
        finally:
            self._decoder = None
        raise VideoError(self.path, "no frame could be decoded (truncated or corrupt file)")

    def _trim_undecodable_tail(self, pts: list[int], keyframes: list[int]) -> list[int]:
        """Drop trailing packets that yield no frame (edit lists, truncated files).

        The index must promise only frames that decode, so we decode the last GOP once
        (landing where the seek says it lands: see ``_start_decoder``).
        """
        decoded: list[int] = []
        try:
            self._start_decoder(pts[-1])
            assert self._decoder is not None
            for frame in self._decoder:
                if frame.pts is not None:
                    decoded.append(frame.pts)
        except av.error.FFmpegError as exc:
            log.warning("%s: decoding stops early: %s", self.path, exc)
        finally:
            self._decoder = None
        if not decoded:
            last_key = keyframes[-1] if keyframes else pts[0]
            return [p for p in pts if p < last_key]
        last = max(decoded)
        return [p for p in pts if p <= last]

    def _probe_first_frame(self) -> tuple[int, str, ColourTags]:
        """Rotation, pixel format and colour tags of frame 0 (decoded once while indexing)."""
        return self._first_frame_facts

    def _colour_tags(self, first: ColourTags) -> ColourTags:
        """Frame 0's tags (the bitstream's), each unspecified one taken from the container's."""
        stream = self._container_tags
        return ColourTags(
            first.primaries if first.primaries != 2 else stream.primaries,
            first.transfer if first.transfer != 2 else stream.transfer,
            first.matrix if first.matrix != 2 else stream.matrix,
            first.range or stream.range,
        )

    def _make_info(self, max_pixels: int, pix_fmt: str, first_tags: ColourTags) -> VideoInfo:
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
            colour=self._colour_tags(first_tags),
            timecode=stream_timecode(self._container, stream),
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
    def _restart(self) -> None:
        """Reopen the file and decode from its very start (what FFmpeg's own decode does)."""
        self._decoder = None
        self._container.close()
        self._container = self._open_container()
        self._stream = self._video_stream()
        self._decoder = self._container.decode(self._stream)
        self._next_index = -1

    def _start_decoder(self, target: int) -> None:
        """A decoder whose frames start at a keyframe at or before ``target`` (a pts).

        After a seek, decoding really starts at the first frame whose time is one of the
        index's keyframes (the landing); frames before it, and frames earlier than it
        (open-GOP leading frames), may lack their references and are dropped, so what is
        returned equals a sequential decode. If the landing is past ``target`` the seek
        overshot (MPEG-PS/TS land a GOP late): retry from an earlier keyframe, and
        remember how far back this file needs.
        """
        k = bisect.bisect_right(self._keyframe_pts, target) - 1
        keys = self._keyframe_set
        while True:
            aim = k - self._seek_back
            if aim < 0 or self._seek_back > MAX_SEEK_BACK:
                self._restart()
                return
            self._decoder = None
            self._container.seek(self._keyframe_pts[aim], stream=self._stream, backward=True, any_frame=False)
            frames = self._container.decode(self._stream)
            landing = None
            try:
                for frame in frames:
                    p = _pts_of(frame)
                    if p is None:
                        continue
                    if p > target:
                        break
                    if p in keys:
                        landing = frame
                        break
            except av.error.FFmpegError as exc:
                log.warning("%s: decode error after a seek: %s", self.path, exc)
            if landing is not None:
                start = _pts_of(landing)
                chained = itertools.chain([landing], frames)
                self._decoder = (f for f in chained if _pts_of(f) is None or _pts_of(f) >= start)  # type: ignore[operator]
                self._next_index = -1
                return
            self._seek_back += 1  # landed past the target: this file needs seeks further back
            log.debug("%s: a seek overshot; seeking %d keyframe(s) further back from now on", self.path, self._seek_back)

    def _decode_to(self, index: int) -> np.ndarray:
        target = self._pts[index]
        if self._decoder is None or not self._decoding_on_is_cheaper(index):
            self._start_decoder(target)  # a far jump: from the keyframe at or before the target
        for _ in range(2):
            frame = self._decode_forward(index)
            if frame is not None:
                return frame
            # The decoder passed the target without returning it: decode from the file's start.
            self._restart()
        raise VideoError(self.path, f"frame {index} cannot be decoded (file may be truncated)")

    def _decoding_on_is_cheaper(self, index: int) -> bool:
        """The running decoder should go on to ``index`` rather than seek: the target is ahead and
        close, or no keyframe lies between (a seek would start before where the decoder is; in a
        long-GOP clip every far step of a scrub seeked back to the GOP's start)."""
        if not 0 <= self._next_index <= index:
            return False
        if index <= self._next_index + 32 or self._next_index >= len(self._pts):
            return index <= self._next_index + 32
        k = bisect.bisect_right(self._keyframe_pts, self._pts[index]) - 1 - self._seek_back
        return k < 0 or self._keyframe_pts[k] <= self._pts[self._next_index]

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
        pts = _pts_of(frame)
        if pts is None:
            return self._next_index if self._next_index >= 0 else None
        i = bisect.bisect_left(self._pts, pts)
        if i < len(self._pts) and self._pts[i] == pts:
            return i
        return None

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        try:
            if self.depth == 8 and self._deep:
                rgb = narrow(frame.to_ndarray(format=RGB_FORMATS[16]))
            else:
                rgb = frame.to_ndarray(format=RGB_FORMATS[self.depth])
        except (av.error.FFmpegError, ValueError) as exc:  # a damaged frame FFmpeg cannot convert
            raise VideoError(self.path, f"a frame cannot be converted to RGB (damaged stream?): {exc}") from None
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
