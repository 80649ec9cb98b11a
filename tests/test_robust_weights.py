"""Weights and checkpoints someone sent you: never unpickled, never sent to the hub, never NaN (issue 17).

The malicious files here are real: their pickle payload creates a marker file when
unpickled (checked once with ``pickle.loads`` so the test can fail), and ``torch.load``
is watched so that nothing even tries.
"""

from __future__ import annotations

import json
import pickle
import shutil
import socket
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import main
from engine.genprop.file_names import WEIGHTS_NAME
from engine.genprop.weights import CorruptWeightsError, GenPropWeightsError, MissingWeightsError, load_weights_into

ROOT = Path(__file__).resolve().parents[1]


class _Payload:
    """Unpickling this opens (creates) ``marker`` for writing: what an attacker's code would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


def malicious_pickle(path: Path, marker: Path) -> Path:
    data = pickle.dumps({"state_dict": _Payload(marker)}, protocol=2)
    path.write_bytes(data)
    return path


@pytest.fixture()
def marker(tmp_path: Path) -> Path:
    """The marker file; proves once that the payload is live, then removes it."""
    m = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(_Payload(m))).close()
    assert m.exists(), "the payload must really run when unpickled"
    m.unlink()
    return m


@pytest.fixture()
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records any call of torch.load (there must be none) and fails network access loudly."""
    calls: list[str] = []
    real = torch.load

    def watched(f, *a, **k):  # type: ignore[no-untyped-def]
        calls.append(str(f))
        return real(f, *a, **k)

    monkeypatch.setattr(torch, "load", watched)

    def no_network(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    return calls


@pytest.fixture(scope="module")
def saved_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.pipelines.dummy import tiny_components
    from engine.pipelines.genprop_pipeline import GenPropPipeline

    c = tiny_components()
    heads = c.pop("heads")
    folder = tmp_path_factory.mktemp("weights") / "svd"
    GenPropPipeline.from_components(heads=heads, **c).save_pretrained(folder)
    return folder


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / folder.name
    shutil.copytree(folder, target)
    return target


def poison(file: Path) -> None:
    """Put one NaN and one Inf into the first floating-point tensor of a safetensors file."""
    tensors = load_file(str(file))
    name = next(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 1)
    t = tensors[name].clone().reshape(-1)
    t[0], t[1] = float("nan"), float("inf")
    tensors[name] = t.reshape(tensors[name].shape)
    save_file(tensors, str(file))


def test_the_saved_pipeline_loads(saved_pipeline: Path, no_unpickling: list[str]) -> None:
    from engine.pipelines.genprop_pipeline import GenPropPipeline

    pipe = GenPropPipeline.from_pretrained(saved_pipeline, saved_pipeline / "genprop")
    assert pipe.heads is not None and no_unpickling == []


def test_a_string_config_is_refused_not_fetched(
    saved_pipeline: Path, tmp_path: Path, no_unpickling: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported case: a config.json holding a string went to diffusers as a hub id (5 network tries)."""
    from diffusers import StableVideoDiffusionPipeline

    from engine.genprop import GenPropHeads
    from engine.pipelines.genprop_pipeline import GenPropPipeline

    folder = copy_of(saved_pipeline, tmp_path)
    (folder / "genprop" / "config.json").write_text('"stabilityai/stable-video-diffusion-img2vid"')
    with pytest.raises(CorruptWeightsError, match="must hold a JSON object"):
        GenPropHeads.from_pretrained(folder / "genprop")
    (folder / "unet" / "config.json").write_text('"stabilityai/stable-video-diffusion-img2vid"')

    def diffusers_must_not_see_it(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("diffusers was given a bad config")

    monkeypatch.setattr(StableVideoDiffusionPipeline, "from_pretrained", classmethod(diffusers_must_not_see_it))
    with pytest.raises(CorruptWeightsError, match="unet/config.json must hold a JSON object"):
        GenPropPipeline.from_pretrained(folder)
    (folder / "unet" / "config.json").write_text("{" * 5000)
    with pytest.raises(CorruptWeightsError):
        GenPropPipeline.from_pretrained(folder)
    (folder / "unet" / "config.json").unlink()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "X", "unet": "stabilityai/other"}))
    with pytest.raises(MissingWeightsError, match="unet/config.json"):
        GenPropPipeline.from_pretrained(folder)


def test_nan_or_inf_weights_are_refused_on_load(saved_pipeline: Path, tmp_path: Path) -> None:
    from engine.pipelines.genprop_pipeline import GenPropPipeline

    folder = copy_of(saved_pipeline, tmp_path)
    poison(folder / "genprop" / WEIGHTS_NAME)
    with pytest.raises(CorruptWeightsError, match="NaN/Inf"):
        GenPropPipeline.from_pretrained(folder, folder / "genprop")
    shutil.rmtree(folder)
    folder = copy_of(saved_pipeline, tmp_path)
    poison(folder / "unet" / "diffusion_pytorch_model.safetensors")
    with pytest.raises(CorruptWeightsError, match="SVD unet .*NaN/Inf"):
        GenPropPipeline.from_pretrained(folder)
    # the loader every GenProp weights folder goes through
    lin = torch.nn.Linear(3, 2)
    (tmp_path / "lin").mkdir()
    (tmp_path / "lin" / "config.json").write_text("{}")
    save_file({"weight": torch.full((2, 3), float("nan")), "bias": torch.zeros(2)}, str(tmp_path / "lin" / WEIGHTS_NAME))
    with pytest.raises(CorruptWeightsError, match="'weight' holds 6 NaN/Inf"):
        load_weights_into(lin, tmp_path / "lin")


def test_pickled_svd_weights_are_never_unpickled(
    saved_pipeline: Path, tmp_path: Path, marker: Path, no_unpickling: list[str]
) -> None:
    from engine.pipelines.genprop_pipeline import GenPropPipeline

    folder = copy_of(saved_pipeline, tmp_path)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    malicious_pickle(folder / "unet" / "diffusion_pytorch_model.bin", marker)
    with pytest.raises(GenPropWeightsError):
        GenPropPipeline.from_pretrained(folder)
    assert not marker.exists() and no_unpickling == []


def test_clip_scorer_never_unpickles(
    tmp_path: Path, marker: Path, no_unpickling: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import CLIPConfig, CLIPModel

    from engine.metrics.clip_score import ClipScorer, load_clip_scorer

    folder = tmp_path / "clip"
    folder.mkdir()
    tiny = {"hidden_size": 8, "intermediate_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1}
    config = CLIPConfig(
        text_config=tiny | {"vocab_size": 99}, vision_config=tiny | {"image_size": 8, "patch_size": 4}, projection_dim=8
    )
    (folder / "config.json").write_text(config.to_json_string())
    malicious_pickle(folder / "pytorch_model.bin", marker)
    scorer, note = load_clip_scorer(folder)
    assert scorer is None and "safetensors" in note
    # past our own check (some other .safetensors present), transformers is told safetensors only
    (folder / "unrelated.safetensors").write_bytes(b"")
    seen: dict[str, object] = {}
    real = CLIPModel.from_pretrained.__func__  # type: ignore[attr-defined]

    def spy(cls, *a, **k):  # type: ignore[no-untyped-def]
        seen.update(k)
        return real(cls, *a, **k)

    monkeypatch.setattr(CLIPModel, "from_pretrained", classmethod(spy))
    with pytest.raises(OSError):
        ClipScorer.from_folder(folder)
    assert seen.get("use_safetensors") is True and seen.get("local_files_only") is True
    assert not marker.exists() and no_unpickling == []


def test_diffusers_inpainter_never_unpickles(
    tmp_path: Path, marker: Path, no_unpickling: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    import diffusers

    inpaint = importlib.import_module("engine.edits.inpaint")  # (engine.edits.inpaint is also a function's name)

    model = tmp_path / "inpaint"
    (model / "unet").mkdir(parents=True)
    (model / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusionInpaintPipeline",
                "_diffusers_version": diffusers.__version__,
                "unet": ["diffusers", "UNet2DConditionModel"],
            }
        )
    )
    (model / "unet" / "config.json").write_text(
        json.dumps({"_class_name": "UNet2DConditionModel", "block_out_channels": [8, 16]})
    )
    malicious_pickle(model / "unet" / "diffusion_pytorch_model.bin", marker)
    seen: dict[str, object] = {}
    real = diffusers.AutoPipelineForInpainting.from_pretrained.__func__  # type: ignore[attr-defined]

    def spy(cls, *a, **k):  # type: ignore[no-untyped-def]
        seen.update(k)
        return real(cls, *a, **k)

    monkeypatch.setattr(diffusers.AutoPipelineForInpainting, "from_pretrained", classmethod(spy))
    inpaint._load_diffusers_pipeline.cache_clear()
    with pytest.raises(inpaint.InpaintUnavailableError):
        inpaint._load_diffusers_pipeline(str(model), "cpu")
    assert seen.get("use_safetensors") is True and seen.get("local_files_only") is True
    assert not marker.exists() and no_unpickling == []
    (model / "model_index.json").write_text('"runwayml/stable-diffusion-inpainting"')
    inpaint._load_diffusers_pipeline.cache_clear()
    with pytest.raises(inpaint.InpaintUnavailableError, match="must hold a JSON object"):
        inpaint._load_diffusers_pipeline(str(model), "cpu")


# ----------------------------------------------------------------------------- train --resume
TRAIN = [
    "train",
    "--config", str(ROOT / "training" / "configs" / "tiny_cpu.yaml"),
    "--max-steps", "2",
    "--set", "data.num_frames=2",
    "--set", "data.buckets=[[16, 16]]",
    "--set", "optim.batch_size=1",
    "--set", "logging.validate_every=0",
    "--set", "checkpoint.every=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("train")
    assert main.main([*TRAIN, "--output-dir", str(out), "--stop-after", "1"]) == 0
    return out / "checkpoint-1"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])


BREAKAGES = {
    "malicious optimizer.pt": (lambda c, m: malicious_pickle(c / "optimizer.pt", m), "cannot be loaded safely"),
    "malicious scheduler.pt": (lambda c, m: malicious_pickle(c / "scheduler.pt", m), "cannot be loaded safely"),
    "truncated optimizer.pt": (lambda c, m: _truncate(c / "optimizer.pt"), "optimizer.pt"),
    "truncated ema.safetensors": (lambda c, m: _truncate(c / "ema.safetensors"), "ema.safetensors"),
    "truncated heads": (lambda c, m: _truncate(c / "genprop" / WEIGHTS_NAME), WEIGHTS_NAME),
    "NaN in the heads": (lambda c, m: poison(c / "genprop" / WEIGHTS_NAME), "NaN/Inf"),
    "NaN in the EMA": (lambda c, m: poison(c / "ema.safetensors"), "NaN/Inf"),
    "string heads config": (lambda c, m: (c / "genprop" / "config.json").write_text('"a/hub-id"'), "must hold a JSON object"),
    "trainer_state.json a list": (
        lambda c, m: (c / "trainer_state.json").write_text("[]"),
        "trainer_state.json must hold [",
    ),
    "trainer_state.json negative step": (
        lambda c, m: (c / "trainer_state.json").write_text(
            json.dumps({"global_step": -1, "consumed_batches": 0, "ema_updates": 0, "seed": 0})
        ),
        "global_step must be a non-negative integer",
    ),
    "rng.json deeply nested": (lambda c, m: (c / "rng.json").write_text("[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "missing scheduler.pt": (lambda c, m: (c / "scheduler.pt").unlink(), "scheduler.pt not found"),
}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_resume_from_a_bad_checkpoint_is_one_line_and_exit_2(
    name: str, checkpoint: Path, tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "run" / "checkpoint-1"
    shutil.copytree(checkpoint, broken)
    breakage, expected = BREAKAGES[name]
    breakage(broken, marker)
    capsys.readouterr()
    code = main.main([*TRAIN, "--output-dir", str(tmp_path / "run"), "--resume", str(broken)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert not marker.exists()


def test_resume_from_the_intact_checkpoint_still_works(checkpoint: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(checkpoint, run / "checkpoint-1")
    assert main.main([*TRAIN, "--output-dir", str(run), "--resume", "latest"]) == 0
    assert (run / "checkpoint-2" / "trainer_state.json").is_file()
