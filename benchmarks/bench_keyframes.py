"""Re-track after a correction (issue 19): frames touched and time, against a full track, on a 300-frame 720p clip.

    python -m benchmarks.bench_keyframes                 # 300 frames, 1280x720, corrections at 240 then 150
    python -m benchmarks.bench_keyframes --quick         # 60 frames, 640x360; prints only

The clip is procedural (rendered on demand, so it never sits in memory whole): a
textured plate panning slowly, a textured ellipse crossing it with exact masks. The
flow tracker (``engine.engines.mask_track``, classic defaults) tracks it once with a
``TrackCache``; then a correction (a keyframe with the true mask) is added at frame
``k`` and only ``retrack_range`` is re-tracked with the kept runs. Reported: the frames
yielded and the tracker steps newly computed, the time against the full track's
(target: in proportion to ``(T - k) / T``), the same re-track without the cache, and
that the re-tracked masks equal a fresh full track's with the keyframe.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.bench_video_io import load_note, write_section
from engine.edit import Keyframe
from engine.edits import RecolourSpec, compose
from engine.engines.mask_track import TrackCache, retrack_range, track_operation_masks

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench_sections" / "keyframes.md"


class PanClip:
    """A procedural clip (a FrameSource): a panning textured plate and a textured ellipse with exact masks."""

    def __init__(self, n: int, w: int, h: int, fps: float = 24.0) -> None:
        self.n, self.w, self.h, self._fps = n, w, h, fps
        rng = np.random.default_rng(0)
        self.world = cv2.GaussianBlur(rng.integers(0, 255, (h, w + n, 3)).astype(np.uint8), (0, 0), 3.0)
        skin = cv2.GaussianBlur(rng.integers(0, 255, (h // 4, w // 6, 3)).astype(np.uint8), (0, 0), 1.5)
        self.skin = (skin // 2 + np.uint8([110, 30, 20])).astype(np.uint8)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        return self.w, self.h

    def __len__(self) -> int:
        return self.n

    def mask(self, t: int) -> np.ndarray:
        m = np.zeros((self.h, self.w), np.uint8)
        cx = int(self.w * (0.2 + 0.6 * t / max(1, self.n - 1)))
        cy = int(self.h * (0.5 + 0.1 * np.sin(t / 15)))
        cv2.ellipse(m, (cx, cy), (self.w // 14, self.h // 8), 10 * np.sin(t / 20), 0, 360, 255, -1)
        return m

    def __getitem__(self, t: int) -> np.ndarray:
        t = int(t)
        if not 0 <= t < self.n:
            raise IndexError(t)
        frame = np.ascontiguousarray(self.world[:, t : t + self.w])  # 1 px per frame pan
        m = self.mask(t)
        ys, xs = np.nonzero(m)
        sh, sw = self.skin.shape[:2]
        frame[ys, xs] = self.skin[(ys - ys.min()) % sh, (xs - xs.min()) % sw]
        return frame


def _steps(cache: TrackCache) -> int:
    return sum(r.done for runs in cache.runs.values() for r in runs.values())


def _track(clip, edit, cache, **kw) -> tuple[dict[int, np.ndarray], float]:  # noqa: ANN001
    t0 = time.perf_counter()
    out = {t: m[0] for t, m in track_operation_masks(clip, edit, {"tracker": "flow"}, cache=cache, **kw)}
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--corrections", default="240,150", help="frames corrected one after the other")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.width, args.height, args.corrections = 60, 640, 360, "48,30"
    n = args.frames
    clip = PanClip(n, args.width, args.height)
    ops = [RecolourSpec(mask=clip.mask(0), hue_shift=90.0)]
    load_before = load_note()
    cache = TrackCache()
    _, full_s = _track(clip, compose(clip[0], ops), cache)
    full_steps = _steps(cache)
    print(f"full track: {n} frames, {full_steps} tracker steps, {full_s:.1f} s", flush=True)
    rows = []
    keyframes: list[Keyframe] = []
    for k in [int(v) for v in args.corrections.split(",")]:
        keyframes = [*keyframes, Keyframe(k, {0: clip.mask(k)})]
        edit = compose(clip[0], ops, keyframes=keyframes)
        a, b = retrack_range(edit, k, n)
        before = _steps(cache)
        got, re_s = _track(clip, edit, cache, start=a, stop=b)
        new_steps = _steps(cache) - before
        _, cold_s = _track(clip, edit, TrackCache(), start=a, stop=b)
        fresh, _ = _track(clip, edit, None)
        same = all(np.array_equal(got[t], fresh[t]) for t in got)
        rows.append((k, a, b, len(got), new_steps, re_s, cold_s, same))
        print(f"correction at {k}: frames {a}..{b - 1}, {new_steps} new steps, {re_s:.1f} s (cold {cold_s:.1f} s), same={same}")
    lines = [
        "| correction at | re-tracked frames | frames yielded | new tracker steps | re-track / full time | "
        "frames / T | (T-k)/T | without the cache / full | equals a fresh full track |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for k, a, b, yielded, steps, re_s, cold_s, same in rows:
        lines.append(
            f"| {k + 1} | {a + 1}-{b} | {yielded} | {steps} | **{re_s / full_s:.2f}** | {yielded / n:.2f} | "
            f"{(n - k) / n:.2f} | {cold_s / full_s:.2f} | {'yes' if same else 'NO'} |"
        )
    if args.quick:
        print("\n".join(lines))
        return 0
    command = "python -m benchmarks.bench_keyframes " + " ".join(argv if argv is not None else sys.argv[1:])
    head = [
        "## Re-track after a keyframe correction (issue 19)",
        "",
        f"- Date: {_dt.datetime.now().astimezone().isoformat(timespec='minutes')}",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}",
        f"- Load average before / after: {load_before} -> {load_note()}",
        f"- Command: `{command.strip()}`",
        f"- Clip: procedural {n} frames at {args.width}x{args.height} (panning textured plate, textured ellipse with exact "
        f"masks), read on demand. Full track: {full_s:.1f} s, {full_steps} tracker steps (flow tracker, classic defaults, "
        "`engine.engines.mask_track.track_operation_masks` with a `TrackCache`). Corrections are added one after the "
        "other: the first one's range runs to the clip's end, the second one's (earlier) ends at the first. Re-track = only "
        "`retrack_range(edit, k, T)`: 8 frames before `k` (the backward blend band) to the next keyframe or the end. "
        "'without the cache' = the same range with a new `TrackCache` (it must track from frame 0 again).",
        "",
    ]
    write_section("\n".join(head + lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
