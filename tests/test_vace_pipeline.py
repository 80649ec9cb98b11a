"""The Wan VACE propagation pipeline: exact parity with diffusers' WanVACEPipeline, windows, prompt cache,
cancellation inside a step, loading a saved folder, and the weights locator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.genprop.weights import MissingWeightsError
from engine.pipelines.dummy_wan import save_tiny_vace_pipeline, tiny_vace_components
from engine.pipelines.vace_pipeline import VacePropagationPipeline, clean_prompt
from engine.pipelines.vace_weights import VACE_ENV, VACE_MODELS, is_vace_folder, locate_vace, vace_availability

T, H, W = 9, 32, 32


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="module")
def pipe() -> VacePropagationPipeline:
    return VacePropagationPipeline(**tiny_vace_components(0))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_vace_pipeline(tmp_path_factory.mktemp("vace") / "Wan2.1-VACE-1.3B-diffusers")


def clip_and_masks(n: int = T) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (n, H, W, 3), dtype=np.uint8)
    masks = np.zeros((n, H, W), np.uint8)
    masks[1:, 8:24, 8:24] = 255
    return frames, masks


def embeds() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.randn(1, 16, 32, generator=gen), torch.randn(1, 16, 32, generator=gen)


def test_one_window_equals_diffusers_wan_vace_pipeline(pipe: VacePropagationPipeline) -> None:
    from diffusers import WanVACEPipeline

    frames, masks = clip_and_masks()
    frames[0] = 200  # the edited frame 1, fixed by a black mask
    pe, ne = embeds()
    reference = WanVACEPipeline(**tiny_vace_components(0))(
        video=[Image.fromarray(f) for f in frames],
        mask=[Image.fromarray(m) for m in masks],
        prompt_embeds=pe,
        negative_prompt_embeds=ne,
        height=H,
        width=W,
        num_frames=T,
        num_inference_steps=2,
        guidance_scale=4.0,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).frames[0]
    out = pipe(
        frames,
        masks,
        prompt_embeds=pe,
        negative_prompt_embeds=ne,
        num_inference_steps=2,
        guidance_scale=4.0,
        window_size=T,
        generator=torch.Generator().manual_seed(0),
    )
    expected = np.clip(np.rint(reference * 255), 0, 255).astype(np.uint8)
    assert out.frames.shape == (T, H, W, 3)
    assert np.array_equal(out.frames, expected)


def test_long_clip_windows_continue_and_stream(pipe: VacePropagationPipeline) -> None:
    frames, masks = clip_and_masks(13)
    pe, ne = embeds()
    got: dict[int, np.ndarray] = {}
    out = pipe(
        frames,
        masks,
        prompt_embeds=pe,
        negative_prompt_embeds=ne,
        num_inference_steps=1,
        guidance_scale=1.0,
        window_size=9,
        overlap=5,
        frame_sink=lambda i, f, m: got.setdefault(i, f),
        generator=torch.Generator().manual_seed(0),
    )
    assert out.frames is None and sorted(got) == list(range(13))
    assert [(w.start, w.stop, w.context) for w in out.windows] == [(0, 9, 0), (4, 13, 5)]
    assert out.colour[0] is None and out.colour[1] is not None and out.colour[1].drift_after <= out.colour[1].drift_before


def test_prompts_are_cached_and_encoded_like_diffusers(pipe: VacePropagationPipeline) -> None:
    calls = []
    handle = pipe.text_encoder.register_forward_hook(lambda *a: calls.append(1))
    try:
        first = pipe.prompt_embeddings("a red car", "blurry", True, 16, torch.device("cpu"), torch.float32)
        again = pipe.prompt_embeddings("a red car", "blurry", True, 16, torch.device("cpu"), torch.float32)
    finally:
        handle.remove()
    assert len(calls) == 2  # positive + negative, once
    assert torch.equal(first[0], again[0]) and first[0].shape == (1, 16, 32)
    tokens = int(pipe.tokenizer("a red car").attention_mask.__len__())
    assert first[0][0, tokens:].abs().sum() == 0 and first[0][0, : tokens - 1].abs().sum() > 0  # zero-padded
    assert clean_prompt("  a &amp;   b \n") == "a & b"


def test_interrupt_stops_inside_a_denoising_step(pipe: VacePropagationPipeline) -> None:
    frames, masks = clip_and_masks()
    pe, ne = embeds()
    calls: list[int] = []

    class Stop(Exception):
        pass

    def interrupt() -> None:
        calls.append(1)
        if len(calls) == 3:  # encode, cond pass of step 1, then the uncond pass of step 1
            raise Stop

    steps: list[int] = []
    with pytest.raises(Stop):
        pipe(
            frames,
            masks,
            prompt_embeds=pe,
            negative_prompt_embeds=ne,
            num_inference_steps=3,
            guidance_scale=4.0,
            window_size=T,
            interrupt=interrupt,
            callback=lambda r: steps.append(r.step),
        )
    assert steps == []  # stopped between the two transformer passes of the first step


def test_bad_inputs_name_the_problem(pipe: VacePropagationPipeline) -> None:
    frames, masks = clip_and_masks()
    with pytest.raises(ValueError, match="multiples of 16"):
        pipe(frames[:, :30], masks[:, :30], prompt_embeds=embeds()[0], guidance_scale=1.0)
    with pytest.raises(ValueError, match="4k\\+1"):
        pipe(frames, masks, prompt_embeds=embeds()[0], guidance_scale=1.0, window_size=8)
    with pytest.raises(ValueError, match="masks must be"):
        pipe(frames, masks[:3], prompt_embeds=embeds()[0], guidance_scale=1.0)
    with pytest.raises(ValueError, match="GenProp heads"):
        pipe(frames, masks, originals=frames, prompt_embeds=embeds()[0], guidance_scale=1.0)


def test_saved_folder_loads_and_incomplete_folder_is_refused(saved: Path, tmp_path: Path) -> None:
    assert is_vace_folder(saved)
    loaded = VacePropagationPipeline.from_pretrained(saved)
    assert loaded.vae.dtype == torch.float32 and loaded.transformer.config.vace_layers == [0, 2]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text("{}")
    with pytest.raises(MissingWeightsError, match="transformer/config.json"):
        VacePropagationPipeline.from_pretrained(broken)


def test_locator_order_and_missing_message(saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv(VACE_ENV, raising=False)
    missing = locate_vace(None, [tmp_path / "models"], env={})
    assert not missing.loadable
    ok, why = vace_availability([tmp_path / "models"])
    assert not ok and "Wan2.1-VACE weights (diffusers format) not found" in why and "GENPROP_VACE_PATH" in why
    assert str(tmp_path / "models" / "Wan2.1-VACE-14B-diffusers") in why and "Hugging Face cache" in why
    assert locate_vace(saved).path == saved and locate_vace(saved).source == "explicit"
    assert locate_vace(None, env={VACE_ENV: str(saved)}).source == "environment"
    assert locate_vace(None, [saved.parent], env={}).path == saved
    assert not locate_vace(None, [saved.parent], env={}, model="14B").found  # the folder is named 1.3B
    assert not locate_vace(tmp_path / "nowhere", [saved.parent], env={}).found  # an explicit path is not second-guessed


def test_locator_finds_the_hugging_face_cache(saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import huggingface_hub.constants as hub_constants

    cache = tmp_path / "hub"
    repo = cache / ("models--" + VACE_MODELS["1.3B"].repo_id.replace("/", "--"))
    shutil.copytree(saved, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    found = locate_vace(None, [], env={})
    assert found.found and found.source == "hub cache" and found.hub_id == VACE_MODELS["1.3B"].repo_id
    assert vace_availability([]) == (True, "")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    assert not locate_vace(None, [], env={}).found
    in_models = locate_vace(None, [cache], env={})  # a search folder that is itself a hub cache (the app's)
    assert in_models.found and in_models.source == "models folder (hub cache)"


def test_memory_plan_on_cpu_keeps_the_vae_fp32_and_umt5_aside() -> None:
    from engine.pipelines.memory import plan_for_mode

    pipe = VacePropagationPipeline(**tiny_vace_components(0))
    pipe.apply_memory_plan(plan_for_mode("bf16"), "cpu", vae_tiling=True, text_encoder_on="cpu")
    assert pipe.transformer.dtype == torch.bfloat16 and pipe.vae.dtype == torch.float32 and pipe.vae.use_tiling
    assert pipe.text_encoder.device.type == "cpu"
    with pipe._text_encoder_aside():  # what diffusers' offload set-up sees: no text encoder to hook or move
        assert pipe.text_encoder is None and pipe.components["text_encoder"] is None
    assert pipe.config.text_encoder == ("transformers", "UMT5EncoderModel") and pipe.text_encoder is not None
    frames, masks = clip_and_masks(5)
    out = pipe(frames, masks, prompt="a red car", guidance_scale=1.0, num_inference_steps=1, window_size=5, overlap=1)
    assert out.frames.shape == (5, H, W, 3)
    pipe.apply_memory_plan(plan_for_mode("fp32"), "cpu")
    assert pipe.transformer.dtype == torch.float32 and not pipe.vae.use_tiling


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["bf16", "offload", "sequential"])
def test_memory_modes_on_a_gpu(mode: str) -> None:
    from engine.pipelines.memory import plan_for_mode

    pipe = VacePropagationPipeline(**tiny_vace_components(0))
    pipe.apply_memory_plan(plan_for_mode(mode, "cuda"), "cuda", vae_tiling=mode == "sequential", text_encoder_on="cpu")
    frames, masks = clip_and_masks(9)
    out = pipe(frames, masks, prompt="a red car", guidance_scale=2.0, num_inference_steps=2, window_size=5, overlap=1)
    assert out.frames.shape == (9, H, W, 3) and len(out.windows) == 2
    assert pipe.text_encoder.device.type == "cpu"
