"""Dataset readers on tiny datasets written in each real layout, clip sampling, synthetic
pairs and the pair dataset's determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.tasks import Task
from engine.video import write_video
from training.config import ConfigError, config_from_dict
from training.data import (
    DatasetLayoutError,
    ImagePool,
    PairDataset,
    ResumableSampler,
    read_davis,
    read_folder,
    read_procedural,
    read_sav,
    read_youtube_vos,
)
from training.data.rle import decode_rle, encode_rle
from training.data.sampling import choose_bucket, frame_indices
from training.data.synthetic import color_fill, copy_paste, mask_and_fill

H, W = 24, 32


def _frame(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    return rng.integers(0, 255, (H, W, 3), dtype=np.uint8)


def _ids(i: int) -> np.ndarray:
    ids = np.zeros((H, W), np.uint8)
    ids[4:12, 2 + i : 10 + i] = 1
    ids[14:20, 20:28] = 2
    return ids


def _palette_png(path: Path, ids: np.ndarray) -> None:
    img = Image.fromarray(ids, mode="P")
    img.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 - 3) * 3)
    img.save(path)


def test_rle_round_trip_and_known_string() -> None:
    assert encode_rle(np.ones((2, 2), bool)) == {"size": [2, 2], "counts": "04"}
    m = np.zeros((3, 4), bool)
    m[1, 1:3] = True  # column-major runs: 4 zeros, 1 one, 2 zeros, 1 one, 4 zeros
    assert decode_rle({"size": [3, 4], "counts": [4, 1, 2, 1, 4]}).tolist() == m.tolist()
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.random((rng.integers(1, 30), rng.integers(1, 30))) > 0.6
        assert np.array_equal(decode_rle(encode_rle(x)), x)
    with pytest.raises(ValueError, match="expected 2x2"):
        decode_rle({"size": [2, 2], "counts": [1, 1]})


def test_davis_layout(tmp_path: Path) -> None:
    for seq in ("bear", "car"):
        (tmp_path / "JPEGImages/480p" / seq).mkdir(parents=True)
        (tmp_path / "Annotations/480p" / seq).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(_frame(i)).save(tmp_path / "JPEGImages/480p" / seq / f"{i:05d}.jpg", quality=95)
            _palette_png(tmp_path / "Annotations/480p" / seq / f"{i:05d}.png", _ids(i))
    (tmp_path / "ImageSets/2017").mkdir(parents=True)
    (tmp_path / "ImageSets/2017/train.txt").write_text("car\n")
    clips = read_davis(tmp_path)
    assert [c.name for c in clips] == ["bear", "car"] and len(clips[0]) == 3 and clips[0].fps == 24.0
    assert clips[0].frames([0, 2]).shape == (2, H, W, 3)
    assert np.array_equal(clips[0].masks([1])[0], _ids(1))
    assert [c.name for c in read_davis(tmp_path, split="train")] == ["car"]
    with pytest.raises(DatasetLayoutError, match="JPEGImages"):
        read_davis(tmp_path / "missing")


def test_youtube_vos_layout_uses_annotated_frames(tmp_path: Path) -> None:
    base = tmp_path / "train"
    (base / "JPEGImages/vid1").mkdir(parents=True)
    (base / "Annotations/vid1").mkdir(parents=True)
    for i in range(0, 20, 5):
        Image.fromarray(_frame(i)).save(base / "JPEGImages/vid1" / f"{i:05d}.jpg")
        if i != 15:
            _palette_png(base / "Annotations/vid1" / f"{i:05d}.png", _ids(i // 5))
    meta = {"videos": {"vid1": {"objects": {"1": {"category": "cat", "frames": ["00000", "00005", "00010"]}}}}}
    (base / "meta.json").write_text(json.dumps(meta))
    (clip,) = read_youtube_vos(tmp_path, split="train")
    assert len(clip) == 3 and clip.fps == 6.0
    assert np.array_equal(clip.masks([2])[0], _ids(2))
    with pytest.raises(DatasetLayoutError, match="meta.json"):
        read_youtube_vos(tmp_path / "nothing")


def test_sav_layout_decodes_masklets(tmp_path: Path) -> None:
    frames = [_frame(i) for i in range(9)]
    write_video(tmp_path / "sav_000001.mp4", frames, fps=24.0, lossless=True)
    masklet = []
    for j in range(3):  # annotated every 4th frame: 0, 4, 8
        ids = _ids(j)
        masklet.append([encode_rle(ids == 1), encode_rle(ids == 2)])
    (tmp_path / "sav_000001_manual.json").write_text(json.dumps({"video_id": "sav_000001", "masklet": masklet}))
    (clip,) = read_sav(tmp_path, annotation_stride=4)
    assert len(clip) == 3 and clip.fps == pytest.approx(6.0)
    assert np.array_equal(clip.masks([1])[0], _ids(1).astype(np.int32))
    assert np.abs(clip.frames([2])[0].astype(int) - frames[8]).mean() < 2.0  # lossless RGB round trip


def test_folder_layout(tmp_path: Path) -> None:
    (tmp_path / "clips/walk").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(_frame(i)).save(tmp_path / "clips/walk" / f"{i:04d}.png")
    (tmp_path / "masks/walk").mkdir(parents=True)
    for i in (0, 2):
        Image.fromarray(_ids(i), mode="L").save(tmp_path / "masks/walk" / f"{i}.png")
    (clip,) = read_folder(tmp_path, fps=12.0)
    assert len(clip) == 2 and clip.fps == 12.0
    assert np.array_equal(clip.frames([1])[0], _frame(2))
    Image.fromarray(_ids(0), mode="L").save(tmp_path / "masks/walk" / "9.png")
    with pytest.raises(DatasetLayoutError, match="frame 9"):
        read_folder(tmp_path)


def test_frame_sampling_and_buckets() -> None:
    rng = np.random.default_rng(0)
    idx, fps = frame_indices(100, 24.0, 8, 12.0, rng)
    assert np.all(np.diff(idx) == 2) and fps == 12.0
    idx, fps = frame_indices(10, 24.0, 8, 12.0, rng)  # too short for stride 2
    assert np.all(np.diff(idx) == 1) and fps == 24.0
    idx, _ = frame_indices(3, 24.0, 5, 24.0, rng)
    assert idx == [0, 1, 2, 2, 2]
    assert choose_bucket(1920, 1080, [[640, 352], [352, 640], [480, 480]]) == (640, 352)
    assert choose_bucket(1080, 1920, [[640, 352], [352, 640], [480, 480]]) == (352, 640)


def test_synthetic_edits() -> None:
    frames = np.stack([_frame(i) for i in range(3)])
    mask = np.stack([_ids(i) == 1 for i in range(3)])
    donor = np.zeros_like(frames)
    out, edit = copy_paste(frames, donor, mask[0])
    assert np.all(out[edit] == 0) and np.array_equal(out[~edit], frames[~edit]) and edit[2].sum() == mask[0].sum()
    out, edit = mask_and_fill(frames, mask, pad=2)
    assert edit[0, 2:14, 0:12].all() and not edit[0, 20:, 30:].any()
    assert len(np.unique(out[0][edit[0]].reshape(-1, 3), axis=0)) == 1  # a flat mean colour
    assert np.array_equal(out[~edit], frames[~edit])
    out_t, edit_t = mask_and_fill(frames, mask, pad=2, telea=True)
    assert np.array_equal(edit_t, edit) and np.array_equal(out_t[~edit_t], frames[~edit_t])
    second = np.stack([_ids(i) == 2 for i in range(3)])
    out, edit = color_fill(frames, mask, (255, 0, 0), second, (0, 0, 255))
    assert np.all(out[mask] == [255, 0, 0]) and np.all(out[second] == [0, 0, 255])
    assert np.array_equal(edit, mask | second)


def _data_config(**data: object):
    base = {"num_frames": 3, "buckets": [[32, 32]]}
    base.update(data)
    return config_from_dict({"data": base}).data


def test_pair_dataset_items_are_deterministic_and_paired() -> None:
    clips = read_procedural(3, 48, 40, 8, 2, seed=5)
    ds = PairDataset(clips, _data_config(), seed=1, batch_size=2)
    a, b = ds[7], PairDataset(clips, _data_config(), seed=1, batch_size=2)[7]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["sce_video"].shape == (3, 3, 32, 32) and a["edit_masks"].shape == (3, 1, 32, 32)
    assert a["sce_video"].min() >= -1 and a["sce_video"].max() <= 1
    for k in range(12):
        item = ds[k]
        m = item["edit_masks"] > 0.5
        diff = (item["sce_video"] - item["target_video"]).abs().sum(1, keepdim=True) > 1e-6
        assert not (diff & ~m).any(), "V_hat and V differ only inside the edit mask"
        assert torch.equal(item["cond_frame"], item["target_video"][0]), "G sees the target's first frame"
    tasks = {int(ds[k]["task"]) for k in range(40)}
    # the edit tasks, plus `none` (trained on a share of pairs: it is the row used without a task)
    assert tasks <= {Task.NONE.index, Task.COPY_PASTE.index, Task.MASK_AND_FILL.index, Task.COLOR_FILL.index} and len(tasks) >= 2


def test_pairing_direction_and_task_probabilities() -> None:
    clips = read_procedural(2, 48, 40, 8, 2)
    only_fill = {"copy_paste": 0.0, "mask_and_fill": 0.0, "color_fill": 1.0}
    cfg = {"task_probabilities": only_fill, "second_instance_p": 0.0}
    paper = PairDataset(clips, _data_config(**cfg), seed=0)[0]
    flipped = PairDataset(clips, _data_config(**cfg, pairing="original_to_synthetic"), seed=0)[0]
    assert int(paper["task"]) == Task.COLOR_FILL.index
    assert torch.equal(paper["sce_video"], flipped["target_video"])
    assert torch.equal(paper["target_video"], flipped["sce_video"])
    red = torch.tensor([1.0, -1.0, -1.0]).view(3, 1)
    m = paper["edit_masks"][0, 0] > 0.5
    assert m.any() and torch.allclose(paper["sce_video"][0][:, m], red.expand(3, int(m.sum())), atol=1e-6)


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="data.pairing"):
        config_from_dict({"data": {"pairing": "sideways"}})
    with pytest.raises(ConfigError, match="'optim.lr'"):
        config_from_dict({"optim": {"lr": 1.0}})
    with pytest.raises(ConfigError, match=r"data.sources\[0\].root"):
        config_from_dict({"data": {"sources": [{"kind": "davis"}]}})
    with pytest.raises(ConfigError, match="optim.learning_rate must be a number"):
        config_from_dict({"optim": {"learning_rate": "fast"}})
    assert config_from_dict({"optim": {"learning_rate": "5e-5"}}).optim.learning_rate == 5e-5


def test_sampler_shards_ranks_and_resumes() -> None:
    r0 = list(ResumableSampler(2, start_batch=0, rank=0, world=2, num_batches=2))
    r1 = list(ResumableSampler(2, start_batch=0, rank=1, world=2, num_batches=2))
    assert r0 == [0, 1, 4, 5] and r1 == [2, 3, 6, 7]
    assert list(ResumableSampler(2, start_batch=1, rank=0, world=2, num_batches=1)) == [4, 5]


def test_image_pool_from_shared_voc(shared_data: Path) -> None:
    pool = ImagePool(shared_data / "masks" / "voc_instances")
    assert len(pool) >= 3
    image, mask = pool.draw(np.random.default_rng(0), (64, 48))
    assert image.shape == (48, 64, 3) and mask.shape == (48, 64) and mask.any()
    clips = read_procedural(2, 48, 40, 8, 2)
    cfg = _data_config(task_probabilities={"copy_paste": 1.0}, image_pool_p=1.0)
    item = PairDataset(clips, cfg, seed=0, pool=pool)[0]
    assert item["edit_masks"].sum() > 0
