"""Metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from engine.metrics import (
    MAX_PSNR,
    boundary_f,
    iou,
    j_and_f,
    load_clip_scorer,
    psnr,
    psnr_inside,
    psnr_outside,
    ssim,
    ssim_outside,
    temporal_consistency,
)
from engine.procedural import generate_clip


def test_psnr_known_value_and_mask() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    b = a.copy()
    b[:4] = 10  # MSE over the top half = 100
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 50))
    top = np.zeros((8, 8), np.uint8)
    top[:4] = 1
    assert psnr(a, b, top) == pytest.approx(10 * np.log10(255**2 / 100))
    assert psnr(a, b, 1 - top) == MAX_PSNR
    assert np.isnan(psnr(a, b, np.zeros((8, 8), np.uint8)))
    with pytest.raises(ValueError, match="shape"):
        psnr(a, b[:4])


def test_ssim_identity_and_noise() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-5)
    slight = np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)
    strong = np.clip(img + rng.normal(0, 80, img.shape), 0, 255).astype(np.uint8)
    assert 0.9 < ssim(img, slight) < 1.0
    assert ssim(img, strong) < ssim(img, slight) - 0.2


def test_iou_and_boundary() -> None:
    a = np.zeros((50, 50), bool)
    a[10:30, 10:30] = True
    b = np.zeros_like(a)
    b[10:30, 20:40] = True
    assert iou(a, b) == pytest.approx(200 / 600)
    assert iou(a, a) == 1.0 and iou(np.zeros_like(a), np.zeros_like(a)) == 1.0
    assert boundary_f(a, a) == 1.0
    shifted = np.roll(a, 1, axis=1)  # within DAVIS tolerance (1 px at 50x50)
    assert boundary_f(a, shifted) == 1.0
    assert boundary_f(a, b) < 0.7
    assert boundary_f(a, np.zeros_like(a)) == 0.0


def test_j_and_f_skips_first_frame() -> None:
    gt = np.zeros((3, 20, 20), bool)
    gt[:, 5:15, 5:15] = True
    pred = gt.copy()
    pred[0] = False
    score = j_and_f(pred, gt)
    assert score.j_mean == 1.0 and score.f_mean == 1.0 and score.jf_mean == 1.0
    assert j_and_f(pred, gt, skip_first=False).j_mean == pytest.approx(2 / 3)


def test_clip_metrics_outside_and_inside() -> None:
    rng = np.random.default_rng(1)
    orig = rng.integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    out = orig.copy()
    masks = np.zeros((3, 16, 16), np.uint8)
    masks[:, :8] = 255
    out[:, :8] = 0  # edited region changed completely
    assert psnr_outside(out, orig, masks) == MAX_PSNR
    # SSIM windows straddle the mask edge, so outside is high but not exactly 1.
    assert ssim_outside(out, orig, masks) > 0.8 > np.mean([ssim(o, r) for o, r in zip(out, orig, strict=False)])
    assert psnr_inside(out, np.zeros_like(orig), masks) == MAX_PSNR
    assert psnr_inside(out, orig, masks) < 10


def test_temporal_consistency_prefers_steady_video() -> None:
    clip = generate_clip(128, 80, 6, 1, seed=2)
    steady = temporal_consistency(clip.frames, reference=clip.frames)
    rng = np.random.default_rng(0)
    flicker = np.clip(clip.frames + rng.normal(0, 20, clip.frames.shape), 0, 255).astype(np.uint8)
    noisy = temporal_consistency(flicker, reference=clip.frames)
    assert steady < 6.0
    assert noisy > steady + 10.0


def test_clip_scorer_absent_gives_note(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GENPROP_CLIP_MODEL", raising=False)
    scorer, note = load_clip_scorer()
    assert scorer is None and "GENPROP_CLIP_MODEL" in note
    scorer, note = load_clip_scorer(tmp_path)
    assert scorer is None and "config.json" in note


def _tiny_clip_folder(path) -> None:
    """A random-weight CLIP with a 6-token vocabulary, saved like a real model folder."""
    import json

    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2, "red</w>": 3, "bird</w>": 4, "a": 5}
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(path / "vocab.json"), str(path / "merges.txt"))
    config = CLIPConfig(
        text_config={
            "vocab_size": 6,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 16,
            "bos_token_id": 0,
            "eos_token_id": 1,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 224,
            "patch_size": 32,
        },
        projection_dim=8,
    )
    CLIPModel(config).save_pretrained(path)
    CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tok).save_pretrained(path)


def test_clip_scores_with_a_local_tiny_model(tmp_path) -> None:
    pytest.importorskip("transformers")
    _tiny_clip_folder(tmp_path)
    scorer, note = load_clip_scorer(tmp_path)
    assert scorer is not None, note
    frames = generate_clip(64, 64, 3, 1, seed=0).frames
    same = np.repeat(frames[:1], 3, axis=0)
    assert scorer.clip_i(same) == pytest.approx(1.0, abs=1e-4)
    assert -1.0 <= scorer.clip_i(frames) <= 1.0
    assert -1.0 <= scorer.clip_t(frames, "a red bird") <= 1.0
    with pytest.raises(ValueError, match="non-empty"):
        scorer.clip_t(frames, " ")


def test_black_continuing_the_source_black_is_told_apart_from_undefined_black() -> None:
    """Pure black joined to the source's own pure black, a few px deep, is the source's; deeper or apart it is a defect."""
    from engine.metrics import black_fraction, source_black_fraction
    from engine.metrics.outpaint import SOURCE_BLACK_DEPTH

    h, w, margin = 40, 100, 30
    truth = np.full((1, h, w, 3), 120, np.uint8)
    margins = np.zeros((1, h, w), bool)
    margins[:, :, :margin] = True
    out = truth.copy()
    out[0, 10:20, margin : margin + 6] = 0  # a crushed-black coat at the source's left border
    out[0, 10:20, margin - 4 : margin] = 0  # ... continued 4 px into the margin
    assert black_fraction(out, margins, truth) == 0.0
    assert source_black_fraction(out, margins, truth) == pytest.approx(40 / margins.sum())
    deep = out.copy()
    deep[0, 10:20, :margin] = 0  # the same black smeared across the whole margin (a mirrored letterbox)
    counted = (margin - SOURCE_BLACK_DEPTH) * 10
    assert black_fraction(deep, margins, truth) == pytest.approx(counted / margins.sum(), rel=0.15)
    apart = truth.copy()
    apart[0, 25:35, 5:15] = 0  # black the engine invented, touching nothing of the source
    assert black_fraction(apart, margins, truth) == pytest.approx(100 / margins.sum())
    assert source_black_fraction(apart, margins, truth) == 0.0
