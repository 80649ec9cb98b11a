"""Writing composite cases as an ``evaluate`` test set (docs/evaluation.md, format version 2).

Cases that share a clip (``track`` and ``remove`` of one scene) share one lossless
clip file; targets are stored as RGBA patches (only what the edit changes), masks as
1-bit PNGs, corners and shot cuts in each case's ``truth.json``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from engine.evaluation.build import target_patches, write_case, write_index, write_png_folder
from engine.evaluation.composite.cases import CompositeCase


def write_testset(out: Path, cases: list[CompositeCase], name: str = "composite", fps_note: str = "") -> list[str]:
    """Write ``cases`` under ``out`` (``scenes/<scene>.mkv``, ``cases/<id>/``); returns the case folders.

    Also writes ``out/testset.json`` listing them.
    """
    from engine.edits import EditSpec
    from engine.video import write_video

    out.mkdir(parents=True, exist_ok=True)
    (out / "scenes").mkdir(exist_ok=True)
    written_clips: dict[int, str] = {}
    folders = []
    for case in cases:
        clip_rel = written_clips.get(id(case.frames))
        if clip_rel is None:
            clip_rel = f"scenes/{case.scene}.mkv"
            write_video(out / clip_rel, case.frames, case.fps, lossless=True)
            written_clips[id(case.frames)] = clip_rel
        folder = out / "cases" / case.id
        if folder.exists():
            shutil.rmtree(folder)
        target = None
        if case.target is not None:
            canvas = case.edit().canvas_size
            if case.target.shape[1:3] == case.frames.shape[1:3]:
                changed = np.any(case.target != case.frames, axis=-1) | case.masks
                write_png_folder(folder / "target", target_patches(case.target, changed), "RGBA")
            else:  # outpaint: a bigger canvas, stored whole
                assert case.target.shape[1:3] == (canvas[1], canvas[0])
                write_png_folder(folder / "target", target_patches(case.target, np.ones(case.target.shape[:3], bool)), "RGBA")
            target = "target"
        write_png_folder(folder / "masks", case.masks, "1")
        write_case(
            folder,
            case_id=case.id,
            task=case.task,
            prompt=case.prompt,
            clip=f"../../{clip_rel}",
            edit=EditSpec(case.ops, source=clip_rel),
            set_name=f"composite/{case.kind}" if case.kind else "composite",
            target=target,
            masks="masks",
            truth=case.truth,
            notes=case.notes,
        )
        folders.append(f"cases/{case.id}")
    write_index(out, name, f"Composite cases on real footage with exact ground truth{fps_note}", folders)
    return folders
