"""Windows of 4k+1 frames for Wan VACE, and colour-drift correction between windows (pure numpy).

Wan's causal VAE encodes the first frame alone and then groups of 4, so a model call takes
``4k + 1`` frames. A long clip is cut with :func:`engine.pipelines.windows.plan_windows`
(window ``k`` starts ``overlap`` frames before the previous one ends); a window whose length
is not 4k+1 (the last one) is extended backwards, which only adds context frames, and a clip
shorter than one 4k+1 group is padded by repeating its last frame (those outputs are dropped).

The first ``context`` frames of every window after the first are the frames the previous
window produced, given to VACE as fixed (mask 0): the new window continues them. Each new
window reproduces those frames with a small colour shift; :func:`colour_match` measures it
there (per-channel mean and spread) and :func:`apply_colour` removes it from the whole window
before the shared frames are blended, so shifts do not accumulate over a long clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.pipelines.windows import plan_windows

TEMPORAL_FACTOR = 4
"""Wan2.1's VAE: 4 frames per latent frame after the first."""


def round_up_4k1(length: int, factor: int = TEMPORAL_FACTOR) -> int:
    """The smallest ``factor * k + 1 >= length``."""
    return -(-(max(length, 1) - 1) // factor) * factor + 1


@dataclass(frozen=True)
class VaceWindow:
    """Frames ``[start, stop)`` as one model call.

    context: leading frames taken from the previous window's output (fixed, mask 0); 0 for
        the first window (whose frame 0 is the edited frame, fixed too).
    pad: frames appended (repeats of the last one) to reach 4k+1; their outputs are dropped.
    """

    index: int
    start: int
    stop: int
    context: int
    pad: int = 0

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def model_frames(self) -> int:
        return self.length + self.pad


def plan_vace_windows(num_frames: int, window: int, overlap: int, factor: int = TEMPORAL_FACTOR) -> list[VaceWindow]:
    """Cover ``num_frames`` frames with windows of ``factor * k + 1 <= window`` frames."""
    if window % factor != 1:
        raise ValueError(f"window must be {factor}k+1 frames, got {window}")
    base = plan_windows(num_frames, window, min(overlap, window - 1))
    out: list[VaceWindow] = []
    for w in base:
        length = round_up_4k1(w.length, factor)
        start, pad = w.start, 0
        if length != w.length:
            if w.stop - length >= 0 and w.index > 0:
                start = w.stop - length
            else:
                pad = length - w.length
        context = 0 if w.index == 0 else out[-1].stop - start
        out.append(VaceWindow(w.index, start, w.stop, context, pad))
    return out


@dataclass(frozen=True)
class ColourFix:
    """Per-channel ``corrected = gain * generated + offset`` and the drift it removes (0..255 units)."""

    gain: tuple[float, float, float]
    offset: tuple[float, float, float]
    drift_before: float
    drift_after: float


def _stats(frames: np.ndarray, where: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    pixels = frames.reshape(-1, 3).astype(np.float64)
    if where is not None and where.any():
        pixels = pixels[where.reshape(-1)]
    return pixels.mean(axis=0), pixels.std(axis=0)


def colour_match(
    reference: np.ndarray, generated: np.ndarray, where: np.ndarray | None = None, max_gain: float = 1.25
) -> ColourFix:
    """The per-channel affine map taking ``generated`` colours to ``reference`` (mean and std match).

    reference / generated: ``[k, H, W, 3]`` uint8, the same frames from the previous window and
    from the new one. where: optional ``[k, H, W]`` bool, the pixels to compare. The gain is
    clipped to ``[1 / max_gain, max_gain]`` so a flat patch cannot blow colours up.
    """
    if reference.shape != generated.shape or reference.ndim != 4 or reference.shape[-1] != 3:
        raise ValueError(f"reference {reference.shape} and generated {generated.shape} must both be [k, H, W, 3]")
    ref_mean, ref_std = _stats(reference, where)
    gen_mean, gen_std = _stats(generated, where)
    gain = np.where(gen_std > 1e-3, ref_std / np.maximum(gen_std, 1e-3), 1.0)
    gain = np.clip(gain, 1.0 / max_gain, max_gain)
    offset = ref_mean - gain * gen_mean
    corrected = apply_colour(generated, gain, offset)
    before = float(np.abs(_stats(generated, where)[0] - ref_mean).mean())
    after = float(np.abs(_stats(corrected, where)[0] - ref_mean).mean())
    return ColourFix(tuple(float(g) for g in gain), tuple(float(o) for o in offset), before, after)  # type: ignore[arg-type]


def apply_colour(frames: np.ndarray, gain: np.ndarray | tuple[float, ...], offset: np.ndarray | tuple[float, ...]) -> np.ndarray:
    """``gain * frames + offset`` per channel, rounded and clipped to uint8."""
    g = np.asarray(gain, np.float32).reshape(1, 1, 3)
    o = np.asarray(offset, np.float32).reshape(1, 1, 3)
    return np.clip(np.rint(frames.astype(np.float32) * g + o), 0, 255).astype(np.uint8)
