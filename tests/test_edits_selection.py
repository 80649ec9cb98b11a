"""Selectors (GrabCut fallback, SAM2 random-weight path, factory) and mask refinement."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from engine.edits import masks as M
from engine.edits.selection import (
    GrabCutSelector,
    Sam2Selector,
    SelectionResult,
    Selector,
    SelectorUnavailableError,
    build_selector,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VOC = DATA / "masks" / "voc_instances"


def separated_object(h: int = 240, w: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """A yellow ellipse on a noisy blue-green gradient, and its true mask."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([20 + 0 * xx, 60 + xx * 80 // w, 150 + yy * 60 // h], axis=2).astype(np.float32)
    gt = np.zeros((h, w), np.uint8)
    cv2.ellipse(gt, (170, 110), (60, 40), 20, 0, 360, 255, -1)
    img[gt > 0] = (230, 210, 40)
    img += rng.normal(0, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), gt


def test_grabcut_box_and_click_on_generated_image() -> None:
    img, gt = separated_object()
    sel = GrabCutSelector()
    assert isinstance(sel, Selector)
    sel.set_image(img)
    res = sel.predict(None, None, box=[100, 60, 240, 160])
    assert isinstance(res, SelectionResult) and res.is_fallback and res.backend == "grabcut"
    assert res.masks.shape == (1, 240, 320) and res.masks.dtype == np.uint8
    assert M.iou(res.best, gt) > 0.9, f"box IoU {M.iou(res.best, gt):.3f} <= 0.9"
    res = sel.predict([[170, 110], [20, 20]], [1, 0], multimask=True)
    assert res.masks.shape[0] == 3 and np.all(np.diff(res.scores) <= 0), "best first"
    best_iou = max(M.iou(m, gt) for m in res.masks)
    assert best_iou > 0.85, f"click IoU (best of 3) {best_iou:.3f} <= 0.85"
    assert M.iou(res.best, gt) > 0.85, "the top-scored candidate should be the right one here"


def test_several_objects_on_one_frame() -> None:
    """One set_image, one predict per object: each mask finds its own object."""
    img, gt_a = separated_object()
    gt_b = np.zeros_like(gt_a)
    cv2.rectangle(gt_b, (20, 150), (80, 220), 255, -1)
    img[gt_b > 0] = (250, 250, 250)
    sel = GrabCutSelector()
    sel.set_image(img)
    a = sel.predict(None, None, box=[100, 60, 240, 160]).best
    b = sel.predict(None, None, box=[10, 140, 90, 230]).best
    assert M.iou(a, gt_a) > 0.9 and M.iou(b, gt_b) > 0.9
    assert not (a & b).any(), "the two selections must not overlap"


def test_grabcut_on_voc_instances() -> None:
    """Box prompts (the instance's bounding box + 3 px) against real VOC instance masks.

    Measured with work_size 256 / 3 iterations: mean IoU 0.67, median 0.68 over the 12
    instances; the worst (0.04) is a sofa hidden behind people, where colour alone fails.
    Thresholds: mean >= 0.6 and at least 9 of 12 instances above 0.55.
    """
    if not VOC.is_dir():
        pytest.skip(f"{VOC} absent")
    sel = GrabCutSelector()
    ious = []
    for img_path in sorted((VOC / "JPEGImages").glob("*.jpg")):
        img = np.asarray(Image.open(img_path).convert("RGB"))
        inst = np.asarray(Image.open(VOC / "SegmentationObjectPNG" / (img_path.stem + ".png")))
        valid = inst != 255  # VOC marks uncertain boundary pixels 255
        sel.set_image(img)
        for k in np.unique(inst):
            if k in (0, 255):
                continue
            gt = inst == k
            ys, xs = np.nonzero(gt)
            res = sel.predict(None, None, box=[xs.min() - 3, ys.min() - 3, xs.max() + 4, ys.max() + 4])
            m = res.best > 0
            ious.append(((m & gt & valid).sum()) / (((m | gt) & valid).sum()))
    assert len(ious) == 12, f"expected 12 VOC instances, found {len(ious)}"
    assert np.mean(ious) >= 0.6, f"mean IoU {np.mean(ious):.3f} < 0.6 ({np.round(ious, 2)})"
    assert sum(i > 0.55 for i in ious) >= 9, f"too many poor masks: {np.round(ious, 2)}"


def test_prompt_errors_name_the_value() -> None:
    img, _ = separated_object()
    sel = GrabCutSelector()
    with pytest.raises(RuntimeError, match="set_image"):
        sel.predict([[1, 1]], [1])
    sel.set_image(img)
    with pytest.raises(ValueError, match="outside the 320x240"):
        sel.predict([[500, 10]], [1])
    with pytest.raises(ValueError, match="labels must be 0"):
        sel.predict([[5, 10]], [2])
    with pytest.raises(ValueError, match="x1 > x0"):
        sel.predict(None, None, box=[50, 50, 10, 60])
    with pytest.raises(ValueError, match="at least one object point"):
        sel.predict([[5, 10]], [0])


def test_factory_falls_back_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENPROP_SAM2_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    sel = build_selector("auto", size="small")
    assert isinstance(sel, GrabCutSelector) and sel.is_fallback
    assert str(tmp_path / "sam2.1_hiera_small.pt") in sel.reason and "facebook/sam2.1-hiera-small" in sel.reason
    with pytest.raises(SelectorUnavailableError, match="facebook/sam2.1-hiera-tiny"):
        build_selector("sam2")
    with pytest.raises(SelectorUnavailableError, match="does not exist"):
        build_selector("sam2", checkpoint=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="huge"):
        build_selector("auto", size="huge")
    with pytest.raises(ValueError, match="'magic'"):
        build_selector("magic")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(SelectorUnavailableError, match="cannot read SAM2 checkpoint"):
        build_selector("sam2", checkpoint=bad)


@pytest.fixture(scope="module")
def sam2_random() -> Sam2Selector:
    """SAM2.1 tiny with random weights: the real code path at the real cost."""
    return Sam2Selector("tiny", checkpoint=None, random_weights=True)


def test_sam2_random_weights_end_to_end(sam2_random: Sam2Selector) -> None:
    """Build, encode, predict (multi and single mask), embedding cache (~8 s on 2 cores)."""
    sel = sam2_random
    assert isinstance(sel, Selector)
    assert sel.backend == "sam2.1-hiera-tiny (random weights)" and not sel.is_fallback
    img, _ = separated_object(180, 256)
    sel.set_image(img)
    res = sel.predict([[170, 110]], [1], box=[100, 60, 240, 160], multimask=True)
    assert res.masks.shape == (3, 180, 256) and res.masks.dtype == np.uint8
    assert set(np.unique(res.masks)) <= {0, 255} and np.isfinite(res.scores).all()
    assert np.all(np.diff(res.scores) <= 0) and not res.is_fallback
    assert sel.predict([[10, 10]], [1], multimask=False).masks.shape == (1, 180, 256)
    with pytest.raises(ValueError, match="outside the 256x180"):
        sel.predict([[300, 10]], [1])


@pytest.mark.slow
def test_sam2_cache_and_checkpoint_loading(sam2_random: Sam2Selector, tmp_path: Path) -> None:
    """A cached frame answers like a fresh encode; a saved checkpoint loads back through the factory."""
    import torch

    sel = sam2_random
    img, _ = separated_object(180, 256)
    sel.set_image(img)
    res = sel.predict([[170, 110]], [1], box=[100, 60, 240, 160], multimask=True)
    sel.set_image(img[::-1].copy())  # another frame, then the first again: from the cache
    sel.set_image(img)
    again = sel.predict([[170, 110]], [1], box=[100, 60, 240, 160], multimask=True)
    assert np.array_equal(again.masks, res.masks)
    ckpt = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": sel.model.state_dict()}, ckpt)
    loaded = build_selector("sam2", size="tiny", checkpoint=ckpt)
    assert loaded.backend == "sam2.1-hiera-tiny"
    loaded.set_image(img)
    assert np.array_equal(loaded.predict([[170, 110]], [1], box=[100, 60, 240, 160]).masks, res.masks)
    torch.save({"model": {"not.a.key": torch.zeros(1)}}, ckpt)
    with pytest.raises(SelectorUnavailableError, match="does not match"):
        build_selector("sam2", checkpoint=ckpt)


# --- refinement ------------------------------------------------------------------------


def square(h: int = 100, w: int = 100) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[30:70, 30:70] = 255
    return m


def test_grow_shrink_feather() -> None:
    m = square()
    g = M.grow(m, 5)
    assert g[30:70, 25].all() and not g[30:70, 24].any(), "grow by 5 reaches exactly 5 px"
    s = M.shrink(m, 5)
    assert s[35:65, 35].all() and not s[35:65, 34].any(), "shrink by 5 removes exactly 5 px"
    edge = np.full((20, 20), 255, np.uint8)
    assert M.shrink(edge, 3).all(), "the frame border does not erode"
    f = M.feather(m, 6)
    assert f[50, 50] == 255 and f[50, 30] < 64 and 0 < f[50, 33] < 255 and f[m == 0].max() == 0
    assert np.all(np.diff(f[50, 30:50].astype(int)) >= 0), "feather ramps up monotonically inward"
    with pytest.raises(ValueError, match="pixels"):
        M.grow(m, -1)


def test_brush_fill_holes_largest_component() -> None:
    m = square()
    added = M.brush(m, [(5, 5), (20, 5)], radius=3)
    assert added[5, 12] == 255 and added[5, 5] == 255 and added[20, 20] == 0
    erased = M.brush(m, [(50, 50)], radius=4, add=False)
    assert erased[50, 50] == 0 and erased[50, 55] == 255
    filled = M.fill_holes(erased)
    assert np.array_equal(filled, m)
    assert not M.fill_holes(erased, max_area=10)[50, 50], "big holes kept when max_area is small"
    assert M.keep_largest_component(added)[5, 12] == 0 and M.keep_largest_component(added)[50, 50] == 255
    with pytest.raises(ValueError, match="stroke"):
        M.brush(m, [], radius=3)
    with pytest.raises(ValueError, match="100x100"):
        M.check_mask(m, (50, 50))


def test_grabcut_retries_when_the_downscaled_cut_collapses(shared_data: Path) -> None:
    """On cockatoo.mp4 this box made GrabCut's colour model collapse at work size (empty mask)."""
    import cv2

    from engine.video import open_video

    frame = cv2.resize(open_video(shared_data / "clips" / "cockatoo.mp4")[0], (640, 360), interpolation=cv2.INTER_AREA)
    selector = GrabCutSelector(reason="test")
    selector.set_image(frame)
    result = selector.predict(None, None, box=np.array([190.0, 8.0, 425.0, 335.0]))
    area = int((result.masks[0] > 0).sum())
    assert area > 2000 and result.scores[0] > 0.3  # the bird's head at least, never an empty cut
