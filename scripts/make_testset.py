"""Regenerate the evaluation test set (format: docs/evaluation.md).

    python scripts/make_testset.py OUT_DIR                # procedural + real-clip cases
    python scripts/make_testset.py OUT_DIR --procedural   # only the procedural cases
    python scripts/make_testset.py OUT_DIR --composite    # the composite benchmark cases
                                                          # (40 frames, 480 px; --frames/--width)

Procedural cases (one procedural scene, 128x80, 12 frames, exact ground truth from
``engine.procedural``): remove-with-shadow, insert, replace, recolour, outpaint, track.
The bundled copy is ``resources/testsets/procedural`` (made with ``--procedural``).

Real-clip cases are added when ../shared/data/clips exists (or ``--data`` points at a
folder with the clips): the coin in motion.mov and the cockatoo in cockatoo.mp4 are
selected with GrabCut from a fixed box on frame 1, then recoloured / tracked. They have
no ground-truth target, so PSNRm is scored outside the engine's own masks.
``--composite`` writes the cases of ``engine.evaluation.composite`` instead (real plates
from the shared clips with VOC cut-outs pasted on them, exact ground truth; see
docs/evaluation.md), the set ``benchmarks/bench_composite.py`` measures.
Everything is deterministic: running the script twice writes the same files.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.edits import (  # noqa: E402
    EditSpec,
    InsertSpec,
    OutpaintSpec,
    RecolourSpec,
    RemoveSpec,
    ReplaceSpec,
    TrackSpec,
    compose,
)
from engine.edits.recolour import apply_recolour  # noqa: E402
from engine.evaluation import target_patches, write_case, write_index, write_png_folder  # noqa: E402
from engine.evaluation.composite import build_cases, default_data_dir, has_data, write_testset  # noqa: E402
from engine.procedural import ProceduralClip, generate_clip  # noqa: E402
from engine.video import open_video, write_video  # noqa: E402

DATA = default_data_dir()
SCENE = {"width": 128, "height": 80, "num_frames": 12, "num_objects": 3, "seed": 10}
"""Seed 10 keeps all three objects fully in view and pans the camera 13.6 px sideways."""
MAGENTA = (255, 0, 255)


def sprite(h: int, w: int, colours: tuple[tuple[int, int, int], tuple[int, int, int]]) -> np.ndarray:
    """A striped elliptical RGBA sprite: a new object with texture that flow can follow."""
    layer = np.zeros((h, w, 4), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = ((xx + yy) // 3) % 2 == 0
    layer[..., :3] = np.where(stripes[..., None], np.uint8(colours[0]), np.uint8(colours[1]))
    alpha = np.zeros((h, w), np.uint8)
    cv2.ellipse(alpha, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 255, -1)
    layer[..., 3] = alpha
    return layer


def _u8(mask: np.ndarray) -> np.ndarray:
    return mask.astype(np.uint8) * 255


def procedural_cases(out: Path) -> list[str]:
    """Write the six procedural cases sharing one scene clip; returns their folders."""
    clip: ProceduralClip = generate_clip(**SCENE)
    scene = "scenes/scene.mp4"
    (out / "scenes").mkdir(parents=True, exist_ok=True)
    write_video(out / scene, clip.frames, clip.fps, lossless=True)
    frame0 = clip.frames[0]
    src = f"procedural scene generate_clip({', '.join(f'{k}={v}' for k, v in SCENE.items())})"
    folders: list[str] = []

    def case(name: str, task: str, prompt: str, ops: list, target: np.ndarray | None, masks: np.ndarray, notes: str) -> None:
        folder = out / "cases" / name
        if folder.exists():
            shutil.rmtree(folder)
        edit = compose(frame0, ops)  # fails here, not at evaluation time, if an op is wrong
        assert edit.edited_frame.shape[:2] == masks.shape[1:]
        if target is not None:
            write_png_folder(folder / "target", target_patches(target, masks), "RGBA")
        write_png_folder(folder / "masks", masks, "1")
        write_case(
            folder,
            case_id=name,
            task=task,
            prompt=prompt,
            clip=f"../../{scene}",
            edit=EditSpec(ops, source=scene),
            set_name="procedural",
            target=None if target is None else "target",
            masks="masks",
            notes=f"{src}; {notes}",
        )
        folders.append(f"cases/{name}")

    # remove object 2 and its shadow: ground truth is the scene rendered without it.
    k = 2
    case(
        "remove_shadow",
        "remove",
        "a textured background, the object and its shadow removed",
        [RemoveSpec(mask=_u8(clip.object_masks[k, 0]), extras_mask=_u8(clip.shadow_masks[k, 0]), method="telea")],
        clip.render(exclude=[k]),
        clip.removal_mask(k),
        "object 2 + its shadow removed; GT = render(exclude=[2]); first frame filled with Telea",
    )
    # insert a striped sprite on the background: it must move with the camera pan.
    ins = InsertSpec(layer=sprite(14, 20, ((250, 220, 40), (40, 40, 200))), x=24.0, y=66.0)
    placed = compose(frame0, [ins]).operations[0].layer_rgba
    gt, alpha, _ = clip.with_layer(placed)
    case(
        "insert_sprite",
        "insert",
        "a yellow and blue striped badge stuck on the textured background",
        [ins],
        gt,
        alpha > 0,
        "layer glued to the background; GT = with_layer(placed layer)",
    )
    # replace object 0 with a sprite that moves as the object did.
    k = 0
    rep = ReplaceSpec(
        mask=_u8(clip.object_masks[k, 0]),
        extras_mask=_u8(clip.shadow_masks[k, 0]),
        layer=sprite(14, 18, ((230, 60, 60), (250, 250, 250))),
        method="telea",
    )
    placed = compose(frame0, [rep]).operations[0].layer_rgba
    clean = dataclasses.replace(clip, frames=clip.render(exclude=[k]))
    gt, alpha, _ = clean.with_layer(placed, anchor=k)
    case(
        "replace_object",
        "replace",
        "a red and white striped ball moving across a textured background",
        [rep],
        gt,
        clip.removal_mask(k) | (alpha > 0),
        "object 0 + shadow removed, sprite follows object 0's path; GT exact",
    )
    # recolour object 1 (hue +150 degrees).
    k = 1
    rec = RecolourSpec(mask=_u8(clip.object_masks[k, 0]), hue_shift=150.0)
    params = compose(frame0, [rec]).operations[0].params
    case(
        "recolour_object",
        "recolour",
        "a textured background with one object recoloured",
        [rec],
        clip.recoloured(k, lambda f, m: apply_recolour(f, m, params)),
        clip.object_masks[k],
        "object 1 hue +150; GT = recoloured(1, apply_recolour)",
    )
    # outpaint 16 px left and right: the wider view of the same scene.
    pad = (16, 0, 16, 0)
    wide = clip.render(pad=pad)
    margins = np.ones(wide.shape[:3], bool)
    margins[:, :, pad[0] : pad[0] + clip.size[0]] = False
    case(
        "outpaint_sides",
        "outpaint",
        "a wider view of the textured scene",
        [OutpaintSpec(left=16, right=16, method="reflect")],
        wide,
        margins,
        "16 px margins left and right; GT = render(pad=(16, 0, 16, 0)); first frame filled by reflection",
    )
    # track object 0 with a flat magenta fill.
    k = 0
    gt = clip.recoloured(k, lambda f, m: np.broadcast_to(np.uint8(MAGENTA), f.shape))
    case(
        "track_object",
        "track",
        "a magenta object moving across a textured background",
        [TrackSpec(mask=_u8(clip.object_masks[k, 0]), colour=MAGENTA)],
        gt,
        clip.object_masks[k],
        "object 0 filled with magenta; GT = object masks",
    )
    return folders


def grabcut_mask(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The object inside ``box`` (x0, y0, x1, y1) on ``frame``, by the app's GrabCut selector."""
    from engine.edits.selection import GrabCutSelector

    sel = GrabCutSelector()
    sel.set_image(frame)
    return sel.predict(None, None, box=list(box), multimask=False).best


def real_cases(out: Path, data: Path, num_frames: int) -> list[str]:
    """Recolour/track cases on real clips, edits from GrabCut on fixed boxes."""
    plans = [
        # (clip file, size to resize to or None, object box on frame 1 at that size, object name)
        ("motion.mov", None, (418, 112, 492, 162), "coin"),
        ("cockatoo.mp4", (640, 360), (180, 0, 440, 359), "cockatoo"),
    ]
    folders: list[str] = []
    for name, size, box, obj in plans:
        path = data / "clips" / name
        if not path.is_file():
            print(f"skipping {name}: {path} not found")
            continue
        with open_video(path) as reader:
            n = min(num_frames, len(reader))
            frames = np.stack([reader[i] for i in range(n)])
            fps = reader.fps
        if size is not None:
            frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
        stem = Path(name).stem
        clip_rel = f"scenes/{stem}.mp4"
        (out / "scenes").mkdir(parents=True, exist_ok=True)
        write_video(out / clip_rel, frames, fps, lossless=True)
        mask = grabcut_mask(frames[0], box)
        if not mask.any():
            raise RuntimeError(f"GrabCut found nothing in box {box} on {name}; pick another box")
        for task, spec, prompt in (
            ("recolour", RecolourSpec(mask=mask, hue_shift=200.0, saturation=1.6), f"a blue {obj}"),
            ("track", TrackSpec(mask=mask, colour=MAGENTA), f"a magenta {obj}"),
        ):
            case_id = f"{stem}_{task}_{obj}"
            folder = out / "cases" / case_id
            if folder.exists():
                shutil.rmtree(folder)
            write_case(
                folder,
                case_id=case_id,
                task=task,
                prompt=prompt,
                clip=f"../../{clip_rel}",
                edit=EditSpec([spec], source=name),
                set_name="real",
                notes=f"{name}, first {n} frames{'' if size is None else f' at {size[0]}x{size[1]}'}; "
                f"mask = GrabCut in box {box}; no ground truth",
            )
            folders.append(f"cases/{case_id}")
    return folders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the test set into (created)")
    parser.add_argument("--procedural", action="store_true", help="only the procedural cases (what the app bundles)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"folder with clips/ (default {DATA})")
    parser.add_argument("--frames", type=int, default=None, help="frames per real clip (default 24; composite 40)")
    parser.add_argument("--composite", action="store_true", help="the composite cases on real footage (needs the shared data)")
    parser.add_argument("--width", type=int, default=480, help="composite cases: frame width (default 480)")
    parser.add_argument("--scenes", default=None, help="composite cases: comma-separated scene names (default: all)")
    args = parser.parse_args(argv)
    frames = args.frames if args.frames is not None else (40 if args.composite else 24)
    if frames < 2:
        parser.error(f"--frames must be >= 2, got {frames}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.composite:
        if not has_data(args.data):
            print(f"error: the composite cases need the shared clips and VOC masks in {args.data}", file=sys.stderr)
            return 2
        try:
            cases = build_cases(frames, args.width, args.data, args.scenes.split(",") if args.scenes else None)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        folders = write_testset(args.out, cases, name="composite", fps_note=f" ({frames} frames, {args.width} px wide)")
        print(f"wrote {len(folders)} cases to {args.out}")
        return 0
    folders = procedural_cases(args.out)
    if not args.procedural:
        if (args.data / "clips").is_dir():
            folders += real_cases(args.out, args.data, frames)
        else:
            print(f"no real clips: {args.data / 'clips'} not found; wrote the procedural cases only")
    name = "procedural" if args.procedural or len(folders) == 6 else "procedural+real"
    write_index(args.out, name, "GenProp Studio evaluation set, made by scripts/make_testset.py", folders)
    print(f"wrote {len(folders)} cases to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
