"""The GUI's choices when exporting a result: one per output format of ``engine.video.formats``.

The same table gives the CLI its ``--format`` values, so the window offers exactly what
``propagate --format`` writes (ProRes, DNxHR, lossless, PNG/EXR sequences), written by the
same ``engine.video.export.write_result``. No widgets here: the window builds its file
dialog from ``result_filters`` and maps the user's answer back with ``chosen_format``.
"""

from __future__ import annotations

from pathlib import Path

from engine.video.formats import FORMATS, OutputFormat

#: The format the export dialog starts on (an H.264 file, what most users want to share).
DEFAULT_FORMAT = "video"


def filter_text(fmt: OutputFormat) -> str:
    """One file-dialog filter line: the format's label and what to type (a file, or a folder's name)."""
    if fmt.sequence:
        return f"{fmt.label}, into a new folder (*)"
    return f"{fmt.label} ({' '.join('*' + s for s in fmt.suffixes)})"


def result_filters() -> list[str]:
    """The dialog's filter lines, in the format table's order."""
    return [filter_text(fmt) for fmt in FORMATS.values()]


def default_filter() -> str:
    """The filter line the dialog starts on before the user has chosen one."""
    return filter_text(FORMATS[DEFAULT_FORMAT])


def chosen_format(selected_filter: str) -> OutputFormat:
    """The format whose filter line the user left selected (the default for an unknown line)."""
    for fmt in FORMATS.values():
        if filter_text(fmt) == selected_filter:
            return fmt
    return FORMATS[DEFAULT_FORMAT]


def export_target(path: str | Path, fmt: OutputFormat) -> Path:
    """Where ``fmt`` is written for what the user typed: a file without a suffix gets the format's
    first one (``cut`` -> ``cut.mov`` for ProRes); a sequence is the folder named, as typed."""
    path = Path(path)
    if not fmt.sequence and not path.suffix:
        return path.with_name(path.name + fmt.suffixes[0])
    return path


def renamed_for(name: str, fmt: OutputFormat) -> str:
    """The name in the dialog once the user switches to ``fmt``: a suffix ``fmt`` accepts stays,
    another format's suffix is swapped for ``fmt``'s (``result.mp4`` -> ``result.mov`` for ProRes;
    ``result.mp4`` -> ``result`` for a PNG folder)."""
    path = Path(name)
    known = {s for f in FORMATS.values() if not f.sequence for s in f.suffixes}
    if not fmt.sequence and path.suffix.lower() in fmt.suffixes:
        return name
    stem = path.stem if path.suffix.lower() in known else path.name
    return stem if fmt.sequence else stem + fmt.suffixes[0]


def suggested_name(fmt: OutputFormat) -> str:
    """The file or folder name the dialog proposes for ``fmt``."""
    return "result_frames" if fmt.sequence else "result" + fmt.suffixes[0]
