"""Freezing: one optimiser step on a GenProp-style loss moves only SCE / MPD / task embeddings."""

from __future__ import annotations

import torch

from engine.genprop import Task, freeze_backbone, trainable_parameter_names
from tests.test_genprop_common import make_inputs, make_model


def test_one_step_changes_only_genprop_parts() -> None:
    model = make_model()
    params = freeze_backbone(model)
    assert all(name.startswith("heads.") for name in trainable_parameter_names(model))
    assert not model.unet.training and model.heads.training
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    inputs = make_inputs(frames=2)
    optimiser = torch.optim.AdamW(params, lr=1e-3)
    out = model(**inputs, task=Task.COPY_PASTE)
    target_mask = torch.zeros_like(out.mask_logits)
    target_mask[..., 4:10, 4:10] = 1.0
    # diffusion term + MPD term + a finite-difference SCE term (the L_grad shape)
    delta = 1e-2
    perturbed = model.run_sce(
        inputs["original_latents"] + delta,
        inputs["timestep"],
        inputs["encoder_hidden_states"],
        inputs["added_time_ids"],
        out.backbone_features,
        Task.COPY_PASTE,
    )
    grad_term = sum(((a - b) / delta).pow(2).mean() for a, b in zip(perturbed.features, out.sce_features, strict=True))
    loss = out.sample.square().mean() + torch.nn.functional.mse_loss(out.mask_logits.sigmoid(), target_mask)
    loss = loss + 1e-3 * grad_term
    loss.backward()
    optimiser.step()

    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed, "the step changed nothing"
    assert not [n for n in changed if n.startswith("unet.")], "G must stay frozen"
    assert any(n.startswith("heads.sce.skip_projections.") for n in changed)
    assert any(n.startswith("heads.sce.down_blocks.") for n in changed)  # through L_grad
    assert any(n.startswith("heads.mpd.") for n in changed)
    assert "heads.task_embedding.embedding.weight" in changed
    table = model.heads.task_embedding.embedding.weight
    assert torch.count_nonzero(table[Task.NONE.index]) == 0, "only the used task's row may move"
    assert all(p.grad is None for p in model.unet.parameters())
