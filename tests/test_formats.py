"""Pro formats: encode, decode with our reader and with the FFmpeg command line (imageio-ffmpeg's
own build, a different FFmpeg from PyAV's), compare pixels (exact where lossless, bounded for
ProRes/DNxHR) and metadata (colour tags, timecode, frame count, rate)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.video import open_video
from engine.video.atomic import atomic_file, atomic_folder
from engine.video.colour import ColourTags, from_linear, stream_timecode, to_linear
from engine.video.depth import narrow
from engine.video.errors import VideoError
from engine.video.formats import FORMATS, MATTE_FORMATS, resolve_format
from engine.video.pro_writer import encode_mov_into, encoders_found
from engine.video.sequences import (
    SIDECAR,
    davis_palette,
    decode_exr,
    labels_from_masks,
    write_indexed_into,
    write_sequence_into,
)
from tests.formats_media import (
    cli_decode,
    cli_encoders,
    cli_timecode,
    cli_video_line,
    deep_frames,
    encode_with_cli,
    write_png16_folder,
)

BT709 = ColourTags(1, 1, 1, 1)
W, H = 64, 48


def _levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| in 8-bit levels, for uint16 arrays."""
    return np.abs(a.astype(np.float64) - b.astype(np.float64)) / 257.0


def _write_mov(path: Path, frames, fmt: str, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with atomic_file(path) as tmp:
        return encode_mov_into(tmp, path, frames, 24.0, fmt, **kwargs)


def _read_all(path: Path, depth: int = 16, fps: float | None = None) -> np.ndarray:
    reader = open_video(path, depth=depth, fps=fps)
    try:
        return np.stack([reader[i] for i in range(len(reader))])
    finally:
        reader.close()


# ----------------------------------------------------------------------------- encoders present
def test_the_pinned_wheels_have_the_encoders_the_formats_name() -> None:
    found = encoders_found()
    assert found["prores-422-hq"] == "prores_ks" and found["prores-4444"] == "prores_ks"
    assert found["dnxhr-hqx"] == "dnxhd" and found["exr"] == "exr"
    listing = cli_encoders()  # the command line used to check our files can decode what it can encode
    for name in ("prores_ks", "dnxhd", "exr", "png"):
        assert f" {name} " in listing


def test_one_table_of_formats_resolves_paths() -> None:
    assert resolve_format("a.mp4").name == "video" and resolve_format("a.mkv", lossless=True).name == "lossless"
    assert resolve_format("a.mov", "prores-4444").alpha
    assert resolve_format("frames", "exr").sequence
    assert resolve_format("m.mov", matte=True).name == "prores-4444" and resolve_format("m", matte=True).name == "png16"
    for path, name, problem in (
        ("a.mp4", "prores-422-hq", "unsupported output type '.mp4'"),
        ("a.mov", "png16", "writes a folder"),
        ("a", "auto", "unsupported output type"),
        ("a.mov", "dnxhr-hqx", None),
    ):
        if problem is None:
            resolve_format(path, name)
            continue
        with pytest.raises(ValueError, match=problem):
            resolve_format(path, name)
    with pytest.raises(ValueError, match="matte"):
        resolve_format("m.mov", "dnxhr-hqx", matte=True)
    assert set(MATTE_FORMATS) <= set(FORMATS) and all(f.alpha for f in MATTE_FORMATS.values())


# ----------------------------------------------------------------------------- reading deep sources
def test_a_10_bit_source_is_read_at_full_depth_exactly_as_ffmpeg_decodes_it(tmp_path: Path) -> None:
    frames = deep_frames()
    src = encode_with_cli(tmp_path / "src.mov", frames, ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"])
    ours = _read_all(src, 16)
    assert ours.dtype == np.uint16 and ours.shape == (6, H, W, 3)
    assert np.array_equal(ours, cli_decode(src, "rgb48le", W, H))  # bit for bit
    eight = _read_all(src, 8)  # what engines read: the 16-bit frame rounded
    assert eight.dtype == np.uint8 and np.array_equal(eight, narrow(ours))
    assert len(np.unique(ours[..., 0])) > 8 * len(np.unique(eight[..., 0]))  # depth the 8-bit path drops
    # why not FFmpeg's own rgb24 conversion: it truncates, about 1.35 levels darker than the source
    truncated = cli_decode(src, "rgb24", W, H).astype(np.float64)
    original = np.stack(frames) / 257.0
    assert (truncated - original).mean() < -1.0 and abs((eight - original).mean()) < 0.2
    info = open_video(src).info
    assert info.bit_depth == 10 and info.timecode == "01:00:00:00"
    assert info.colour == ColourTags(1, 1, 1, 1) and "bt709 matrix" in info.describe()


def test_a_16_bit_png_folder_is_read_exactly(tmp_path: Path) -> None:
    frames = deep_frames(3)
    folder = write_png16_folder(tmp_path / "pngs", frames)
    assert np.array_equal(_read_all(folder, 16, fps=24), np.stack(frames))
    assert np.array_equal(_read_all(folder, 8, fps=24), narrow(np.stack(frames)))


def test_non_709_tags_are_read_as_they_are(tmp_path: Path) -> None:
    src = encode_with_cli(
        tmp_path / "sd.mov",
        deep_frames(2),
        ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"],
        tags=("smpte170m", "smpte170m", "smpte170m", "tv"),
        timecode="00:59:58:02",
    )
    info = open_video(src).info
    assert info.colour.names == {"primaries": "smpte170m", "transfer": "smpte170m", "matrix": "smpte170m", "range": "tv"}
    assert info.timecode == "00:59:58:02"


# ----------------------------------------------------------------------------- ProRes / DNxHR
def _conversion_only(frames: list[np.ndarray], fmt: str, tags: ColourTags) -> np.ndarray:
    """The frames through the writer's RGB -> YUV conversion and the reader's way back, no codec:
    what 4:2:2 and 10 bits alone do, so the codec's own loss can be bounded tightly."""
    from engine.video.pro_writer import MOV_CODECS, _yuv_frame, written_tags

    tags = written_tags(fmt, tags)
    return np.stack([_yuv_frame(f, None, MOV_CODECS[fmt], tags).to_ndarray(format="rgb48le") for f in frames])


@pytest.mark.parametrize(
    ("fmt", "pix", "profile", "overall"),
    [("prores-422-hq", "yuv422p10le", "HQ", (0.6, 7.0)), ("prores-4444", "yuva444p12le", "4444", (0.2, 1.0))],
)
def test_prores_round_trip(tmp_path: Path, fmt: str, pix: str, profile: str, overall: tuple[float, float]) -> None:
    frames = deep_frames()
    out = tmp_path / "out.mov"
    assert _write_mov(out, frames, fmt, colour=BT709, timecode="10:00:00:00") == "prores_ks"
    ours, cli = _read_all(out), cli_decode(out, "rgb48le", W, H)
    assert np.array_equal(ours, cli)
    codec_loss = _levels(ours, _conversion_only(frames, fmt, BT709))
    assert codec_loss.mean() < 0.15 and np.percentile(codec_loss, 99) < 1.0, (codec_loss.mean(), codec_loss.max())
    err = _levels(ours, np.stack(frames))  # with 4:2:2 at the disc's colour edge
    assert err.mean() < overall[0] and np.percentile(err, 99) < overall[1], (err.mean(), np.percentile(err, 99))
    assert len(np.unique(ours[..., 0])) > 1000  # not 8-bit values in a 10-bit file
    line = cli_video_line(out)
    assert f"prores ({profile})" in line and f"{pix}(tv, bt709, progressive)" in line and "24 fps" in line
    assert cli_timecode(out) == "10:00:00:00" and open_video(out).info.timecode == "10:00:00:00"
    assert open_video(out).info.colour == BT709 and len(ours) == 6


def test_prores_4444_alpha_is_exact(tmp_path: Path) -> None:
    frames = deep_frames(4)
    rng = np.random.default_rng(1)
    alphas = [rng.integers(0, 256, (H, W), dtype=np.uint8) for _ in frames]
    out = tmp_path / "alpha.mov"
    _write_mov(out, frames, "prores-4444", colour=BT709, alpha=alphas)
    decoded = cli_decode(out, "rgba64le", W, H)[..., 3]
    # ProRes codes alpha losslessly; only the 10-bit input step rounds: every 8-bit value comes back exactly
    assert np.array_equal(np.rint(decoded / 257.0).astype(np.uint8), np.stack(alphas))
    assert _levels(decoded, np.stack(alphas).astype(np.uint16) * 257).max() < 0.5
    ours = open_video(out)
    assert ours.info.has_alpha and ours.info.bit_depth == 12


def test_dnxhr_hqx_round_trip_and_its_size_limit(tmp_path: Path) -> None:
    frames = deep_frames(3, 256, 128)
    # bt2020 primaries and bt2020-10 transfer are copied; the matrix is BT.709 (DNxHR decoders apply no other)
    tags = ColourTags(9, 14, 9, 1)
    out = tmp_path / "dnx.mov"
    assert _write_mov(out, frames, "dnxhr-hqx", colour=tags, timecode="01:00:00:00") == "dnxhd"
    ours = _read_all(out)
    assert np.array_equal(ours, cli_decode(out, "rgb48le", 256, 128))
    codec_loss = _levels(ours, _conversion_only(frames, "dnxhr-hqx", tags))
    assert codec_loss.mean() < 0.15 and np.percentile(codec_loss, 99) < 1.0, (codec_loss.mean(), codec_loss.max())
    err = _levels(ours, np.stack(frames))
    assert err.mean() < 0.6 and np.percentile(err, 99) < 7.0, (err.mean(), np.percentile(err, 99))  # the RGB survives
    line = cli_video_line(out)
    assert "dnxhd (DNXHR HQX)" in line and "yuv422p10le(tv, bt709/bt2020/bt2020-10" in line
    assert open_video(out).info.colour == ColourTags(9, 14, 1, 1) and cli_timecode(out) == "01:00:00:00"
    with pytest.raises(VideoError, match="at least 256x120"):
        _write_mov(tmp_path / "small.mov", deep_frames(2), "dnxhr-hqx")
    assert not (tmp_path / "small.mov").exists()


def test_untagged_sources_round_trip_through_ffmpeg(tmp_path: Path) -> None:
    """No tags: written with the matrix FFmpeg decodes untagged files with, so the colours come back."""
    frames = deep_frames(2)
    out = tmp_path / "plain.mov"
    _write_mov(out, frames, "prores-422-hq")
    assert "yuv422p10le(tv, progressive)" in cli_video_line(out)
    codec_loss = _levels(cli_decode(out, "rgb48le", W, H), _conversion_only(frames, "prores-422-hq", ColourTags()))
    assert codec_loss.mean() < 0.15 and np.percentile(codec_loss, 99) < 1.0


# ----------------------------------------------------------------------------- sequences
def test_png16_sequence_is_exact(tmp_path: Path) -> None:
    frames = deep_frames(3)
    folder = tmp_path / "seq"
    with atomic_folder(folder) as tmp:
        write_sequence_into(tmp, folder, frames, "png16", fps=25.0, colour=BT709, timecode="01:00:00:00")
    assert np.array_equal(_read_all(folder, 16, fps=25), np.stack(frames))
    assert np.array_equal(cli_decode(folder / "frame_%05d.png", "rgb48le", W, H), np.stack(frames))
    sidecar = json.loads((folder / SIDECAR).read_text())
    assert sidecar["timecode"] == "01:00:00:00" and sidecar["fps"] == 25.0 and sidecar["frames"] == 3
    assert sidecar["colour"]["names"]["matrix"] == "bt709" and sidecar["values"] == "encoded"


def test_exr_sequence_holds_linear_light_to_half_precision(tmp_path: Path) -> None:
    frames = deep_frames(2)
    folder = tmp_path / "exr"
    with atomic_folder(folder) as tmp:
        notes = write_sequence_into(tmp, folder, frames, "exr", fps=24.0, colour=BT709)
    assert notes == []
    ours = np.stack([decode_exr((folder / f"frame_{i:05d}.exr").read_bytes()) for i in range(2)])
    cli = cli_decode(folder / "frame_%05d.exr", "gbrpf32le", W, H)
    assert np.array_equal(ours, cli)
    expected = to_linear(np.stack(frames).astype(np.float32) / 65535.0, 1)
    assert np.abs(ours - expected).max() <= np.abs(expected).max() * 2**-10  # half float: 11 significant bits
    back = from_linear(ours, 1) * 65535.0
    assert np.abs(back - np.stack(frames)).max() / 257 < 0.5  # re-encoded, within half an 8-bit level
    assert json.loads((folder / SIDECAR).read_text())["values"] == "scene-linear"


def test_exr_of_a_pq_source_says_it_is_not_linear(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    with atomic_folder(folder) as tmp:
        notes = write_sequence_into(tmp, folder, deep_frames(1), "exr", fps=24.0, colour=ColourTags(9, 16, 9, 1))
    assert notes and "smpte2084" in notes[0] and json.loads((folder / SIDECAR).read_text())["values"] == "encoded"


def test_davis_indexed_pngs(tmp_path: Path) -> None:
    a = np.zeros((H, W), np.uint8)
    a[5:20, 5:20] = 255
    b = np.zeros((H, W), np.uint8)
    b[15:30, 15:30] = 255
    labels = labels_from_masks([a, b])
    assert set(np.unique(labels)) == {0, 1, 2} and labels[16, 16] == 2  # later operations on top
    folder = tmp_path / "idx"
    with atomic_folder(folder) as tmp:
        write_indexed_into(tmp, folder, [labels, labels], objects=["remove", "insert"])
    with Image.open(folder / "00000.png") as im:
        assert im.mode == "P" and np.array_equal(np.asarray(im), labels)
        palette = im.getpalette()[:9]
    assert palette == [0, 0, 0, 128, 0, 0, 0, 128, 0] == davis_palette()[:9]
    rgb = cli_decode(folder / "%05d.png", "rgb24", W, H)
    assert tuple(rgb[0, 16, 16]) == (0, 128, 0) and tuple(rgb[0, 6, 6]) == (128, 0, 0)
    assert json.loads((folder / SIDECAR).read_text())["objects"] == {"1": "remove", "2": "insert"}


def test_timecode_is_found_where_demuxers_put_it() -> None:
    class S:
        def __init__(self, md: dict[str, str]) -> None:
            self.metadata = md

    class Streams:
        data = [S({"timecode": "01:02:03:04"})]

    class C:
        streams = Streams()
        metadata: dict[str, str] = {}

    assert stream_timecode(C(), S({})) == "01:02:03:04"
    assert stream_timecode(C(), S({"timecode": "00:00:10:00"})) == "00:00:10:00"
