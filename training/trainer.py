"""The GenProp trainer: accelerate, frozen G, AdamW + warm-up/cosine, EMA, clipping,
atomic checkpoints with exact resume, TensorBoard/W&B logs and periodic validation.

Launch: ``python main.py train --config training/configs/tiny_cpu.yaml`` or, on GPUs,
``accelerate launch --num_processes 8 main.py train --config training/configs/paper_svd.yaml``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DeepSpeedPlugin, DistributedType, ProjectConfiguration, set_seed
from diffusers.optimization import get_cosine_schedule_with_warmup
from torch.utils.data import DataLoader

from engine.genprop import GenPropHeads, freeze_backbone
from training import checkpoint as ckpt
from training.config import SourceConfig, TrainConfig
from training.data import ImagePool, PairDataset, ResumableSampler, read_source
from training.ema import EMA
from training.losses import LossTerms
from training.models import Components, build_components
from training.step import GenPropTrainingModule, compute_loss, prepare_inputs, step_generator
from training.validation import validate
from training.wan.config import WAN_BACKBONES

log = logging.getLogger(__name__)

WEIGHT_DTYPES = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class TrainResult:
    """What a run did: the last step, per-step losses, throughput, checkpoints written."""

    final_step: int
    history: list[dict[str, float]] = field(default_factory=list)
    samples_per_second: float = float("nan")
    checkpoints: list[Path] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)


def _flat_hparams(data: Any, prefix: str = "") -> dict[str, Any]:
    """Scalars only, dotted keys (TensorBoard's hparams accept nothing else)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(_flat_hparams(v, f"{prefix}{k}."))
    elif isinstance(data, (int, float, str, bool)):
        out[prefix[:-1]] = data
    elif data is not None:
        out[prefix[:-1]] = str(data)
    return out


def build_dataset(sources: list[SourceConfig], cfg: TrainConfig, seed: int, batch_size: int) -> PairDataset:
    clips = [clip for src in sources for clip in read_source(src)]
    pool = None
    if cfg.data.image_pool:
        pool_path = Path(cfg.data.image_pool)
        if not pool_path.is_dir():
            raise FileNotFoundError(f"data.image_pool {pool_path} does not exist")
        pool = ImagePool(pool_path)
    return PairDataset(clips, cfg.data, seed=seed, batch_size=batch_size, pool=pool)


def parameter_groups(heads: torch.nn.Module, learning_rate: float, multipliers: dict[str, float]) -> list[dict[str, Any]]:
    """AdamW groups: each trainable head parameter at ``learning_rate`` x the multiplier of its
    longest matching name prefix (1 without one); groups in first-seen order, never empty."""
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, param in heads.named_parameters():
        if not param.requires_grad:
            continue
        matches = [p for p in multipliers if name == p or name.startswith(p.rstrip(".") + ".")]
        factor = multipliers[max(matches, key=len)] if matches else 1.0
        groups.setdefault(factor, []).append(param)
    unknown = [
        p for p in multipliers if not any(n == p or n.startswith(p.rstrip(".") + ".") for n, _ in heads.named_parameters())
    ]
    if unknown:
        raise ValueError(f"optim.lr_multipliers names no parameter of the GenProp heads: {unknown}")
    return [{"params": params, "lr": learning_rate * factor} for factor, params in groups.items()]


class Trainer:
    """Owns one run. ``setup()`` builds everything (and resumes); ``run()`` trains.

    ``resume`` continues a run exactly (its schedule included). ``extend_from`` continues a
    finished run's checkpoint (heads, EMA, optimiser moments, data position) to
    ``optim.max_steps`` under a fresh warm-up + cosine schedule over the added steps, a warm
    restart: a cosine run cannot simply be resumed past its end, where its lr is 0.
    """

    heads_class: Any = GenPropHeads

    def __init__(
        self, config: TrainConfig, resume: str | None = None, stop_after: int | None = None, extend_from: str | None = None
    ) -> None:
        if resume and extend_from:
            raise ValueError("resume and extend_from exclude each other: resume the extended run instead")
        self.cfg = config
        self.resume = resume
        self.extend_from = extend_from
        self.stop_after = stop_after
        self.output_dir = Path(config.output_dir)
        self.global_step = 0
        self.consumed_batches = 0
        self.schedule_start = 0
        self._ready = False

    # ------------------------------------------------------------------ setup
    def _start_accelerator(self) -> bool:
        """Threads, output folder, DeepSpeed plugin, Accelerator and seed: shared by every backbone's
        setup. True when experiment trackers (TensorBoard, W&B) were asked for."""
        cfg = self.cfg
        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        log_with = [name for name, on in (("tensorboard", cfg.logging.tensorboard), ("wandb", cfg.logging.wandb)) if on]
        deepspeed = None
        if cfg.deepspeed_config:
            if not Path(cfg.deepspeed_config).is_file():
                raise FileNotFoundError(f"deepspeed_config {cfg.deepspeed_config} does not exist")
            deepspeed = DeepSpeedPlugin(hf_ds_config=cfg.deepspeed_config)
        self.acc = Accelerator(
            gradient_accumulation_steps=cfg.optim.gradient_accumulation_steps,
            mixed_precision=cfg.optim.mixed_precision,
            log_with=log_with or None,
            project_config=ProjectConfiguration(project_dir=str(self.output_dir), logging_dir=str(self.output_dir / "logs")),
            deepspeed_plugin=deepspeed,
        )
        set_seed(cfg.seed)
        return bool(log_with)

    def setup(self) -> Trainer:
        cfg = self.cfg
        trackers = self._start_accelerator()
        self.comps: Components = build_components(cfg.model)
        model = self.comps.model
        self.params = freeze_backbone(model)
        weight_dtype = WEIGHT_DTYPES[cfg.optim.mixed_precision]
        device = self.acc.device
        for frozen in (model.unet, self.comps.vae, self.comps.image_encoder):
            # diffusers warns on any .to(dtype); only cast when mixed precision asks for it
            frozen.to(device) if weight_dtype == torch.float32 else frozen.to(device, weight_dtype)
        model.heads.to(device)
        if cfg.model.gradient_checkpointing:
            model.unet.enable_gradient_checkpointing()
        self.optimizer = torch.optim.AdamW(
            parameter_groups(model.heads, cfg.optim.learning_rate, cfg.optim.lr_multipliers),
            lr=cfg.optim.learning_rate,
            betas=tuple(cfg.optim.betas),
            weight_decay=cfg.optim.weight_decay,
        )
        start = self._schedule_ema_and_restore()
        self.module = GenPropTrainingModule(model, cfg.loss.grad_features, cfg.model.use_sce)
        self.module, self.optimizer = self.acc.prepare(self.module, self.optimizer)
        if start is not None and self.acc.distributed_type == DistributedType.DEEPSPEED:
            self._load(start, full=False)
            self.acc.load_state(str(start / "accelerate_state"))
        self.dataset = build_dataset(cfg.data.sources, cfg, cfg.seed, cfg.optim.batch_size)
        self.val_items = []
        if cfg.data.validation_sources and cfg.logging.validate_every:
            val = build_dataset(cfg.data.validation_sources, cfg, cfg.seed + 7919, 1)
            self.val_items = [val[i] for i in range(cfg.logging.validation_clips)]
        if self.acc.is_main_process and trackers:
            self.acc.init_trackers("genprop", config=_flat_hparams(cfg.to_dict()))
        self._ready = True
        return self

    def _schedule_ema_and_restore(self) -> Path | None:
        """Build the lr schedule and the EMA, then restore a resumed or extended run into them
        (and into the optimiser built before); returns the checkpoint resumed from, if any."""
        cfg = self.cfg
        start = ckpt.resolve_resume(self.output_dir, self.resume)
        extend = None if not self.extend_from else ckpt.require_checkpoint(Path(self.extend_from), "--extend-from")
        self.schedule_start = self._schedule_start(start, extend)
        self.scheduler = get_cosine_schedule_with_warmup(
            self.optimizer, cfg.optim.warmup_steps, cfg.optim.max_steps - self.schedule_start
        )
        self.ema = EMA(self.params, cfg.optim.ema_decay)
        if start is not None and self.acc.distributed_type != DistributedType.DEEPSPEED:
            self._load(start, full=True)
        if extend is not None:
            self._load(extend, full=True, restart_schedule=True)
        return start

    def _schedule_start(self, start: Path | None, extend: Path | None) -> int:
        """The step the lr schedule counts from: a resumed run's own, an extended run's step."""
        if start is not None:
            return ckpt.read_state(start).schedule_start
        if extend is None:
            return 0
        if self.acc.distributed_type == DistributedType.DEEPSPEED:
            raise ValueError("--extend-from is not supported under DeepSpeed: extend on one process or with DDP")
        step = ckpt.read_state(extend).global_step
        if self.cfg.optim.max_steps <= step:
            raise ValueError(
                f"--extend-from {extend}: it is at step {step}; optim.max_steps ({self.cfg.optim.max_steps}) "
                "must be larger to add steps"
            )
        return step

    def _load(self, folder: Path, full: bool, restart_schedule: bool = False) -> None:
        """Heads, EMA, scheduler, RNG and counters from ``folder`` (optimiser too when ``full``).
        ``restart_schedule`` keeps this run's fresh schedule and configured learning rates."""
        loaded = self.heads_class.from_pretrained(folder / "genprop")
        self.comps.model.heads.load_state_dict(loaded.state_dict())
        state = ckpt.read_state(folder)
        tensors = ckpt.load_tensors(folder)
        if full:
            if "optimizer" not in tensors:
                raise FileNotFoundError(f"{folder} has no optimizer.pt")
            self.optimizer.load_state_dict(tensors["optimizer"])
        if restart_schedule:
            groups = self.optimizer.param_groups
            for group, lr, base in zip(groups, self.scheduler.get_last_lr(), self.scheduler.base_lrs, strict=True):
                group["lr"], group["initial_lr"] = lr, base
        else:
            self.scheduler.load_state_dict(tensors["scheduler"])
        self.ema.load_tensors(tensors["ema"], state.ema_updates)
        ckpt.restore_rng(tensors["rng_plain"], tensors["rng_tensors"])
        self.global_step, self.consumed_batches = state.global_step, state.consumed_batches
        log.info("resumed from %s at step %d", folder, self.global_step)

    # ------------------------------------------------------------------ steps
    def loader(self) -> DataLoader:
        cfg = self.cfg.data
        sampler = ResumableSampler(
            self.cfg.optim.batch_size, self.consumed_batches, self.acc.process_index, self.acc.num_processes
        )
        kwargs: dict[str, Any] = {}
        if cfg.num_workers > 0:
            kwargs = {"prefetch_factor": cfg.prefetch_factor, "persistent_workers": False}
        return DataLoader(
            self.dataset,
            batch_size=self.cfg.optim.batch_size,
            sampler=sampler,
            num_workers=cfg.num_workers,
            pin_memory=cfg.pin_memory and torch.cuda.is_available(),
            **kwargs,
        )

    def train_step(self, batch: dict[str, torch.Tensor], micro_batch: int) -> tuple[LossTerms, bool]:
        """One micro-batch: forward, backward, and (at accumulation boundaries) clip + step.

        Returns the loss terms and whether an optimiser step happened.
        """
        gen = step_generator(self.cfg.seed, micro_batch, self.acc.process_index)
        with self.acc.accumulate(self.module):
            x = prepare_inputs(self.comps, batch, self.cfg, gen, self.acc.device)
            with self.acc.autocast():
                terms = compute_loss(self.module, x, self.cfg)
            if not torch.isfinite(terms.total):
                raise FloatingPointError(f"non-finite loss at step {self.global_step}: {terms.as_floats()}")
            self.acc.backward(terms.total)
            synced = self.acc.sync_gradients
            if synced:
                self.acc.clip_grad_norm_(self.params, self.cfg.optim.max_grad_norm)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        if synced:
            self.scheduler.step()
            self.ema.update()
        return terms, synced

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path | None:
        """Write ``checkpoint-<step>`` (main process) and rotate old ones."""
        self.acc.wait_for_everyone()
        deepspeed = self.acc.distributed_type == DistributedType.DEEPSPEED
        path = None
        state = ckpt.TrainerState(
            self.global_step, self.consumed_batches, self.ema.num_updates, self.cfg.seed, self.schedule_start
        )
        if deepspeed or self.acc.is_main_process:
            path = ckpt.save_checkpoint(
                self.output_dir,
                state,
                self.acc.unwrap_model(self.module).model.heads,
                None if deepspeed else self.optimizer,
                self.scheduler,
                self.ema.tensors(),
                extra_state_writer=(lambda d: self.acc.save_state(str(d))) if deepspeed else None,
            )
            if self.acc.is_main_process:
                ckpt.rotate_checkpoints(self.output_dir, self.cfg.checkpoint.total_limit)
                log.info("saved %s", path)
        self.acc.wait_for_everyone()
        return path

    # ------------------------------------------------------------------ loop
    def run(self) -> TrainResult:
        if not self._ready:
            self.setup()
        cfg = self.cfg
        end = cfg.optim.max_steps if self.stop_after is None else min(cfg.optim.max_steps, self.stop_after)
        result = TrainResult(final_step=self.global_step)
        metrics_file = self.output_dir / "metrics.jsonl"
        per_step = cfg.optim.batch_size * cfg.optim.gradient_accumulation_steps * self.acc.num_processes
        window_start, window_steps, data_wait = time.perf_counter(), 0, 0.0
        run_start, run_steps = window_start, 0
        accum: dict[str, float] = {}
        if self.global_step >= end:
            return result
        t_fetch = time.perf_counter()
        for batch in self.loader():
            data_wait += time.perf_counter() - t_fetch
            terms, synced = self.train_step(batch, self.consumed_batches)
            self.consumed_batches += 1
            for k, v in terms.as_floats().items():
                accum[k] = accum.get(k, 0.0) + v / cfg.optim.gradient_accumulation_steps
            if synced:
                self.global_step += 1
                window_steps += 1
                run_steps += 1
                row = {"step": self.global_step, **accum, "lr": self.scheduler.get_last_lr()[0]}
                accum = {}
                result.history.append(row)
                if self.acc.is_main_process:
                    with open(metrics_file, "a") as fh:
                        fh.write(json.dumps(row) + "\n")
                if self.global_step % cfg.logging.log_every == 0 or self.global_step == end:
                    elapsed = time.perf_counter() - window_start
                    sps = per_step * window_steps / max(elapsed, 1e-9)
                    logs = {f"loss/{k}": v for k, v in row.items() if k not in ("step", "lr")}
                    logs.update(
                        {
                            "lr": row["lr"],
                            "throughput/samples_per_s": sps,
                            "throughput/data_wait_frac": data_wait / max(elapsed, 1e-9),
                        }
                    )
                    self.acc.log(logs, step=self.global_step)
                    log.info(
                        "step %d/%d loss %.4f (non-mask %.4f mask %.4f grad %.4f mpd %.4f) lr %.2e %.2f samples/s",
                        self.global_step,
                        end,
                        row["total"],
                        row["non_mask"],
                        row["mask"],
                        row["grad"],
                        row["mpd"],
                        row["lr"],
                        sps,
                    )
                    window_start, window_steps, data_wait = time.perf_counter(), 0, 0.0
                if self.val_items and self.global_step % cfg.logging.validate_every == 0:
                    result.validation.append(self._validate())
                if self.global_step % cfg.checkpoint.every == 0 or self.global_step == end:
                    path = self.save()
                    if path is not None:
                        result.checkpoints.append(path)
                if self.global_step >= end:
                    break
            t_fetch = time.perf_counter()
        total = time.perf_counter() - run_start
        result.final_step = self.global_step
        result.samples_per_second = per_step * run_steps / max(total, 1e-9)
        self.acc.end_training()
        return result

    def _validate(self) -> dict[str, float]:
        """Validation with EMA weights on the main process; metrics go to the trackers."""
        out: dict[str, float] = {}
        if self.acc.is_main_process:
            model = self.acc.unwrap_model(self.module).model
            model.heads.eval()
            with self.ema.applied():
                res = validate(self.comps, self.val_items, self.cfg, self.global_step, self.output_dir / "previews")
            model.heads.train()
            out = {"val/psnr_outside": res.psnr_outside, "val/mask_iou": res.mask_iou}
            self.acc.log(out, step=self.global_step)
            tb = self._tensorboard()
            if tb is not None:
                mid = res.preview[len(res.preview) // 2]
                tb.add_image("val/preview", mid, self.global_step, dataformats="HWC")
            log.info(
                "validation at step %d: PSNR outside %.2f dB, MPD IoU %.3f (%s)",
                self.global_step,
                res.psnr_outside,
                res.mask_iou,
                res.preview_path,
            )
            if not math.isfinite(res.psnr_outside):
                log.warning("validation PSNR is not finite (empty non-edit region?)")
        self.acc.wait_for_everyone()
        return out

    def _tensorboard(self) -> Any:
        try:
            return self.acc.get_tracker("tensorboard", unwrap=True)
        except (ValueError, KeyError, AttributeError):
            return None


def train(
    config: TrainConfig, resume: str | None = None, stop_after: int | None = None, extend_from: str | None = None
) -> TrainResult:
    """Set up and run one training job (the CLI's entry point)."""
    if config.model.backbone in WAN_BACKBONES:  # GenProp on the Wan DiT: training/wan/
        from training.wan.trainer import WanTrainer

        return WanTrainer(config, resume=resume, stop_after=stop_after, extend_from=extend_from).run()
    return Trainer(config, resume=resume, stop_after=stop_after, extend_from=extend_from).run()
