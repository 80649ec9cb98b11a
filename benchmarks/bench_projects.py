"""Projects: saving and opening a 280-frame 720p project, and what a second save costs.

    python -m benchmarks.bench_projects          # writes docs/bench_sections/projects.md
    python -m benchmarks.bench_projects --quick  # 12 frames, prints only

The project holds one propagation result of the shared cockatoo clip (280 frames,
1280x720; procedural frames of that size when ../shared/data is absent) and a tracked
edit. Timed, each on the job the window runs on its worker (``app.project_io``): the
first save (the result is encoded losslessly), a save after one more edit (only the
edit and project.json change), a save with nothing changed, and opening the project
(the result decoded back). References in the same run: encoding the same frames
losslessly with ``write_video`` and decoding them with ``open_video``, the floor a
lossless copy costs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.bench_video_io import load_note, machine, now, write_section

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "bench_sections" / "projects.md"
CLIP = ROOT.parent / "shared" / "data" / "clips" / "cockatoo.mp4"


def frames_of(count: int) -> tuple[np.ndarray, str]:
    """``count`` frames of the cockatoo clip (or procedural 1280x720 frames) and their source."""
    from engine.video import open_video

    if CLIP.is_file():
        reader = open_video(CLIP)
        try:
            n = min(count, len(reader))
            return np.stack([reader[i] for i in range(n)]), f"{CLIP.name} ({n} frames, {reader.size[0]}x{reader.size[1]})"
        finally:
            reader.close()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    frames = np.stack([np.roll(base, 4 * t, axis=1) for t in range(count)])  # a textured pan
    return frames, f"a procedural pan ({count} frames, 1280x720)"


def seconds(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--frames", type=int, default=280)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    count = 12 if args.quick else args.frames
    out = None if args.quick and args.out is None else (args.out or DEFAULT_OUT)

    from app.project import Project
    from app.project_io import OpenProjectJob, SaveProjectJob
    from engine.edits.track import TrackSpec
    from engine.engines.base import CancelToken, PropagationResult
    from engine.video import open_video, write_video

    load_before = load_note()
    frames, source = frames_of(count)
    h, w = frames.shape[1:3]
    masks = np.zeros(frames.shape[:3], np.uint8)
    masks[:, h // 4 : h // 2, w // 4 : w // 2] = 255
    mask = masks[0].copy()
    reports: list[int] = []

    def progress(_p: object) -> None:
        reports[-1] += 1

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "My edit"
        project = Project()
        project.set_clip(CLIP if CLIP.is_file() else Path(tmp) / "clip.mp4")
        project.add_operation(TrackSpec(mask=mask))
        project.add_result(PropagationResult(frames, masks, 20.0, "classic", "classic"))

        def save() -> None:
            reports.append(0)
            snap = project.snapshot()
            SaveProjectJob(snap, folder)(progress, CancelToken())
            project.mark_saved(snap, folder)

        first = seconds(save)
        project.add_operation(TrackSpec(mask=mask))  # one more edit: only the edit changes
        edit_only = seconds(save)
        unchanged = seconds(save)
        reports.append(0)
        copy_s = seconds(lambda: SaveProjectJob(project.snapshot(), Path(tmp) / "Saved as")(progress, CancelToken()))
        reports.append(0)
        opened: list[Project] = []
        open_s = seconds(lambda: opened.append(OpenProjectJob(folder)(progress, CancelToken())))
        assert np.array_equal(opened[0].results[0].result.frames, frames), "the result must come back exactly"
        encode_ref = seconds(lambda: write_video(Path(tmp) / "ref.mkv", iter(frames), 20.0, lossless=True))

        def decode() -> None:
            reader = open_video(Path(tmp) / "ref.mkv")
            try:
                for i in range(len(reader)):
                    reader[i]
            finally:
                reader.close()

        decode_ref = seconds(decode)
    rows = [
        ("reference: lossless encode of the frames (`write_video`)", encode_ref, "-"),
        ("first save (edit + result encoded)", first, reports[0]),
        ("save after one more edit (result already in the folder)", edit_only, reports[1]),
        ("save with nothing changed", unchanged, reports[2]),
        ("save as a new project (the result copied from its lossless copy, no re-encode)", copy_s, reports[3]),
        ("reference: decode of the lossless frames (`open_video`)", decode_ref, "-"),
        ("open the project (result decoded back, exact)", open_s, reports[4]),
    ]
    table = "\n".join(f"| {name} | {s:.2f} | {n} |" for name, s, n in rows)
    text = f"""## Projects: save and open

- Date: {now()}
- Machine: {machine()}; load average before: {load_before}, after: {load_note()}
- Command: `python -m benchmarks.bench_projects` (one run; project = a tracked edit + one result of {source})
- Each save and open runs as a job on the window's worker thread, with progress (reports counted below); the window stays responsive

| step | s | progress reports |
|---|---:|---:|
{table}

The first save costs {first / encode_ref:.2f}x a bare lossless encode of the same frames and opening {open_s / decode_ref:.2f}x a
bare decode; a later save writes only what changed: {edit_only:.2f} s after an edit ({edit_only / first:.1%} of the first save).
In the window the first save is usually a copy too: the recovery writer encodes each result once, on a worker, when
it arrives, and Save copies that ({copy_s:.2f} s here).
"""
    write_section(text, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
