"""Composite cases on real footage (issue 13): the builder, the test-set round trip and the
classic engine's floors on small versions of the benchmark scenes.

The scenes are those of ``benchmarks/bench_composite.py`` at 16 frames and 320 px wide
(the benchmark: 40 frames, 480 px). Floors sit below what was measured at commit time
(in comments) so that a regression fails while load and rounding do not. Skipped when
the shared data (clips + VOC masks) is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.engines.classic import ClassicEngine
from engine.evaluation import load_case, load_testset
from engine.evaluation.baselines import static, telea_true
from engine.evaluation.composite import build_cases, has_data, write_testset
from engine.metrics import black_fraction, corner_errors, j_and_f, psnr_inside, seam_ratio
from engine.video.source import ArrayClip

pytestmark = pytest.mark.skipif(not has_data(), reason="the shared clips and VOC masks are not present")

COUNT, WIDTH = 16, 320
SCENES = ["pan_man", "entering_bus", "cut_man", "insert_plane", "insert_static", "outpaint_pan"]


@pytest.fixture(scope="module")
def cases():
    made = build_cases(COUNT, WIDTH, scenes=SCENES) + build_cases(COUNT, WIDTH, scenes=["leaving_bus"], tasks=["remove"])
    return {c.id: c for c in made}


class _Runs(dict):
    """Engine results by case id, each run when a test first asks for it (a test pays for its own cases only)."""

    def __init__(self, cases: dict) -> None:
        super().__init__()
        self.cases = cases

    def __missing__(self, cid: str):
        c = self.cases[cid]
        self[cid] = result = ClassicEngine().propagate(ArrayClip(c.frames, c.fps), c.edit())
        return result


@pytest.fixture(scope="module")
def results(cases):
    return _Runs(cases)


@pytest.fixture(scope="module")
def more_results():
    """A removal with a long cast shadow under an occluder, and the two harder outpaint shots: (case, result)."""
    made = build_cases(COUNT, WIDTH, scenes=["occluded_woman"], tasks=["remove"])
    made += build_cases(COUNT, WIDTH, scenes=["outpaint_handheld", "outpaint_static"])
    runs = _Runs({c.id: c for c in made})
    return {c.id: (c, runs[c.id]) for c in made}


def _j(result, case) -> tuple[float, float]:
    score = j_and_f(result.masks > 0, case.masks)
    return score.j_mean, score.per_frame_j[-1]


def test_cases_are_deterministic_and_truthful() -> None:
    a = build_cases(8, 160, scenes=["pan_man", "insert_plane"])
    b = build_cases(8, 160, scenes=["pan_man", "insert_plane"])
    for x, y in zip(a, b, strict=True):
        assert x.id == y.id and np.array_equal(x.frames, y.frames) and np.array_equal(x.masks, y.masks)
        assert (x.target is None) == (y.target is None) and (x.target is None or np.array_equal(x.target, y.target))
        assert x.truth == y.truth
    remove = next(c for c in a if c.task == "remove")
    # The removal truth differs from the composite only inside the true region (< 3% change outside).
    outside = ~remove.masks
    assert np.abs(remove.frames.astype(int) - remove.target.astype(int))[outside].max() <= 8
    assert np.abs(remove.frames.astype(int) - remove.target.astype(int))[remove.masks].mean() > 10
    insert = next(c for c in a if c.task == "insert")
    edit = insert.edit()
    errs = corner_errors(insert.target, edit.edited_frame, insert.masks[0], np.asarray(insert.truth["corners"]))
    assert errs.max() < 0.3  # the corner measure recovers the truth from the truth


def test_testset_round_trip(tmp_path: Path) -> None:
    cases = build_cases(8, 160, scenes=["cut_man", "insert_static"])
    write_testset(tmp_path, cases)
    ts = load_testset(tmp_path)
    assert [c.id for c in ts.cases] == [c.id for c in cases]
    for spec, case in zip(ts.cases, cases, strict=True):
        data = load_case(spec)
        assert np.array_equal(data.frames, case.frames)  # lossless
        assert np.array_equal(data.masks, case.masks)
        assert data.truth["shot_cuts"] == case.truth["shot_cuts"]
        if case.target is not None:
            assert np.array_equal(data.target, case.target)
        if "corners" in case.truth:
            assert np.allclose(data.truth["corners"], case.truth["corners"])


def test_tracking_floors(cases, results) -> None:
    case, res = cases["pan_man_track"], results["pan_man_track"]
    j, last = _j(res, case)
    # Measured at commit time: J 0.89, last frame 0.94; the frame-1 mask kept still: 0.23.
    assert j > 0.80 and last > 0.75, (j, last)
    still = static(case.case_data())
    assert j > j_and_f(still[1] > 0, case.masks).j_mean + 0.4
    # Parts entering the frame join the mask (measured: J 0.94, last 0.93; frame 1 shows 35% of the bus).
    case, res = cases["entering_bus_track"], results["entering_bus_track"]
    j, last = _j(res, case)
    assert j > 0.85 and last > 0.85, (j, last)
    assert (res.masks[-1] > 0).sum() > 2.0 * case.masks[0].sum()


def test_removal_beats_per_frame_inpainting_with_true_masks(cases, results) -> None:
    case, res = cases["pan_man_remove"], results["pan_man_remove"]
    ours = psnr_inside(res.frames[1:], case.target[1:], case.masks[1:])
    frames, _ = telea_true(case.case_data())
    naive = psnr_inside(frames[1:], case.target[1:], case.masks[1:])
    # Measured at commit time: 22.7 dB vs 19.6 dB for per-frame Telea with the true masks.
    assert ours > 21.0 and ours > naive + 1.5, (ours, naive)


def test_removal_among_real_passers_by(cases, results) -> None:
    """Real pedestrians walk where the bus was: they are never copied into the hole as ghosts."""
    case, res = cases["leaving_bus_remove"], results["leaving_bus_remove"]
    ours = psnr_inside(res.frames[1:], case.target[1:], case.masks[1:])
    frames, _ = telea_true(case.case_data())
    naive = psnr_inside(frames[1:], case.target[1:], case.masks[1:])
    # Measured at commit time: 17.2 dB vs 14.4 dB for per-frame Telea with the true masks.
    assert ours > 16.0 and ours > naive + 1.5, (ours, naive)


def test_insert_corners(cases, results) -> None:
    for cid, limit in (("insert_plane", 1.0), ("insert_static", 0.05)):
        case, res = cases[cid], results[cid]
        errs = corner_errors(res.frames, case.edit().edited_frame, case.masks[0], np.asarray(case.truth["corners"]))
        # Measured at commit time: 0.06 px (plane, last frame) and 0.01 px (static shot: the metric's floor).
        assert errs[-1] < limit and errs[1:].mean() < limit, (cid, errs)
    res = results["insert_static"]
    assert all(np.array_equal(m, res.masks[0]) for m in res.masks)  # a static shot: the layer does not move at all


def test_outpaint_never_black(cases, results) -> None:
    case, res = cases["outpaint_pan"], results["outpaint_pan"]
    assert black_fraction(res.frames, case.masks, case.target) == 0.0
    ox, oy = case.edit().canvas_offset
    ratio = seam_ratio(res.frames[1:], (ox, oy), case.frames.shape[2:0:-1])
    # Measured at commit time: 1.28; the truth scores about 1.
    assert ratio < 1.5, ratio


def test_shot_cut_stops_the_edit(cases, results) -> None:
    case, res = cases["cut_man_track"], results["cut_man_track"]
    (cut,) = case.truth["shot_cuts"]
    assert res.extras["shot_cuts"] == [cut]
    assert not res.masks[cut:].any()  # never painted on the next shot
    assert any(f"shot cut at frame {cut + 1}" in w for w in res.extras["warnings"])
    assert "shot cut" in res.extras["frame_notes"][cut]
    j, _ = _j(res, case)
    assert j > 0.85, j
    assert results["pan_man_track"].extras["shot_cuts"] == []  # a pan is not a cut


def test_removal_moves_the_shadow_with_the_object(more_results) -> None:
    """The painted shadow follows the object's motion (it is not tracked as if it were the object)."""
    case, res = more_results["occluded_woman_remove"]
    ours = psnr_inside(res.frames[1:], case.target[1:], case.masks[1:])
    frames, _ = telea_true(case.case_data())
    naive = psnr_inside(frames[1:], case.target[1:], case.masks[1:])
    # Measured at commit time: 17.89 dB vs 16.21 dB (17.23 when the shadow was tracked with the woman).
    assert ours > 17.5 and ours > naive + 1.2, (ours, naive)
    covered = [((res.masks[t] > 0) & case.masks[t]).sum() / case.masks[t].sum() for t in range(1, COUNT)]
    assert min(covered) > 0.93, covered  # the shadow's far end is removed on every frame (measured >= 0.97)


def test_outpaint_handheld_and_static_have_no_seam_and_no_black(more_results) -> None:
    for cid, limit in (("outpaint_handheld", 1.5), ("outpaint_static", 1.5)):
        case, res = more_results[cid]
        assert black_fraction(res.frames, case.masks, case.target) == 0.0, cid
        ox, oy = case.edit().canvas_offset
        ratio = seam_ratio(res.frames[1:], (ox, oy), case.frames.shape[2:0:-1])
        # Measured at commit time: 0.22 (handheld) and 0.49 (static); before the gradient-domain
        # blend 1.71 and 0.86. The truth scores about 1.
        assert ratio < limit, (cid, ratio)


def test_removal_is_deterministic_whatever_the_thread_count() -> None:
    """Two runs give the same frames, also with OpenCV on one thread (DIS flow and RANSAC are seeded)."""
    import cv2

    case = build_cases(8, 160, scenes=["cut_man"], tasks=["remove"])[0]
    first = ClassicEngine().propagate(ArrayClip(case.frames, case.fps), case.edit())
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        again = ClassicEngine().propagate(ArrayClip(case.frames, case.fps), case.edit())
    finally:
        cv2.setNumThreads(threads)
    assert np.array_equal(first.frames, again.frames) and np.array_equal(first.masks, again.masks)
