"""The model manager finds saved weights where the engines look, and refuses offline downloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.model_manager import (
    DownloadError,
    DownloadJob,
    app_hub_cache,
    can_download,
    default_download_target,
    model_search_dirs,
    scan,
)
from engine.engines.base import CancelToken
from engine.genprop import GenPropHeads
from engine.pipelines.dummy import tiny_components
from engine.pipelines.genprop_pipeline import GenPropPipeline
from tests.sam2_factory import fake_sam2_file


def by_name(statuses, prefix):  # type: ignore[no-untyped-def]
    return next(s for s in statuses if s.name.startswith(prefix))


def test_scan_reports_missing_then_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENPROP_SVD_PATH", raising=False)
    monkeypatch.delenv("GENPROP_WEIGHTS_PATH", raising=False)
    monkeypatch.setenv("GENPROP_SAM2_DIR", str(tmp_path / "sam2"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    models = tmp_path / "models"
    before = scan(models)
    svd, genprop = by_name(before, "Stable Video"), by_name(before, "GenProp")
    assert not svd.found and str(models / "svd") in svd.where
    assert not genprop.found and "Stability AI" in svd.licence
    assert not by_name(before, "SAM2 tiny").found

    components = tiny_components(0)
    heads = components.pop("heads")
    assert isinstance(heads, GenPropHeads)
    GenPropPipeline.from_components(heads=heads, **components).save_pretrained(models / "svd")
    (tmp_path / "sam2").mkdir()
    (tmp_path / "sam2" / "sam2.1_hiera_tiny.pt").write_bytes(b"placeholder checkpoint file")
    after = scan(models)
    assert by_name(after, "Stable Video").found and by_name(after, "Stable Video").where == str(models / "svd")
    assert by_name(after, "GenProp").found
    assert by_name(after, "SAM2 tiny").found and not by_name(after, "SAM2 large").found


def test_downloads_are_refused_offline_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ok, why = can_download()
    assert not ok and "HF_HUB_OFFLINE" in why
    status = by_name(scan(tmp_path), "SAM2 tiny")
    assert default_download_target(status, tmp_path).name  # a real folder to download into
    with pytest.raises(PermissionError, match="cannot download SAM2 tiny: downloads are off"):
        DownloadJob(status, tmp_path / "dl")(lambda p: None, CancelToken())
    assert not (tmp_path / "dl").exists()


@pytest.fixture()
def studio_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An app home of its own, a fake user home, a hub cache that is not the app's, and the hub 'online'."""
    monkeypatch.setenv("GENPROP_STUDIO_HOME", str(tmp_path / "studio"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "user-hub"))
    monkeypatch.delenv("GENPROP_SAM2_DIR", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path


class FakeHub:
    """``snapshot_download`` as the hub does it (files land in ``cache_dir``'s layout), recording the call."""

    def __init__(self, write=fake_sam2_file) -> None:  # type: ignore[no-untyped-def]
        self.calls: list[dict] = []
        self.write = write

    def __call__(self, repo_id: str, **kw):  # type: ignore[no-untyped-def]
        from tests.sam2_factory import hub_cache_file

        self.calls.append({"repo_id": repo_id, **kw})
        (name,) = kw["allow_patterns"]
        bar = kw["tqdm_class"](total=1000, unit="B", disable=True)  # hub bars may come disabled
        bar.update(1000)
        size = "tiny" if "tiny" in name else "large"
        self.write(hub_cache_file(Path(kw["cache_dir"]), repo_id, name), size)
        return str(hub_cache_file(Path(kw["cache_dir"]), repo_id, name).parent)


def test_sam2_downloads_only_the_checkpoint_into_the_apps_hub_cache(studio_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    hub = FakeHub()
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub)
    cache = studio_home / "studio" / "cache" / "huggingface" / "hub"
    assert app_hub_cache() == cache  # GENPROP_STUDIO_HOME set: the app's own cache, not the user's
    models = studio_home / "studio" / "data" / "models"
    status = by_name(scan(models), "SAM2 tiny")
    assert not status.found and str(cache) in status.where
    target = default_download_target(status, models)
    assert target == cache
    reports = []
    path = DownloadJob(status, target)(reports.append, CancelToken())
    (call,) = hub.calls
    assert call["repo_id"] == "facebook/sam2.1-hiera-tiny" and call["allow_patterns"] == ["sam2.1_hiera_tiny.pt"]
    assert call["cache_dir"] == cache and "local_dir" not in call
    assert path.name == "sam2.1_hiera_tiny.pt" and path.is_relative_to(cache)
    assert reports[-1].stage == "download" and reports[-1].done == reports[-1].total == 1000
    # the selector, the tracker and the model manager find it there; nothing went to the user's ~/.cache
    assert by_name(scan(models), "SAM2 tiny").found and by_name(scan(models), "SAM2 tiny").where == str(path)
    from engine.edits.selection import find_sam2_checkpoint
    from engine.engines.classic.tracker_choice import choose_tracker

    assert find_sam2_checkpoint("tiny", model_dirs=model_search_dirs(models)) == path
    assert choose_tracker("auto", model_dirs=model_search_dirs(models)).checkpoint == path
    assert not (studio_home / "user").exists() and not (studio_home / "user-hub").exists()


def test_a_download_that_fails_verification_is_removed(studio_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    def wrong_size(path: Path, size: str) -> Path:
        return fake_sam2_file(path, "small")  # the file says SAM2.1 small: not what was asked for

    monkeypatch.setattr(huggingface_hub, "snapshot_download", FakeHub(wrong_size))
    models = studio_home / "models"
    status = by_name(scan(models), "SAM2 tiny")
    with pytest.raises(DownloadError, match="failed verification, so it was removed: .*holds SAM2.1 small, not the tiny"):
        DownloadJob(status, default_download_target(status, models))(lambda p: None, CancelToken())
    assert not by_name(scan(models), "SAM2 tiny").found


def test_offline_download_is_one_clear_line(studio_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub unreachable (what snapshot_download raises then): one line saying so, a user error, no 'Unexpected'."""
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(repo_id: str, **kw):  # type: ignore[no-untyped-def]
        raise LocalEntryNotFoundError(
            "An error happened while trying to locate the files on the Hub, and we cannot find the appropriate"
            " snapshot folder for the specified revision on the local disk.\nPlease check your internet connection."
        ) from OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    status = by_name(scan(studio_home / "models"), "SAM2 large")
    with pytest.raises(DownloadError) as err:
        DownloadJob(status, app_hub_cache())(lambda p: None, CancelToken())
    message = str(err.value)
    assert (
        message == "cannot download SAM2 large: the Hugging Face hub cannot be reached (offline?); check the connection and retry"
    )
    from engine.engines.base import EngineUnavailableError

    assert isinstance(err.value, EngineUnavailableError)  # shown as written, not as "Unexpected error (...)"


def test_cancel_stops_a_download(studio_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    from engine.engines.base import PropagationCancelled

    monkeypatch.setattr(huggingface_hub, "snapshot_download", FakeHub())
    cancel = CancelToken()
    cancel.cancel()
    status = by_name(scan(studio_home / "models"), "SAM2 tiny")
    with pytest.raises(PropagationCancelled):
        DownloadJob(status, app_hub_cache())(lambda p: None, cancel)


@pytest.mark.gui
def test_model_manager_dialog_lists_models(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from ui.model_manager_dialog import ModelManagerDialog

    dialog = ModelManagerDialog(tmp_path / "models")
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == len(scan(tmp_path / "models"))
    assert dialog.table.item(0, 2).text() in ("found", "missing")
    dialog.table.selectRow(2)
    assert not dialog.download_button.isEnabled() and "HF_HUB_OFFLINE" in dialog.download_button.toolTip()
