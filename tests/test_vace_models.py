"""Model manager entries for Wan2.1-VACE-1.3B and -14B: licence and size shown, found where the engine
looks, downloaded into the Hugging Face cache (safetensors only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.model_manager import DownloadJob, app_hub_cache, default_download_target, scan
from engine.engines.base import CancelToken
from engine.pipelines.dummy_wan import save_tiny_vace_pipeline


def test_scan_lists_both_checkpoints_with_licence_and_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("GENPROP_VACE_PATH", raising=False)
    models = tmp_path / "models"
    wan = {s.name: s for s in scan(models) if s.name.startswith("Wan2.1-VACE")}
    assert set(wan) == {"Wan2.1-VACE-1.3B (diffusers)", "Wan2.1-VACE-14B (diffusers)"}
    small, big = wan["Wan2.1-VACE-1.3B (diffusers)"], wan["Wan2.1-VACE-14B (diffusers)"]
    assert not small.found and "Apache-2.0" in small.licence and small.hub_id == "Wan-AI/Wan2.1-VACE-1.3B-diffusers"
    assert "about 21 GB" in small.purpose and "about 75 GB" in big.purpose  # the estimated download size
    assert small.to_hub_cache and all(p.endswith((".json", ".safetensors", "/*")) for p in small.allow_patterns)
    assert "Hugging Face cache" in small.where
    save_tiny_vace_pipeline(models / "Wan2.1-VACE-1.3B-diffusers")
    after = {s.name: s for s in scan(models)}
    assert after["Wan2.1-VACE-1.3B (diffusers)"].found and not after["Wan2.1-VACE-14B (diffusers)"].found


def test_download_goes_to_the_hub_cache_with_safetensors_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    calls: list[dict] = []

    def fake_snapshot_download(repo_id: str, **kwargs: object) -> str:
        calls.append({"repo_id": repo_id, **kwargs})
        return str(tmp_path / "hub" / "snapshot")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setenv("GENPROP_STUDIO_HOME", str(tmp_path / "home"))
    status = next(s for s in scan(tmp_path / "models") if s.name == "Wan2.1-VACE-14B (diffusers)")
    target = default_download_target(status, tmp_path / "models")
    assert target == app_hub_cache() and str(target).startswith(str(tmp_path / "home"))
    DownloadJob(status, target)(lambda p: None, CancelToken())
    (call,) = calls
    assert call["repo_id"] == "Wan-AI/Wan2.1-VACE-14B-diffusers" and call["cache_dir"] == target and "local_dir" not in call
    assert "transformer/*.safetensors" in call["allow_patterns"] and not any(".bin" in p for p in call["allow_patterns"])
    assert not (tmp_path / "models").exists()
