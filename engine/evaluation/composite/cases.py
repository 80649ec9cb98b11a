"""The composite benchmark cases: real plates + VOC cut-outs, exact ground truth.

Each scene is rendered once and yields one or more cases (``track`` and ``remove`` of
the same pasted object, ``insert`` on a plane, ``outpaint`` of a cropped plate). Every
scene is deterministic: the plates and cut-outs are fixed files, paths are analytic,
and the only randomness (sensor noise, handheld jitter, logo colours) is seeded.

``build_cases(count=40, width=480)`` is the benchmark (issue 13's 40 frames at 480 px);
tests use fewer, smaller frames of the same scenes. Positions and sizes are fractions
of the frame, so a scene looks the same at any size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.edit import FirstFrameEdit
from engine.evaluation.composite.render import (
    Layered,
    Motion,
    Paste,
    camera_path,
    composite,
    glue_layer,
    logo,
    removal_region,
    render_paste,
    view_plane,
    visible,
)
from engine.evaluation.composite.sources import CUTOUTS, PLATES, load_cutout, load_plate, load_still

MAGENTA = (255, 0, 255)


@dataclass
class CompositeCase:
    """One case in memory: the clip, the first-frame edit (as op specs) and its ground truth.

    Attributes:
        frames: ``[T, H, W, 3]`` uint8 source clip (the composite).
        ops: edit operation specs applied to ``frames[0]`` (``engine.edits`` specs).
        target: ``[T, H', W', 3]`` uint8 ground-truth output, or None (tracking cases).
        masks: ``[T, H', W']`` bool ground-truth region (the object, the removal
            region, the inserted layer, the outpaint margins).
        truth: extra ground truth: ``corners`` (``[T, 4, 2]``, insert) and
            ``shot_cuts`` (frame indices where a new shot starts; present on every
            composite case, empty when there is no cut).
        scene: the scene this case came from; ``kind``: what it tests (pan, fast, ...).
    """

    id: str
    task: str
    prompt: str
    frames: np.ndarray
    fps: float
    ops: list[Any]
    masks: np.ndarray
    target: np.ndarray | None = None
    truth: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    scene: str = ""
    kind: str = ""

    def edit(self) -> FirstFrameEdit:
        from engine.edits import compose

        return compose(self.frames[0], self.ops)

    def case_data(self):  # -> CaseData (imported lazily: testset imports the edit-file reader)
        """This case as the evaluator's :class:`~engine.evaluation.testset.CaseData` (no files)."""
        from engine.evaluation.testset import CaseData, CaseSpec

        where = Path(f"<composite:{self.id}>")
        spec = CaseSpec(self.id, self.task, self.prompt, "composite", where, where, where, self.fps, notes=self.notes)
        return CaseData(spec, self.frames, self.fps, self.edit(), self.target, self.masks, dict(self.truth))


def _u8(mask: np.ndarray) -> np.ndarray:
    return mask.astype(np.uint8) * 255


@dataclass(frozen=True)
class _Scene:
    frames: np.ndarray
    clean: np.ndarray
    alpha: np.ndarray  # visible alpha of the edited object
    region: np.ndarray  # removal truth region
    fps: float
    cuts: tuple[int, ...]


def _object_scene(plate: np.ndarray, fps: float, pastes: list[Paste], cuts: tuple[int, ...] = ()) -> _Scene:
    """Composite ``pastes`` (back to front) on ``plate``; the first paste is the edited object."""
    t, h, w = plate.shape[:3]
    layers: list[Layered] = [render_paste(p, t, (w, h)) for p in pastes]
    frames = composite(plate, layers)
    clean = composite(plate, layers[1:])
    alpha, dark = visible(layers, 0)
    return _Scene(frames, clean, alpha, removal_region(alpha, dark), fps, cuts)


def _track_and_remove(name: str, kind: str, scene: _Scene, what: str, notes: str, tasks: tuple[str, ...]) -> list[CompositeCase]:
    obj0 = scene.alpha[0] > 0.5
    truth = {"shot_cuts": list(scene.cuts)}
    out = []
    if "track" in tasks:
        out.append(
            CompositeCase(
                f"{name}_track",
                "track",
                f"{what} filled with magenta",
                scene.frames,
                scene.fps,
                [_track_spec(obj0)],
                scene.alpha > 0.5,
                None,
                truth,
                f"{notes}; truth = the pasted object's visible alpha > 0.5",
                name,
                kind,
            )
        )
    if "remove" in tasks:
        from engine.edits import RemoveSpec

        extras = scene.region[0] & ~obj0
        spec = RemoveSpec(mask=_u8(obj0), extras_mask=_u8(extras) if extras.any() else None, method="telea", dilate=3.0)
        out.append(
            CompositeCase(
                f"{name}_remove",
                "remove",
                f"the scene without {what} and its shadow",
                scene.frames,
                scene.fps,
                [spec],
                scene.region,
                scene.clean,
                truth,
                f"{notes}; truth = the plate without the paste, region = alpha > 0.04 or shadow darkening > 3%",
                name,
                kind,
            )
        )
    return out


def _track_spec(mask: np.ndarray):
    from engine.edits import TrackSpec

    return TrackSpec(mask=_u8(mask), colour=MAGENTA)


def _splice(a: np.ndarray, b: np.ndarray, cut: int) -> np.ndarray:
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"cannot splice plates of {a.shape[1:]} and {b.shape[1:]}")
    return np.concatenate([a[:cut], b[cut:]])


# --- scenes -----------------------------------------------------------------------------------


def pan_man(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    plate, fps = load_plate("dog_pan", count, width, data)
    h, w = plate.shape[1:3]
    man = Paste(
        load_cutout("man", data), 0.5 * h, Motion.path(count, (0.25 * w, 0.88 * h), (0.62 * w, 0.82 * h), (1.0, 1.15), bob=3)
    )
    scene = _object_scene(plate, fps, [man])
    notes = "plate dog.mp4 through a panning 1440x810 window; man = VOC 2011_000003 instance 1, walking right, scale 1 -> 1.15"
    return _track_and_remove("pan_man", "pan", scene, CUTOUTS["man"].what, notes, ("track", "remove"))


def fast_bottle(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    plate, fps = load_plate("motion", count, width, data)
    h, w = plate.shape[1:3]
    # 320 degrees of an ellipse in the clip: about 15 px per frame at 480 px wide (40 frames).
    arc = Motion.arc(count, (0.5 * w, 0.62 * h), (0.3 * w, 0.25 * h), (200.0, 200.0 + 320.0 * (count - 1) / 39), scale=1.0)
    bottle = Paste(load_cutout("bottle", data), 0.17 * h, arc, shadow=(0.5, 0.3))
    scene = _object_scene(plate, fps, [bottle])
    notes = "plate motion.mov (static top-down table); bottle = VOC 2011_000003 instance 3, 46 px tall, swinging round an ellipse"
    return _track_and_remove("fast_bottle", "fast small", scene, CUTOUTS["bottle"].what, notes, ("track", "remove"))


def leaving_bus(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    plate, fps = load_plate("vtest_pan", count, width, data)
    h, w = plate.shape[1:3]
    bus = Paste(load_cutout("bus", data), 0.45 * h, Motion.path(count, (0.45 * w, 0.8 * h), (0.97 * w, 0.78 * h), (1.0, 1.1)))
    scene = _object_scene(plate, fps, [bus])
    notes = (
        "plate vtest.avi frames 40-79 through a panning 640x480 window; bus = VOC 2011_000025 instance 1, leaving on the right"
    )
    return _track_and_remove("leaving_bus", "leaving", scene, CUTOUTS["bus"].what, notes, ("track", "remove"))


def occluded_woman(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    plate, fps = load_plate("vtest", count, width, data)
    h, w = plate.shape[1:3]
    woman = Paste(load_cutout("woman", data), 0.42 * h, Motion.path(count, (0.3 * w, 0.8 * h), (0.55 * w, 0.78 * h), (1.0, 1.1)))
    man = Paste(load_cutout("man", data), 0.36 * h, Motion.path(count, (0.9 * w, 0.93 * h), (0.1 * w, 0.9 * h), ease=False))
    scene = _object_scene(plate, fps, [woman, man])
    notes = (
        "plate vtest.avi frames 0-39 (static camera); woman = VOC 2011_000006 instance 2 walking right, "
        "occluded on the way by man = VOC 2011_000003 instance 1 walking left in front of her"
    )
    return _track_and_remove("occluded_woman", "occlusion", scene, CUTOUTS["woman"].what, notes, ("track", "remove"))


def entering_bus(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    plate, fps = load_plate("tree", count, width, data)
    h, w = plate.shape[1:3]
    sprite = load_cutout("bus_side", data)
    bw = 0.55 * h * sprite.shape[1] / sprite.shape[0]
    start_x = bw * (0.35 - 0.5)  # 35 % of the bus in view on frame 1
    bus = Paste(sprite, 0.55 * h, Motion.path(count, (start_x, 0.9 * h), (bw * 0.45 + 0.02 * w, 0.88 * h), (1.0, 1.08)))
    scene = _object_scene(plate, fps, [bus])
    notes = "plate tree.avi frames 0-39 (static camera, leaves in the wind); bus side = VOC 2011_000025 instance 2, entering from the left"
    return _track_and_remove("entering_bus", "entering", scene, CUTOUTS["bus_side"].what, notes, ("track", "remove"))


def cut_man(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    cut = count * 11 // 20
    a, fps = load_plate("cockatoo", count, width, data)
    b, _ = load_plate("dog_pan", count, width, data)
    plate = _splice(a, b, cut)
    h, w = plate.shape[1:3]
    man = Paste(
        load_cutout("man", data),
        0.45 * h,
        Motion.path(count, (0.15 * w, 0.92 * h), (0.45 * w, 0.9 * h), (1.0, 1.1)),
        present=(0, cut),
    )
    scene = _object_scene(plate, fps, [man], cuts=(cut,))
    notes = f"cockatoo.mp4 frames 0-{cut - 1} spliced with the dog.mp4 pan from frame {cut} (a shot cut); man only before the cut"
    return _track_and_remove("cut_man", "shot cut", scene, CUTOUTS["man"].what, notes, ("track", "remove"))


def cut_refind_girl(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    cut = count * 9 // 20
    a, fps = load_plate("dog_pan", count, width, data)
    b, _ = load_plate("cockatoo", count, width, data)
    plate = _splice(a, b, cut)
    h, w = plate.shape[1:3]
    sprite = load_cutout("girl", data)
    before = Paste(sprite, 0.45 * h, Motion.path(count, (0.25 * w, 0.9 * h), (0.5 * w, 0.88 * h), (1.0, 1.1)), present=(0, cut))
    after_motion = Motion.path(count, (0.85 * w, 0.95 * h), (0.62 * w, 0.93 * h), (0.9, 1.0))
    after = Paste(sprite, 0.45 * h, after_motion, present=(cut, count))
    t = len(plate)
    lay_a, lay_b = render_paste(before, t, (w, h)), render_paste(after, t, (w, h))
    both = Layered(lay_a.rgb + lay_b.rgb, lay_a.alpha + lay_b.alpha, lay_a.darkening + lay_b.darkening)
    frames = composite(plate, [both])
    scene = _Scene(frames, plate, both.alpha, removal_region(both.alpha, both.darkening), fps, (cut,))
    notes = (
        f"dog.mp4 pan frames 0-{cut - 1} spliced with cockatoo.mp4 from frame {cut}; woman in green = VOC 2011_000006 "
        "instance 3, in both shots (elsewhere after the cut): to be re-found"
    )
    return _track_and_remove("cut_refind_girl", "shot cut, re-find", scene, CUTOUTS["girl"].what, notes, ("track",))


def _outpaint(
    name: str, kind: str, plate_name: str, margin: float, count: int, width: int, data: Path | None
) -> list[CompositeCase]:
    from engine.edits import OutpaintSpec

    wide, fps = load_plate(plate_name, count, width, data)
    h, w = wide.shape[1:3]
    m = int(round(margin * w))
    frames = np.ascontiguousarray(wide[:, :, m : w - m])
    margins = np.ones(wide.shape[:3], bool)
    margins[:, :, m : w - m] = False
    spec = OutpaintSpec(left=m, right=m, method="reflect")
    notes = f"plate {PLATES[plate_name].clip}: the middle {w - 2 * m} px columns are the clip, the full {w} px plate the truth"
    return [
        CompositeCase(
            name,
            "outpaint",
            "a wider view of the same shot",
            frames,
            fps,
            [spec],
            margins,
            wide,
            {"shot_cuts": []},
            notes,
            name,
            kind,
        )
    ]


def outpaint_pan(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    return _outpaint("outpaint_pan", "pan reveals", "dog_pan", 1 / 12, count, width, data)


def outpaint_handheld(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    return _outpaint("outpaint_handheld", "handheld", "cockatoo", 1 / 12, count, width, data)


def outpaint_static(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    return _outpaint("outpaint_static", "static, never seen", "vtest", 0.1, count, width, data)


def _insert_case(
    name: str, kind: str, frames: np.ndarray, fps: float, homs: np.ndarray, centre: tuple[float, float], notes: str, seed: int
) -> CompositeCase:
    from engine.edits import InsertSpec, compose

    h, w = frames.shape[1:3]
    lw, lh = int(round(0.22 * w)) // 2 * 2, int(round(0.1 * w)) // 2 * 2
    spec = InsertSpec(layer=logo(lw, lh, seed), x=float(round(centre[0] * w)), y=float(round(centre[1] * h)))
    placed = compose(frames[0], [spec]).operations[0].layer_rgba
    target, masks = glue_layer(frames, placed, homs)
    ys, xs = np.nonzero(placed[..., 3] > 0)
    x0, x1, y0, y1 = xs.min() - 0.5, xs.max() + 0.5, ys.min() - 0.5, ys.max() + 0.5
    c0 = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    corners = np.stack([(np.c_[c0, np.ones(4)] @ hm.T)[:, :2] / (np.c_[c0, np.ones(4)] @ hm.T)[:, 2:] for hm in homs])
    truth = {"corners": corners.round(4).tolist(), "shot_cuts": []}
    return CompositeCase(
        name, "insert", "a GenProp logo stuck on the surface", frames, fps, [spec], masks, target, truth, notes, name, kind
    )


def insert_plane(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    still = load_still("dog.mp4", 0, data)
    h = int(round(width * 9 / 16 / 2)) * 2
    homs = camera_path(
        count, (width, h), pan=(-0.1 * width, 0.03 * h), zoom=1.06, roll_deg=2.0, tilt=0.08, jitter_px=0.006 * width, seed=1
    )
    plane = view_plane(still, homs, (width, h), margin=0.2, noise=1.5, seed=2)
    man = Paste(
        load_cutout("man", data), 0.4 * h, Motion.path(count, (0.95 * width, 0.98 * h), (0.7 * width, 0.96 * h), (1.0, 1.05))
    )
    layer = render_paste(man, count, (width, h))
    frames = composite(plane, [layer])
    fps = 25.0
    case = _insert_case(
        "insert_plane",
        "camera motion",
        frames,
        fps,
        homs,
        (0.3, 0.3),
        "dog.mp4 frame 0 as a planar photo under a known camera path (pan, zoom 1.06, roll 2 deg, tilt, jitter; "
        "sensor noise 1.5); man = VOC 2011_000003 instance 1 walking in front, away from the logo",
        seed=3,
    )
    # The man walks in front of the plane: the truth has him over the logo where they meet.
    front = layer.alpha > 0.5
    case.target = composite(case.target, [layer])
    case.masks = case.masks & ~front
    return [case]


def insert_sheet(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    still = load_still("motion.mov", 0, data)
    h = int(round(width * 9 / 16 / 2)) * 2
    homs = camera_path(
        count, (width, h), pan=(0.06 * width, -0.03 * h), zoom=0.95, roll_deg=-1.5, tilt=0.05, jitter_px=0.004 * width, seed=4
    )
    frames = view_plane(still, homs, (width, h), margin=0.15, noise=1.5, seed=5)
    return [
        _insert_case(
            "insert_sheet",
            "low texture",
            frames,
            25.0,
            homs,
            (0.42, 0.42),
            "motion.mov frame 0 (a nearly blank table top, like a sheet of paper) as a planar photo under a known camera "
            "path (pan, zoom 0.95, roll -1.5 deg, tilt, jitter; sensor noise 1.5)",
            seed=6,
        )
    ]


def insert_static(count: int, width: int, data: Path | None) -> list[CompositeCase]:
    frames, fps = load_plate("vtest", count, width, data)
    homs = np.repeat(np.eye(3)[None], count, axis=0)
    return [
        _insert_case(
            "insert_static",
            "static shot",
            frames,
            fps,
            homs,
            (0.62, 0.16),
            "plate vtest.avi frames 0-39 (static camera, pedestrians); the logo on the building must not move",
            seed=7,
        )
    ]


SCENES: dict[str, Callable[[int, int, Path | None], list[CompositeCase]]] = {
    "pan_man": pan_man,
    "fast_bottle": fast_bottle,
    "leaving_bus": leaving_bus,
    "occluded_woman": occluded_woman,
    "entering_bus": entering_bus,
    "cut_man": cut_man,
    "cut_refind_girl": cut_refind_girl,
    "outpaint_pan": outpaint_pan,
    "outpaint_handheld": outpaint_handheld,
    "outpaint_static": outpaint_static,
    "insert_plane": insert_plane,
    "insert_sheet": insert_sheet,
    "insert_static": insert_static,
}
"""Scene name -> builder ``(count, width, data) -> cases``, in report order."""


def build_cases(
    count: int = 40, width: int = 480, data: Path | None = None, scenes: list[str] | None = None, tasks: list[str] | None = None
) -> list[CompositeCase]:
    """Every case of ``scenes`` (default: all) with ``count`` frames ``width`` px wide."""
    if count < 8:
        raise ValueError(f"composite cases need at least 8 frames, got {count}")
    unknown = sorted(set(scenes or []) - set(SCENES))
    if unknown:
        raise ValueError(f"unknown composite scene(s) {unknown}; scenes: {list(SCENES)}")
    out = []
    for name in scenes or list(SCENES):
        out += [c for c in SCENES[name](count, width, data) if tasks is None or c.task in tasks]
    return out
