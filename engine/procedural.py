"""Procedural video clips with exact ground truth, for tests, benchmarks and training.

A scene is a textured background seen through a panning camera, plus ``K`` textured
objects that move on their own paths, occlude each other in depth order and cast a hard
shadow on whatever lies beneath them. Because every frame is *rendered* from that
description, re-rendering with a change gives exact ground truth:

- :meth:`ProceduralClip.render` ``(exclude=[k])``: the clip without object ``k`` and its
  shadow (removal ground truth);
- :meth:`ProceduralClip.recoloured`: object ``k``'s visible pixels passed through a colour
  transform (tracking / recolour ground truth);
- :meth:`ProceduralClip.with_layer`: an extra RGBA layer glued to the background or to an
  object, i.e. following a known motion (insert ground truth);
- :meth:`ProceduralClip.render` ``(pad=...)``: the same scene seen through a wider
  window (outpaint ground truth).

Everything is numpy/cv2 and deterministic from the seed. Example::

    clip = generate_clip(width=640, height=360, num_frames=24, num_objects=3, seed=0)
    clip.frames            # [T, H, W, 3] uint8
    clip.object_masks[1]   # [T, H, W] bool, visible pixels of object 1
    clean = clip.render(exclude=[1])   # object 1 and its shadow removed
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

SHADOW_DARKENING = 0.45
"""Shadowed pixels are multiplied by ``1 - SHADOW_DARKENING``."""


@dataclass(frozen=True)
class ObjectSpec:
    """One object: a sprite (mask + texture) and its top-left position per frame.

    ``positions`` are integer ``(x, y)`` screen coordinates of the sprite's top-left
    corner, ``[T, 2]``; integer motion keeps masks exact. ``shadow_offset`` is the
    ``(dx, dy)`` of the cast shadow relative to the object.
    """

    mask: np.ndarray  # [h, w] bool
    texture: np.ndarray  # [h, w, 3] uint8
    positions: np.ndarray  # [T, 2] int
    shadow_offset: tuple[int, int]


@dataclass
class ProceduralClip:
    """A rendered procedural clip and the scene it came from.

    Attributes:
        frames: ``[T, H, W, 3]`` uint8 RGB.
        fps: frame rate.
        object_masks: ``[K, T, H, W]`` bool, *visible* pixels of each object (after
            occlusion by objects in front).
        shadow_masks: ``[K, T, H, W]`` bool, pixels darkened by each object's shadow
            (visible part, object itself excluded).
        background: ``[T, H, W, 3]`` uint8, the clip with no object and no shadow.
        camera: ``[T, 2]`` float, the camera's ``(x, y)`` offset into the world texture;
            the background moves by ``-(camera[t] - camera[0])`` pixels on screen.
        objects: the object specs, back to front (index = object id = depth order).
    """

    frames: np.ndarray
    fps: float
    object_masks: np.ndarray
    shadow_masks: np.ndarray
    background: np.ndarray
    camera: np.ndarray
    objects: list[ObjectSpec] = field(repr=False)
    world: np.ndarray = field(repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def num_objects(self) -> int:
        return len(self.objects)

    def removal_mask(self, k: int) -> np.ndarray:
        """``[T, H, W]`` bool: object ``k`` plus its shadow, what removal must replace."""
        self._check_object(k)
        return self.object_masks[k] | self.shadow_masks[k]

    def render(
        self,
        exclude: Sequence[int] = (),
        pad: tuple[int, int, int, int] = (0, 0, 0, 0),
    ) -> np.ndarray:
        """Re-render the clip ``[T, H', W', 3]`` without the objects in ``exclude``.

        ``pad`` = (left, top, right, bottom) widens the view window; the original view
        sits at ``(left, top)`` inside it (outpaint ground truth).
        """
        for k in exclude:
            self._check_object(k)
        frames, _, _, _ = _render(self.world, self.camera, self.objects, self.size, set(exclude), pad)
        return frames

    def recoloured(self, k: int, transform: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """The clip with object ``k``'s visible pixels recoloured, ``[T, H, W, 3]``.

        ``transform(frame, mask_uint8) -> frame`` is applied to every frame with that
        frame's object mask (0/255), and only pixels inside the mask are kept from its
        output, so the ground truth changes nothing else.
        """
        self._check_object(k)
        out = self.frames.copy()
        for t in range(self.num_frames):
            m = self.object_masks[k, t]
            if not m.any():
                continue
            res = np.asarray(transform(self.frames[t], m.astype(np.uint8) * 255))
            if res.shape != self.frames[t].shape:
                raise ValueError(f"transform returned shape {res.shape}, expected {self.frames[t].shape}")
            out[t][m] = res[m]
        return out

    def with_layer(self, layer_rgba: np.ndarray, anchor: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Composite an RGBA layer that moves with the background or with object ``anchor``.

        ``layer_rgba`` is ``[H, W, 4]`` uint8 (straight alpha) placed as it appears in
        frame 0. With ``anchor=None`` it is glued to the background (moves with the
        camera pan, sub-pixel, bilinear); with ``anchor=k`` it moves with object ``k``
        (integer translation). The layer is drawn on top of everything.

        Returns ``(frames [T,H,W,3] uint8, alpha [T,H,W] float32 in 0..1,
        offsets [T,2] float (dx, dy) of the layer relative to frame 0)``.
        """
        w, h = self.size
        if layer_rgba.shape != (h, w, 4) or layer_rgba.dtype != np.uint8:
            raise ValueError(f"layer_rgba must be [{h}, {w}, 4] uint8, got {layer_rgba.shape} {layer_rgba.dtype}")
        if anchor is None:
            offsets = -(self.camera - self.camera[0])
        else:
            self._check_object(anchor)
            pos = self.objects[anchor].positions
            offsets = (pos - pos[0]).astype(np.float64)
        rgb = layer_rgba[..., :3].astype(np.float32)
        alpha = layer_rgba[..., 3].astype(np.float32) / 255.0
        premult = np.dstack([rgb * alpha[..., None], alpha])
        frames = np.empty_like(self.frames)
        alphas = np.empty((self.num_frames, h, w), np.float32)
        for t in range(self.num_frames):
            m = np.float32([[1, 0, offsets[t, 0]], [0, 1, offsets[t, 1]]])
            warped = cv2.warpAffine(premult, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            a = warped[..., 3:4]
            comp = self.frames[t].astype(np.float32) * (1.0 - a) + warped[..., :3]
            frames[t] = np.clip(comp + 0.5, 0, 255).astype(np.uint8)
            alphas[t] = a[..., 0]
        return frames, alphas, offsets

    def _check_object(self, k: int) -> None:
        if not 0 <= k < self.num_objects:
            raise IndexError(f"object {k} out of range (clip has {self.num_objects} objects)")


def generate_clip(
    width: int = 160,
    height: int = 96,
    num_frames: int = 16,
    num_objects: int = 2,
    seed: int = 0,
    fps: float = 24.0,
    pan_speed: float = 1.5,
    object_speed: float = 2.0,
    shadows: bool = True,
) -> ProceduralClip:
    """Build a deterministic procedural clip.

    Args:
        width, height: frame size in pixels (>= 16 each).
        num_frames: number of frames ``T`` (>= 1).
        num_objects: number of objects ``K`` (>= 0); object ``k`` is drawn over
            objects ``< k`` so paths that cross produce occlusions.
        seed: everything (textures, shapes, paths) derives from it.
        fps: frame rate stored on the clip.
        pan_speed: camera pan speed in pixels per frame at a 160-pixel-wide frame
            (scaled with the width so motion looks alike at every size).
        object_speed: object speed in pixels per frame, scaled the same way.
        shadows: cast shadows (offset silhouettes darkening what lies beneath).
    """
    if width < 16 or height < 16:
        raise ValueError(f"frame size must be at least 16x16, got {width}x{height}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if num_objects < 0:
        raise ValueError(f"num_objects must be >= 0, got {num_objects}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    rng = np.random.default_rng(seed)
    scale = width / 160.0
    t = np.arange(num_frames, dtype=np.float64)

    # Camera: a smooth pan with a slow sinusoidal wobble, never leaving the world texture.
    angle = rng.uniform(0, 2 * np.pi)
    speed = pan_speed * scale
    cam = np.stack([np.cos(angle) * speed * t, np.sin(angle) * speed * t * 0.5], axis=1)
    cam += np.stack([np.sin(t * 0.21) * 1.5 * scale, np.cos(t * 0.17) * 1.0 * scale], axis=1)
    reach = np.abs(cam).max(axis=0) if num_frames else np.zeros(2)
    margin_x = int(np.ceil(reach[0] + width * 0.5 + 4))
    margin_y = int(np.ceil(reach[1] + height * 0.5 + 4))
    world = _texture(rng, height + 2 * margin_y, width + 2 * margin_x, scale)
    camera = cam + np.array([margin_x, margin_y], dtype=np.float64)

    objects = [_make_object(rng, width, height, num_frames, scale, object_speed, shadows) for _ in range(num_objects)]
    frames, obj_masks, shadow_masks, background = _render(world, camera, objects, (width, height), set(), (0, 0, 0, 0))
    return ProceduralClip(
        frames=frames,
        fps=float(fps),
        object_masks=obj_masks,
        shadow_masks=shadow_masks,
        background=background,
        camera=camera,
        objects=objects,
        world=world,
    )


def _texture(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Colourful multi-scale smoothed noise. Nothing periodic: repeating patterns make
    optical flow match the wrong period, which is not what real footage looks like."""
    img = np.zeros((h, w, 3), np.float32)
    for cell, weight in ((24.0, 0.5), (8.0, 0.3), (3.0, 0.2)):
        cell_px = max(1.0, cell * scale)
        gh, gw = max(2, int(h / cell_px) + 2), max(2, int(w / cell_px) + 2)
        noise = rng.random((gh, gw, 3)).astype(np.float32)
        img += weight * cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    lo, hi = img.min(), img.max()
    img = 30 + 200 * (img - lo) / max(hi - lo, 1e-6)
    return np.clip(img, 0, 255).astype(np.uint8)


def _make_object(
    rng: np.random.Generator, width: int, height: int, num_frames: int, scale: float, speed: float, shadows: bool
) -> ObjectSpec:
    """A random ellipse / rectangle / polygon sprite with its own texture and path."""
    ow = int(rng.uniform(0.15, 0.3) * width)
    oh = int(rng.uniform(0.2, 0.4) * height)
    ow, oh = max(ow, 6), max(oh, 6)
    mask = np.zeros((oh, ow), np.uint8)
    shape = rng.integers(0, 3)
    if shape == 0:
        cv2.ellipse(mask, (ow // 2, oh // 2), (ow // 2 - 1, oh // 2 - 1), 0, 0, 360, 1, -1)
    elif shape == 1:
        cv2.rectangle(mask, (1, 1), (ow - 2, oh - 2), 1, -1)
    else:
        n = 7
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.6, 1.0, n)
        pts = np.stack([ow / 2 + np.cos(ang) * rad * (ow / 2 - 1), oh / 2 + np.sin(ang) * rad * (oh / 2 - 1)], 1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    base = rng.uniform(40, 230, 3)
    base[rng.integers(0, 3)] = rng.choice([20.0, 240.0])  # saturate one channel
    # A distinct base colour with fine detail and soft shading, as real objects have:
    # trackable texture inside, a clear colour edge against the background.
    detail = _texture(rng, oh, ow, scale * 0.25).astype(np.float32) - 128.0
    yy, xx = np.mgrid[0:oh, 0:ow].astype(np.float32)
    shade = 1.0 - 0.35 * (((xx - ow * 0.35) / ow) ** 2 + ((yy - oh * 0.3) / oh) ** 2)
    tex = base.astype(np.float32) * shade[..., None] + 0.6 * detail
    texture = np.clip(tex, 0, 255).astype(np.uint8)

    t = np.arange(num_frames, dtype=np.float64)
    start = np.array([rng.uniform(0.1, 0.9) * width - ow / 2, rng.uniform(0.15, 0.85) * height - oh / 2])
    direction = rng.uniform(0, 2 * np.pi)
    vel = np.array([np.cos(direction), np.sin(direction)]) * speed * scale
    wobble = rng.uniform(1, 3) * scale
    phase = rng.uniform(0, 2 * np.pi)
    path = start + vel * t[:, None]
    path += np.stack([np.sin(t * 0.3 + phase), np.cos(t * 0.23 + phase)], 1) * wobble
    # Bounce off the frame edges (triangle wave) so objects stay mostly in view.
    lo = np.array([-0.2 * ow, -0.2 * oh])
    span = np.array([width - 0.6 * ow, height - 0.6 * oh]) - lo
    rel = np.mod(path - lo, 2 * span)
    path = lo + span - np.abs(rel - span)
    positions = np.round(path).astype(np.int64)
    if shadows:
        shadow = (int(round(rng.uniform(0.12, 0.25) * ow)), int(round(rng.uniform(0.1, 0.2) * oh)))
    else:
        shadow = (0, 0)
    return ObjectSpec(mask=mask.astype(bool), texture=texture, positions=positions, shadow_offset=shadow)


def _paste_box(x: int, y: int, w: int, h: int, frame_w: int, frame_h: int) -> tuple[slice, slice, slice, slice] | None:
    """Frame and sprite slices of a sprite at (x, y), or None when fully off-screen."""
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, frame_w), min(y + h, frame_h)
    if x0 >= x1 or y0 >= y1:
        return None
    return slice(y0, y1), slice(x0, x1), slice(y0 - y, y1 - y), slice(x0 - x, x1 - x)


def _render(
    world: np.ndarray,
    camera: np.ndarray,
    objects: list[ObjectSpec],
    size: tuple[int, int],
    exclude: set[int],
    pad: tuple[int, int, int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Render frames, visible object masks, visible shadow masks and the background."""
    left, top, right, bottom = (int(p) for p in pad)
    if min(pad) < 0:
        raise ValueError(f"pad must be non-negative, got {pad}")
    fw, fh = size[0] + left + right, size[1] + top + bottom
    num_frames, k_total = len(camera), len(objects)
    frames = np.empty((num_frames, fh, fw, 3), np.uint8)
    background = np.empty_like(frames)
    obj_masks = np.zeros((k_total, num_frames, fh, fw), bool)
    sh_masks = np.zeros_like(obj_masks)
    for t in range(num_frames):
        cx, cy = camera[t, 0] - left, camera[t, 1] - top
        m = np.float32([[1, 0, -cx], [0, 1, -cy]])
        bg = cv2.warpAffine(world, m, (fw, fh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        background[t] = bg
        img = bg.astype(np.float32)
        owner = np.full((fh, fw), -1, np.int32)  # which object covers each pixel
        shadow_of = np.zeros((k_total, fh, fw), bool)
        for k, obj in enumerate(objects):
            if k in exclude:
                continue
            oh, ow = obj.mask.shape
            x, y = int(obj.positions[t, 0]) + left, int(obj.positions[t, 1]) + top
            dx, dy = obj.shadow_offset
            if dx or dy:
                box = _paste_box(x + dx, y + dy, ow, oh, fw, fh)
                if box is not None:
                    fy, fx, sy, sx = box
                    sm = obj.mask[sy, sx]
                    img[fy, fx][sm] *= 1.0 - SHADOW_DARKENING
                    shadow_of[k, fy, fx] |= sm
            box = _paste_box(x, y, ow, oh, fw, fh)
            if box is not None:
                fy, fx, sy, sx = box
                om = obj.mask[sy, sx]
                img[fy, fx][om] = obj.texture[sy, sx][om]
                owner[fy, fx][om] = k
                # Anything drawn later covers earlier shadows too.
                shadow_of[:, fy, fx] &= ~om
        frames[t] = np.clip(img + 0.5, 0, 255).astype(np.uint8)
        for k in range(k_total):
            obj_masks[k, t] = owner == k
            sh_masks[k, t] = shadow_of[k] & (owner != k)
    return frames, obj_masks, sh_masks, background
