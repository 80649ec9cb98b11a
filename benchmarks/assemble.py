"""Assemble docs/benchmarks.md from the sections each benchmark writes.

Every benchmark writes its own ``docs/bench_sections/<name>.md`` (machine, date,
versions, figures, the command that produced them); this page stitches them together
so the figures stay next to how they were measured.
    python -m benchmarks.assemble
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ROOT / "docs" / "bench_sections"
TARGET = ROOT / "docs" / "benchmarks.md"
ORDER = ["genprop_model", "pipeline", "classic", "edits", "training", "video_io"]

HEADER = """# Benchmarks

Figures measured by the scripts in `benchmarks/`, each with its machine, date, versions
and command. Where a reference exists the figure is a ratio against it, measured in the
same process. Regenerate a section by running its script (each has `--quick` for a
smoke run), then `python -m benchmarks.assemble`.
"""


def assemble() -> str:
    names = sorted(p.stem for p in SECTIONS.glob("*.md"))
    ordered = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
    parts = [HEADER]
    for name in ordered:
        parts.append((SECTIONS / f"{name}.md").read_text(encoding="utf-8").strip() + "\n")
    return "\n".join(parts)


def main() -> None:
    TARGET.write_text(assemble(), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
