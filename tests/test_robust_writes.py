"""Writes that fail must fail loudly and leave nothing behind (issue 17).

A full disk is simulated two ways: in-process, the checked PNG writer's system call gets
ENOSPC once a byte budget is spent (what ``cv2.imwrite`` used to ignore); in a child
process, ``RLIMIT_FSIZE`` makes the kernel refuse FFmpeg's writes past a size (EFBIG),
a real failure inside the encoder.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from app.cli import EXIT_BAD_INPUT, EXIT_OK
from engine.video import VideoError, open_video, remove_stale_partials, write_png_sequence, write_video
from engine.video import png as png_module
from main import main
from tests.video_factory import moving_frames

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    frames = [(rng.random((48, 64, 3)) * 255).astype(np.uint8) for _ in range(12)]
    video = write_video(tmp_path / "in.mp4", frames, 10.0, lossless=True)
    edited = open_video(video)[0].copy()
    edited[10:30, 10:40] = (250, 10, 10)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:30, 10:40] = 255
    Image.fromarray(edited).save(tmp_path / "edited.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return {"video": video, "edited": tmp_path / "edited.png", "mask": tmp_path / "mask.png"}


def propagate_args(inputs: dict[str, Path], out: Path, masks: Path | None = None) -> list[str]:
    args = ["propagate", "--video", str(inputs["video"]), "--edited-frame", str(inputs["edited"]), "--mask", str(inputs["mask"])]
    args += ["--engine", "classic", "--out", str(out)]
    return args + (["--masks-out", str(masks)] if masks else [])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def test_full_disk_while_writing_masks_fails_and_keeps_nothing(
    inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reported case: exit 0 and "wrote" while 86 of 90 mask PNGs were 0 bytes."""
    budget = {"left": 300}  # the first mask or two fit
    real = png_module._write_all

    def disk(fd: int, data: bytes) -> None:
        if len(data) > budget["left"]:
            os.write(fd, bytes(data[: budget["left"]]))
            budget["left"] = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        budget["left"] -= len(data)
        real(fd, data)

    monkeypatch.setattr(png_module, "_write_all", disk)
    out, masks = tmp_path / "out.mp4", tmp_path / "masks"
    code = main(propagate_args(inputs, out, masks))
    err = capsys.readouterr().err
    assert code != EXIT_OK and "No space left on device" in err and "wrote" not in err
    assert not out.exists() and not masks.exists() and leftovers(tmp_path) == []


def test_full_disk_inside_ffmpeg_fails_and_keeps_nothing(inputs: dict[str, Path], tmp_path: Path) -> None:
    """A child process whose files may not exceed 40 KB: FFmpeg's own writes fail (EFBIG)."""
    out, masks = tmp_path / "out.mkv", tmp_path / "masks"
    script = (
        "import resource, signal, sys, main\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))\n"
        f"sys.exit(main.main({propagate_args(inputs, out, masks) + ['--lossless']!r}))\n"
    )
    env = dict(os.environ, GENPROP_STUDIO_HOME=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode not in (0, 1), proc.stderr  # a clear refusal, not a crash
    assert "File too large" in proc.stderr and "wrote" not in proc.stderr, proc.stderr
    assert not out.exists() and not masks.exists() and leftovers(tmp_path) == []


def test_write_video_reports_a_file_missing_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-back check: a finished file with fewer frames than written is refused, not renamed into place."""
    import engine.video.writer as writer

    real_open = writer.av.open

    class Short:
        """A read-back that sees the file as a full disk left it: the last two packets missing."""

        def __init__(self, container: object) -> None:
            self._c = container
            self.streams = container.streams  # type: ignore[attr-defined]

        def demux(self, *a: object) -> list[object]:
            return list(self._c.demux(*a))[:-2]  # type: ignore[attr-defined]

        def __enter__(self) -> Short:
            return self

        def __exit__(self, *exc: object) -> None:
            self._c.close()  # type: ignore[attr-defined]

    def short_read(path: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        container = real_open(path, *args, **kwargs)
        return container if kwargs.get("mode", "r") != "r" else Short(container)

    monkeypatch.setattr(writer.av, "open", short_read)
    with pytest.raises(VideoError, match="of 6 frames reached the disk"):
        write_video(tmp_path / "x.mp4", moving_frames(6, 32, 24), 10.0)
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_partials_of_killed_runs_are_removed(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    old = time.time() - 3600
    names = {
        f".out.partial-{dead}-0123abcd.mp4": "stale",  # a killed run's video
        ".out.partial-89abcdef.mp4": "stale",  # the old name format (no pid)
        f".out.partial-{alive}-0123abcd.mp4": "kept",  # a run still going
        f".other.partial-{dead}-0123abcd.mp4": "kept",  # another target
        f".out.partial-{dead}-0123abcd.mkv": "kept",  # another target (suffix)
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (old, old))
    fresh = tmp_path / f".out.partial-{dead}-fedcba98.mp4"  # newer than this process: kept
    fresh.write_bytes(b"x")
    folders = {
        f".masks.partial-{dead}-0123abcd": "stale",
        f".masks.old-{dead}-0123abcd": "stale",
        ".masks.partial-0123abcd": "stale",
    }
    for name in folders:
        (tmp_path / name).mkdir()
        (tmp_path / name / "mask_00000.png").write_bytes(b"x")
        os.utime(tmp_path / name, (old, old))
    write_video(tmp_path / "out.mp4", moving_frames(4, 32, 24), 10.0)
    write_png_sequence(tmp_path / "masks", [np.zeros((24, 32), np.uint8)] * 2, prefix="mask_")
    present = {p.name for p in tmp_path.iterdir()}
    for name, fate in {**names, **folders}.items():
        assert (name in present) == (fate == "kept"), name
    assert fresh.name in present and {"out.mp4", "masks"} <= present
    assert remove_stale_partials(tmp_path / "out.mp4") == []


def _vfr_clip_with_audio(tmp_path: Path) -> tuple[Path, list[float]]:
    """25 fps with a 3x longer gap every third frame, plus a 440 Hz AAC track, in one mkv."""
    times = [0.0]
    for i in range(1, 40):
        times.append(times[-1] + (0.04 if i % 3 else 0.12))
    path = tmp_path / "vfr_audio.mkv"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"crf": "12", "bf": "0"}
        video.codec_context.time_base = Fraction(1, 1000)
        audio = out.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for t, img in zip(times, moving_frames(40, 64, 48), strict=True):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        samples = np.sin(np.arange(int(16000 * (times[-1] + 0.2))) / 16000 * 2 * np.pi * 440).astype(np.float32)
        for start in range(0, len(samples), 1024):
            chunk = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="flt", layout="mono")
            chunk.sample_rate, chunk.pts = 16000, start
            for packet in audio.encode(chunk):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path, times


def test_variable_frame_rate_source_keeps_its_timestamps_with_audio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The reported case: a VFR source came out at a constant rate and its audio drifted by ~0.3 s."""
    source, times = _vfr_clip_with_audio(tmp_path)
    reader = open_video(source)
    assert reader.info.variable_frame_rate and reader.info.has_audio
    first = reader[0].copy()
    first[10:30, 10:40] = (255, 0, 0)
    mask = np.zeros(first.shape[:2], np.uint8)
    mask[10:30, 10:40] = 255
    Image.fromarray(first).save(tmp_path / "edited.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "out.mp4"
    args = [
        "propagate",
        "--video",
        str(source),
        "--edited-frame",
        str(tmp_path / "edited.png"),
        "--mask",
        str(tmp_path / "mask.png"),
    ]
    assert main([*args, "--engine", "classic", "--out", str(out)]) == EXIT_OK, capsys.readouterr().err
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        pts = sorted(float(p.pts * stream.time_base) for p in container.demux(stream) if p.pts is not None)
        assert container.streams.audio, "the audio is carried over"
    np.testing.assert_allclose(np.array(pts) - pts[0], times, atol=2e-3)
    assert open_video(out).info.variable_frame_rate


def test_propagate_refuses_a_read_only_masks_folder_before_writing_the_video(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_robust_cli import read_only_folder

    out = tmp_path / "out.mp4"
    code = main(propagate_args(inputs, out, read_only_folder(tmp_path) / "masks"))
    assert code == EXIT_BAD_INPUT and not out.exists()
    assert len([line for line in capsys.readouterr().err.splitlines() if line.strip()]) == 1
