"""Synthetic GenProp training pairs from clips with instance masks.

``PairDataset[k]`` is a pure function of (seed, k): the clip (a per-epoch permutation), the
frames, the bucket (shared by every item of micro-batch ``k // batch_size``), the crop,
the flip, the task and its randomness. That makes worker processes and exact resume easy:
the sampler only has to remember how many ids it has handed out.

Each item (tensors in ``[-1, 1]``, channels first):
    sce_video     [T, 3, H, W]  what the SCE reads
    cond_frame    [3, H, W]     the first frame G is conditioned on
    target_video  [T, 3, H, W]  what G must produce
    edit_masks    [T, 1, H, W]  where V_hat differs from V (0/1)
    task          ()            ``engine.tasks.Task`` row index (``NONE`` for a ``none_task_p`` fraction)
    fps           ()            effective frame rate of the sampled frames
With ``pairing = synthetic_to_original`` (the paper): SCE <- V_hat, G <- v_1, target V.
With ``original_to_synthetic``: SCE <- V, G <- v_hat_1, target V_hat (the inference shape).
``pairing_swap_p`` of the items use the other pairing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from engine.tasks import Task
from training.config import DataConfig
from training.data.clips import ClipEntry
from training.data.image_pool import ImagePool
from training.data.sampling import apply_spatial, choose_bucket, crop_box, frame_indices
from training.data.synthetic import color_fill, copy_paste, mask_and_fill

MIN_OBJECT_AREA = 0.002
"""Objects smaller than this fraction of the frame in frame 0 are not edited."""


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``[T, H, W, 3]`` uint8 -> ``[T, 3, H, W]`` float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


class PairDataset(Dataset):
    """Synthetic pairs over ``clips``; ``pool`` optionally supplies still Copy-and-Paste objects."""

    def __init__(
        self,
        clips: Sequence[ClipEntry],
        config: DataConfig,
        seed: int = 0,
        batch_size: int = 1,
        pool: ImagePool | None = None,
    ) -> None:
        if not clips:
            raise ValueError("PairDataset needs at least one clip")
        self.clips = list(clips)
        self.config = config
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.pool = pool
        names = [Task(n) for n in config.task_probabilities]
        probs = np.asarray(list(config.task_probabilities.values()), np.float64)
        self.tasks, self.task_p = names, probs / probs.sum()

    def __len__(self) -> int:
        """Clips per epoch; ids beyond it continue into the next epoch's permutation."""
        return len(self.clips)

    def _clip_for(self, k: int) -> ClipEntry:
        epoch, pos = divmod(k, len(self.clips))
        perm = np.random.default_rng([self.seed, 1, epoch]).permutation(len(self.clips))
        return self.clips[int(perm[pos])]

    def _load(
        self, clip: ClipEntry, rng: np.random.Generator, bucket_rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, float]:
        cfg = self.config
        idx, fps = frame_indices(len(clip), clip.fps, cfg.num_frames, cfg.fps, rng)
        frames, ids = clip.frames(idx), clip.masks(idx)
        h, w = frames.shape[1:3]
        bucket = (
            choose_bucket(w, h, cfg.buckets)
            if len(cfg.buckets) == 1
            else tuple(cfg.buckets[int(bucket_rng.integers(len(cfg.buckets)))])
        )
        scale, x0, y0 = crop_box(w, h, bucket, rng)
        flip = bool(rng.random() < cfg.hflip_p)
        frames, ids = apply_spatial(frames, ids, bucket, scale, x0, y0, flip)
        return frames, ids, fps

    @staticmethod
    def _objects(ids: np.ndarray) -> list[int]:
        first = ids[0]
        values, counts = np.unique(first[first > 0], return_counts=True)
        return [int(v) for v, c in zip(values, counts, strict=True) if c >= MIN_OBJECT_AREA * first.size]

    @staticmethod
    def _random_box(shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
        """A static box mask, used when a clip has no usable object in its first frame."""
        t, h, w = shape
        bh, bw = int(rng.integers(max(1, h // 6), max(2, h // 2))), int(rng.integers(max(1, w // 6), max(2, w // 2)))
        y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        m = np.zeros(shape, bool)
        m[:, y : y + bh, x : x + bw] = True
        return m

    def _donor(
        self, k: int, rng: np.random.Generator, bucket_rng_seed: list[int], shape: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """A second clip's object (tracked or first-frame mask), or a still from the pool."""
        cfg = self.config
        t, h, w = shape[:3]
        if self.pool is not None and rng.random() < cfg.image_pool_p:
            image, mask = self.pool.draw(rng, (w, h))
            return np.broadcast_to(image, (t, h, w, 3)).copy(), mask
        other = self.clips[int(rng.integers(len(self.clips)))]
        frames, ids, _ = self._load(other, rng, np.random.default_rng(bucket_rng_seed))
        objs = self._objects(ids)
        if not objs:
            return frames, self._random_box(ids.shape, rng)
        mask = ids == objs[int(rng.integers(len(objs)))]
        return frames, (mask if cfg.copy_paste_masks == "tracked" else mask[0])

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        cfg = self.config
        rng = np.random.default_rng([self.seed, 2, int(k)])
        bucket_seed = [self.seed, 3, int(k) // self.batch_size]
        clip = self._clip_for(int(k))
        frames, ids, fps = self._load(clip, rng, np.random.default_rng(bucket_seed))
        task = self.tasks[int(rng.choice(len(self.tasks), p=self.task_p))]
        objs = self._objects(ids)
        if objs:
            pick = int(rng.integers(len(objs)))
            mask = ids == objs[pick]
        else:
            mask = self._random_box(ids.shape, rng)
        if task is Task.COPY_PASTE:
            donor, donor_mask = self._donor(int(k), rng, bucket_seed, frames.shape)
            aug, edit = copy_paste(frames, donor, donor_mask)
        elif task is Task.MASK_AND_FILL:
            telea = bool(rng.random() < cfg.telea_fraction)
            aug, edit = mask_and_fill(frames, mask, cfg.fill_pad, telea, cfg.telea_radius)
        else:
            second = second_color = None
            others = [o for i, o in enumerate(objs) if objs and i != pick] if objs else []
            if others and rng.random() < cfg.second_instance_p:
                second = ids == others[int(rng.integers(len(others)))]
                second_color = tuple(int(c) for c in rng.integers(0, 256, 3))
            aug, edit = color_fill(frames, mask, tuple(cfg.color_fill_rgb), second, second_color)
        if cfg.none_task_p > 0 and np.random.default_rng([self.seed, 4, int(k)]).random() < cfg.none_task_p:
            task = Task.NONE  # same pair, generic label: trains the row inference uses (own stream: the pair is unchanged)
        paper_pairing = cfg.pairing == "synthetic_to_original"
        if cfg.pairing_swap_p > 0 and np.random.default_rng([self.seed, 5, int(k)]).random() < cfg.pairing_swap_p:
            paper_pairing = not paper_pairing  # own stream: the pair and its task are unchanged
        if paper_pairing:
            sce, target = aug, frames
        else:
            sce, target = frames, aug
        target_t = _to_tensor(target)
        return {
            "sce_video": _to_tensor(sce),
            "cond_frame": target_t[0].clone(),
            "target_video": target_t,
            "edit_masks": torch.from_numpy(edit[:, None].astype(np.float32)),
            "task": torch.tensor(task.index, dtype=torch.long),
            "fps": torch.tensor(float(fps), dtype=torch.float32),
        }


class ResumableSampler(Sampler[int]):
    """Sample ids for micro-batches ``start_batch, start_batch + 1, ...`` of one rank.

    Micro-batch ``b`` of rank ``r`` (of ``world``) holds ids ``(b * world + r) * B + i``:
    disjoint across ranks, and resuming needs only ``start_batch``.
    """

    def __init__(
        self, batch_size: int, start_batch: int = 0, rank: int = 0, world: int = 1, num_batches: int | None = None
    ) -> None:
        self.batch_size, self.start_batch, self.rank, self.world = batch_size, start_batch, rank, world
        self.num_batches = num_batches

    def __iter__(self) -> Iterator[int]:
        b = self.start_batch
        while self.num_batches is None or b < self.start_batch + self.num_batches:
            base = (b * self.world + self.rank) * self.batch_size
            yield from range(base, base + self.batch_size)
            b += 1
