"""Reading every container, codec and oddity editors bring, with frame-accurate access."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.video import FrameFolderReader, VideoError, VideoFileReader, open_video, require_propagatable
from tests.video_factory import encode, frame_id, moving_frames, write_frame_folder

COUNT = 24

# (file name, codec, pix_fmt, options, container format)
FORMATS = [
    ("h264.mp4", "libx264", "yuv420p", {"crf": "10"}, None),
    ("h264.mov", "libx264", "yuv420p", {"crf": "10"}, None),
    ("h264.mkv", "libx264", "yuv420p", {"crf": "10"}, None),
    ("vp9.webm", "libvpx-vp9", "yuv420p", {"crf": "10", "b": "0"}, None),
    ("vp8.webm", "libvpx", "yuv420p", {"crf": "4", "b": "2M"}, None),
    ("mjpeg.avi", "mjpeg", "yuvj420p", {"q:v": "2"}, None),
    ("mpeg2.mpg", "mpeg2video", "yuv420p", {"q:v": "2"}, "mpeg"),
    ("msmpeg4.avi", "msmpeg4", "yuv420p", {"q:v": "2"}, None),
    ("cinepak.avi", "cinepak", "rgb24", {}, None),
]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    frames = moving_frames(COUNT, 160, 96)
    return {
        name: encode(folder / name, frames, codec, pix_fmt=pix, options=opts, fmt=fmt) for name, codec, pix, opts, fmt in FORMATS
    }


@pytest.mark.parametrize("name", [f[0] for f in FORMATS])
def test_every_format_reads_with_exact_frame_access(clips: dict[str, Path], name: str) -> None:
    reader = open_video(clips[name])
    assert len(reader) == COUNT
    assert reader.size == (160, 96)
    assert reader.info.fps == pytest.approx(24, rel=1e-3)
    # random access in a scrambled order returns the right frames (identified by the bar)
    for index in [17, 3, 23, 0, 11, 12, 5]:
        frame = reader[index]
        assert frame.shape == (96, 160, 3) and frame.dtype == np.uint8
        assert frame_id(frame, COUNT) == index, f"{name}: asked for frame {index}"
    # random access agrees bit-for-bit with sequential iteration
    sequential = list(open_video(clips[name]))
    for index in (0, 9, 23):
        np.testing.assert_array_equal(reader[index], sequential[index])


def test_odd_size(tmp_path: Path) -> None:
    frames = moving_frames(6, 641, 359)
    path = encode(tmp_path / "odd.mp4", frames, "libx264", pix_fmt="yuv444p", options={"crf": "8"})
    reader = open_video(path)
    assert reader.size == (641, 359)
    assert reader[5].shape == (359, 641, 3)
    assert np.abs(reader[2].astype(int) - frames[2]).mean() < 3


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_metadata_is_applied(tmp_path: Path, rotation: int) -> None:
    frames = moving_frames(4, 64, 32)
    path = encode(tmp_path / f"rot{rotation}.mp4", frames, "libx264", options={"crf": "5"}, rotation=rotation)
    reader = open_video(path)
    expected = np.rot90(frames[1], k=(rotation % 360) // 90)
    assert reader.info.rotation == rotation % 360
    assert reader[1].shape == expected.shape
    error = np.abs(reader[1].astype(int) - expected).mean()
    wrong = np.abs(reader[1].astype(int) - np.rot90(expected, 2)).mean()
    assert error < 8 and error < wrong / 4, (error, wrong)


def test_variable_frame_rate_keeps_every_frame_and_its_time(tmp_path: Path) -> None:
    times = [0.0, 0.04, 0.08, 0.3, 0.34, 0.9, 0.94, 0.98]
    frames = moving_frames(len(times), 64, 48)
    path = encode(tmp_path / "vfr.mkv", frames, "libx264", options={"crf": "5"}, timestamps=times)
    reader = open_video(path)
    assert len(reader) == len(times)
    assert reader.info.variable_frame_rate
    assert reader.timestamps() == pytest.approx(times, abs=2e-3)
    assert [frame_id(reader[i], len(times)) for i in (7, 2, 5)] == [7, 2, 5]


def test_alpha_grayscale_and_high_bit_depth_videos(tmp_path: Path) -> None:
    rgba = np.dstack([moving_frames(3, 32, 32)[0], np.full((32, 32), 128, np.uint8)])
    alpha = encode(tmp_path / "alpha.mov", [rgba] * 3, "png", pix_fmt="rgba", in_format="rgba")
    info = open_video(alpha).info
    assert info.has_alpha and open_video(alpha)[0].shape == (32, 32, 3)
    np.testing.assert_array_equal(open_video(alpha)[0], rgba[..., :3])

    gray = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (32, 1))
    gpath = encode(tmp_path / "gray.mkv", [gray] * 3, "ffv1", pix_fmt="gray", in_format="gray")
    reader = open_video(gpath)
    assert reader.info.is_grayscale
    np.testing.assert_array_equal(reader[1], np.dstack([gray] * 3))

    deep = (np.tile(np.linspace(0, 65535, 32), (32, 1))).astype(np.uint16)
    dpath = encode(tmp_path / "gray16.mkv", [deep] * 2, "ffv1", pix_fmt="gray16le", in_format="gray16le")
    reader = open_video(dpath)
    assert reader.info.bit_depth == 16
    assert np.abs(reader[0][..., 0].astype(int) - (deep >> 8)).max() <= 1

    ten = moving_frames(2, 64, 32)
    tpath = encode(tmp_path / "ten.mkv", ten, "ffv1", pix_fmt="yuv420p10le")
    assert open_video(tpath).info.bit_depth == 10


def test_frame_folders_png_jpg_16bit_alpha(tmp_path: Path) -> None:
    frames = moving_frames(5, 40, 30)
    folder = write_frame_folder(tmp_path / "png", frames, start=0)
    reader = open_video(folder, fps=12)
    assert isinstance(reader, FrameFolderReader) and len(reader) == 5 and reader.fps == 12
    np.testing.assert_array_equal(reader[3], frames[3])

    jpg = write_frame_folder(tmp_path / "jpg", frames, ext=".jpg")
    assert np.abs(open_video(jpg)[4].astype(int) - frames[4]).mean() < 6

    deep = [(f.astype(np.uint16) * 257) for f in frames]
    deep_folder = tmp_path / "deep"
    deep_folder.mkdir()
    import cv2

    for i, f in enumerate(deep):
        cv2.imwrite(str(deep_folder / f"{i:03d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    reader = open_video(deep_folder)
    assert reader.info.bit_depth == 16
    np.testing.assert_array_equal(reader[2], frames[2])

    rgba = [np.dstack([f, np.full(f.shape[:2], 77, np.uint8)]) for f in frames]
    reader = open_video(write_frame_folder(tmp_path / "rgba", rgba))
    assert reader.info.has_alpha
    np.testing.assert_array_equal(reader[1], frames[1])

    gray = [f[..., 0] for f in frames]
    reader = open_video(write_frame_folder(tmp_path / "gray", gray))
    assert reader.info.is_grayscale and reader[0].shape == (30, 40, 3)


def test_huge_resolution_is_processed_at_a_bounded_size(tmp_path: Path) -> None:
    frames = moving_frames(2, 640, 480)
    path = encode(tmp_path / "big.mp4", frames, "libx264")
    reader = VideoFileReader(path, max_pixels=320 * 240)
    assert reader.size == (320, 240)
    assert reader.info.downscaled and reader.info.source_width == 640
    assert any("very large frames" in w for w in reader.info.warnings)
    assert reader[1].shape == (240, 320, 3)


def test_bounded_cache(tmp_path: Path) -> None:
    frames = moving_frames(30, 64, 64)
    path = encode(tmp_path / "c.mp4", frames, "libx264")
    one_frame = 64 * 64 * 3
    reader = VideoFileReader(path, cache_bytes=5 * one_frame)
    for i in range(30):
        reader[i]
    assert reader._cache.nbytes <= 5 * one_frame


# ------------------------------------------------------------------ bad input
def _expect(path: Path, *words: str) -> VideoError:
    with pytest.raises(VideoError) as err:
        open_video(path)
    message = str(err.value)
    assert str(path.name) in message, message
    for word in words:
        assert word in message.lower(), message
    return err.value


def test_bad_inputs_name_the_file_and_the_problem(tmp_path: Path) -> None:
    _expect(tmp_path / "missing.mp4", "not found")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    _expect(text, "not a video")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    _expect(empty, "empty")
    good = encode(tmp_path / "good.mp4", moving_frames(20, 64, 64), "libx264")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _expect(truncated, "truncated")


def test_zero_frames_and_single_frame(tmp_path: Path) -> None:
    import av

    path = tmp_path / "zero.mkv"
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=24)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    container.start_encoding()
    container.close()
    _expect(path, "zero frames")

    single = encode(tmp_path / "single.mp4", moving_frames(1, 64, 64), "libx264")
    reader = open_video(single)
    assert len(reader) == 1
    assert any("single frame" in w for w in reader.info.warnings)
    with pytest.raises(VideoError, match="at least 2"):
        require_propagatable(reader)


def test_unreadable_codec(tmp_path: Path) -> None:
    good = encode(tmp_path / "mj.avi", moving_frames(4, 32, 32), "mjpeg", pix_fmt="yuvj420p")
    data = good.read_bytes().replace(b"MJPG", b"ZQXW")
    bad = tmp_path / "unknown_codec.avi"
    bad.write_bytes(data)
    _expect(bad, "codec")


def test_frame_folder_gaps_and_mixed_sizes(tmp_path: Path) -> None:
    frames = moving_frames(5, 32, 24)
    gappy = write_frame_folder(tmp_path / "gaps", frames)
    (gappy / "frame_0003.png").unlink()
    _expect(gappy, "gaps", "3")
    mixed = write_frame_folder(tmp_path / "mixed", frames)
    write_frame_folder(tmp_path / "mixed", [moving_frames(1, 48, 24)[0]], start=4)
    with pytest.raises(VideoError, match="frame_0004.png.*differs"):
        open_video(mixed)
    empty = tmp_path / "nothing"
    empty.mkdir()
    _expect(empty, "no image frames")


def test_index_out_of_range_message(tmp_path: Path) -> None:
    reader = open_video(encode(tmp_path / "x.mp4", moving_frames(3, 32, 32), "libx264"))
    with pytest.raises(IndexError, match="has 3 frames"):
        reader[3]
    np.testing.assert_array_equal(reader[-1], reader[2])


def test_a_far_step_forward_in_one_gop_decodes_on_instead_of_seeking_back(tmp_path: Path) -> None:
    """Scrubbing a long-GOP clip (A/B wipe against the original): each step further than 32
    frames seeked back to the GOP's start and decoded everything again."""
    frames = moving_frames(90, 64, 48)
    clip = encode(tmp_path / "gop.mp4", frames, "libx264", options={"g": "250", "keyint_min": "250"})
    reader = VideoFileReader(clip)
    seeks: list[int] = []
    real = reader._start_decoder
    reader._start_decoder = lambda target: (seeks.append(target), real(target))[1]  # type: ignore[method-assign]
    reader[1]
    first = reader[80]  # 79 frames on, no keyframe between: the running decoder goes on
    assert len(seeks) == 1
    reader[5]  # backwards: a seek
    assert len(seeks) == 2
    np.testing.assert_array_equal(first, VideoFileReader(clip)[80])  # the same frame a fresh reader gives
