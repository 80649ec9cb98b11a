"""Streams FFmpeg decodes must be read exactly: MPEG-2 program streams with B-frames and a
non-zero start time, MPEG-TS, and streams that start in the middle of a GOP.

"Exactly" means: the same number of frames as FFmpeg's own sequential decode, and every
frame, reached sequentially or by random access in any order, equal to it bit for bit.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.video import VideoError, open_video
from tests.video_factory import moving_frames


def encode_stream(
    path: Path,
    frames: list[np.ndarray],
    codec: str,
    fmt: str,
    *,
    fps: int = 25,
    start_seconds: float = 0.0,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode with B-frames (``bf``) and GOPs (``g``) as ``options`` say, starting at ``start_seconds``."""
    container = av.open(str(path), "w", format=fmt)
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
    stream.pix_fmt = "yuv420p"
    stream.options = options or {}
    stream.codec_context.time_base = Fraction(1, fps)
    offset = int(round(start_seconds * fps))
    for i, img in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = offset + i, Fraction(1, fps)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def cut_before_first_keyframe(src: Path, dst: Path, skip_packets: int) -> Path:
    """Stream-copy ``src`` without its first ``skip_packets`` packets: it then starts mid-GOP."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=inp.format.name.split(",")[0]) as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        kept = 0
        for i, packet in enumerate(inp.demux(vin)):
            if packet.dts is None or i < skip_packets:
                continue
            if kept == 0:
                assert not packet.is_keyframe, "the cut must leave a non-keyframe first"
            packet.stream = vout
            out.mux(packet)
            kept += 1
    return dst


def ffmpeg_decode(path: Path) -> list[np.ndarray]:
    """FFmpeg's own answer: decode the whole stream from the start, in order."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]


def assert_reads_exactly(path: Path, expected_count: int | None = None) -> None:
    reference = ffmpeg_decode(path)
    if expected_count is not None:
        assert len(reference) == expected_count
    reader = open_video(path)
    assert len(reader) == len(reference), f"{path.name}: reader says {len(reader)} frames, FFmpeg decodes {len(reference)}"
    assert reader.info.frame_count == len(reference)
    n = len(reference)
    rng = np.random.default_rng(0)
    order = [0, n - 1, n // 2, 1, n - 2, *rng.permutation(n)[:25].tolist(), n // 3, 0]
    for index in order:
        np.testing.assert_array_equal(reader[index], reference[index], err_msg=f"{path.name}: frame {index} (random access)")
    fresh = open_video(path)
    for index, frame in enumerate(fresh):
        np.testing.assert_array_equal(frame, reference[index], err_msg=f"{path.name}: frame {index} (sequential)")
    reader.close()
    fresh.close()


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return moving_frames(190, 176, 100, seed=3)


def test_mpeg2_program_stream_with_b_frames_and_a_start_time(tmp_path: Path) -> None:
    """The reported file: 720 px wide MPEG-2 with B-frames in a program stream starting at 10 s (was: 180 frames, frame 0 refused)."""
    big = moving_frames(190, 720, 404, seed=3)
    path = encode_stream(
        tmp_path / "clip.mpg", big, "mpeg2video", "mpeg", start_seconds=10.0, options={"bf": "2", "g": "15", "qscale": "4"}
    )
    with av.open(str(path)) as c:
        assert c.streams.video[0].start_time > 0  # the case that was refused
    assert_reads_exactly(path, expected_count=190)
    info = open_video(path).info
    assert info.frame_count == 190 and info.fps == pytest.approx(25)


def test_mpeg2_transport_stream(tmp_path: Path, frames: list[np.ndarray]) -> None:
    path = encode_stream(tmp_path / "clip.ts", frames[:120], "mpeg2video", "mpegts", options={"bf": "2", "g": "12"})
    assert_reads_exactly(path, expected_count=120)


def test_h264_transport_stream_with_b_frames(tmp_path: Path, frames: list[np.ndarray]) -> None:
    path = encode_stream(tmp_path / "clip.ts", frames[:100], "libx264", "mpegts", options={"bf": "2", "g": "30", "crf": "20"})
    assert_reads_exactly(path, expected_count=100)


@pytest.mark.parametrize(
    ("codec", "fmt", "suffix"),
    [
        ("libx264", "mpegts", ".ts"),
        ("mpeg2video", "mpegts", ".ts"),
        ("mpeg2video", "mpeg", ".mpg"),
        ("libx264", "matroska", ".mkv"),
    ],
)
def test_stream_starting_mid_gop(tmp_path: Path, frames: list[np.ndarray], codec: str, fmt: str, suffix: str) -> None:
    options = {"bf": "2", "g": "24"} | ({"crf": "20"} if codec == "libx264" else {"qscale": "4"})
    whole = encode_stream(tmp_path / f"whole{suffix}", frames[:96], codec, fmt, options=options)
    cut = cut_before_first_keyframe(whole, tmp_path / f"cut{suffix}", skip_packets=5)
    with av.open(str(cut)) as c:
        first = next(p for p in c.demux(c.streams.video[0]) if p.dts is not None)
        assert not first.is_keyframe
    assert_reads_exactly(cut)


def test_a_playlist_named_mp4_is_refused_without_opening_what_it_names(tmp_path: Path, frames: list[np.ndarray]) -> None:
    """FFmpeg's concat/HLS demuxers would read other files a "clip" names (anywhere on disk)."""
    encode_stream(tmp_path / "other.ts", frames[:10], "mpeg2video", "mpegts")
    script = tmp_path / "clip.mp4"
    script.write_text("ffconcat version 1.0\nfile 'other.ts'\n")
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nother.ts\n#EXT-X-ENDLIST\n")
    with av.open(str(script)) as c:  # what FFmpeg alone does: reads other.ts through the script
        assert c.format.name == "concat" and len(list(c.demux(c.streams.video[0]))) > 1
    for path in (script, playlist):
        with pytest.raises(VideoError, match="not a video container this app reads"):
            open_video(path)
