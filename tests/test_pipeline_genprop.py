"""GenPropPipeline end to end with tiny random components (CPU, 32x32, 2 steps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from engine.engines.base import PropagationCancelled
from engine.genprop.weights import WEIGHTS_NAME, CorruptWeightsError, MissingWeightsError
from engine.pipelines import GenPropPipeline, StepReport
from engine.pipelines.dummy import tiny_components
from engine.pipelines.weights_locator import locate_genprop, locate_svd

SIZE = 32
FAST = {"num_inference_steps": 2, "max_guidance_scale": 1.0}


@pytest.fixture(scope="module")
def components() -> dict:
    return tiny_components(0)


@pytest.fixture(scope="module")
def pipe(components: dict) -> GenPropPipeline:
    c = dict(components)
    return GenPropPipeline.from_components(**c)


def clip(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A moving gradient clip and its first frame with a red square pasted in."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    frames = np.stack(
        [np.dstack([(xx * 8 + t * 5) % 256, (yy * 8) % 256, np.full_like(xx, 60 + 3 * t)]) for t in range(n)]
    ).astype(np.uint8)
    edited = frames[0].copy()
    edited[8:20, 8:20] = (255, 0, 0)
    return frames, edited


def run(pipe: GenPropPipeline, video: np.ndarray, edited: np.ndarray, seed: int = 0, **kw):  # type: ignore[no-untyped-def]
    return pipe(video, edited, generator=torch.Generator().manual_seed(seed), **{**FAST, **kw})


def test_shapes_windows_chain_and_monotonic_progress(pipe: GenPropPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    video, edited = clip(20)
    seen: list[np.ndarray] = []
    original = pipe._encode_image

    def spy(image, *a, **k):  # type: ignore[no-untyped-def]
        seen.append(np.asarray(image).copy())
        return original(image, *a, **k)

    monkeypatch.setattr(pipe, "_encode_image", spy)
    reports: list[StepReport] = []
    out = run(pipe, video, edited, window_size=8, overlap=1, callback=reports.append)
    assert out.frames.shape == (20, SIZE, SIZE, 3) and out.frames.dtype == np.uint8
    assert out.masks.shape == (20, SIZE, SIZE) and out.mode == "genprop"
    assert [(w.start, w.stop) for w in out.windows] == [(0, 8), (7, 15), (14, 20)]
    assert np.array_equal(seen[0], edited)
    # each window is conditioned on the previous window's last generated frame
    for k, w in enumerate(out.windows[1:], start=1):
        assert w.start == out.windows[k - 1].stop - 1
        assert np.array_equal(seen[k], out.frames[w.start])
    done = [r.done for r in reports]
    assert done == sorted(done) and done[-1] == reports[-1].total == 3 * (2 + 1)
    assert {r.window for r in reports} == {0, 1, 2}


def test_seeded_runs_identical_and_seed_matters(pipe: GenPropPipeline) -> None:
    video, edited = clip(4)
    a, b, c = run(pipe, video, edited, 3), run(pipe, video, edited, 3), run(pipe, video, edited, 4)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.frames, c.frames)


def test_untrained_heads_match_diffusers_svd(components: dict) -> None:
    """Zero-initialised SCE: one window equals diffusers' own SVD pipeline (same seed, with guidance)."""
    from diffusers import StableVideoDiffusionPipeline

    c = dict(components)
    heads = c.pop("heads")
    video, edited = clip(4)
    ours = GenPropPipeline.from_components(heads=heads, **c)(
        video, edited, num_inference_steps=2, generator=torch.Generator().manual_seed(0), window_size=4
    )
    ref = StableVideoDiffusionPipeline(**c)(
        PIL.Image.fromarray(edited),
        height=SIZE,
        width=SIZE,
        num_frames=4,
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
        decode_chunk_size=4,
    ).frames[0]
    assert np.abs(ours.frames.astype(np.float64) - ref * 255).max() <= 0.5001


def test_sce_changes_output_when_trained() -> None:
    c = tiny_components(0, randomize_heads=True)
    heads = c.pop("heads")
    video, edited = clip(3)
    with_sce = GenPropPipeline.from_components(heads=heads, **c)
    a = run(with_sce, video, edited, injection_weight=1.0)
    b = run(with_sce, video, edited, injection_weight=0.0)
    assert not np.array_equal(a.frames, b.frames)


def test_cancel_stops_within_one_step(pipe: GenPropPipeline) -> None:
    video, edited = clip(6)
    steps: list[int] = []

    def cancel_after_first(r: StepReport) -> None:
        steps.append(r.done)
        raise PropagationCancelled("stop")

    with pytest.raises(PropagationCancelled):
        run(pipe, video, edited, window_size=4, callback=cancel_after_first)
    assert steps == [1]


def test_keep_original_outside_mask_is_bit_identical(pipe: GenPropPipeline) -> None:
    video, edited = clip(4)
    out = run(pipe, video, edited, keep_original_outside_mask=True, feather=2)
    from engine.pipelines.compositing import feather_mask

    for t in range(4):
        outside = feather_mask(out.masks[t], 2) == 0
        assert np.array_equal(out.frames[t][outside], video[t][outside])


def test_training_free_anchors_original_outside_region(pipe: GenPropPipeline) -> None:
    video, edited = clip(4)
    nothing = np.zeros((4, SIZE, SIZE), np.uint8)
    everything = np.full((4, SIZE, SIZE), 255, np.uint8)
    kept = run(pipe, video, edited, region_masks=nothing, use_heads=False)
    assert kept.mode == "training-free"
    # outside the region the final latents ARE the original's: output = VAE round trip of the clip
    # (up to 1 LSB: the decoder sees differently laid-out but equal tensors)
    with torch.no_grad():
        recon = pipe._decode(pipe._encode_originals(list(video), 4), 4).astype(np.int16)
    assert np.abs(kept.frames - recon).max() <= 1
    free = run(pipe, video, edited, region_masks=everything, use_heads=False)
    assert np.abs(free.frames - recon).mean() > 5
    assert np.array_equal(free.masks, everything / 255.0)


def test_bad_inputs_name_the_value(pipe: GenPropPipeline) -> None:
    video, edited = clip(4)
    with pytest.raises(ValueError, match="edited_frame is \\(16, 16, 3\\)"):
        pipe(video, edited[:16, :16], **FAST)
    with pytest.raises(ValueError, match="1 frame"):
        pipe(video[:1], edited, **FAST)
    with pytest.raises(ValueError, match="30x30"):
        pipe(video[:, :30, :30], edited[:30, :30], **FAST)
    with pytest.raises(ValueError, match="injection_weight"):
        pipe(video, edited, injection_weight=2.0, **FAST)
    with pytest.raises(MissingWeightsError, match="region_masks"):
        pipe(video, edited, use_heads=False, **FAST)


def test_save_and_load_through_locator(tmp_path: Path, components: dict) -> None:
    """The real loading code: save_pretrained -> locate -> from_pretrained."""
    c = dict(components)
    heads = c.pop("heads")
    GenPropPipeline.from_components(heads=heads, **c).save_pretrained(tmp_path / "svd")
    env = {"HF_HUB_OFFLINE": "1"}
    svd = locate_svd(None, [tmp_path], env)
    assert svd.path == tmp_path / "svd" and svd.source == "models folder"
    gp = locate_genprop(None, [tmp_path], env, svd_folder=svd.path)
    assert gp.path == tmp_path / "svd" / "genprop"
    loaded = GenPropPipeline.from_pretrained(svd.path, gp.path, local_files_only=True)
    assert loaded.heads is not None
    video, edited = clip(3)
    ref = run(GenPropPipeline.from_components(heads=heads, **c), video, edited)
    # CPU maths may round a few pixels differently after a save/load round trip (one level at most)
    diff = np.abs(run(loaded, video, edited).frames.astype(np.int16) - ref.frames)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.001
    # env var wins over the models folder
    env2 = {"GENPROP_SVD_PATH": str(tmp_path / "svd"), "HF_HUB_OFFLINE": "1"}
    assert locate_svd(None, [], env2).source == "environment"


def test_missing_and_corrupt_weights(tmp_path: Path, components: dict) -> None:
    with pytest.raises(MissingWeightsError, match="model_index.json"):
        GenPropPipeline.from_pretrained(tmp_path)
    missing = locate_svd(tmp_path / "nope", [], {"HF_HUB_OFFLINE": "1"})
    assert not missing.loadable and "GENPROP_SVD_PATH" in missing.missing_message()
    c = dict(components)
    heads = c.pop("heads")
    GenPropPipeline.from_components(heads=heads, **c).save_pretrained(tmp_path / "svd")
    with pytest.raises(MissingWeightsError, match="need config.json"):
        GenPropPipeline.from_pretrained(tmp_path / "svd", tmp_path / "empty")
    (tmp_path / "svd" / "genprop" / WEIGHTS_NAME).write_bytes(b"\x00" * 64)
    with pytest.raises(CorruptWeightsError):
        GenPropPipeline.from_pretrained(tmp_path / "svd", tmp_path / "svd" / "genprop")
    unet_file = tmp_path / "svd" / "unet" / "diffusion_pytorch_model.safetensors"
    unet_file.write_bytes(unet_file.read_bytes()[:100])
    with pytest.raises((CorruptWeightsError, MissingWeightsError)):
        GenPropPipeline.from_pretrained(tmp_path / "svd")
