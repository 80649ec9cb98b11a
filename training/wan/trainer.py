"""The GenProp trainer for the Wan backbone: the SVD trainer's loop, checkpoints, EMA, logging and resume,
with Wan's components, inputs and loss (``training.wan.models`` / ``training.wan.step``).

Selected by ``model.backbone: wan`` (a Wan2.1-VACE diffusers folder at ``model.pretrained_path``)
or ``tiny_wan`` (random tiny modules); ``training.trainer.train`` dispatches here.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from accelerate.utils import DistributedType

from engine.genprop import freeze_backbone
from engine.genprop.wan_heads import WanGenPropHeads
from training import trainer as base
from training.config import ConfigError
from training.losses import LossTerms
from training.wan.models import WanComponents, build_wan_components
from training.wan.step import WanTrainingModule, compute_loss, prepare_inputs
from training.wan.validation import validate

log = logging.getLogger(__name__)


def check_wan_data(cfg: Any, multiple: int) -> None:
    """Wan needs 4k+1 frames and sizes that are multiples of ``multiple`` (VAE x patch)."""
    if cfg.data.num_frames % 4 != 1:
        raise ConfigError(f"data.num_frames must be 4k+1 for a Wan backbone (1 + 32, 1 + 64, ...), got {cfg.data.num_frames}")
    for i, (w, h) in enumerate(cfg.data.buckets):
        if w % multiple or h % multiple:
            raise ConfigError(f"data.buckets[{i}] = [{w}, {h}] must be multiples of {multiple} for a Wan backbone")


class WanTrainer(base.Trainer):
    """Owns one GenProp-Wan run; ``run()``, ``save()`` and the restore are the SVD trainer's."""

    heads_class = WanGenPropHeads

    def setup(self) -> WanTrainer:
        cfg = self.cfg
        trackers = self._start_accelerator()
        self.comps: WanComponents = build_wan_components(cfg.model, cfg.wan)  # type: ignore[assignment]
        check_wan_data(cfg, self.comps.spatial_factor * self.comps.patch)
        model = self.comps.model
        self.params = freeze_backbone(model)  # type: ignore[arg-type]  (G is ``model.unet``, as for SVD)
        weight_dtype = base.WEIGHT_DTYPES[cfg.optim.mixed_precision]
        device = self.acc.device
        model.unet.to(device) if weight_dtype == torch.float32 else model.unet.to(device, weight_dtype)
        self.comps.vae.to(device)  # Wan's VAE stays float32
        model.heads.to(device)
        if cfg.model.gradient_checkpointing:
            model.unet.enable_gradient_checkpointing()
        groups_fn = getattr(base, "parameter_groups", None)
        multipliers = getattr(cfg.optim, "lr_multipliers", {})
        groups = groups_fn(model.heads, cfg.optim.learning_rate, multipliers) if groups_fn is not None else self.params
        self.optimizer = torch.optim.AdamW(
            groups, lr=cfg.optim.learning_rate, betas=tuple(cfg.optim.betas), weight_decay=cfg.optim.weight_decay
        )
        start = self._schedule_ema_and_restore()
        self.module = WanTrainingModule(model, getattr(cfg.loss, "grad_features", "features"))
        self.module, self.optimizer = self.acc.prepare(self.module, self.optimizer)
        if start is not None and self.acc.distributed_type == DistributedType.DEEPSPEED:
            self._load(start, full=False)
            self.acc.load_state(str(start / "accelerate_state"))
        self.dataset = base.build_dataset(cfg.data.sources, cfg, cfg.seed, cfg.optim.batch_size)
        self.val_items = []
        if cfg.data.validation_sources and cfg.logging.validate_every:
            val = base.build_dataset(cfg.data.validation_sources, cfg, cfg.seed + 7919, 1)
            self.val_items = [val[i] for i in range(cfg.logging.validation_clips)]
        if self.acc.is_main_process and trackers:
            self.acc.init_trackers("genprop", config=base._flat_hparams(cfg.to_dict()))
        self._ready = True
        return self

    def train_step(self, batch: dict[str, torch.Tensor], micro_batch: int) -> tuple[LossTerms, bool]:
        gen = base.step_generator(self.cfg.seed, micro_batch, self.acc.process_index)
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

    def _validate(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.acc.is_main_process:
            model = self.acc.unwrap_model(self.module).model
            model.heads.eval()
            with self.ema.applied():
                res = validate(self.comps, self.val_items, self.cfg, self.global_step, self.output_dir / "previews")
            model.heads.train()
            out = {"val/psnr_outside": res.psnr_outside, "val/mask_iou": res.mask_iou}
            self.acc.log(out, step=self.global_step)
            log.info(
                "validation at step %d: PSNR outside %.2f dB, MPD IoU %.3f", self.global_step, res.psnr_outside, res.mask_iou
            )
        self.acc.wait_for_everyone()
        return out
