"""Writing: round trips, lossless exactness, audio carry-over, atomic outputs."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from engine.video import VideoError, open_video, write_png_sequence, write_video
from tests.video_factory import add_tone, encode, moving_frames


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov", ".webm"])
def test_lossy_round_trip_within_codec_tolerance(tmp_path: Path, suffix: str) -> None:
    frames = moving_frames(12, 128, 72)
    out = write_video(tmp_path / f"out{suffix}", frames, fps=25, quality=12)
    reader = open_video(out)
    assert len(reader) == 12 and reader.size == (128, 72)
    assert reader.fps == pytest.approx(25, rel=1e-3)
    for i in (0, 6, 11):
        assert np.abs(reader[i].astype(int) - frames[i]).mean() < 4.0


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_lossless_is_exact(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (37, 51, 3), dtype=np.uint8) for _ in range(4)]  # odd size, noise
    reader = open_video(write_video(tmp_path / f"exact{suffix}", frames, fps=10, lossless=True))
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(reader[i], frame)


def test_h264_is_yuv420p_and_odd_sizes_keep_their_size(tmp_path: Path) -> None:
    even = write_video(tmp_path / "even.mp4", moving_frames(3, 64, 48), fps=24)
    assert av.open(str(even)).streams.video[0].codec_context.pix_fmt == "yuv420p"
    odd = write_video(tmp_path / "odd.mp4", moving_frames(3, 641, 359), fps=24)
    assert open_video(odd).size == (641, 359)


def test_h264_lookahead_is_bounded(tmp_path: Path) -> None:
    """x264 writes its settings into the stream; a 40-frame lookahead was a long export's memory peak
    (lossless x264 is constant-QP without B-frames and keeps no rate-control lookahead)."""
    out = write_video(tmp_path / "bounded.mp4", moving_frames(3, 64, 48), fps=24)
    settings = out.read_bytes().split(b"options: ", 1)[1].split(b"\x00", 1)[0].decode()
    assert "rc_lookahead=10" in settings.split()


def test_variable_frame_rate_timing_is_kept(tmp_path: Path) -> None:
    times = [0.0, 0.1, 0.15, 0.6, 0.65]
    out = write_video(tmp_path / "vfr.mp4", moving_frames(5, 64, 48), fps=20, timestamps=times)
    assert open_video(out).timestamps() == pytest.approx(times, abs=2e-3)


def test_audio_track_is_carried_over(tmp_path: Path) -> None:
    frames = moving_frames(24, 64, 48)
    silent = encode(tmp_path / "silent.mp4", frames, "libx264", fps=24)
    source = add_tone(silent, tmp_path / "with_audio.mp4", seconds=1.0)
    assert open_video(source).info.has_audio
    out = write_video(tmp_path / "edited.mp4", frames, fps=24, audio_from=source)
    info = open_video(out).info
    assert info.has_audio and info.audio_codec == "aac"
    container = av.open(str(out))
    decoded = sum(f.samples for f in container.decode(audio=0))
    assert decoded >= 16000 * 0.9
    # no audio in the source: the export simply has none
    assert not open_video(write_video(tmp_path / "plain.mp4", frames, fps=24, audio_from=silent)).info.has_audio


def test_real_clip_audio_mp3_is_carried_into_mp4(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "clips" / "cockatoo.mp4"
    reader = open_video(source)
    frames = [reader[i] for i in range(10)]
    out = write_video(tmp_path / "cockatoo_edit.mp4", frames, fps=reader.fps, audio_from=source)
    info = open_video(out).info
    assert info.has_audio and len(open_video(out)) == 10


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "result.mp4"

    def frames():
        yield np.zeros((32, 32, 3), np.uint8)
        yield np.zeros((32, 32, 3), np.uint8)
        raise RuntimeError("crash in the middle of an export")

    with pytest.raises(RuntimeError):
        write_video(target, frames(), fps=24)
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_existing_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "result.mp4"
    write_video(target, moving_frames(3, 32, 32), fps=24)
    before = target.read_bytes()
    with pytest.raises(VideoError, match="frame 1 is 16x16"):
        write_video(target, [np.zeros((32, 32, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)], fps=24)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.mp4"]


def test_bad_output_requests(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="unsupported output type"):
        write_video(tmp_path / "x.gifv", moving_frames(2, 8, 8), fps=24)
    with pytest.raises(VideoError, match="no frames"):
        write_video(tmp_path / "x.mp4", [], fps=24)
    with pytest.raises(VideoError, match="must be \\[H, W, 3\\] uint8"):
        write_video(tmp_path / "x.mp4", [np.zeros((8, 8), np.float32)], fps=24)


def test_png_sequence_round_trip_and_atomic(tmp_path: Path) -> None:
    frames = moving_frames(4, 33, 21)
    folder = write_png_sequence(tmp_path / "frames", frames)
    reader = open_video(folder)
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(reader[i], frame)
    masks = [np.full((21, 33), 255 * (i % 2), np.uint8) for i in range(3)]
    write_png_sequence(tmp_path / "masks", masks, prefix="mask_")
    assert len(list((tmp_path / "masks").glob("mask_*.png"))) == 3

    def broken():
        yield frames[0]
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_png_sequence(tmp_path / "frames", broken())
    assert len(open_video(tmp_path / "frames")) == 4  # the old sequence is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "masks"]
