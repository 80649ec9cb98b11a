"""Disk room for a run, checked before it starts (issue 16): the estimates hold the real runs, and a
run that would not fit is refused with one clear error in the CLI (exit 2) and in the app's job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine.disk_room as disk_room
from engine.disk_room import DiskNeed, DiskRoomError, require_disk_room
from engine.edits import InsertSpec, OutpaintSpec, RecolourSpec, RemoveSpec, ReplaceSpec, compose
from engine.engines.classic import ClassicEngine
from engine.engines.sink import MemorySink
from engine.procedural import generate_clip
from engine.result_store import ResultWriter, store_disk_need
from engine.video import frame_spool
from engine.video.export import ExportPlan, write_result
from engine.video.formats import FORMATS, MATTE_FORMATS
from engine.video.source import ArrayClip
from tests.edit_factory import STREAMING_OPTIONS, card_layer, object_mask

W, H, T = 96, 64, 16
OPTS = STREAMING_OPTIONS


@pytest.fixture(scope="module")
def clip():
    return generate_clip(W, H, T, num_objects=2, seed=3, pan_speed=2.0)


def _layer() -> np.ndarray:
    return card_layer(H, W)


class _SpoolMeter:
    """The bytes the run's spool files hold at once, at most (each file's written extent, while open)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.live: dict[int, int] = {}
        self.peak = 0
        real_write, real_close = frame_spool._SpoolFile.write, frame_spool._SpoolFile.close
        meter = self

        def write(spool, offset, data):  # noqa: ANN001, ANN202
            real_write(spool, offset, data)
            meter.live[id(spool)] = max(meter.live.get(id(spool), 0), offset + len(data))
            meter.peak = max(meter.peak, sum(meter.live.values()))

        def close(spool):  # noqa: ANN001, ANN202
            meter.live.pop(id(spool), None)
            real_close(spool)

        monkeypatch.setattr(frame_spool._SpoolFile, "write", write)
        monkeypatch.setattr(frame_spool._SpoolFile, "close", close)


@pytest.mark.parametrize(
    "ops",
    [
        lambda c: [RemoveSpec(mask=object_mask(c))],
        lambda c: [RecolourSpec(mask=object_mask(c, 0), hue_shift=90.0)],
        lambda c: [RecolourSpec(mask=object_mask(c, 0), hue_shift=90.0), RemoveSpec(mask=object_mask(c))],
        lambda c: [RemoveSpec(mask=object_mask(c)), OutpaintSpec(left=10, right=6)],
        lambda c: [ReplaceSpec(mask=object_mask(c), layer=_layer()), InsertSpec(layer=_layer())],
    ],
    ids=["remove", "recolour", "recolour+remove", "remove+outpaint", "replace+insert"],
)
def test_the_classic_estimate_holds_what_a_streamed_run_keeps_on_disk(clip, monkeypatch, ops) -> None:  # noqa: ANN001
    edit = compose(clip.frames[0], ops(clip))
    engine = ClassicEngine()
    (need,) = engine.disk_needs(T, (W, H), edit)
    meter = _SpoolMeter(monkeypatch)
    engine.propagate_to(MemorySink(24.0), ArrayClip(clip.frames, 24.0), edit, dict(OPTS))
    assert meter.peak > 0 and not meter.live  # the run used spools and closed every one
    assert meter.peak <= need.nbytes <= 1.5 * meter.peak, (meter.peak, need.nbytes)


def test_the_store_estimate_holds_a_written_store(tmp_path: Path, clip) -> None:  # noqa: ANN001
    folder = tmp_path / "store"
    with ResultWriter(folder, 24.0, expected_frames=T) as writer:
        for t in range(T):
            mask = clip.object_masks[1, t].astype(np.uint8) * 255
            writer.put(clip.frames[t], mask, [mask, mask])
        writer.finish("classic", "classic")
    written = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    need = store_disk_need(folder, T, (W, H), 2)
    assert written <= need.nbytes <= 1.6 * written, (written, need.nbytes)


def test_needs_on_one_disk_add_up_and_the_error_names_each(tmp_path: Path) -> None:
    needs = [
        DiskNeed(tmp_path / "spools", 600, "the clip's working frames"),
        DiskNeed(tmp_path / "a" / "b", 500, "the result store"),
    ]
    require_disk_room(needs, free_bytes=lambda p: 1100)
    with pytest.raises(DiskRoomError) as caught:
        require_disk_room(needs, free_bytes=lambda p: 1099)
    message = str(caught.value)
    assert "the clip's working frames in" in message and str(tmp_path / "a" / "b") in message
    assert "TMPDIR" in message and "less than 1 MB free" in message


def test_sizes_read_as_people_read_them() -> None:
    assert disk_room._gb(68.9 * disk_room.GB) == "68.9 GB"
    assert disk_room._gb(412 * disk_room.MB) == "412 MB"


def _little_free(monkeypatch: pytest.MonkeyPatch, free: int = 1000) -> None:
    monkeypatch.setattr(disk_room.shutil, "disk_usage", lambda p: type("U", (), {"free": free})())


def test_the_cli_refuses_a_run_that_cannot_fit(tmp_path: Path, clip, monkeypatch, capsys) -> None:  # noqa: ANN001
    from PIL import Image

    from engine.video import write_video
    from main import main

    video = write_video(tmp_path / "in.mp4", list(clip.frames), 24.0, lossless=True)
    Image.fromarray(object_mask(clip)).save(tmp_path / "mask.png")
    Image.fromarray(clip.frames[0]).save(tmp_path / "first.png")
    _little_free(monkeypatch)
    out = tmp_path / "out.mp4"
    args = ["propagate", "--video", str(video), "--edited-frame", str(tmp_path / "first.png"), "--mask"]
    code = main([*args, str(tmp_path / "mask.png"), "--task", "mask_and_fill", "--engine", "classic", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "not enough free disk for this run" in err and "the result store" in err
    assert {p.name for p in tmp_path.iterdir()} == {"in.mp4", "mask.png", "first.png"}  # nothing written, no store left


def test_the_app_job_refuses_a_run_that_cannot_fit(clip, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    from app import jobs
    from engine.engines.base import CancelToken

    made: list[Path] = []
    real = jobs.new_result_folder
    monkeypatch.setattr(jobs, "new_result_folder", lambda: made.append(real()) or made[-1])
    _little_free(monkeypatch)
    edit = compose(clip.frames[0], [RemoveSpec(mask=object_mask(clip))])
    job = jobs.PropagationJob("classic", ArrayClip(clip.frames, 24.0), edit, dict(OPTS))
    with pytest.raises(DiskRoomError, match="not enough free disk"):
        job(lambda p: None, CancelToken())
    assert made and not made[0].exists()  # nothing left behind


@pytest.mark.parametrize("grain", [0, 128], ids=["clean", "pure-noise"])
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_the_export_estimate_holds_every_format(tmp_path: Path, name: str, grain: int) -> None:
    """Each format's bound holds what its encoder writes, pure noise included (the worst case for every codec)."""
    from types import SimpleNamespace

    w, h, t = 256, 128, 3  # DNxHR needs 256x120 or more
    rng = np.random.default_rng(grain)
    source = generate_clip(w, h, t, num_objects=2, seed=3, pan_speed=2.0)
    frames = np.clip(source.frames + rng.normal(0, grain, source.frames.shape), 0, 255).astype(np.uint8)
    masks = (rng.random((t, h, w)) < 0.5).astype(np.uint8) * 255 if grain else source.object_masks[1].astype(np.uint8) * 255
    fmt = FORMATS[name]
    out = tmp_path / ("out" if fmt.sequence else "out" + fmt.suffixes[0])
    matte = tmp_path / ("matte.mov" if name == "prores-4444" else "matte") if fmt.name in MATTE_FORMATS else None
    plan = ExportPlan.from_paths(out, name, masks_out=tmp_path / "masks", matte_out=matte, matte_format=name if matte else "auto")
    write_result(plan, SimpleNamespace(frames=frames, masks=masks, fps=24.0, extras={}))
    needs = {need.folder: need for need in plan.disk_needs(t, (w, h))}
    for path in plan.outputs:
        written = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
        assert 0 < written <= needs[path].nbytes, (path.name, written, needs[path].nbytes)


def test_the_cli_counts_its_outputs_in_the_disk_check(tmp_path: Path, clip, monkeypatch, capsys) -> None:  # noqa: ANN001
    """Room for the run's working files and its store but not for the output beside them: refused before the run."""
    from PIL import Image

    from engine.video import write_video
    from main import main

    video = write_video(tmp_path / "in.mp4", list(clip.frames), 24.0, lossless=True)
    Image.fromarray(object_mask(clip)).save(tmp_path / "mask.png")
    out = tmp_path / "out"
    edit = compose(clip.frames[0], [RemoveSpec(mask=object_mask(clip))])
    run = [*ClassicEngine().disk_needs(T, (W, H), edit), store_disk_need(tmp_path, T, (W, H), 1, proxies=False)]
    output = ExportPlan.from_paths(out, "png16").disk_needs(T, (W, H))
    _little_free(monkeypatch, sum(n.nbytes for n in run) + output[0].nbytes // 2)
    args = ["propagate", "--video", str(video), "--mask", str(tmp_path / "mask.png"), "--edited-frame"]
    Image.fromarray(clip.frames[0]).save(tmp_path / "first.png")
    args += [
        str(tmp_path / "first.png"),
        "--task",
        "mask_and_fill",
        "--engine",
        "classic",
        "--format",
        "png16",
        "--out",
        str(out),
    ]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "not enough free disk" in err and f"the result in {out}" in err
    assert {p.name for p in tmp_path.iterdir()} == {"in.mp4", "mask.png", "first.png"}
    _little_free(monkeypatch, sum(n.nbytes for n in run) + output[0].nbytes)  # and with room for it too, it runs
    assert main(args) == 0 and len(list(out.glob("*.png"))) == T


def test_the_app_export_refuses_an_export_that_cannot_fit(clip, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    from app.jobs import ExportJob
    from engine.engines.base import CancelToken

    result = SimpleNamespace(frames=clip.frames, masks=clip.object_masks[1].astype(np.uint8) * 255, fps=24.0)
    _little_free(monkeypatch, 10_000)
    for kind in ("video", "frames", "masks"):
        with pytest.raises(DiskRoomError, match=f"the exported {kind} in"):
            ExportJob(result, kind, tmp_path / {"video": "video.mp4"}.get(kind, kind))(lambda p: None, CancelToken())
    assert not list(tmp_path.iterdir())
