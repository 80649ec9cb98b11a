"""The ComfyUI node pack, without ComfyUI: the node contract, tensors in ComfyUI's layout, the same
result as ``propagate`` for the same frames, clear errors, and loading as ComfyUI loads a custom node
(by file location, with ComfyUI's own ``app`` package already imported)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.cli import EXIT_OK
from engine.edits.edit_file import save_edit
from engine.edits.recolour import RecolourSpec
from integrations.comfyui import genprop_studio as pack
from main import main

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "integrations" / "comfyui" / "genprop_studio"
W, H, T = 32, 24, 5


@pytest.fixture()
def clip(tmp_path: Path) -> tuple[np.ndarray, Path]:
    """[T, H, W, 3] uint8 frames and the same frames as a PNG folder (for the CLI)."""
    yy, xx = np.mgrid[0:H, 0:W]
    frames = np.stack(
        [np.dstack([(xx * 6 + 4 * t) % 256, (yy * 9) % 256, np.full_like(xx, 80)]).astype(np.uint8) for t in range(T)]
    )
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{t:04d}.png")
    return frames, folder


def _image(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames.astype(np.float32) / 255.0)  # ComfyUI's IMAGE: [B, H, W, C] float 0..1


def _cli(folder: Path, out: Path, *edit_args: str) -> tuple[np.ndarray, np.ndarray]:
    masks = out.with_name(out.name + "_masks")
    args = ["propagate", "--video", str(folder), "--fps", "10", *edit_args, "--engine", "classic"]
    assert main([*args, "--out", str(out), "--format", "png", "--masks-out", str(masks)]) == EXIT_OK
    frames = np.stack([np.asarray(Image.open(out / f"frame_{t:05d}.png")) for t in range(T)])
    return frames, np.stack([np.asarray(Image.open(masks / f"mask_{t:05d}.png")) for t in range(T)])


def test_the_node_contract() -> None:
    assert set(pack.NODE_CLASS_MAPPINGS) == set(pack.NODE_DISPLAY_NAME_MAPPINGS)
    for name, cls in pack.NODE_CLASS_MAPPINGS.items():
        inputs = cls.INPUT_TYPES()
        assert set(inputs) <= {"required", "optional"} and inputs["required"], name
        for spec in [*inputs["required"].values(), *inputs.get("optional", {}).values()]:
            assert isinstance(spec, tuple) and isinstance(spec[0], str | list), (name, spec)
        assert isinstance(cls.RETURN_TYPES, tuple) and len(cls.RETURN_NAMES) == len(cls.RETURN_TYPES)
        assert callable(getattr(cls(), cls.FUNCTION)) and cls.CATEGORY == "GenProp Studio"
    engines = pack.NODE_CLASS_MAPPINGS["GenPropPropagate"].INPUT_TYPES()["required"]["engine"][0]
    assert {"classic", "genprop", "genprop-training-free", "genprop-vace"} <= set(engines)


def test_load_edit_and_propagate_equals_the_cli(clip: tuple[np.ndarray, Path], tmp_path: Path) -> None:
    frames, folder = clip
    mask = np.zeros((H, W), np.uint8)
    mask[6:16, 8:20] = 255
    edit_path = save_edit([RecolourSpec(mask=mask, hue_shift=120)], tmp_path / "edit")
    (edit,) = pack.NODE_CLASS_MAPPINGS["GenPropLoadEdit"]().load(str(edit_path))
    node = pack.NODE_CLASS_MAPPINGS["GenPropPropagate"]()
    images, masks, warnings = node.propagate(_image(frames), edit, "classic", 10.0, '{"flow_max_side": 64}')
    assert images.dtype == torch.float32 and tuple(images.shape) == (T, H, W, 3)
    assert masks.dtype == torch.float32 and tuple(masks.shape) == (T, H, W) and isinstance(warnings, str)
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    cli_frames, cli_masks = _cli(folder, tmp_path / "cli", "--edit", str(edit_path), "--flow-max-side", "64")
    assert np.array_equal(np.rint(images.numpy() * 255).astype(np.uint8), cli_frames)
    assert np.array_equal(np.rint(masks.numpy() * 255).astype(np.uint8), cli_masks)
    assert not np.array_equal(cli_frames[0], frames[0])  # the edit did something


def test_edit_from_image_equals_the_cli_edited_frame(clip: tuple[np.ndarray, Path], tmp_path: Path) -> None:
    frames, folder = clip
    edited = frames[0].copy()
    edited[6:14, 8:18] = (250, 10, 10)
    region = np.zeros((1, H, W), np.float32)
    region[0, 6:14, 8:18] = 1.0
    (edit,) = pack.NODE_CLASS_MAPPINGS["GenPropEditFromImage"]().make(
        _image(edited[None]), "copy_paste", torch.from_numpy(region)
    )
    images, masks, _ = pack.NODE_CLASS_MAPPINGS["GenPropPropagate"]().propagate(_image(frames), edit, "classic", 10.0)
    Image.fromarray(edited).save(tmp_path / "edited.png")
    Image.fromarray((region[0] * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    cli_frames, cli_masks = _cli(
        folder, tmp_path / "cli", "--edited-frame", str(tmp_path / "edited.png"), "--mask", str(tmp_path / "mask.png")
    )
    assert np.array_equal(np.rint(images.numpy() * 255).astype(np.uint8), cli_frames)
    assert np.array_equal(np.rint(masks.numpy() * 255).astype(np.uint8), cli_masks)


def test_clear_errors(clip: tuple[np.ndarray, Path], tmp_path: Path) -> None:
    frames, _ = clip
    with pytest.raises(ValueError, match=r"edit file .*nope\.json"):
        pack.NODE_CLASS_MAPPINGS["GenPropLoadEdit"]().load(str(tmp_path / "nope.json"))
    edit = pack.nodes.EditSource(edited=frames[0] // 2, task="copy_paste")
    node = pack.NODE_CLASS_MAPPINGS["GenPropPropagate"]()
    with pytest.raises(ValueError, match="options must be a JSON object"):
        node.propagate(_image(frames), edit, "classic", 10.0, "[1]")
    with pytest.raises(ValueError, match="unknown classic engine option"):
        node.propagate(_image(frames), edit, "classic", 10.0, '{"stepz": 3}')
    with pytest.raises(ValueError, match=r"expected an IMAGE tensor \[frames, height, width, 3\]"):
        node.propagate(torch.zeros(2, H, W), edit, "classic", 10.0)
    small = pack.nodes.EditSource(edited=frames[0][:10], task="copy_paste")
    with pytest.raises(ValueError, match="the edited frame is 32x10, the clip is 32x24"):
        node.propagate(_image(frames), small, "classic", 10.0)


def test_loads_as_comfyui_loads_a_custom_node(tmp_path: Path) -> None:
    """By file location from custom_nodes/ (a symlink), with another ``app`` package already imported
    and GenProp Studio not importable (the shared environment's editable install switched off): the pack
    finds it through its real place and never imports ``app``."""
    custom = tmp_path / "custom_nodes"
    custom.mkdir()
    (custom / "genprop_studio").symlink_to(PACK, target_is_directory=True)
    comfy_app = tmp_path / "comfy" / "app"
    comfy_app.mkdir(parents=True)
    (comfy_app / "__init__.py").write_text("COMFY = True\n")
    code = (
        "import importlib.util, sys\n"
        "sys.meta_path = [f for f in sys.meta_path if '__editable__' not in getattr(f, '__module__', '')]\n"
        "sys.path_hooks = [h for h in sys.path_hooks if '__editable__' not in getattr(h, '__module__', '')]\n"
        "sys.path_importer_cache.clear()\n"
        f"sys.path = [p for p in sys.path if p not in ('', {str(ROOT)!r})]\n"
        "assert importlib.util.find_spec('engine') is None, importlib.util.find_spec('engine')\n"
        f"sys.path.insert(0, {str(tmp_path / 'comfy')!r})\n"
        "import app\n"
        f"init = {str(custom / 'genprop_studio' / '__init__.py')!r}\n"
        "spec = importlib.util.spec_from_file_location('genprop_studio', init, submodule_search_locations=[init.rsplit('/', 1)[0]])\n"
        "module = importlib.util.module_from_spec(spec); sys.modules['genprop_studio'] = module; spec.loader.exec_module(module)\n"
        "module.NODE_CLASS_MAPPINGS['GenPropPropagate'].INPUT_TYPES()\n"
        "import engine\n"
        "print(sorted(module.NODE_CLASS_MAPPINGS), app.COMFY, sorted(m for m in sys.modules if m.startswith('app.')))\n"
        "print(engine.__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    mappings, engine_file = done.stdout.strip().splitlines()
    assert mappings == "['GenPropEditFromImage', 'GenPropLoadEdit', 'GenPropPropagate'] True []"
    assert Path(engine_file).is_relative_to(ROOT)  # found through the symlink's real place


def test_tensor_conventions() -> None:
    from integrations.comfyui.genprop_studio.tensors import frames_to_images, images_to_frames, mask_from_tensor, masks_to_tensor

    rgba = torch.rand(2, 4, 5, 4)
    frames = images_to_frames(rgba)
    assert frames.dtype == np.uint8 and frames.shape == (2, 4, 5, 3)
    assert np.array_equal(frames, np.rint(rgba[..., :3].numpy() * 255).astype(np.uint8))
    assert np.allclose(frames_to_images(frames).numpy(), frames / 255.0)
    deep = np.full((1, 2, 2, 3), 65535, np.uint16)
    assert float(frames_to_images(deep).max()) == 1.0
    assert images_to_frames(torch.rand(4, 5, 1)).shape == (1, 4, 5, 3)
    mask = mask_from_tensor(torch.tensor([[[0.2, 0.5], [0.9, 0.0]]]))
    assert mask.tolist() == [[0, 255], [255, 0]]
    assert masks_to_tensor(mask[None]).tolist() == [[[0.0, 1.0], [1.0, 0.0]]]
    json.dumps(pack.NODE_DISPLAY_NAME_MAPPINGS)


@pytest.mark.slow  # 20-85 s on 2 loaded cores (the tiny pipeline's load and run)
def test_propagate_with_a_genprop_engine_from_a_saved_tiny_checkpoint(clip: tuple[np.ndarray, Path], tmp_path: Path) -> None:
    """Any engine: the genprop engine through the node, its options as JSON, weights from model_dirs."""
    from engine.pipelines import GenPropPipeline
    from engine.pipelines.dummy import tiny_components

    frames, _ = clip
    GenPropPipeline.from_components(**tiny_components(0)).save_pretrained(tmp_path / "svd")
    edited = frames[0].copy()
    edited[6:14, 8:18] = (250, 10, 10)
    edit = pack.nodes.EditSource(edited=edited, task="copy_paste")
    options = {"svd": str(tmp_path / "svd"), "weights": str(tmp_path / "svd" / "genprop"), "steps": 2, "long_side": 32}
    options |= {"window": 4, "overlap": 1, "device": "cpu"}
    node = pack.NODE_CLASS_MAPPINGS["GenPropPropagate"]()
    images, masks, _ = node.propagate(_image(frames), edit, "genprop", 10.0, json.dumps(options))
    assert tuple(images.shape) == (T, H, W, 3) and tuple(masks.shape) == (T, H, W)
    assert torch.isfinite(images).all() and float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    with pytest.raises(Exception, match=r"SVD .*weights not found; looked in: .*none"):  # the engine's own message
        node.propagate(_image(frames), edit, "genprop", 10.0, json.dumps({"svd": str(tmp_path / "none"), "device": "cpu"}))
