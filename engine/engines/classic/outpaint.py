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

Within ``seam_px`` of the source area the fill is then nudged toward the current frame
by the step measured at the seam, fading with distance, so the border of the original
frame does not show.
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
    seam: bool = True,
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
        canvas = _soften_seam(canvas, offset, (w, h), seam_px)
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


def _soften_seam(canvas: np.ndarray, offset: tuple[int, int], size: tuple[int, int], px: int) -> np.ndarray:
    """Remove the step at each border of the source area, fading over ``px`` pixels into the fill.

    Per border pixel the step across the seam is compared with the image's own step on
    either side (the predicted continuation); the excess, smoothed along the seam, is
    added to the fill and fades out with distance, so the fill's own detail is kept.
    """
    img = canvas.astype(np.float32)
    ox, oy = offset
    w, h = size
    ch, cw = img.shape[:2]
    ramp = np.clip(1.0 - np.arange(px, dtype=np.float32) / px, 0, 1)  # at distance 0..px-1 from the seam

    def fix(line_in, line_in2, line_out, line_out2):  # noqa: ANN001, ANN202 - [n, 3] rows across one seam
        natural = 0.5 * ((line_in2 - line_in) + (line_out - line_out2))
        excess = (line_in - line_out) - natural
        return cv2.GaussianBlur(excess[:, None, :], (1, 0), sigmaX=0.1, sigmaY=3.0)[:, 0, :] if len(excess) > 1 else excess

    if ox >= 2 and w >= 2:  # left margin: columns ox-1, ox-2, ... get the correction
        e = fix(img[oy : oy + h, ox], img[oy : oy + h, ox + 1], img[oy : oy + h, ox - 1], img[oy : oy + h, ox - 2])
        n = min(px, ox)
        img[oy : oy + h, ox - n : ox] += e[:, None, :] * ramp[:n][::-1][None, :, None]
    if ox + w <= cw - 2 and w >= 2:  # right margin
        e = fix(
            img[oy : oy + h, ox + w - 1], img[oy : oy + h, ox + w - 2], img[oy : oy + h, ox + w], img[oy : oy + h, ox + w + 1]
        )
        n = min(px, cw - ox - w)
        img[oy : oy + h, ox + w : ox + w + n] += e[:, None, :] * ramp[:n][None, :, None]
    if oy >= 2 and h >= 2:  # top margin
        e = fix(img[oy, ox : ox + w], img[oy + 1, ox : ox + w], img[oy - 1, ox : ox + w], img[oy - 2, ox : ox + w])
        n = min(px, oy)
        img[oy - n : oy, ox : ox + w] += e[None, :, :] * ramp[:n][::-1][:, None, None]
    if oy + h <= ch - 2 and h >= 2:  # bottom margin
        e = fix(
            img[oy + h - 1, ox : ox + w], img[oy + h - 2, ox : ox + w], img[oy + h, ox : ox + w], img[oy + h + 1, ox : ox + w]
        )
        n = min(px, ch - oy - h)
        img[oy + h : oy + h + n, ox : ox + w] += e[None, :, :] * ramp[:n][:, None, None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
