"""SAM2 weights: where a checkpoint is found (plain folders, a Hugging Face cache), and what a file holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.edits.selection import Sam2WeightsError, build_selector, find_sam2_checkpoint, found_sizes, locate_sam2
from engine.edits.selection.sam2_weights import (
    SAM2_MODELS,
    hub_cache_dir,
    identify_sam2,
    pick_size,
    read_sam2_state,
    search_description,
    verify_sam2_checkpoint,
)
from engine.engines.base import EngineUnavailableError
from engine.engines.classic.tracker_choice import choose_tracker, tracker_choice_availability
from tests.sam2_factory import fake_sam2_file, hub_cache_file


@pytest.fixture()
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No SAM2 anywhere: an empty hub cache, no GENPROP_SAM2_DIR."""
    monkeypatch.delenv("GENPROP_SAM2_DIR", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path


def test_hub_cache_dir_follows_the_environment_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hub_cache_dir() == tmp_path / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert hub_cache_dir() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "c"))
    assert hub_cache_dir() == tmp_path / "c"


def test_found_in_a_hub_cache_layout_and_in_plain_folders(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = clean_env
    assert found_sizes([tmp / "models"]) == {}
    # the default hub cache, as snapshot_download lays it out
    tiny = fake_sam2_file(hub_cache_file(tmp / "hub", "facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt"))
    assert find_sam2_checkpoint("tiny") == tiny
    # a models folder that is itself a hub cache root (the app's cache under GENPROP_STUDIO_HOME)
    app_cache = tmp / "home" / "cache" / "huggingface" / "hub"
    large = fake_sam2_file(hub_cache_file(app_cache, "facebook/sam2.1-hiera-large", "sam2.1_hiera_large.pt"))
    assert locate_sam2("large", [app_cache]) == (large, "models folder")
    assert locate_sam2("large", []) is None
    # a plain file in a models folder (or its sam2/ subfolder) wins over the hub cache; GENPROP_SAM2_DIR first
    plain = fake_sam2_file(tmp / "models" / "sam2" / "sam2.1_hiera_tiny.pt")
    assert find_sam2_checkpoint("tiny", model_dirs=[tmp / "models"]) == plain
    monkeypatch.setenv("GENPROP_SAM2_DIR", str(tmp / "env"))
    env = fake_sam2_file(tmp / "env" / "sam2.1_hiera_tiny.pt")
    assert find_sam2_checkpoint("tiny", model_dirs=[tmp / "models"]) == env
    assert list(found_sizes([app_cache])) == ["tiny", "large"]
    # a snapshot without refs/main (copied by hand) is still found
    (app_cache / "models--facebook--sam2.1-hiera-large" / "refs" / "main").unlink()
    assert locate_sam2("large", [app_cache]) == (large, "models folder")


def test_missing_weights_say_where_they_were_looked_for(clean_env: Path) -> None:
    tmp = clean_env
    with pytest.raises(Sam2WeightsError) as err:
        find_sam2_checkpoint("small", model_dirs=[tmp / "models"])
    text = str(err.value)
    assert str(tmp / "models" / "sam2.1_hiera_small.pt") in text and "facebook/sam2.1-hiera-small" in text
    assert str(tmp / "hub") in text and "Models" in text
    with pytest.raises(Sam2WeightsError, match="does not exist"):
        find_sam2_checkpoint("tiny", tmp / "nope.pt")
    with pytest.raises(ValueError, match="huge"):
        find_sam2_checkpoint("huge")
    assert search_description("tiny", [tmp / "m"]).count("sam2.1_hiera_tiny.pt") == 2


@pytest.mark.parametrize("size", list(SAM2_MODELS))
@pytest.mark.parametrize("version", ["2.1", "2.0"])
def test_a_checkpoint_says_which_sam2_it_holds(tmp_path: Path, size: str, version: str) -> None:
    arch = verify_sam2_checkpoint(fake_sam2_file(tmp_path / "x.pt", size, version))
    assert (arch.size, arch.version) == (size, version)
    assert arch.config.startswith("configs/sam2.1/" if version == "2.1" else "configs/sam2/")
    assert arch.name == f"SAM{version} {size}"


def test_wrong_and_corrupt_files_are_named(tmp_path: Path) -> None:
    import torch

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(Sam2WeightsError, match=r"cannot read SAM2 checkpoint .*bad\.pt"):
        read_sam2_state(bad)
    other = tmp_path / "other.pt"
    torch.save({"model": {"encoder.weight": torch.zeros(2)}}, other)
    with pytest.raises(Sam2WeightsError, match=r"other\.pt does not match any SAM2 model"):
        verify_sam2_checkpoint(other)
    odd = fake_sam2_file(tmp_path / "odd.pt", "tiny")
    state = read_sam2_state(odd)
    state["image_encoder.trunk.blocks.40.norm1.weight"] = torch.zeros(1)
    with pytest.raises(Sam2WeightsError, match="13 blocks"):
        identify_sam2(state, odd)
    with pytest.raises(Sam2WeightsError, match="holds SAM2.1 small, not the tiny model"):
        verify_sam2_checkpoint(fake_sam2_file(tmp_path / "s.pt", "small"), "tiny")
    torch.save({"model": [1, 2]}, tmp_path / "list.pt")
    with pytest.raises(Sam2WeightsError, match="no state dict"):
        read_sam2_state(tmp_path / "list.pt")
    # safetensors files are read too
    from safetensors.torch import save_file

    save_file(read_sam2_state(odd), str(tmp_path / "t.safetensors"))
    assert verify_sam2_checkpoint(tmp_path / "t.safetensors").size == "tiny"


def test_auto_picks_by_device_and_tracker_choice(clean_env: Path) -> None:
    tmp = clean_env
    assert pick_size(["large", "tiny"], prefer_large=False) == "tiny"
    assert pick_size(["large", "tiny"], prefer_large=True) == "large"
    assert pick_size([], prefer_large=True) is None
    models = tmp / "models"
    assert choose_tracker("auto", model_dirs=[models]).name == "flow"
    assert "no SAM2 weights found" in choose_tracker("auto", model_dirs=[models]).note
    with pytest.raises(EngineUnavailableError, match="needs SAM2 weights.*sam2.1_hiera_tiny.pt"):
        choose_tracker("sam2", model_dirs=[models])
    with pytest.raises(EngineUnavailableError, match="SAM2 large weights not found"):
        choose_tracker("sam2", "large", model_dirs=[models])
    fake_sam2_file(models / "sam2.1_hiera_small.pt", "small")
    fake_sam2_file(models / "sam2.1_hiera_large.pt", "large")
    cpu = choose_tracker("auto", model_dirs=[models], device="cpu")
    assert cpu.name == "sam2" and cpu.checkpoint == models / "sam2.1_hiera_small.pt"
    assert choose_tracker("auto", model_dirs=[models], device="cuda").checkpoint == models / "sam2.1_hiera_large.pt"
    assert choose_tracker("flow", model_dirs=[models]).name == "flow"
    explicit = choose_tracker("sam2", sam2_checkpoint=models / "sam2.1_hiera_large.pt")
    assert explicit.checkpoint == models / "sam2.1_hiera_large.pt"
    with pytest.raises(EngineUnavailableError, match="does not exist"):
        choose_tracker("sam2", sam2_checkpoint=tmp / "gone.pt")


def test_choice_availability_labels_and_refuses(clean_env: Path) -> None:
    models = clean_env / "models"
    ok, why = tracker_choice_availability("tracker", "sam2", [models])
    assert not ok and "no SAM2 weights found" in why and str(models / "sam2.1_hiera_tiny.pt") in why
    assert tracker_choice_availability("tracker", "auto", [models]) == (True, "optical flow: no SAM2 weights")
    assert tracker_choice_availability("tracker", "flow", [models])[0]
    assert not tracker_choice_availability("sam2_model", "tiny", [models])[0]
    fake_sam2_file(models / "sam2.1_hiera_tiny.pt")
    assert tracker_choice_availability("mask_tracker", "sam2", [models]) == (True, "SAM2 tiny")
    assert tracker_choice_availability("sam2_model", "tiny", [models]) == (True, "found")
    assert tracker_choice_availability("flow_preset", "fast", [models]) == (True, "")


def test_the_selector_finds_weights_in_the_model_dirs(clean_env: Path) -> None:
    """``build_selector`` searches the app's folders: a cached but unusable file is reported, not skipped."""
    models = clean_env / "models"
    sel = build_selector("auto", model_dirs=[models])
    assert sel.is_fallback and "not found" in sel.reason
    fake_sam2_file(hub_cache_file(models, "facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt"))
    sel = build_selector("auto", model_dirs=[models])  # found; the fake cannot be loaded into the model
    assert sel.is_fallback and "does not match the model config" in sel.reason
