"""Weights folder: round trip is bit-identical; damaged / mismatched / missing files are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.genprop import (
    CorruptWeightsError,
    GenPropConfig,
    GenPropHeads,
    GenPropModel,
    GenPropWeightsError,
    MissingWeightsError,
    WeightsMismatchError,
    load_unet,
)
from engine.genprop.weights import WEIGHTS_NAME
from tests.test_genprop_common import make_inputs, make_model, make_unet, perturb


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[GenPropModel, Path]:
    model = make_model(GenPropConfig(num_sce_blocks=1, mpd_hidden_channels=16))
    perturb(model.heads)
    model.save_pretrained(tmp_path / "genprop")
    return model, tmp_path / "genprop"


def test_round_trip_is_bit_identical(saved: tuple[GenPropModel, Path]) -> None:
    model, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", WEIGHTS_NAME]
    assert not list(folder.glob("*.bin"))
    loaded = GenPropModel(make_unet(seed=0), GenPropHeads.from_pretrained(folder)).eval()
    assert loaded.heads.genprop_config == model.heads.genprop_config
    inputs = make_inputs()
    with torch.no_grad():
        a = model(**inputs, injection_weight=0.7)
        b = loaded(**inputs, injection_weight=0.7)
    assert torch.equal(a.sample, b.sample)
    assert torch.equal(a.mask_logits, b.mask_logits)


def test_corrupted_file_is_refused(saved: tuple[GenPropModel, Path]) -> None:
    _, folder = saved
    data = (folder / WEIGHTS_NAME).read_bytes()
    (folder / WEIGHTS_NAME).write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptWeightsError, match=WEIGHTS_NAME):
        GenPropHeads.from_pretrained(folder)


def test_mismatched_shape_names_the_parameter(saved: tuple[GenPropModel, Path]) -> None:
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["mpd_hidden_channels"] = 24
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsMismatchError, match=r"'mpd\.mlp\.1\.weight' has shape \(16, 32, 3, 3\)"):
        GenPropHeads.from_pretrained(folder)


def test_missing_parameters_are_named(saved: tuple[GenPropModel, Path]) -> None:
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["num_sce_blocks"] = 2
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsMismatchError, match=r"missing parameters 'sce\.down_blocks\.1"):
        GenPropHeads.from_pretrained(folder)


def test_missing_folder_says_which_files_and_where(tmp_path: Path) -> None:
    with pytest.raises(MissingWeightsError) as info:
        GenPropHeads.from_pretrained(tmp_path / "nowhere")
    message = str(info.value)
    assert "config.json" in message and WEIGHTS_NAME in message and str(tmp_path / "nowhere") in message
    assert isinstance(info.value, GenPropWeightsError)


def test_heads_refuse_a_different_backbone(saved: tuple[GenPropModel, Path]) -> None:
    _, folder = saved
    from diffusers import UNetSpatioTemporalConditionModel

    from engine.genprop import tiny_unet_config

    other = UNetSpatioTemporalConditionModel(**{**tiny_unet_config(), "cross_attention_dim": 16})
    with pytest.raises(WeightsMismatchError, match="cross_attention_dim"):
        GenPropModel(other, GenPropHeads.from_pretrained(folder))


def test_backbone_loads_unchanged_from_a_diffusers_folder(tmp_path: Path, saved: tuple[GenPropModel, Path]) -> None:
    unet = make_unet(seed=3)
    unet.save_pretrained(tmp_path / "svd" / "unet")
    model = GenPropModel.from_pretrained(tmp_path / "svd", saved[1])
    for (name, a), b in zip(unet.state_dict().items(), model.unet.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingWeightsError) as info:
        load_unet(empty)
    assert "config.json" in str(info.value) and str(empty / "unet") in str(info.value)
