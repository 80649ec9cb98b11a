"""Hostile and broken input, generated (issue 17): edit files, mask PNGs and project folders.

For each format at least 30 hand-made cases (each with the outcome it must have) and 200
seeded random mutants of valid files are loaded the way the app loads them. Every input
must be accepted correctly or refused with the loader's documented error and a clear
one-line message; none may crash, hang (10 s), read outside its folder or write
anything. ``python -m tests.fuzz_corpus --mutants N`` runs more (docs/robustness.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import fuzz_corpus

MUTANTS = 200
MIN_HAND_MADE = 30


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[fuzz_corpus.Case]]]:
    workdir = tmp_path_factory.mktemp("fuzz")
    corpus = fuzz_corpus.corpus(workdir, mutants=MUTANTS, seed=17)
    fuzz_corpus.warm_up(workdir, corpus)
    return workdir, corpus


@pytest.mark.parametrize("fmt", fuzz_corpus.FORMATS)
def test_every_input_is_accepted_correctly_or_refused_clearly(
    cases: tuple[Path, dict[str, list[fuzz_corpus.Case]]], fmt: str
) -> None:
    workdir, corpus = cases
    mine = corpus[fmt]
    assert sum(1 for c in mine if "mutant" not in c.name) >= MIN_HAND_MADE
    assert sum(1 for c in mine if "mutant" in c.name) == MUTANTS
    outcomes = [fuzz_corpus.run_case(case, workdir) for case in mine]
    bad = [f"{o.name}: {o.kind}: {o.detail}" for o in outcomes if not o.ok]
    assert not bad, f"{len(bad)} of {len(outcomes)} {fmt} inputs mishandled:\n" + "\n".join(bad)
    kinds = {o.kind for o in outcomes}
    assert kinds == {"accepted", "refused"}  # the corpus exercises both sides


def test_the_harness_sees_an_escape_a_crash_and_a_hang(tmp_path: Path) -> None:
    """The classifier itself must catch what it is there to catch (else every figure above is empty)."""
    outside = tmp_path / "secret.txt"
    outside.write_text("x")

    def reads_outside(folder: Path) -> Path:
        folder.mkdir()
        target = folder / "edit.json"
        target.write_text(outside.read_text())  # built outside the watch: fine
        return target

    fuzz_corpus.watch()
    load_real = fuzz_corpus._loader

    def fake_loader(fmt: str):  # type: ignore[no-untyped-def]
        loaders = {
            "escape": (lambda p: outside.read_text()),
            "crash": (lambda p: [][1]),
            "hang": (lambda p: __import__("time").sleep(30)),
        }
        return loaders[fmt], ValueError

    fuzz_corpus._loader = fake_loader  # type: ignore[assignment]
    old = fuzz_corpus.HANG_SECONDS
    fuzz_corpus.HANG_SECONDS = 0.5
    try:
        for kind in ("escape", "crash", "hang"):
            outcome = fuzz_corpus.run_case(fuzz_corpus.Case(kind, kind, reads_outside, "either"), tmp_path)
            assert outcome.kind == kind, outcome
    finally:
        fuzz_corpus._loader = load_real  # type: ignore[assignment]
        fuzz_corpus.HANG_SECONDS = old


def test_random_mutants_of_real_clips(tmp_path: Path) -> None:
    """A few damaged clips (bit flips, cuts, insertions) read as info/propagate read them."""
    outcomes = [fuzz_corpus.run_case(case, tmp_path) for case in fuzz_corpus.clip_cases(tmp_path, 36, seed=17)]
    bad = [f"{o.name}: {o.kind}: {o.detail}" for o in outcomes if not o.ok]
    assert not bad, "\n".join(bad)
