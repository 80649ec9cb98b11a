"""COCO run-length encoding (the format of SA-V masklets), decode and encode.

A COCO RLE is ``{"size": [height, width], "counts": str | list[int]}``. Runs alternate
0s and 1s, starting with 0s, over the mask in column-major (Fortran) order. The string
form stores each run as a little-endian base-32 varint in chars ``48..111``; from the
third run on, the value stored is the difference to the run two places earlier.
Written here from the format description to avoid a compiled dependency.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _string_to_counts(text: str) -> list[int]:
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        value = 0
        shift = 0
        while True:
            if pos >= len(text):
                raise ValueError(f"truncated RLE string at char {pos}: {text[:40]!r}")
            c = ord(text[pos]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"invalid RLE character {text[pos]!r} at {pos}")
            pos += 1
            value |= (c & 0x1F) << shift
            shift += 5
            if not c & 0x20:
                if c & 0x10:
                    value -= 1 << shift  # sign-extend
                break
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def _counts_to_string(counts: list[int]) -> str:
    out = []
    for i, run in enumerate(counts):
        value = run - counts[i - 2] if i > 2 else run
        while True:
            c = value & 0x1F
            value >>= 5
            more = value != -1 if c & 0x10 else value != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
            if not more:
                break
    return "".join(out)


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """``[height, width]`` bool mask from a COCO RLE (string or list counts)."""
    try:
        height, width = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a COCO RLE (needs 'size' [h, w] and 'counts'): {str(rle)[:80]}") from exc
    runs = _string_to_counts(counts) if isinstance(counts, str) else [int(c) for c in counts]
    total = height * width
    if sum(runs) != total or min(runs, default=0) < 0:
        raise ValueError(f"RLE runs sum to {sum(runs)}, expected {height}x{width} = {total}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, runs)
    return flat.reshape((width, height)).T


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO RLE with string counts for a ``[height, width]`` mask (used to write test data)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be [height, width], got {mask.shape}")
    flat = mask.T.reshape(-1)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": _counts_to_string(runs)}
