"""Does the MPD fit the clips it was trained on? (issue 14)

If the Mask Prediction Decoder's sampled IoU is much higher on cases built from its own training
clips (seeds ``0 .. train_clips - 1``) than on the held-out cases, it has memorised them and more
training clips are the lever; if the two are alike, it underfits and the lever is what it reads or
its capacity. The training clips' cases use the same tasks and objects as training may have drawn,
so they are an upper bound on "seen" data, not an exact replay of training pairs.

    python -m training.mpd_fit --svd runs/ext4000/svd --heads runs/ext4000/genprop_full_s1/checkpoint-4000/genprop
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.genprop.heads import GenPropHeads
from engine.metrics import iou

if TYPE_CHECKING:
    from engine.pipelines.genprop_pipeline import GenPropPipeline
    from training.mini_repro import Case, ReproSettings


def training_clip_cases(settings: ReproSettings, per_task: int) -> list[Case]:
    """Cases whose clips are training clips (seeds below ``settings.train_clips``)."""
    from training import mini_repro

    return mini_repro.cases_from_seeds(settings, lambda _: range(settings.train_clips), per_task)


def sampled_iou_by_task(
    pipe: GenPropPipeline, heads: GenPropHeads, cases: list[Case], steps: int, seed: int = 0
) -> dict[str, list[float]]:
    """The MPD's IoU at 0.5 on each case, sampled as ``mini_repro`` evaluates it (task ``none``)."""
    from training import mini_repro

    by_task: dict[str, list[float]] = {}
    for case in cases:
        _, probs = mini_repro.propagate(pipe, heads, case, seed, steps)
        by_task.setdefault(case.task, []).append(iou(np.asarray(probs) > 0.5, case.mask))
    return by_task


def _summary(name: str, by_task: dict[str, list[float]]) -> str:
    pooled = float(np.mean([v for vs in by_task.values() for v in vs]))
    tasks = ", ".join(f"{t} {np.mean(v):.3f}" for t, v in by_task.items())
    return f"{name}: pooled {pooled:.3f} over {sum(map(len, by_task.values()))} cases ({tasks})"


def main(argv: Sequence[str] | None = None) -> int:
    from training import mini_repro

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--svd", type=Path, required=True, help="the stage 1-2 pipeline folder (svd/)")
    p.add_argument("--heads", type=Path, required=True, help="a trained heads folder (genprop/)")
    p.add_argument("--per-task", type=int, default=3)
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--set", action="append", default=[], help="a mini_repro setting (key=value)")
    args = p.parse_args(argv)
    settings = mini_repro.apply_overrides(mini_repro.PRESETS["full"], [*args.set, f"cases_per_task={args.per_task}"])
    pipe = mini_repro.load_pipeline(args.svd)
    heads = GenPropHeads.from_pretrained(args.heads)
    for name, cases in (
        (f"training clips 0..{settings.train_clips - 1}", training_clip_cases(settings, args.per_task)),
        (f"held-out clips >= {settings.case_seed}", mini_repro.heldout_cases(settings)),
    ):
        print(_summary(name, sampled_iou_by_task(pipe, heads, cases, settings.eval_steps, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
