"""Media for the pro-format tests: deep synthetic clips, and the FFmpeg command line from imageio-ffmpeg
as an independent encoder and decoder (a different FFmpeg build from PyAV's)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from engine.video.png import encode_png, write_file_checked


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def deep_frames(count: int = 6, width: int = 64, height: int = 48, seed: int = 0) -> list[np.ndarray]:
    """``[H, W, 3]`` uint16 frames that 8 bits cannot hold: slow gradients (about 1/4 of 8-bit steps
    per pixel) and a soft-edged disc moving right; no hard colour edges (4:2:2 codecs stay accurate)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.25, 0.45, size=3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = []
    for t in range(count):
        f = np.empty((height, width, 3))
        f[..., 0] = base[0] + 0.25 * xx / width
        f[..., 1] = base[1] + 0.2 * yy / height
        f[..., 2] = base[2] + 0.1 * (xx + yy) / (width + height)
        cx, cy, r = width * 0.35 + 2 * t, height * 0.5, min(width, height) * 0.25
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        w = np.clip((r - d) / 4.0, 0.0, 1.0)[..., None]  # 4-pixel soft edge
        disc = np.dstack([0.75 + 0.05 * yy / height, 0.35 + 0.1 * xx / width, 0.25 + 0 * xx])
        f = f * (1 - w) + disc * w
        frames.append(np.round(np.clip(f, 0, 1) * 65535).astype(np.uint16))
    return frames


def disc_mask(width: int = 64, height: int = 48, t: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    cx, cy, r = width * 0.35 + 2 * t, height * 0.5, min(width, height) * 0.25
    return np.where((xx - cx) ** 2 + (yy - cy) ** 2 < (r - 2) ** 2, 255, 0).astype(np.uint8)


def write_png16_folder(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        write_file_checked(folder / f"{i:05d}.png", encode_png(f))
    return folder


def encode_with_cli(
    out: Path,
    frames: list[np.ndarray],
    codec_args: list[str],
    *,
    fps: int = 24,
    tags: tuple[str, str, str, str] = ("bt709", "bt709", "bt709", "tv"),
    timecode: str | None = "01:00:00:00",
) -> Path:
    """A source clip made by the ffmpeg command line (not by our writer) from 16-bit PNGs, tagged."""
    pngs = write_png16_folder(out.parent / f"{out.stem}_pngs", frames)
    primaries, trc, matrix, rng = tags
    cmd = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-framerate", str(fps), "-i", str(pngs / "%05d.png")]
    cmd += ["-vf", f"scale=out_color_matrix={matrix}:out_range={rng},setparams=color_primaries={primaries}:color_trc={trc}"]
    cmd += [*codec_args, "-color_primaries", primaries, "-color_trc", trc, "-colorspace", matrix, "-color_range", rng]
    if timecode:
        cmd += ["-timecode", timecode]
    subprocess.run([*cmd, str(out)], check=True, capture_output=True, timeout=120)
    return out


def cli_decode(path: Path, pix_fmt: str, width: int, height: int, *, input_args: tuple[str, ...] = ()) -> np.ndarray:
    """Every frame as the FFmpeg command line decodes it: ``[T, H, W, C]`` (uint16 for 16-bit, float32 for f32)."""
    cmd = [
        ffmpeg(),
        "-hide_banner",
        "-loglevel",
        "error",
        *input_args,
        "-i",
        str(path),
        "-f",
        "rawvideo",
        "-pix_fmt",
        pix_fmt,
        "-",
    ]
    raw = subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout
    dtype, channels = {
        "rgb48le": (np.uint16, 3),
        "rgba64le": (np.uint16, 4),
        "rgb24": (np.uint8, 3),
        "gray16le": (np.uint16, 1),
        "gbrpf32le": (np.float32, 3),
        "gbrapf32le": (np.float32, 4),
    }[pix_fmt]
    arr = np.frombuffer(raw, dtype)
    if pix_fmt.startswith("gbr"):  # planar G, B, R(, A)
        planes = arr.reshape(-1, channels, height, width)
        order = [2, 0, 1, 3][:channels]
        return np.ascontiguousarray(planes[:, order].transpose(0, 2, 3, 1))
    return arr.reshape(-1, height, width, channels)


def cli_probe(path: Path, *input_args: str) -> str:
    """What ``ffmpeg -i`` says about a file (its stream line shows the colour tags, its metadata the timecode)."""
    result = subprocess.run([ffmpeg(), "-hide_banner", *input_args, "-i", str(path)], capture_output=True, text=True, timeout=60)
    return result.stderr


def cli_video_line(path: Path) -> str:
    return next(line for line in cli_probe(path).splitlines() if "Video:" in line)


def cli_timecode(path: Path) -> str | None:
    match = re.search(r"timecode\s*:\s*(\S+)", cli_probe(path))
    return match.group(1) if match else None


def cli_encoders() -> str:
    return subprocess.run([ffmpeg(), "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=60).stdout
