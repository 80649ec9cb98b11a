"""The SAM2 video tracker with the real sam2 predictor (random weights saved as a checkpoint), on a real clip.

The whole path: checkpoint file -> ``Sam2VideoTracker`` -> classic engine -> ``main.py
propagate --tracker sam2``, plus the GenProp training-free engine's mask source. Random
weights make meaningless masks at the real cost, so the tests check where masks come
from (they change with the checkpoint, match sam2's own load-everything path exactly),
shapes, cancel, the notes on lost objects and the errors for bad checkpoints; SAM2's
quality on real footage cannot be measured without its weights (docs/sam2.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.cli import EXIT_BAD_INPUT, EXIT_OK
from engine.edit import FirstFrameEdit
from engine.engines.base import CancelToken, EngineUnavailableError, PropagationCancelled, get_engine
from engine.video import ArrayClip, open_video, write_video
from tests.sam2_factory import random_video_predictor, save_checkpoint, shared_clips

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

SIZE = 64  # the tracker's working side in direct tests (the engine option's minimum is 128)
OBJ_SCORE_BIAS = "sam_mask_decoder__pred_obj_score_head__layers__2__bias"
OBJ_SCORE_WEIGHT = "sam_mask_decoder__pred_obj_score_head__layers__2__weight"


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> object:
    """One torch thread: on a loaded 2-core machine two threads run SAM2 many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two SAM2.1 tiny checkpoints with different random weights, saved as Meta's ``{"model": ...}``."""
    folder = tmp_path_factory.mktemp("sam2")
    return {
        "a": save_checkpoint(random_video_predictor(0), folder / "a.pt"),
        "b": save_checkpoint(random_video_predictor(1), folder / "b.pt"),
    }


@pytest.fixture(scope="module")
def coin() -> tuple[np.ndarray, np.ndarray]:
    """12 frames of a real clip (a pen pushes a coin, 568x320) and an ellipse mask on the coin in frame 1."""
    clips = shared_clips()
    if clips is None or not (clips / "motion.mov").is_file():
        pytest.skip("../shared/data/clips/motion.mov is not present on this machine")
    reader = open_video(clips / "motion.mov")
    frames = np.stack([reader[t] for t in range(12)])
    yy, xx = np.mgrid[0 : frames.shape[1], 0 : frames.shape[2]]
    mask = np.where(((xx - 455) / 32) ** 2 + ((yy - 137) / 20) ** 2 <= 1, 255, 0).astype(np.uint8)
    return frames, mask


def tracker(ckpt: Path, **kw):  # type: ignore[no-untyped-def]
    from engine.engines.classic.sam2_tracker import Sam2VideoTracker

    device = kw.pop("device_override", "cpu")
    return Sam2VideoTracker(ckpt, image_size=kw.pop("image_size", SIZE), device=device, **kw)


def run(tr, frames, masks):  # type: ignore[no-untyped-def]
    out = list(tr.track(frames, masks))
    assert [t for t, _ in out] == list(range(len(frames)))
    return np.stack([np.stack(m) for _, m in out])  # [T, objects, H, W]


def test_masks_come_from_the_predictor(ckpts: dict[str, Path], coin) -> None:  # type: ignore[no-untyped-def]
    frames, mask = coin
    frames = frames[:6]
    second = np.zeros_like(mask)
    second[200:260, 60:160] = 255
    a = run(tracker(ckpts["a"]), frames, [mask, second])
    assert a.shape == (6, 2, 320, 568) and a.dtype == np.uint8 and set(np.unique(a)) <= {0, 255}
    assert np.array_equal(a[0, 0], mask) and np.array_equal(a[0, 1], second)  # frame 1: the edit's own masks
    assert a[1:].any()
    b = run(tracker(ckpts["b"]), frames, [mask, second])
    assert not np.array_equal(a[1:], b[1:])  # another checkpoint, other masks: they are the predictor's
    again = run(tracker(ckpts["a"]), frames, [mask, second])
    assert np.array_equal(a, again)  # deterministic, and the kept-loaded model is the same


@pytest.mark.filterwarnings("ignore:cannot import name '_C'")
def test_streamed_trimmed_tracking_equals_sam2s_own_path(ckpts: dict[str, Path], coin, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Frames decoded on demand and a trimmed memory bank give sam2's own masks, bit for bit.

    sam2's reference: ``init_state`` on a JPEG folder (every frame loaded up front, every
    output kept), ``add_new_mask``, ``propagate_in_video``. The object-pointer window is
    shortened to 4 frames on both sides so that trimming starts within 14 frames.
    """
    from PIL import Image

    from engine.engines.classic import sam2_tracker as st

    frames, mask = coin
    folder = tmp_path / "jpg"
    folder.mkdir()
    decoded = []
    for t in range(12):
        Image.fromarray(frames[t]).save(folder / f"{t:05d}.jpg", quality=95)
        decoded.append(np.asarray(Image.open(folder / f"{t:05d}.jpg").convert("RGB")))
    decoded = np.stack(decoded)
    tr = tracker(ckpts["a"])
    p = tr.predictor
    monkeypatch.setattr(p, "max_obj_ptrs_in_encoder", 4)
    assert st.memory_horizon(p) == 8
    kept: list[int] = []
    original = st.forget_old_frames

    def counting(state, frame_idx, horizon):  # type: ignore[no-untyped-def]
        original(state, frame_idx, horizon)
        kept.append(len(state["output_dict_per_obj"][0]["non_cond_frame_outputs"]))

    monkeypatch.setattr(st, "forget_old_frames", counting)
    ours = run(tr, decoded, [mask])[:, 0]
    assert max(kept) == 9 and kept[-1] == 9  # bounded: the current frame and the 8 before it

    with torch.inference_mode():
        reference_state = p.init_state(str(folder))
        mine = st.new_inference_state(p, st.FrameStream(decoded, SIZE), decoded.shape[1:3])
        assert set(mine) == set(reference_state)  # the same state sam2 builds (guards a sam2 upgrade)
        for t in (0, 7):
            assert torch.equal(mine["images"][t], reference_state["images"][t])
        p.add_new_mask(reference_state, 0, 0, torch.from_numpy(mask > 0))
        reference = {t: (logits[0, 0] > 0).numpy() for t, _ids, logits in p.propagate_in_video(reference_state)}
    assert len(reference_state["output_dict_per_obj"][0]["non_cond_frame_outputs"]) == 11  # sam2 keeps them all
    for t in range(1, 12):
        assert np.array_equal(ours[t] > 0, reference[t]), f"frame {t} differs from sam2's own path"


def test_lost_objects_are_reported_per_frame(ckpts: dict[str, Path], coin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A checkpoint whose object-score head always says "absent": empty masks, a note per frame, one warning."""
    import torch as t

    state = t.load(ckpts["a"], weights_only=True)["model"]
    lost = tmp_path / "lost.pt"
    state[OBJ_SCORE_BIAS.replace("__", ".")].fill_(-20.0)
    state[OBJ_SCORE_WEIGHT.replace("__", ".")].zero_()
    t.save({"model": state}, lost)
    frames, mask = coin
    tr = tracker(lost, object_names=["operation 1 (track)"])
    out = run(tr, frames[:5], [mask])
    assert out[0].any() and not out[1:].any()
    assert sorted(tr.frame_notes) == [1, 2, 3, 4]
    assert tr.frame_notes[2] == "operation 1 (track): not visible (SAM2 object score -20.0)"
    assert tr.warnings == ["SAM2 lost operation 1 (track) (occluded or out of frame): frames 2-5, to the end"]


def test_spans_name_where_an_object_comes_back() -> None:
    from engine.engines.classic.sam2_tracker import Sam2VideoTracker, _Visibility

    v = _Visibility("object 1")
    for t, seen in enumerate([True, True, False, False, True, False, True]):
        v.see(t, seen)
    tr = Sam2VideoTracker.__new__(Sam2VideoTracker)
    tr.warnings = []
    tr._summarise([v], 7)
    assert tr.warnings == ["SAM2 lost object 1 (occluded or out of frame): frames 3-4, back at frame 5; frame 6, back at frame 7"]


def test_empty_and_single_frame_inputs(ckpts: dict[str, Path]) -> None:
    frames = np.full((3, 40, 48, 3), 90, np.uint8)
    empty = np.zeros((40, 48), np.uint8)
    out = run(tracker(ckpts["a"]), frames, [empty])
    assert out.shape == (3, 1, 40, 48) and not out.any()  # nothing to follow: no model call needed
    assert run(tracker(ckpts["a"]), frames[:1], [empty + 255]).shape == (1, 1, 40, 48)
    with pytest.raises(ValueError, match="first mask 0 is 10x10 but frames are 48x40"):
        run(tracker(ckpts["a"]), frames, [np.zeros((10, 10), np.uint8)])
    with pytest.raises(ValueError, match="multiple of 32"):
        tracker(ckpts["a"], image_size=100)


@pytest.mark.gpu
def test_tracker_runs_on_cuda_under_bf16(ckpts: dict[str, Path], coin) -> None:  # type: ignore[no-untyped-def]
    """CUDA path (bf16 autocast): same shapes and frame 1, masks close to the fp32 CPU run's."""
    frames, mask = coin
    gpu = run(tracker(ckpts["a"], image_size=128, device_override="cuda"), frames[:6], [mask])
    cpu = run(tracker(ckpts["a"], image_size=128), frames[:6], [mask])
    assert gpu.shape == cpu.shape == (6, 1, 320, 568) and np.array_equal(gpu[0, 0], mask)
    assert np.mean(gpu[1:] == cpu[1:]) > 0.9


def test_bad_checkpoints_fail_with_the_file_named(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(EngineUnavailableError, match=r"cannot read SAM2 checkpoint .*corrupt\.pt"):
        tracker(corrupt)
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": {"unet.conv.weight": torch.zeros(3)}}, wrong)
    with pytest.raises(EngineUnavailableError, match=r"wrong\.pt does not match any SAM2 model"):
        tracker(wrong)
    with pytest.raises(EngineUnavailableError, match="needs SAM2 weights"):
        tracker(tmp_path / "missing.pt")


# ---------------------------------------------------------------------- the engines
def _track_edit(frames: np.ndarray, mask: np.ndarray) -> FirstFrameEdit:
    from engine.edits.track import track

    edited, op = track(frames[0], mask)
    return FirstFrameEdit(frames[0], edited, op.mask, [op])


SAM2_OPTS = {"tracker": "sam2", "sam2_resolution": 128, "sam2_device": "cpu"}


def test_classic_engine_tracks_with_sam2_and_cancels(ckpts: dict[str, Path], coin) -> None:  # type: ignore[no-untyped-def]
    frames, mask = coin
    clip = ArrayClip(frames[:6], fps=30.0)
    edit = _track_edit(frames, mask)
    engine = get_engine("classic")()
    result = engine.propagate(clip, edit, {**SAM2_OPTS, "sam2_checkpoint": str(ckpts["a"])})
    assert result.frames.shape == (6, 320, 568, 3) and result.masks.shape == (6, 320, 568)
    assert result.extras["tracker"] == "sam2" and "SAM2" in result.extras["tracker_note"]
    direct = run(tracker(ckpts["a"], image_size=128), frames[:6], [mask])[:, 0]
    assert np.array_equal(result.masks, direct)  # the engine's masks are the tracker's
    flow = engine.propagate(clip, edit, {"tracker": "flow"})
    assert flow.extras["tracker"] == "flow" and not np.array_equal(flow.masks[1:], result.masks[1:])

    cancel, seen = CancelToken(), []

    def progress(p):  # type: ignore[no-untyped-def]
        seen.append(p.stage)
        if p.stage.startswith("track") and len(seen) > 8:
            cancel.cancel()

    with pytest.raises(PropagationCancelled):
        engine.propagate(clip, edit, {**SAM2_OPTS, "sam2_checkpoint": str(ckpts["a"])}, progress, cancel)
    assert seen.count(seen[-1]) < 12  # stopped during tracking, not after it


def test_auto_uses_sam2_when_weights_are_in_the_model_dirs(ckpts: dict[str, Path], coin, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.sam2_factory import hub_cache_file

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("GENPROP_SAM2_DIR", raising=False)
    frames, mask = coin
    clip, edit = ArrayClip(frames[:4], fps=30.0), _track_edit(frames, mask)
    models = tmp_path / "models"
    engine = get_engine("classic")()
    without = engine.propagate(clip, edit, {"sam2_resolution": 128, "model_dirs": [str(models)]})
    assert without.extras["tracker"] == "flow" and "no SAM2 weights found" in without.extras["tracker_note"]
    target = hub_cache_file(models, "facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt")
    target.symlink_to(ckpts["a"])
    found = engine.propagate(clip, edit, {"sam2_resolution": 128, "sam2_device": "cpu", "model_dirs": [str(models)]})
    assert found.extras["tracker"] == "sam2" and str(target) in found.extras["tracker_note"]
    with pytest.raises(EngineUnavailableError, match="SAM2 large weights not found"):
        engine.propagate(clip, edit, {"tracker": "sam2", "sam2_model": "large", "model_dirs": [str(models)]})
    odd = engine.propagate(clip, edit, {"sam2_resolution": 150, "sam2_device": "cpu", "model_dirs": [str(models)]})
    assert np.array_equal(odd.masks, found.masks)  # 150 px runs at 128, the multiple of 32 below it


def test_genprop_track_masks_take_the_sam2_options(ckpts: dict[str, Path], coin) -> None:  # type: ignore[no-untyped-def]
    """The training-free engine's mask step passes its SAM2 options to the classic tracker and names the source."""
    from engine.engines.genprop_options import GenPropOptions

    frames, mask = coin
    clip, edit = ArrayClip(frames[:4], fps=30.0), _track_edit(frames, mask)
    opts = GenPropOptions.from_dict({"mask_tracker": "sam2", "sam2_checkpoint": str(ckpts["a"]), "sam2_resolution": 128})
    engine = get_engine("genprop-training-free")()
    reports = []
    masks, source, notes = engine._track_masks(clip, edit, opts, 4, CancelToken(), reports.append, 10)
    assert source == "the classic engine's sam2 tracker (SAM2's video predictor)" and notes == {}
    classic = get_engine("classic")().propagate(clip, edit, {**SAM2_OPTS, "sam2_checkpoint": str(ckpts["a"])})
    assert np.array_equal(masks, classic.masks) and reports[-1].stage == "tracking"
    auto = GenPropOptions.from_dict({"model_dirs": ["/nonexistent"]})
    assert auto.mask_tracker == "auto"


@pytest.mark.slow
def test_training_free_keep_original_mask_comes_from_sam2(ckpts: dict[str, Path], coin) -> None:  # type: ignore[no-untyped-def]
    from engine.pipelines import GenPropPipeline
    from engine.pipelines.dummy import tiny_components

    frames, mask = coin
    small = np.stack([frame[::8, ::8] for frame in frames[:4]])  # 71x40: a tiny SVD run
    small_mask = np.ascontiguousarray(mask[::8, ::8])
    clip, edit = ArrayClip(small, fps=30.0), _track_edit(small, small_mask)
    opts = {"steps": 1, "long_side": 32, "window": 4, "overlap": 1, "max_guidance": 1.0, "feather": 0, "device": "cpu"}
    sam2 = {"mask_tracker": "sam2", "sam2_checkpoint": str(ckpts["a"]), "sam2_resolution": 128}
    pipe = GenPropPipeline.from_components(**tiny_components(0))
    result = get_engine("genprop-training-free")(pipeline=pipe).propagate(clip, edit, {**opts, **sam2})
    assert "sam2 tracker (SAM2's video predictor)" in result.extras["mask_source"]
    classic = get_engine("classic")().propagate(clip, edit, {**SAM2_OPTS, "sam2_checkpoint": str(ckpts["a"])})
    assert np.array_equal(result.masks, classic.masks)  # keep-original's mask is SAM2's tracked mask
    outside = result.masks[2] == 0
    assert np.array_equal(result.frames[2][outside], small[2][outside])


# ---------------------------------------------------------------------- the command line
@pytest.fixture()
def coin_inputs(coin, tmp_path: Path) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    from PIL import Image

    frames, mask = coin
    video = write_video(tmp_path / "coin.mp4", frames[:5], 30.0, lossless=True)
    first = open_video(video)[0]
    edited = first.copy()
    edited[mask > 0] = (120, 120, 120)
    Image.fromarray(edited).save(tmp_path / "edited.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return {"video": video, "edited": tmp_path / "edited.png", "mask": tmp_path / "mask.png"}


def _cli(inputs: dict[str, Path], out: Path, *extra: str) -> int:
    from main import main

    argv = ["propagate", "--video", str(inputs["video"]), "--edited-frame", str(inputs["edited"])]
    argv += ["--mask", str(inputs["mask"]), "--task", "mask_and_fill", "--engine", "classic", "--out", str(out)]
    return main([*argv, "--masks-out", str(out.with_suffix("")), *extra])


def _masks(folder: Path) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("mask_*.png"))])


def test_cli_propagates_with_sam2_and_refuses_bad_checkpoints(ckpts, coin_inputs, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("GENPROP_SAM2_DIR", raising=False)
    common = ("--tracker", "sam2", "--sam2-resolution", "128", "--sam2-device", "cpu")
    assert _cli(coin_inputs, tmp_path / "a.mp4", *common, "--sam2-checkpoint", str(ckpts["a"])) == EXIT_OK
    assert _cli(coin_inputs, tmp_path / "b.mp4", *common, "--sam2-checkpoint", str(ckpts["b"])) == EXIT_OK
    a, b = _masks(tmp_path / "a"), _masks(tmp_path / "b")
    assert a.shape == (5, 320, 568) and len(open_video(tmp_path / "a.mp4")) == 5
    assert not np.array_equal(a[1:], b[1:])

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": {"decoder.weight": torch.zeros(1)}}, wrong)
    cases = [
        (("--sam2-checkpoint", str(corrupt)), "cannot read SAM2 checkpoint"),
        (("--sam2-checkpoint", str(wrong)), "does not match any SAM2 model"),
        ((), "the sam2 tracker needs SAM2 weights"),
    ]
    for extra, message in cases:
        capsys.readouterr()
        assert _cli(coin_inputs, tmp_path / "x.mp4", *common, *extra) == EXIT_BAD_INPUT
        err = capsys.readouterr().err
        assert message in err and err.count("\n") <= 3, err
        assert not (tmp_path / "x.mp4").exists()
