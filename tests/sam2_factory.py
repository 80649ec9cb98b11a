"""SAM2 checkpoints for tests: real random-weight ones, tiny fakes with SAM2's tensor names, a hub-cache layout.

No SAM2 weights can be downloaded here, so tests build the real model from sam2's own
config with random weights and save it the way Meta publishes checkpoints
(``{"model": state_dict}``), or, where only the file's identity matters (lookup,
verification), write a few tensors with the names and shapes that identify a size.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SIZES = {"tiny": (96, 12), "small": (96, 16), "base+": (112, 24), "large": (144, 48)}


def shared_clips() -> Path | None:
    """../shared/data/clips beside the project, or beside the worktrees' folder (``/work/wt/<name>``)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        clips = base / "shared" / "data" / "clips"
        if clips.is_dir():
            return clips
    return None


def random_video_predictor(seed: int, config: str = "configs/sam2.1/sam2.1_hiera_t.yaml"):  # type: ignore[no-untyped-def]
    """sam2's video predictor from its own config, random weights drawn with ``seed``."""
    import warnings

    import torch
    from sam2.build_sam import build_sam2_video_predictor

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        return build_sam2_video_predictor(config, None, device="cpu")


def save_checkpoint(model, path: Path, **changes: float) -> Path:  # type: ignore[no-untyped-def]
    """Save ``model`` as Meta's ``{"model": state_dict}``; ``changes`` fill named tensors with a value first."""
    import torch

    state = {k: v.clone() for k, v in model.state_dict().items()}
    for name, value in changes.items():
        state[name.replace("__", ".")].fill_(value)
    torch.save({"model": state}, path)
    return path


def fake_sam2_file(path: Path, size: str = "tiny", version: str = "2.1") -> Path:
    """A small file that identifies as SAM2 ``size`` (the trunk's width and depth), not loadable into a model."""
    import torch

    width, blocks = _SIZES[size]
    state = {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(width, 3, 1, 1)}
    state.update({f"image_encoder.trunk.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(blocks)})
    if version == "2.1":
        state["obj_ptr_tpos_proj.weight"] = torch.zeros(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state}, path)
    return path


def hub_cache_file(cache: Path, hub_id: str, filename: str, revision: str = "0123abcd") -> Path:
    """Where ``snapshot_download(cache_dir=cache)`` puts ``filename``: ``models--owner--name/snapshots/<rev>/``."""
    repo = cache / ("models--" + hub_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision, encoding="utf-8")
    target = repo / "snapshots" / revision / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    return target
