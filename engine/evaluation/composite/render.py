"""Rendering composites with exact ground truth: pasted moving objects, planar surfaces.

An object is a sprite anchored at its bottom centre (its feet) and moved along a
``Motion`` (anchor position and scale per frame). It casts a soft shadow on what lies
behind it: its own alpha sheared and squashed onto the ground from the feet, blurred,
darkening the plate. Because the composite is computed, the plate without the paste is
the exact removal truth, the pasted alpha the exact tracking truth.

A planar surface under camera motion is a still photo seen through a per-frame
homography ``H_t`` (frame 0 -> frame t); a layer glued to it moves by the same ``H_t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SHADOW_STRENGTH = 0.55
"""Darkening at the densest part of a cast shadow (the plate is multiplied by ``1 - 0.55``)."""

REGION_ALPHA = 0.04
REGION_DARKENING = 0.03
"""A pixel belongs to the true removal region where the object's alpha or its shadow's
darkening exceeds these (below them the composite differs from the plate by < 3%)."""


@dataclass(frozen=True)
class Motion:
    """Per-frame anchor ``(x, y)`` (frame pixels, the sprite's bottom centre) and scale."""

    anchors: np.ndarray  # [T, 2] float
    scales: np.ndarray  # [T] float

    @classmethod
    def path(
        cls,
        count: int,
        start: tuple[float, float],
        end: tuple[float, float],
        scale: tuple[float, float] = (1.0, 1.0),
        bob: float = 0.0,
        bob_cycles: float = 1.0,
        ease: bool = True,
    ) -> Motion:
        """A smooth path from ``start`` to ``end`` with a vertical sine ``bob`` (px)."""
        u = np.linspace(0.0, 1.0, count)
        s = u * u * (3 - 2 * u) if ease else u
        xy = np.array(start, np.float64)[None] + (np.array(end, np.float64) - start)[None] * s[:, None]
        xy[:, 1] += bob * np.sin(2 * np.pi * bob_cycles * u)
        return cls(xy, scale[0] + (scale[1] - scale[0]) * u)

    @classmethod
    def arc(
        cls, count: int, centre: tuple[float, float], radii: tuple[float, float], degrees: tuple[float, float], scale: float = 1.0
    ) -> Motion:
        """Constant-speed motion along an elliptical arc (a fast object swinging round)."""
        a = np.deg2rad(np.linspace(degrees[0], degrees[1], count))
        xy = np.stack([centre[0] + radii[0] * np.cos(a), centre[1] + radii[1] * np.sin(a)], 1)
        return cls(xy, np.full(count, float(scale)))

    def shifted(self, dx: float, dy: float) -> Motion:
        return Motion(self.anchors + np.array([dx, dy]), self.scales)


@dataclass(frozen=True)
class Paste:
    """A sprite (``[h, w, 4]`` uint8, straight alpha) of height ``height`` px at scale 1, moving by ``motion``.

    ``present`` limits the frames it is in (``None`` = all); ``shadow`` = (shear, squash):
    the shadow's top moves ``shear`` sprite heights sideways and is ``squash`` as tall.
    """

    sprite: np.ndarray
    height: float
    motion: Motion
    shadow: tuple[float, float] | None = (0.9, 0.3)
    present: tuple[int, int] | None = None


@dataclass
class Layered:
    """Per-frame layers of a rendered paste (float32 in 0..1, ``[T, H, W]``)."""

    rgb: np.ndarray  # [T, H, W, 3] float32 premultiplied colour
    alpha: np.ndarray  # [T, H, W]
    darkening: np.ndarray  # [T, H, W] shadow darkening (0 = none)


def _sprite_matrix(sprite_hw: tuple[int, int], height: float, anchor: np.ndarray, scale: float) -> np.ndarray:
    """2x3 affine: sprite pixels -> frame pixels (bottom centre at ``anchor``)."""
    h, w = sprite_hw
    s = height / h * scale
    return np.array([[s, 0.0, anchor[0] - s * w / 2.0], [0.0, s, anchor[1] - s * h]], np.float64)


def render_paste(paste: Paste, count: int, size: tuple[int, int]) -> Layered:
    """Layers of ``paste`` on a ``size`` = (w, h) frame for ``count`` frames."""
    w, h = size
    sprite = paste.sprite
    sh, sw = sprite.shape[:2]
    # Pre-shrink the sprite to its largest on-screen size (INTER_AREA: no aliasing).
    peak = paste.height * float(np.max(paste.motion.scales)) / sh
    if peak < 1.0:
        sprite = cv2.resize(sprite, (max(2, round(sw * peak)), max(2, round(sh * peak))), interpolation=cv2.INTER_AREA)
    a = sprite[..., 3].astype(np.float32) / 255.0
    premult = sprite[..., :3].astype(np.float32) / 255.0 * a[..., None]
    rgb = np.zeros((count, h, w, 3), np.float32)
    alpha = np.zeros((count, h, w), np.float32)
    dark = np.zeros((count, h, w), np.float32)
    sigma = max(1.5, 0.035 * paste.height)
    for t in range(count):
        if paste.present is not None and not (paste.present[0] <= t < paste.present[1]):
            continue
        m = _sprite_matrix(sprite.shape[:2], paste.height, paste.motion.anchors[t], float(paste.motion.scales[t]))
        rgb[t] = cv2.warpAffine(premult, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        alpha[t] = cv2.warpAffine(a, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        if paste.shadow is not None:
            shear, squash = paste.shadow
            foot = float(sprite.shape[0])
            # Shear and squash about the feet line (sprite coordinates), then place like the sprite.
            sh_m = np.array([[1.0, -shear, shear * foot], [0.0, squash, foot * (1 - squash)]], np.float64)
            full = np.vstack([m, [0, 0, 1]]) @ np.vstack([sh_m, [0, 0, 1]])
            shadow = cv2.warpAffine(a, full[:2], (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
            dark[t] = SHADOW_STRENGTH * cv2.GaussianBlur(shadow, (0, 0), sigma)
    return Layered(rgb, np.clip(alpha, 0, 1), dark)


def composite(plate: np.ndarray, layers: list[Layered]) -> np.ndarray:
    """Plate ``[T, H, W, 3]`` uint8 with the layers in order (each: shadow, then object)."""
    out = plate.astype(np.float32) / 255.0
    for lay in layers:
        out *= 1.0 - lay.darkening[..., None]
        out = out * (1.0 - lay.alpha[..., None]) + lay.rgb
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def visible(layers: list[Layered], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, darkening) of layer ``k`` as seen through the layers in front of it."""
    alpha, dark = layers[k].alpha.copy(), layers[k].darkening.copy()
    for front in layers[k + 1 :]:
        alpha *= 1.0 - front.alpha
        dark *= 1.0 - front.alpha
    return alpha, dark


def removal_region(alpha: np.ndarray, darkening: np.ndarray) -> np.ndarray:
    """``[T, H, W]`` bool: where removing the object must change the composite."""
    return (alpha > REGION_ALPHA) | (darkening > REGION_DARKENING)


# --- planar surfaces under a known camera motion ------------------------------------------


def camera_path(
    count: int,
    size: tuple[int, int],
    pan: tuple[float, float] = (0.0, 0.0),
    zoom: float = 1.0,
    roll_deg: float = 0.0,
    tilt: float = 0.0,
    jitter_px: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """``[T, 3, 3]`` homographies ``H_t`` (frame 0 -> frame t) of a camera over a plane.

    Frame-space motion about the frame centre: a pan ``(dx, dy)`` over the clip, a zoom
    factor, a roll, a perspective ``tilt`` (the far edge shrinks) and smooth handheld
    ``jitter_px`` (low-pass random walk, seeded).
    """
    w, h = size
    rng = np.random.default_rng(seed)
    u = np.linspace(0.0, 1.0, count)
    noise = rng.normal(0, 1, (count + 8, 2))
    kernel = np.hanning(9) / np.hanning(9).sum()
    smooth = np.stack([np.convolve(noise[:, i], kernel, mode="valid")[:count] for i in range(2)], 1)
    smooth -= smooth[0]
    smooth *= jitter_px / max(1e-6, np.abs(smooth).max())
    c = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]], np.float64)
    ci = np.linalg.inv(c)
    out = np.empty((count, 3, 3))
    for t in range(count):
        s = 1.0 + (zoom - 1.0) * u[t]
        r = np.deg2rad(roll_deg * u[t])
        rot = np.array([[s * np.cos(r), -s * np.sin(r), 0], [s * np.sin(r), s * np.cos(r), 0], [0, 0, 1]])
        persp = np.array([[1, 0, 0], [0, 1, 0], [0, tilt * u[t] / h, 1]])
        move = np.array([[1, 0, pan[0] * u[t] + smooth[t, 0]], [0, 1, pan[1] * u[t] + smooth[t, 1]], [0, 0, 1]])
        out[t] = c @ move @ rot @ persp @ ci
    for t in range(count):
        out[t] /= out[t, 2, 2]
    return out


def view_plane(still: np.ndarray, homs: np.ndarray, size: tuple[int, int], margin: float, noise: float, seed: int) -> np.ndarray:
    """Frames of a planar photo seen through ``homs`` (frame 0 shows its central part).

    The photo is downscaled so that frame 0 shows it inset by ``margin`` (fraction of
    the frame) on every side, which the camera motion may then reveal. ``noise`` is the
    sigma of seeded sensor noise in grey levels.
    """
    w, h = size
    sh, sw = still.shape[:2]
    s = min(w * (1 + 2 * margin) / sw, h * (1 + 2 * margin) / sh)
    small = cv2.resize(still, (int(round(sw * s)), int(round(sh * s))), interpolation=cv2.INTER_AREA)
    off = np.array([[1, 0, -(small.shape[1] - w) / 2], [0, 1, -(small.shape[0] - h) / 2], [0, 0, 1]], np.float64)
    rng = np.random.default_rng(seed)
    frames = np.empty((len(homs), h, w, 3), np.uint8)
    for t, hom in enumerate(homs):
        f = cv2.warpPerspective(small, hom @ off, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        f = f.astype(np.float32) + rng.normal(0, noise, f.shape).astype(np.float32)
        frames[t] = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    return frames


def glue_layer(frames: np.ndarray, layer_rgba: np.ndarray, homs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Composite a canvas-size RGBA layer moved by ``homs`` onto ``frames``; returns (frames, masks).

    Same warping and mask rule as the classic engine's layer compositing (premultiplied
    bilinear warp; mask = alpha > 0.5/255) so a perfect tracker matches it exactly.
    """
    h, w = frames.shape[1:3]
    a = layer_rgba[..., 3:4].astype(np.float32) / 255.0
    premult = np.concatenate([layer_rgba[..., :3].astype(np.float32) * a, a], axis=-1)
    out, masks = frames.copy(), np.zeros(frames.shape[:3], bool)
    for t, hom in enumerate(homs):
        warped = cv2.warpPerspective(premult, hom, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        wa = warped[..., 3:4]
        m = wa[..., 0] > 0.5 / 255.0
        comp = frames[t].astype(np.float32) * (1.0 - wa) + warped[..., :3]
        out[t][m] = np.clip(np.rint(comp[m]), 0, 255).astype(np.uint8)
        masks[t] = m
    return out, masks


def logo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """An opaque rectangular RGBA logo with texture and text (corners easy to see)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.uint8)
    img[:] = (250, 200, 40)
    cells = 6
    for i in range(cells):
        for j in range(2):
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            x0, x1 = i * width // cells, (i + 1) * width // cells
            y0 = height - height // 4 if j else 0
            cv2.rectangle(img, (x0, y0), (x1 - 1, y0 + height // 4 - 1), colour, -1)
    cv2.putText(
        img, "GenProp", (width // 10, height * 5 // 8), cv2.FONT_HERSHEY_SIMPLEX, width / 190, (30, 30, 120), 2, cv2.LINE_AA
    )
    cv2.rectangle(img, (0, 0), (width - 1, height - 1), (20, 20, 20), 2)
    return np.dstack([img, np.full((height, width), 255, np.uint8)])
