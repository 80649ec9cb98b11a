"""Video decode and encode rate of engine.video against the ffmpeg command line, same file.

    python -m benchmarks.bench_video_io            # cockatoo.mp4 (1280x720, 280 frames) when
                                                   # ../shared/data is present; writes
                                                   # docs/bench_sections/video_io.md
    python -m benchmarks.bench_video_io --quick    # a 48-frame procedural clip, seconds

Measured in one run, on one file:
- sequential decode: ``VideoFileReader`` iterating every frame (RGB arrays) vs
  ``ffmpeg -i X -f null -`` (decode only) and ``ffmpeg -i X -pix_fmt rgb24 -f null -``
  (decode + the same RGB conversion); ratios use the second, the like-for-like one;
- random access: frames at seeded random indices from a fresh reader (exact, via the
  keyframe index) vs one ``ffmpeg -ss T -i X -frames:v 1`` process per frame, which is
  how the command line fetches a single frame;
- encode: ``write_video`` (libx264, CRF 18, preset medium, yuv420p) vs ffmpeg fed the same
  RGB frames on stdin with the same codec settings.
The ffmpeg binary is imageio-ffmpeg's; its version and PyAV's libavcodec are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "docs" / "bench_sections" / "video_io.md"


# --- helpers shared with bench_interactive ------------------------------------------
def machine() -> str:
    """CPU model, core count and kernel, for the section header."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, CPU only"


def now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def load_note() -> str:
    """Load average: other jobs on the machine inflate figures when it exceeds the cores."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {os.cpu_count()} cores"


def timed_ms(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Milliseconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))])


def write_section(text: str, out: Path | None) -> None:
    """Print the section; write it to ``out`` when given."""
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)


# --- measurements -----------------------------------------------------------------------
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], stdin: bytes | None = None) -> float:
    """Seconds of one ffmpeg run; raises with ffmpeg's message when it fails."""
    t = time.perf_counter()
    proc = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-nostdin" if stdin is None else "-y", *args], input=stdin, capture_output=True
    )
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {proc.stderr.decode(errors='replace')[-400:]}")
    return seconds


def decode_ours(path: Path) -> tuple[float, float, int]:
    """(open seconds incl. index, decode seconds, frames) of a fresh reader read in order."""
    from engine.video import VideoFileReader

    t = time.perf_counter()
    reader = VideoFileReader(path)
    opened = time.perf_counter() - t
    t = time.perf_counter()
    n = 0
    for _ in reader:
        n += 1
    decode = time.perf_counter() - t
    reader.close()
    return opened, decode, n


def random_ours(path: Path, indices: list[int]) -> list[float]:
    """Milliseconds per frame, each on a freshly opened reader (opening untimed).

    A fresh reader per index keeps the figure a true cold seek: one reader decoding
    forward caches the frames it passes, so later indices would often be free.
    """
    from engine.video import VideoFileReader

    out = []
    for i in indices:
        with VideoFileReader(path) as reader:
            t = time.perf_counter()
            reader[i]
            out.append((time.perf_counter() - t) * 1000.0)
    return out


def random_ffmpeg(path: Path, times: list[float]) -> list[float]:
    """Milliseconds per frame, one accurate-seek ffmpeg process each."""
    return [
        run_ffmpeg(["-ss", f"{t:.6f}", "-i", str(path), "-frames:v", "1", "-pix_fmt", "rgb24", "-f", "null", "-"]) * 1000
        for t in times
    ]


def encode_both(frames: np.ndarray, fps: float, folder: Path) -> tuple[float, float, int, int]:
    """(our seconds, ffmpeg seconds, our bytes, ffmpeg bytes) encoding ``frames`` with x264 CRF 18."""
    from engine.video import write_video

    ours_path, ref_path = folder / "ours.mp4", folder / "ffmpeg.mp4"
    t = time.perf_counter()
    write_video(ours_path, frames, fps, quality=18)
    ours = time.perf_counter() - t
    h, w = frames.shape[1:3]
    raw = np.ascontiguousarray(frames).tobytes()
    ref = run_ffmpeg(
        [
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{w}x{h}",
            "-r",
            f"{fps:g}",
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-crf",
            "18",
            "-preset",
            "medium",
            "-pix_fmt",
            "yuv420p",
            str(ref_path),
        ],
        stdin=raw,
    )
    return ours, ref, ours_path.stat().st_size, ref_path.stat().st_size


def source(quick: bool, folder: Path) -> tuple[Path, str]:
    """The file to measure: cockatoo.mp4 in full mode when present, else a procedural clip."""
    real = SHARED_DATA / "clips" / "cockatoo.mp4"
    if not quick and real.is_file():
        return real, "cockatoo.mp4 (../shared/data; 1280x720 H.264, 20 fps, 280 frames)"
    from engine.procedural import generate_clip
    from engine.video import write_video

    n, size = (48, (160, 96)) if quick else (240, (640, 360))
    clip = generate_clip(size[0], size[1], n, num_objects=2, seed=0)
    path = write_video(folder / "procedural.mp4", clip.frames, clip.fps, quality=18)
    return path, f"procedural clip written by write_video ({size[0]}x{size[1]} H.264 CRF 18, {n} frames)"


def versions() -> str:
    import av
    import cv2

    first = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    lavc = ".".join(str(v) for v in av.library_versions.get("libavcodec", ()))
    return (
        f"Python {platform.python_version()}, PyAV {av.__version__} (libavcodec {lavc}), "
        f"{' '.join(first.split()[:3])} (imageio-ffmpeg), NumPy {np.__version__}, OpenCV {cv2.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small procedural clip; prints, writes only with --out")
    parser.add_argument("--out", type=Path, default=None, help=f"Markdown section to write (full mode default: {DEFAULT_OUT})")
    parser.add_argument("--random", type=int, default=None, help="random-access frames (default 20, quick 5)")
    parser.add_argument("--encode-frames", type=int, default=None, help="frames to encode (default 120, quick 24)")
    args = parser.parse_args(argv)
    out = args.out or (None if args.quick else DEFAULT_OUT)
    n_random = args.random or (5 if args.quick else 20)
    n_encode = args.encode_frames or (24 if args.quick else 120)
    rounds = 1 if args.quick else 3

    with tempfile.TemporaryDirectory(prefix="genprop_bench_vio_") as tmp:
        folder = Path(tmp)
        path, described = source(args.quick, folder)
        # Sequential decode, interleaved with the references so load changes hit all alike.
        ours_s, null_s, rgb_s, opens = [], [], [], []
        for _ in range(rounds):
            opened, dec, n = decode_ours(path)
            opens.append(opened)
            ours_s.append(dec)
            null_s.append(run_ffmpeg(["-i", str(path), "-f", "null", "-"]))
            rgb_s.append(run_ffmpeg(["-i", str(path), "-pix_fmt", "rgb24", "-f", "null", "-"]))
        ours_fps = n / min(ours_s)
        null_fps, rgb_fps = n / min(null_s), n / min(rgb_s)
        # Random access: the same seeded indices for both.
        from engine.video import VideoFileReader

        with VideoFileReader(path) as reader:
            stamps = reader.timestamps()
            fps = reader.fps
            enc_frames = np.stack([reader[i] for i in range(min(n_encode, len(reader)))])
        rng = np.random.default_rng(0)
        indices = [int(i) for i in rng.choice(n, size=min(n_random, n), replace=False)]
        ours_rand = random_ours(path, indices)
        ref_rand = random_ffmpeg(path, [stamps[i] for i in indices])
        # Encode.
        enc = [encode_both(enc_frames, fps, folder) for _ in range(rounds)]
        ours_enc = min(e[0] for e in enc)
        ref_enc = min(e[1] for e in enc)
        ours_bytes, ref_bytes = enc[0][2], enc[0][3]

    h, w = enc_frames.shape[1:3]
    med_ours, med_ref = statistics.median(ours_rand), statistics.median(ref_rand)
    cmd = "python -m benchmarks.bench_video_io" + (" --quick" if args.quick else "")
    lines = [
        "## Video decode and encode vs the ffmpeg command line",
        "",
        f"- Date: {now()}",
        f"- Machine: {machine()}; load average at the end: {load_note()}",
        f"- Versions: {versions()}",
        f"- File: {described}",
        f"- Command: `{cmd}`; best of {rounds} interleaved rounds for rates; ratio = ours / ffmpeg (> 1: we are faster)",
        "",
        "| what | ours | ffmpeg CLI | ratio |",
        "|---|---:|---:|---:|",
        f"| sequential decode to RGB, frames/s | {ours_fps:.1f} | {rgb_fps:.1f} (`-pix_fmt rgb24 -f null -`) | {ours_fps / rgb_fps:.2f} |",
        f"| sequential decode only, frames/s (reference) | — | {null_fps:.1f} (`-f null -`) | {ours_fps / null_fps:.2f} |",
        f"| open + index ({n} frames), ms | {min(opens) * 1000:.1f} | — | — |",
        f"| random access, median ms/frame ({len(indices)} seeded indices) | {med_ours:.1f} | {med_ref:.1f} "
        f"(one `-ss T -frames:v 1` process each) | {med_ref / med_ours:.2f} |",
        f"| random access, p95 ms/frame | {p95(ours_rand):.1f} | {p95(ref_rand):.1f} | {p95(ref_rand) / p95(ours_rand):.2f} |",
        f"| encode {len(enc_frames)} frames {w}x{h}, libx264 CRF 18 medium, frames/s | {len(enc_frames) / ours_enc:.1f} | "
        f"{len(enc_frames) / ref_enc:.1f} (raw RGB on stdin) | {ref_enc / ours_enc:.2f} |",
        f"| encoded size, KB | {ours_bytes / 1024:.0f} | {ref_bytes / 1024:.0f} | — |",
        "",
        "The ffmpeg figures include starting the process (tens of ms), which matters for the "
        "one-frame random-access reference and little for whole-file runs. Our random access is timed "
        "on a freshly opened reader per index (opening untimed): a keyframe seek plus decoding forward "
        "to the frame; a frame already in the reader's cache returns in microseconds (see the "
        "interactive benchmark).",
        "",
    ]
    write_section("\n".join(lines), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
