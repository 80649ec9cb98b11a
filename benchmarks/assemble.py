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
ORDER = ["mini_repro", "genprop_model", "pipeline", "classic", "edits", "video_io", "interactive", "training"]

HEADER = """# Benchmarks

Figures measured by the scripts in `benchmarks/`, each with its machine, date, versions
and command. Where a reference exists the figure is a ratio against it, measured in the
same process. Regenerate a section by running its script (each has `--quick` for a
smoke run), then `python -m benchmarks.assemble`.
"""


def assemble(sections: Path = SECTIONS) -> str:
    names = sorted(p.stem for p in sections.glob("*.md"))
    ordered = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
    parts = [HEADER]
    for name in ordered:
        parts.append((sections / f"{name}.md").read_text(encoding="utf-8").strip() + "\n")
    return "\n".join(parts)


def write(sections: Path = SECTIONS, target: Path = TARGET) -> Path:
    """Stitch ``sections/*.md`` into ``target`` (smoke runs write outside docs/)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(assemble(sections), encoding="utf-8")
    return target


def main() -> None:
    print(f"wrote {write()}")


if __name__ == "__main__":
    main()
