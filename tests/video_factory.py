"""Makes real video files of every format and flaw the readers must handle."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def moving_frames(count: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth, codec-friendly frames: a gradient with a moving square and a frame counter band."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=3)
    yy, xx = np.mgrid[0:height, 0:width]
    frames = []
    for t in range(count):
        img = np.zeros((height, width, 3), np.uint8)
        img[..., 0] = (xx * 255 // max(width - 1, 1)).astype(np.uint8)
        img[..., 1] = (yy * 255 // max(height - 1, 1)).astype(np.uint8)
        img[..., 2] = base[2]
        s = max(4, min(width, height) // 4)
        x0 = int((t * 7) % max(width - s, 1))
        y0 = int((t * 3) % max(height - s, 1))
        img[y0 : y0 + s, x0 : x0 + s] = (255 - 20 * (t % 5), 40, 40)
        # frame id as a bright bar whose length encodes t: lets tests identify frames after lossy coding
        bar = int((t + 1) * (width - 1) / (count + 1))
        img[-4:, :bar] = 255
        img[-4:, bar:] = 0
        frames.append(img)
    return frames


def frame_id(frame: np.ndarray, count: int) -> int:
    """Inverse of the bar in ``moving_frames``: which frame this is (robust to coding noise)."""
    row = frame[-2, :, :].mean(axis=1)
    bar = int((row > 127).sum())
    width = frame.shape[1]
    return int(round(bar * (count + 1) / (width - 1))) - 1


def encode(
    path: Path,
    frames: list[np.ndarray],
    codec: str,
    *,
    fps: float = 24,
    pix_fmt: str = "yuv420p",
    fmt: str | None = None,
    options: dict[str, str] | None = None,
    rotation: int | None = None,
    timestamps: list[float] | None = None,
    in_format: str = "rgb24",
) -> Path:
    container = av.open(str(path), "w", format=fmt)
    stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
    stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
    stream.pix_fmt = pix_fmt
    if options:
        stream.options = options
    if rotation is not None:
        stream.set_display_rotation(rotation)
    if timestamps is not None:
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
    for i, img in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(img, format=in_format)
        if timestamps is not None:
            frame.pts = int(round(timestamps[i] * 1000))
            frame.time_base = Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def add_tone(video: Path, out: Path, seconds: float) -> Path:
    """Copy ``video`` adding an AAC sine track (for audio carry-over tests)."""
    src = av.open(str(video))
    dst = av.open(str(out), "w")
    vin = src.streams.video[0]
    vout = dst.add_stream_from_template(vin)
    aout = dst.add_stream("aac", rate=16000)
    aout.layout = "mono"
    for packet in src.demux(vin):
        if packet.dts is None:
            continue
        packet.stream = vout
        dst.mux(packet)
    samples = np.sin(np.arange(int(16000 * seconds)) / 16000 * 2 * np.pi * 440).astype(np.float32)
    for start in range(0, len(samples), 1024):
        chunk = samples[start : start + 1024]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
        frame.sample_rate = 16000
        frame.pts = start
        for packet in aout.encode(frame):
            dst.mux(packet)
    for packet in aout.encode():
        dst.mux(packet)
    dst.close()
    src.close()
    return out


def write_frame_folder(folder: Path, frames: list[np.ndarray], *, start: int = 1, ext: str = ".png", digits: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        out = (
            f
            if f.ndim == 2
            else (cv2.cvtColor(f, cv2.COLOR_RGBA2BGRA) if f.shape[2] == 4 else cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        )
        cv2.imwrite(str(folder / f"frame_{start + i:0{digits}d}{ext}"), out)
    return folder


def truncate(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst
