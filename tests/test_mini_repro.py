"""The miniature GenProp reproduction: the shipped demo weights work, and every stage runs.

The first test is the product claim in miniature: on the bundled held-out procedural case
(remove an object and its shadow), GenProp keeps the unedited part of the clip better
than G alone conditioned on the same edited first frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.genprop import GenPropHeads
from engine.metrics import iou, psnr_outside
from engine.pipelines.genprop_pipeline import GenPropPipeline
from engine.pipelines.weights_locator import locate_genprop, locate_svd
from engine.video import open_video

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo_model"
STEPS = 6
MARGIN_DB = 0.3
"""GenProp must beat G alone on PSNR outside the mask by this much. The shipped model (issue 14 recipe,
150 steps) measured +1.30 dB on this case with 8 steps (sampling seeds 0 and 1: +1.33, +1.28 dB);
the previous one +0.70 dB."""

needs_demo = pytest.mark.skipif(not (DEMO / "svd" / "model_index.json").is_file(), reason="demo weights not shipped")


def _read_pngs(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))])


@needs_demo
def test_demo_genprop_beats_plain_i2v_outside_the_mask() -> None:
    torch.set_num_threads(1)  # on a loaded 2-core machine two threads ran 3-5x slower than one (past 300 s)
    case = DEMO / "case"
    frames = _read_pngs(case / "frames")
    masks = _read_pngs(case / "masks") > 0
    edited = np.asarray(Image.open(case / "edited_frame.png").convert("RGB"))
    assert frames.shape[0] == masks.shape[0] >= 2 and edited.shape == frames.shape[1:]
    pipe = GenPropPipeline.from_pretrained(DEMO / "svd", DEMO / "genprop", torch_dtype=torch.float32)
    assert pipe.heads is not None and pipe.mode == "genprop"
    fps = int(round(json.loads((case / "case.json").read_text())["fps"]))

    def run(weight: float) -> tuple[np.ndarray, np.ndarray]:
        out = pipe(
            list(frames),
            edited,
            num_inference_steps=STEPS,
            min_guidance_scale=1.0,
            max_guidance_scale=1.0,
            fps=fps,
            injection_weight=weight,
            generator=torch.Generator().manual_seed(0),
        )
        return out.frames, out.masks

    genprop, mpd = run(1.0)
    baseline, _ = run(0.0)  # the SCE's residuals scaled to zero: G alone on the edited frame
    p_gen = psnr_outside(genprop, frames, masks)
    p_base = psnr_outside(baseline, frames, masks)
    assert p_gen > p_base + MARGIN_DB, (p_gen, p_base)
    # The MPD finds the edit (6 steps, sampling seed 0: IoU 0.47 at 0.5, mean 0.71 inside vs 0.16 outside;
    # resources/demo_model/README.md): floors a margin below.
    mpd_iou = iou(mpd > 0.5, masks)
    assert mpd_iou >= 0.4, mpd_iou
    assert mpd[masks].mean() > mpd[~masks].mean() + 0.3, (mpd[masks].mean(), mpd[~masks].mean())


@needs_demo
def test_demo_folders_are_found_by_the_locator_and_labelled() -> None:
    svd = locate_svd(model_dirs=[DEMO], env={})
    gp = locate_genprop(model_dirs=[DEMO], env={}, svd_folder=svd.path)
    assert svd.path == DEMO / "svd" and gp.path == DEMO / "genprop"
    assert "demonstration" in (DEMO / "README.md").read_text().lower()
    GenPropHeads.from_pretrained(DEMO / "genprop")  # strict safetensors load
    total = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    assert total < 10 * 2**20, total
    assert len(open_video(DEMO / "case" / "frames")) >= 2


def _smoke(tmp_path: Path, *extra: str) -> tuple[dict, Path, Path, Path]:
    from training import mini_repro

    out, ship, docs = tmp_path / "run", tmp_path / "ship", tmp_path / "docs"
    threads = torch.get_num_threads()
    try:  # one thread: on a loaded 2-core machine two threads ran this 3-5x slower than one
        args = ["--smoke", "--set", "threads=1", *extra, "--out", str(out), "--ship-to", str(ship), "--docs-dir", str(docs)]
        assert mini_repro.main(args) == 0
    finally:
        torch.set_num_threads(threads)
    return json.loads((docs / "mini_repro.json").read_text()), out, ship, docs


def test_smoke_fast_path(tmp_path: Path) -> None:
    """Every stage once with the full recipe only (the default run's smoke test; ~15 s idle)."""
    from training import mini_repro

    result, out, ship, docs = _smoke(tmp_path, "--set", "variants=[full]", "--set", "edit_task_eval=false")
    assert {r["method"] for r in result["records"]} == {"baseline_i2v", "full", "classic", "vae_ceiling"}
    assert {r["task"] for r in result["records"]} == set(mini_repro.TASKS)
    assert all(np.isfinite(r["psnr_outside"]) for r in result["records"])
    full = [r for r in result["records"] if r["method"] == "full"]
    assert all(len(r["mask_iou_by_threshold"]) == len(mini_repro.IOU_THRESHOLDS) for r in full)
    assert all(np.isfinite(r["tf_psnr_outside_s8"]) for r in full)
    assert {t["target"] for t in result["targets"]} >= {"MPD IoU (threshold 0.5) >= 0.6"}
    assert (docs / "bench_sections" / "mini_repro.md").read_text().startswith("## Miniature GenProp")
    assert (docs / "mini_repro_preview.png").stat().st_size > 0
    # The shipped layout is what the app loads, and what the locator finds.
    pipe = GenPropPipeline.from_pretrained(ship / "svd", ship / "genprop", torch_dtype=torch.float32)
    assert pipe.heads is not None
    assert locate_svd(model_dirs=[ship], env={}).path == ship / "svd"
    # Stage 3 went through the product trainer: its checkpoints and metrics are there.
    assert (out / "genprop_full_s0" / "metrics.jsonl").is_file()
    assert (out / "genprop_full_s0" / "checkpoint-2" / "genprop" / "config.json").is_file()


@pytest.mark.slow
def test_smoke_every_variant(tmp_path: Path) -> None:
    """Every stage, every ablation, two training seeds (slow: ~1 min idle)."""
    from training import mini_repro

    result, out, _, _ = _smoke(tmp_path, "--set", "train_seeds=[0,1]")
    methods = {r["method"] for r in result["records"]}
    assert methods == {"baseline_i2v", "classic", "vae_ceiling", "full_edit_task", "full_equal_steps", *mini_repro.VARIANTS}
    assert {r["train_seed"] for r in result["records"] if r["method"] == "no_sce"} == {0, 1}
    # ablations are compared with the full run's own checkpoint at their step count
    assert (out / "genprop_full_s1" / "checkpoint-1" / "genprop" / "config.json").is_file()
    assert (out / "genprop_no_color_fill_s1" / "checkpoint-1" / "genprop" / "config.json").is_file()
    claims = {(c["a"], c["b"], c["metric"]) for c in result["comparisons"]}
    assert ("full_equal_steps", "no_grad", "psnr_outside") in claims and ("full", "baseline_i2v", "psnr_outside") in claims
    spreads = [c["train_std_of_diff"] for c in result["comparisons"] if c["a"] == "full" and c["b"] == "baseline_i2v"]
    assert all(np.isfinite(s) for s in spreads)


def test_prepare_resume_cuts_the_metrics_back_to_the_checkpoint(tmp_path: Path) -> None:
    """A killed run continues from its newest complete checkpoint; the rows logged after it go
    (the trainer appends, so they would be counted twice); a run with no checkpoint starts afresh."""
    from training import mini_repro

    run_dir = tmp_path / "genprop_full_s0"
    for step, complete in ((2, True), (4, True), (6, False)):
        folder = run_dir / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        if complete:
            state = {"global_step": step, "consumed_batches": step, "ema_updates": step, "seed": 0}
            (folder / "trainer_state.json").write_text(json.dumps(state))
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "total": 1.0}) + "\n" for s in range(1, 8)))
    assert mini_repro.prepare_resume(run_dir) == run_dir / "checkpoint-4"
    assert [r["step"] for r in mini_repro.read_metrics(run_dir / "metrics.jsonl")] == [1, 2, 3, 4]
    fresh = tmp_path / "genprop_no_grad_s0"
    (fresh / "logs").mkdir(parents=True)
    assert mini_repro.prepare_resume(fresh) is None and not fresh.exists()
    # two processes sharing one --out each add their entries to stages.json
    path = tmp_path / "stages.json"
    mini_repro.update_state(path, {"train_full_s0": {"steps": 4}})
    mini_repro.update_state(path, {"train_full_s1": {"steps": 2}})
    assert json.loads(path.read_text()) == {"train_full_s0": {"steps": 4}, "train_full_s1": {"steps": 2}}


@pytest.mark.slow
def test_train_only_and_resume_after_a_kill(tmp_path: Path) -> None:
    """(slow: three runs of every stage, ~50 s idle) ``--train-only`` stops before the evaluation; a run killed after a checkpoint continues from
    it (metrics cut back to that step, not duplicated), and stages.json keeps other processes' entries."""
    from training import mini_repro

    out = tmp_path / "run"
    args = ["--smoke", "--set", "threads=1", "--set", "variants=[full]", "--set", "genprop_steps=2", "--train-only"]
    threads = torch.get_num_threads()
    try:
        assert mini_repro.main([*args, "--out", str(out)]) == 0
        run_dir = out / "genprop_full_s0"
        assert not (out / "mini_repro.json").exists()
        assert [r["step"] for r in mini_repro.read_metrics(run_dir / "metrics.jsonl")] == [1, 2]
        # as if killed between the checkpoint at step 1 and the one at step 2
        import shutil

        shutil.rmtree(run_dir / "checkpoint-2")
        mini_repro.update_state(out / "stages.json", {"train_other_s9": {"steps": 7}})
        assert mini_repro.main([*args, "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    assert [r["step"] for r in mini_repro.read_metrics(run_dir / "metrics.jsonl")] == [1, 2]
    assert (run_dir / "checkpoint-2" / "genprop" / "config.json").is_file()
    state = json.loads((out / "stages.json").read_text())
    assert state["train_full_s0"]["resumed_from"] == "checkpoint-1" and state["train_other_s9"] == {"steps": 7}
    # --existing-only evaluates what is trained and trains nothing (the no_grad run is missing)
    docs = tmp_path / "docs"
    only = ["--set", "variants=[full,no_grad]", "--set", "edit_task_eval=false", "--existing-only", "--docs-dir", str(docs)]
    try:
        assert mini_repro.main([*args[:-1], *only, "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    assert not (out / "genprop_no_grad_s0").exists()
    methods = {r["method"] for r in json.loads((docs / "mini_repro.json").read_text())["records"]}
    assert methods == {"baseline_i2v", "full", "full_equal_steps", "classic", "vae_ceiling"}  # the ablations' reference
