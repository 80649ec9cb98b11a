"""The genprop-vace engine end to end: regions, context, frame 1 kept, keep-original, windows, progress,
cancel, missing weights, options, and the ``propagate`` CLI on a saved tiny Wan2.1-VACE folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import engine.engines  # noqa: F401  (registers engines)
from engine.edits.compose import compose
from engine.engines.base import CancelToken, Progress, PropagationCancelled, engine_spec, get_engine
from engine.engines.vace_engine import GREY, VaceEngine, vace_memory_plan, wan_precision
from engine.engines.vace_options import DEFAULT_PROMPTS, VaceOptions
from engine.genprop.weights import MissingWeightsError
from engine.pipelines.compositing import feather_mask
from engine.pipelines.dummy_wan import save_tiny_vace_pipeline, tiny_vace_components
from engine.pipelines.vace_pipeline import VacePropagationPipeline
from engine.video import ArrayClip, open_video, write_video
from tests.test_engine_options import test_every_option_has_one_definition_seen_by_gui_and_cli as check_options
from tests.test_pipeline_engine import generated_clip, paste_edit

ROOT = Path(__file__).resolve().parents[1]
OPTS = {"steps": 2, "long_side": 32, "window": 9, "overlap": 5, "guidance_scale": 1.0, "feather": 2, "device": "cpu"}


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="module")
def pipe() -> VacePropagationPipeline:
    return VacePropagationPipeline(**tiny_vace_components(0))


def test_options_have_one_definition_for_gui_and_cli() -> None:
    check_options("genprop-vace")
    with pytest.raises(ValueError, match="4k\\+1"):
        VaceOptions.from_dict({"window": 16})
    with pytest.raises(ValueError, match="margin"):
        VaceOptions.from_dict({"margin": -1})
    assert vace_memory_plan("auto", torch.device("cpu")).dtype == torch.float32
    assert vace_memory_plan("offload", torch.device("cpu")).dtype == torch.bfloat16
    from engine.pipelines.memory import leaner, plan_for_mode

    assert wan_precision(leaner(plan_for_mode("bf16", "cuda"), "cuda"), "bf16").dtype == torch.bfloat16  # OOM retry
    assert wan_precision(plan_for_mode("fp16", "cuda"), "fp16").dtype == torch.float16


def test_insert_keeps_frame_one_and_the_source_outside_the_region(pipe: VacePropagationPipeline) -> None:
    clip = generated_clip(12)
    edit = paste_edit(clip[0])
    reports: list[Progress] = []
    result = get_engine("genprop-vace")(pipeline=pipe).propagate(clip, edit, {**OPTS, "margin": 3}, reports.append)
    assert result.frames.shape == (12, 27, 45, 3) and result.fps == clip.fps and result.mode == "vace"
    assert np.array_equal(result.frames[0], edit.edited_frame) and np.array_equal(result.masks[0], edit.edit_mask)
    assert result.extras["windows"] == [(0, 9), (3, 12)] and result.extras["colour_drift"][0] is None
    assert result.extras["prompt"] == DEFAULT_PROMPTS["insert"]
    tracked = get_engine("classic")().propagate(clip, edit, {})
    for t in range(1, 12):
        assert (result.masks[t] >= tracked.masks[t]).all()  # the tracked region, grown
        assert result.masks[t].sum() > tracked.masks[t].sum()
        outside = feather_mask(result.masks[t], 2) == 0
        assert np.array_equal(result.frames[t][outside], tracked.frames[t][outside])
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {r.stage for r in reports} >= {"tracking", "denoising", "decoding", "done"}
    assert any(r.window == 1 and r.step == 2 for r in reports)


def test_removal_context_is_grey_inside_the_grown_region(pipe: VacePropagationPipeline) -> None:
    clip = generated_clip(6)
    mask = np.zeros((27, 45), np.uint8)
    mask[8:18, 10:25] = 255
    edit = compose(clip[0], [{"op": "remove", "mask": mask, "method": "telea"}])
    engine = VaceEngine(pipeline=pipe)
    opts = VaceOptions.from_dict({**OPTS, "margin": 4})
    classic = get_engine("classic")().propagate(clip, edit, {})
    regions, greys = engine._regions(edit, classic, opts)
    context = engine._context(edit, classic.frames, greys)
    assert not regions[0].any() and np.array_equal(context[0], edit.edited_frame)
    assert np.array_equal(regions[1:], greys[1:]) and (context[1:][greys[1:] > 0] == GREY).all()
    keep = VaceOptions.from_dict({**OPTS, "region_context": "classic"})
    assert not engine._regions(edit, classic, keep)[1].any()
    result = engine.propagate(clip, edit, OPTS)
    assert result.extras["prompt"] == DEFAULT_PROMPTS["remove"]


def test_outpaint_regenerates_the_new_canvas(pipe: VacePropagationPipeline) -> None:
    clip = generated_clip(6)
    edit = compose(clip[0], [{"op": "outpaint", "left": 6, "right": 6, "method": "reflect"}])
    result = VaceEngine(pipeline=pipe).propagate(clip, edit, {**OPTS, "prompt": "a wider view of the street"})
    assert result.frames.shape == (6, 27, 57, 3) and result.extras["prompt"] == "a wider view of the street"
    for t in range(1, 6):
        assert result.masks[t][:, :6].all() and result.masks[t][:, -6:].all() and not result.masks[t][:, 8:-8].any()
        inside = feather_mask(result.masks[t], 2) == 0
        assert np.array_equal(result.frames[t][inside], np.pad(clip[t], ((0, 0), (6, 6), (0, 0)), mode="edge")[inside])


def test_cancel_stops_within_the_first_step(pipe: VacePropagationPipeline) -> None:
    cancel = CancelToken()
    steps: list[int] = []

    def progress(p: Progress) -> None:
        if p.stage == "denoising" and p.step:
            steps.append(p.step)
            cancel.cancel()

    clip = generated_clip(6)
    with pytest.raises(PropagationCancelled):
        VaceEngine(pipeline=pipe).propagate(clip, paste_edit(clip[0]), OPTS, progress, cancel)
    assert steps == [1]


def test_missing_weights_say_where_they_were_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("GENPROP_VACE_PATH", raising=False)
    clip = generated_clip(6)
    with pytest.raises(MissingWeightsError, match="Wan2.1-VACE weights .* not found; looked in: .*models"):
        VaceEngine().propagate(clip, paste_edit(clip[0]), {**OPTS, "model_dirs": [str(tmp_path / "models")]})
    ok, why = engine_spec("genprop-vace").availability([str(tmp_path / "models")])
    assert not ok and "model manager" in why


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_vace_pipeline(tmp_path_factory.mktemp("vace") / "Wan2.1-VACE-1.3B-diffusers")


def _short_real_clip(shared_data: Path, folder: Path, frames: int = 9) -> tuple[Path, Path, Path]:
    reader = open_video(shared_data / "clips" / "tree.avi")
    clip = [reader[i] for i in range(frames)]
    fps = reader.fps
    reader.close()
    video = write_video(folder / "tree9.mp4", clip, fps, lossless=True)
    first = open_video(video)[0]
    h, w = first.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    mask[h // 3 : h // 2, w // 3 : w // 2] = 255
    edited = first.copy()
    edited[mask > 0] = (230, 40, 40)
    Image.fromarray(edited).save(folder / "edited.png")
    Image.fromarray(mask).save(folder / "mask.png")
    return video, folder / "edited.png", folder / "mask.png"


def test_cli_runs_the_engine_on_a_real_clip(
    tiny_folder: Path, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants as hub_constants

    from app.cli import EXIT_BAD_INPUT, EXIT_OK
    from main import main

    video, edited, mask = _short_real_clip(shared_data, tmp_path)
    out, masks = tmp_path / "out.mp4", tmp_path / "masks"
    common = ["propagate", "--video", str(video), "--edited-frame", str(edited), "--mask", str(mask), "--engine", "genprop-vace"]
    tiny = ["--vace", str(tiny_folder), "--steps", "2", "--long-side", "48", "--window", "9", "--guidance-scale", "1"]
    code = main([*common, *tiny, "--device", "cpu", "--margin", "4", "--out", str(out), "--masks-out", str(masks)])
    assert code == EXIT_OK
    result = open_video(out)
    assert len(result) == 9 and result.size == (320, 240)
    assert len(list(masks.glob("mask_*.png"))) == 9
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("GENPROP_VACE_PATH", raising=False)
    assert main([*common, "--out", str(tmp_path / "x.mp4")]) == EXIT_BAD_INPUT
    assert not (tmp_path / "x.mp4").exists()


def test_cli_says_which_weights_are_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import huggingface_hub.constants as hub_constants

    from app.cli import EXIT_BAD_INPUT
    from main import main
    from tests.test_cli_propagate import inputs as make_inputs

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("GENPROP_VACE_PATH", raising=False)
    files = make_inputs.__wrapped__(tmp_path)  # type: ignore[attr-defined]
    args = ["propagate", "--video", str(files["video"]), "--edited-frame", str(files["edited"]), "--engine", "genprop-vace"]
    assert main([*args, "--out", str(tmp_path / "x.mp4")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Wan2.1-VACE weights (diffusers format) not found" in err and "GENPROP_VACE_PATH" in err
    assert not (tmp_path / "x.mp4").exists()


def test_genprop_wan_weights_use_the_sce_and_the_mpd(tmp_path: Path, pipe: VacePropagationPipeline) -> None:
    from engine.genprop.wan_heads import WanGenPropHeads

    components = tiny_vace_components(0)
    heads = WanGenPropHeads.from_transformer(components["transformer"], num_sce_blocks=2, mpd_hidden_channels=8)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in heads.parameters():
            if not p.any():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    heads.save_pretrained(tmp_path / "genprop-wan")
    folder = save_tiny_vace_pipeline(tmp_path / "Wan2.1-VACE-1.3B-diffusers")
    clip = generated_clip(6)
    edit = paste_edit(clip[0])
    result = VaceEngine().propagate(clip, edit, {**OPTS, "vace": str(folder), "weights": str(tmp_path / "genprop-wan")})
    assert result.mode == "genprop-wan" and result.extras["mask_source"] == "mpd"
    assert np.array_equal(result.frames[0], edit.edited_frame) and result.frames.shape == (6, 27, 45, 3)
    for t in range(1, 6):  # keep-original follows the MPD's mask against the ORIGINAL clip
        outside = feather_mask(result.masks[t], 2) == 0
        assert np.array_equal(result.frames[t][outside], clip[t][outside])
    from engine.edit import Keyframe

    user = np.asarray(clip[3]).copy()
    user[2:10, 30:42] = (0, 255, 0)  # an edited keyframe is a known frame for GenProp-Wan too
    keyed = type(edit)(
        edit.original_frame, edit.edited_frame, edit.edit_mask, edit.operations, keyframes=[Keyframe(3, edited_frame=user)]
    )
    keyed_result = VaceEngine().propagate(clip, keyed, {**OPTS, "vace": str(folder), "weights": str(tmp_path / "genprop-wan")})
    assert np.array_equal(keyed_result.frames[3], user) and not np.array_equal(result.frames[3], user)
    with pytest.raises(MissingWeightsError, match="does not exist"):
        VaceEngine().propagate(clip, edit, {**OPTS, "vace": str(folder), "weights": str(tmp_path / "nowhere")})
    with pytest.raises(ValueError, match="set_heads"):
        VaceEngine(pipeline=pipe).propagate(clip, edit, {**OPTS, "weights": str(tmp_path / "genprop-wan")})


@pytest.mark.slow
def test_whole_real_clip_in_several_windows(pipe: VacePropagationPipeline, shared_data: Path) -> None:
    reader = open_video(shared_data / "clips" / "tree.avi")
    clip = ArrayClip([reader[i] for i in range(len(reader))], fps=reader.fps)
    reader.close()
    result = VaceEngine(pipeline=pipe).propagate(clip, paste_edit(clip[0]), {**OPTS, "window": 17, "long_side": 64})
    assert result.frames.shape == (len(clip), 240, 320, 3) and len(result.extras["windows"]) > 3
    assert all(d is None or d >= 0 for d in result.extras["colour_drift"])


def test_keyframes_reach_vace(pipe: VacePropagationPipeline) -> None:
    """A mask correction moves the regenerated region (through the classic tracking); an edited keyframe is
    kept as the user made it, like frame 1."""
    from engine.edit import Keyframe

    clip = generated_clip(8)
    edit = paste_edit(clip[0])
    moved = np.zeros(edit.operations[0].mask.shape, np.uint8)
    moved[2:10, 30:42] = 255  # the user says the object is here on frame 5
    user = np.asarray(clip[5]).copy()
    user[2:10, 30:42] = (0, 255, 0)
    keyed = type(edit)(
        edit.original_frame,
        edit.edited_frame,
        edit.edit_mask,
        edit.operations,
        edit.canvas_offset,
        [Keyframe(5, {0: moved}, edited_frame=user)],
    )
    assert get_engine("genprop-vace").follows_keyframes
    result = VaceEngine(pipeline=pipe).propagate(clip, keyed, OPTS)
    assert np.array_equal(result.frames[5], user)
    assert (result.masks[5][moved > 0] > 0).mean() > 0.9  # the tracked region follows the correction there
    plain = VaceEngine(pipeline=pipe).propagate(clip, edit, OPTS)
    assert (plain.masks[5][moved > 0] > 0).mean() < 0.5
