"""Outpainting: fill a wider canvas from the edited first frame and from other frames.

The camera motion is a global homography per frame (frame t -> frame 0), chained from
RANSAC fits on consistent neighbour flow. Each frame's new canvas area is filled, in
this order, from:

1. other frames of the same shot that show it (the camera revealed it), nearest in
   time first, each brought to the current frame's exposure by the difference measured
   where it overlaps the current frame, and feathered into the next;
2. the previous output canvas, moved by the camera (whatever filled a pixel before
   keeps filling it, so never-seen areas do not boil);
3. the user's edited first frame, moved by the camera;
4. a spatial fill (mirrored continuation, blurred with distance) for anything still
   uncovered (the camera moved beyond everything seen): never a black pixel.

The fill is then blended into the current frame in the gradient domain
(:func:`blend_seam`), so the border of the original frame does not show. The next
frame carries the fill *before* that blend (the engine keeps it), so corrections made
for one frame's border never pile up in a margin no frame reveals.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from engine.engines.classic.flow import fb_consistent
from engine.engines.classic.motion import FlowCache, fit_homography, sample_points


def camera_homographies(flows: FlowCache, tick: Callable[[], None] = lambda: None) -> list[np.ndarray]:
    """Full-resolution homographies ``G_t`` mapping frame-t pixels to frame-0 pixels.

    Chained from RANSAC fits on consistent neighbour flow. (Re-anchoring to keyframes by
    direct matching was measured and dropped: its keyframe switches made pans flicker,
    and only relative maps between nearby frames matter here.)
    """
    sx, sy = flows.scale
    to_full = np.array([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], np.float64)
    to_small = np.linalg.inv(to_full)
    chain = [np.eye(3)]
    tick()
    for t in range(1, len(flows)):
        back, fwd = flows.flow(t, t - 1), flows.flow(t - 1, t)
        ok = fb_consistent(back, fwd)
        pts = sample_points(ok, 800)
        step = None
        if len(pts) >= 8:
            dst = pts + back[pts[:, 1].astype(int), pts[:, 0].astype(int)]
            step = fit_homography(pts, dst, threshold=1.0)
        chain.append(chain[-1] @ (np.eye(3) if step is None else step))
        tick()
    return [to_full @ g @ to_small for g in chain]


def _shift(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


def spatial_fill(canvas: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``canvas`` with the pixels outside ``known`` filled from the known ones (no black).

    Nearest known pixels continued outward and blurred with distance (cheap at quarter
    resolution), the same look as the ``reflect`` outpaint fill.
    """
    if known.all():
        return canvas
    h, w = canvas.shape[:2]
    small = (max(2, w // 4), max(2, h // 4))
    k_small = cv2.resize(known.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST) > 0
    c_small = cv2.resize(canvas, small, interpolation=cv2.INTER_AREA)
    if not k_small.any():
        return np.full_like(canvas, int(np.median(canvas[known])) if known.any() else 128)
    filled = cv2.inpaint(c_small, (~k_small).astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), 2.0)
    big = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    out = canvas.copy()
    out[~known] = big[~known]
    return out


def _exposure_offset(warped: np.ndarray, valid: np.ndarray, frame_t: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Mean colour difference frame_t - warped where both exist (``inner``: frame t's area)."""
    both = (valid > 0) & inner
    if both.sum() < 50:
        return np.zeros(3, np.float32)
    return (frame_t[both].astype(np.float32) - warped[both].astype(np.float32)).mean(axis=0)


def fill_canvas(
    t: int,
    frames: np.ndarray,
    edited_canvas: np.ndarray,
    offset: tuple[int, int],
    cams: list[np.ndarray],
    previous: np.ndarray | None = None,
    window: int = 30,
    feather_px: int = 8,
    seam_px: int = 12,
    max_sources: int = 60,
    seam: bool = False,
    align: bool = True,
) -> np.ndarray:
    """Canvas ``[H', W', 3]`` for frame ``t``: the frame at ``offset``, the new area filled.

    ``previous`` is the output canvas of frame ``t - 1`` (None for the first frame of a
    shot); ``window`` bounds how far in time a revealing frame may be, ``max_sources``
    how many revealing frames are blended.
    """
    ch, cw = edited_canvas.shape[:2]
    h, w = frames.shape[1:3]
    ox, oy = offset
    if t == 0:
        return edited_canvas.copy()
    place = np.zeros((ch, cw, 3), np.uint8)
    place[oy : oy + h, ox : ox + w] = frames[t]
    inner = np.zeros((ch, cw), bool)
    inner[oy : oy + h, ox : ox + w] = True
    canvas_t_to_frame_t = _shift(-ox, -oy)
    acc = np.zeros((ch, cw, 3), np.float32)
    remaining = np.where(inner, 0.0, 1.0).astype(np.float32)
    k = 2 * feather_px + 1
    candidates = sorted(
        (s for s in range(max(0, t - window), min(len(frames), t + window + 1)) if s != t), key=lambda s: abs(s - t)
    )
    sources: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]] = []
    for s in candidates:
        m = np.linalg.inv(cams[s]) @ cams[t] @ canvas_t_to_frame_t  # canvas_t -> frame_s
        sources.append((m, frames[s], None, True))
    if previous is not None:
        m = _shift(ox, oy) @ np.linalg.inv(cams[t - 1]) @ cams[t] @ canvas_t_to_frame_t  # canvas_t -> canvas_{t-1}
        sources.append((m, previous, None, False))
    m0 = _shift(ox, oy) @ cams[t] @ canvas_t_to_frame_t  # canvas_t -> canvas_0
    sources.append((m0, edited_canvas, None, False))
    margin_area = max(1, int((~inner).sum()))
    band = _band(inner, seam_px)
    used_frames = 0
    for m, src, _, is_frame in sources:
        open_ = remaining > 0.05
        if not open_.any():
            break
        if is_frame and used_frames >= max_sources:
            continue
        inv = np.linalg.inv(m)  # warpPerspective maps source -> destination
        sh, sw = src.shape[:2]
        corners = cv2.perspectiveTransform(np.array([[[0, 0], [sw, 0], [sw, sh], [0, sh]]], np.float64), inv)[0]
        poly = np.zeros((ch, cw), np.uint8)
        cv2.fillConvexPoly(poly, np.rint(corners).astype(np.int32), 1)
        poly = cv2.erode(poly, np.ones((k, k), np.uint8))  # a sliver under the feathering adds nothing
        if (poly.astype(bool) & open_).sum() < 0.002 * margin_area:
            continue  # reveals (almost) nothing still missing
        used_frames += int(is_frame)
        warped = cv2.warpPerspective(src, inv, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid = cv2.warpPerspective(np.ones((sh, sw), np.uint8), inv, (cw, ch), flags=cv2.INTER_NEAREST)
        valid = cv2.erode(valid, np.ones((3, 3), np.uint8))
        if is_frame:
            if align and used_frames <= 2:
                warped, valid = _align_at_seam(warped, valid, place, inner)
            warped = np.clip(warped.astype(np.float32) + _exposure_offset(warped, valid, place, band), 0, 255)
        soft = cv2.GaussianBlur(valid.astype(np.float32), (k, k), 0) * valid
        take = remaining * soft
        acc += warped.astype(np.float32) * take[..., None]
        remaining -= take
    got = 1.0 - remaining
    canvas = np.where(got[..., None] > 1e-3, acc / np.maximum(got, 1e-6)[..., None], 0)
    canvas = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    canvas[inner] = place[inner]
    known = inner | (got > 0.5)
    canvas = spatial_fill(canvas, known)
    if seam:
        canvas = blend_seam(canvas, offset, (w, h))
    canvas[inner] = place[inner]
    return canvas


ALIGN_SIDE = 320
"""Working size (longer side) of the flow that aligns a revealing frame at the seam."""


def _align_at_seam(warped: np.ndarray, valid: np.ndarray, place: np.ndarray, inner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A revealing frame (already moved by the camera homography) corrected by optical flow.

    A global homography misplaces a handheld, non-planar scene by a few pixels, which
    shows at the seam. The flow from the current frame to the moved frame is measured
    where both exist and carried outward into the margins (fading over 48 px), so the
    revealed content continues the current frame's border.
    """
    from engine.engines.classic.flow import FlowEstimator, to_gray, working_size

    ch, cw = inner.shape
    both = inner & (valid > 0)
    if both.sum() < 0.2 * inner.sum():
        return warped, valid
    size = working_size(cw, ch, ALIGN_SIDE)
    est = FlowEstimator(size, "medium")
    a = to_gray(np.where(both[..., None], place, warped).astype(np.uint8), size)
    b = to_gray(warped.astype(np.uint8), size)
    flow = est(a, b)  # current frame -> moved frame, working size
    small_both = cv2.resize(both.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    # Outside the overlap: the flow of the nearest overlap pixel, fading with distance.
    dist, labels = cv2.distanceTransformWithLabels((~small_both).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(small_both)
    table = np.zeros(int(labels.max()) + 1, np.int64)
    table[labels[ys, xs]] = np.arange(len(ys))
    j = table[labels]
    near = flow[ys[j], xs[j]]
    sx = cw / size[0]
    fade = np.clip(1.0 - dist * sx / 48.0, 0, 1)[..., None]
    field = np.where(small_both[..., None], flow, near * fade)
    full = cv2.resize(field, (cw, ch), interpolation=cv2.INTER_LINEAR)
    full[..., 0] *= cw / size[0]
    full[..., 1] *= ch / size[1]
    gx, gy = np.meshgrid(np.arange(cw, dtype=np.float32), np.arange(ch, dtype=np.float32))
    mx, my = gx + full[..., 0], gy + full[..., 1]
    moved = cv2.remap(warped, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    moved_valid = cv2.remap(valid, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return moved, moved_valid


def _band(inner: np.ndarray, px: int) -> np.ndarray:
    """The strip of ``inner`` within ``px`` of its border (where frame t meets the fill)."""
    eroded = cv2.erode(inner.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8), borderValue=0) > 0
    return inner & ~eroded


def _harmonic_strip(g: np.ndarray, width: int) -> np.ndarray:
    """``[width, n, C]``: the harmonic field on a strip ``width`` deep equal to ``g`` (``[n, C]``) at depth 0.

    Zero-derivative (Neumann) at the far edge and at both ends of the strip. Solved
    exactly per cosine mode along the seam: mode ``k`` decays with depth ``d`` like
    ``cosh(l_k (L - d)) / cosh(l_k L)``, so a colour offset (k = 0) carries across the
    whole margin and a fine mismatch fades within a few pixels.
    """
    n, c = g.shape
    m = n + (n % 2)  # OpenCV's DCT wants an even length; the repeated row keeps the Neumann end
    gg = np.concatenate([g, g[-1:]], 0) if m != n else g
    coef = cv2.dct(np.ascontiguousarray(gg.T, dtype=np.float64), flags=cv2.DCT_ROWS)  # [C, m]
    k = np.arange(m, dtype=np.float64)
    lam = np.arccosh(1.0 + (1.0 - np.cos(np.pi * k / m)))  # discrete Laplacian's decay rate per pixel
    d = np.arange(width, dtype=np.float64)[:, None]
    big = width - 1
    # cosh(l (L - d)) / cosh(l L) without overflow.
    decay = (np.exp(-lam * d) + np.exp(-lam * (2 * big - d))) / (1.0 + np.exp(-2 * lam * big))  # [width, m]
    modes = (coef[None] * decay[:, None, :]).reshape(width * c, m)
    field = cv2.idct(modes, flags=cv2.DCT_ROWS).reshape(width, c, m)[:, :, :n]
    return np.transpose(field, (0, 2, 1))


def blend_seam(canvas: np.ndarray, offset: tuple[int, int], size: tuple[int, int], depth_px: int = 12) -> np.ndarray:
    """``canvas`` with its fill blended into the source area in the gradient domain (no step at the seam).

    Per side, the fill gets the harmonic correction (Poisson blending, Perez et al. 2003)
    whose value at the first fill pixel makes the step across the seam the fill's own
    next step (a natural step, not the misfit of a moved frame or an exposure change);
    the correction is smooth, so the fill's own detail is kept. It fades out over
    ``depth_px`` into the fill: a colour that crosses the border on one frame (a dark coat
    passing) is continued a few pixels, not painted across a margin no frame reveals
    (exposure differences of revealing frames are matched before, in :func:`fill_canvas`).
    """
    img = canvas.astype(np.float32)
    ox, oy = offset
    w, h = size
    ch, cw = img.shape[:2]

    def blended(fill: np.ndarray, live: np.ndarray) -> np.ndarray:
        """``fill`` (``[depth, n, 3]``, depth 0 at the seam) blended toward the border ``live`` (``[n, 3]``)."""
        target = live + (fill[1] - fill[0])  # the source continued by the fill's own outward step
        ramp = np.clip(1.0 - np.arange(len(fill), dtype=np.float32) / depth_px, 0, 1)[:, None, None]
        u = _harmonic_strip(target - fill[0], len(fill)) * ramp
        # At most the ramp's share of the way from the fill to the border's colour, never
        # past it: a dark border darkens a bright fill near the seam, it does not drive a
        # dark fill to black further out (Poisson's bleeding).
        toward = live[None] - fill
        return np.clip(fill + u, fill + ramp * np.minimum(toward, 0), fill + ramp * np.maximum(toward, 0))

    rows, cols = slice(oy, oy + h), slice(ox, ox + w)
    if ox >= 2:  # left margin: columns ox-1, ox-2, ... at depth 0, 1, ...
        fill = np.transpose(img[rows, :ox][:, ::-1], (1, 0, 2))
        img[rows, :ox] = np.transpose(blended(fill, img[rows, ox]), (1, 0, 2))[:, ::-1]
    if cw - ox - w >= 2:  # right margin
        fill = np.transpose(img[rows, ox + w :], (1, 0, 2))
        img[rows, ox + w :] = np.transpose(blended(fill, img[rows, ox + w - 1]), (1, 0, 2))
    if oy >= 2:  # top margin
        img[:oy, cols] = blended(img[:oy, cols][::-1], img[oy, cols])[::-1]
    if ch - oy - h >= 2:  # bottom margin
        img[oy + h :, cols] = blended(img[oy + h :, cols], img[oy + h - 1, cols])
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
