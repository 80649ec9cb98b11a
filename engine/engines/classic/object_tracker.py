"""One tracked object: its state and the per-frame step of :class:`~engine.engines.classic.tracker.FlowMaskTracker`.

Per frame the previous mask becomes a *prior* (dense flow warp, the region's affine
motion, the frame-1 extent re-anchored by direct matching and checked against the
object's frame-1 appearance), which colour, motion and edge evidence then correct
inside the object's predicted box. Helpers at the bottom clean masks (specks, pinholes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from engine.engines.classic.flow import to_gray
from engine.engines.classic.look_search import AGREEMENT, GROWTH, LookSearch, covered
from engine.engines.classic.motion import FlowCache
from engine.engines.classic.object_motion import apply, camera_motion, reference_points, refine_to_reference, region_motion
from engine.engines.classic.segment import ColourModel, guided_filter

if TYPE_CHECKING:
    from engine.engines.classic.tracker import FlowMaskTracker


@dataclass
class Frame:
    """What every object's step at frame ``t`` shares (flows at working size; maps at full size)."""

    t: int
    frame: np.ndarray
    grey: np.ndarray
    back: np.ndarray
    fwd: np.ndarray
    full_back: np.ndarray
    ok_full: np.ndarray
    texture_full: np.ndarray
    map_x: np.ndarray
    map_y: np.ndarray
    taken: np.ndarray  # working-size union of the tracked objects (dilated)
    ok: np.ndarray  # working-size forward-backward consistency
    _camera: np.ndarray | None = None

    @property
    def camera(self) -> np.ndarray:
        """Working-size homography t -> t-1 of the background (computed when first needed)."""
        if self._camera is None:
            self._camera = camera_motion(self.back, self.taken, self.ok)
        return self._camera


def _u8(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, np.uint8(255), np.uint8(0))


def _bbox(mask: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    h, w = mask.shape
    return slice(max(0, ys.min() - margin), min(h, ys.max() + margin + 1)), slice(
        max(0, xs.min() - margin), min(w, xs.max() + margin + 1)
    )


class TrackedObject:
    """State of one tracked object: its mask, its map from frame 1, its colour model."""

    def __init__(
        self,
        index: int,
        mask0: np.ndarray,
        frame0: np.ndarray,
        flows: FlowCache,
        cfg: FlowMaskTracker,
        reference: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.index, self.cfg, self.flows = index, cfg, flows
        h, w = mask0.shape
        self.mask = mask0.copy()
        self.parts = _component_count(_u8(mask0))
        sx, sy = flows.scale
        self.to_full = np.diag([sx, sy, 1.0])
        self.to_small = np.linalg.inv(self.to_full)
        # The object's extent in frame-1 coordinates, on a canvas padded by half a frame
        # each side so parts that enter the view later can be added.
        self.pad = (w // 2, h // 2)
        self.ref = np.zeros((h + 2 * self.pad[1], w + 2 * self.pad[0]), np.float32)
        self.ref[self.pad[1] : self.pad[1] + h, self.pad[0] : self.pad[0] + w] = mask0
        self.unpad = np.array([[1, 0, -self.pad[0]], [0, 1, -self.pad[1]], [0, 0, 1]], np.float64)
        self.ref_img = np.zeros(self.ref.shape, np.float32)  # the object's grey appearance, same canvas
        self.ref_img[self.pad[1] : self.pad[1] + h, self.pad[0] : self.pad[0] + w] = _soft_grey(frame0)
        self.quality = 1.0  # how well the frame-1 map explains the object (share of matched points)
        self.ref_box = _canvas_box(self.ref)
        self.frame_for_ref = frame0
        self.prev_grey: np.ndarray | None = None
        self.last_motion = np.eye(3)  # the object's last frame-to-frame motion (working size)
        self.last_at_border = 0 if _touches_border(mask0) else -10  # last frame the mask touched the border
        self.prev_soft = _soft_grey(frame0)
        self.anchor = np.eye(3)  # frame 1 -> current frame, working size
        self.area0 = max(1, int(mask0.sum()))
        self.size0 = float(np.sqrt(self.area0))
        # Re-anchoring matches frame-1 points into frame t; a small object is matched at full
        # resolution, where a matching window still sees mostly the object, not its surroundings.
        self.match_full = self.size0 / sx < 48
        if self.match_full:
            self.grey0 = cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY)
            self.ref_pts = reference_points(self.grey0, mask0)
        else:
            self.grey0 = flows.gray(0)
            small0 = flows.mask_to_working(mask0) > 0.5
            self.ref_pts = reference_points(self.grey0, small0 if small0.any() else flows.mask_to_working(mask0) > 0)
        self.colour = ColourModel()
        self.colour.fit(frame0, _erode(mask0, 1), _ring(mask0, max(12, int(0.3 * self.size0))))
        self.lost = not mask0.any()
        self.appearance = (frame0.copy(), mask0.copy())  # for re-finding
        self._events: list[tuple[int, int, str]] = []
        self._remember(frame0, flows.gray(0))
        self.reference_kept = False
        if reference is not None and mask0.any() and np.asarray(reference[1]).any():
            self.reference_kept = self._keep_reference(reference[0], np.asarray(reference[1]) > 0, frame0, mask0)
        self.anchor0 = self.anchor.copy()  # the anchor on this run's first frame (the look search moves it)
        self.look = LookSearch(frame0, mask0) if cfg.look_search and LookSearch.applies(mask0) else None

    def _keep_reference(self, ref_frame: np.ndarray, ref_mask: np.ndarray, frame0: np.ndarray, mask0: np.ndarray) -> bool:
        """Re-anchor to an earlier look of the object (a keyframe run keeps the first frame's) when it still matches.

        A correction gives the object's mask on this frame, which may show only part of it (an
        occluder in front); its first look still knows its whole extent and appearance. Kept
        when more than 0.4 of the first look's points that land on the visible correction match into
        this frame, by a map that puts its extent over the correction; otherwise this frame is the
        reference (the object changed).
        """
        h, w = mask0.shape
        sx = self.flows.scale[0]
        area = max(1, int(ref_mask.sum()))
        size = float(np.sqrt(area))
        match_full = size / sx < 48
        grey_r_full = cv2.cvtColor(ref_frame, cv2.COLOR_RGB2GRAY)
        grey0_full = cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY)
        if match_full:
            grey_r, grey_k, pts = grey_r_full, grey0_full, reference_points(grey_r_full, ref_mask)
        else:
            grey_r = to_gray(ref_frame, self.flows.size)
            grey_k = self.flows.gray(0)
            small = self.flows.mask_to_working(ref_mask) > 0.5
            pts = reference_points(grey_r, small if small.any() else self.flows.mask_to_working(ref_mask) > 0)
        # Guesses: the first look found in this frame by masked template matching (robust to a part
        # hidden), and its centre moved onto the correction's; only points that land on the visible
        # correction are matched, and the best share wins.
        scale = np.diag([1.0, 1.0, 1.0]) if match_full else self.to_small
        ref_m = ref_mask if match_full else self.flows.mask_to_working(ref_mask) > 0.5
        cur_m = (mask0 > 0) if match_full else self.flows.mask_to_working(mask0) > 0.5
        if not ref_m.any() or not cur_m.any():
            return False
        visible = cv2.erode(cur_m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        placed_look = _template_guess(grey_r, ref_m, grey_k, cur_m)
        guesses = [placed_look[0] if placed_look is not None else None]
        (ry, rx), (ky, kx) = (np.argwhere(ref_mask).mean(axis=0), np.argwhere(mask0).mean(axis=0))
        guesses.append(scale @ np.array([[1, 0, kx - rx], [0, 1, ky - ry], [0, 0, 1]], np.float64) @ np.linalg.inv(scale))
        refit, share = None, 0.0
        for guess in guesses:
            if guess is None:
                continue
            moved = apply(guess, pts)
            xi, yi = (
                np.clip(moved[:, 0].astype(int), 0, visible.shape[1] - 1),
                np.clip(moved[:, 1].astype(int), 0, visible.shape[0] - 1),
            )
            on = pts[visible[yi, xi]]
            if len(on) < 8:
                continue
            m, sh = refine_to_reference(grey_r, grey_k, on, guess, window=15)
            if m is not None and sh > share:
                refit, share = m, sh
        if refit is None or share <= 0.4:
            if placed_look is None or placed_look[1] > TEMPLATE_RMS:
                return False
            refit = placed_look[0]  # matched points fail near an occluder's edge; the look itself matches
        anchor = self.to_small @ refit @ self.to_full if match_full else refit
        ref = np.zeros(self.ref.shape, np.float32)
        ref[self.pad[1] : self.pad[1] + h, self.pad[0] : self.pad[0] + w] = ref_mask
        placed = cv2.warpAffine(ref, (self._full(anchor) @ self.unpad)[:2], (w, h), flags=cv2.INTER_LINEAR) > 0.5
        if np.logical_and(placed, mask0 > 0).sum() < 0.7 * (mask0 > 0).sum():
            return False  # the first look's extent does not cover the correction: trust the correction
        self.ref = ref
        self.ref_img = np.zeros(self.ref.shape, np.float32)
        self.ref_img[self.pad[1] : self.pad[1] + h, self.pad[0] : self.pad[0] + w] = _soft_grey(ref_frame)
        self.ref_box = _canvas_box(self.ref)
        self.frame_for_ref = ref_frame
        self.area0, self.size0, self.match_full = area, size, match_full
        self.grey0, self.ref_pts = grey_r, pts
        self.anchor = anchor
        return True

    def take_events(self) -> list[tuple[int, int, str]]:
        ev, self._events = self._events, []
        return ev

    def small_mask(self, dilate: int = 0) -> np.ndarray:
        m = self.flows.mask_to_working(self.mask) > 0.5
        if dilate and m.any():
            m = cv2.dilate(m.astype(np.uint8), np.ones((2 * dilate + 1,) * 2, np.uint8)) > 0
        return m

    def _full(self, m: np.ndarray) -> np.ndarray:
        return self.to_full @ m @ self.to_small

    def step(self, f: Frame) -> np.ndarray:
        """This object's mask on frame ``f.t`` (uint8 0/255): the flow step, checked against the look search."""
        was_lost = self.lost
        mask = self._flow_step(f) > 0
        if self.look is None:
            return _u8(mask)
        found = self.look.search(f.frame, f.t, mask)
        if found is None:
            return _u8(mask)
        held = covered(found.mask, mask) >= AGREEMENT and mask.sum() <= GROWTH * max(found.mask.sum(), self.area0)
        if mask.any() and held:
            self.look.confirm(f.t, found.mask)  # the look's own centre: the velocity does not jump with the shape
            return _u8(mask)
        # The flow lost the object or left it behind: the run's first mask, moved to where its look is.
        if was_lost:
            self._events.append((f.t, self.index, "found again"))
        elif self.lost and self._events and self._events[-1][0] == f.t:
            self._events.pop()  # declared lost on this very frame: it was not
        dx, dy = found.shift
        self.anchor = self.to_small @ np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64) @ self.to_full @ self.anchor0
        self.mask, self.lost = found.mask, False
        self.appearance = (f.frame.copy(), found.mask.copy())
        self._remember(f.frame, f.grey)
        self.look.confirm(f.t, found.mask)
        return _u8(found.mask)

    def _flow_step(self, f: Frame) -> np.ndarray:
        if self.lost:
            return _u8(self._try_refind(f))
        h, w = self.mask.shape
        small = self.small_mask()
        motion, _ = region_motion(small, f.fwd, f.back) if small.any() else (np.eye(3), 0.0)
        # The region's own points matched from the previous frame: dense flow smears the
        # motion of a small object into its surroundings', sparse matches inside it do not.
        short, short_share = self._short_term(f, motion)
        if short is not None:
            motion = short
        self.last_motion = motion
        predicted = motion @ self.anchor
        anchor = predicted
        every = self.cfg.anchor_every
        quality = 0.0
        if every and f.t % every == 0:
            if self.match_full:
                refit, share = refine_to_reference(
                    self.grey0, cv2.cvtColor(f.frame, cv2.COLOR_RGB2GRAY), self.ref_pts, self._full(predicted), window=11
                )
                refit = None if refit is None else self.to_small @ refit @ self.to_full
                pts = apply(self.to_small, self.ref_pts)
            else:
                refit, share = refine_to_reference(self.grey0, f.grey, self.ref_pts, predicted)
                pts = self.ref_pts
            tol = max(2.0, 0.15 * self.size0 / self.flows.scale[0])
            # Near the prediction, or far from it on strong evidence (the prediction drifted).
            if refit is not None and ((share > 0.25 and _close(refit, predicted, pts, tol=tol)) or share > 0.6):
                anchor = refit
                quality = float(np.clip((share - 0.3) / 0.4, 0, 1))
        self.quality = quality
        short_quality = float(np.clip((short_share - 0.3) / 0.4, 0, 1)) if short is not None and quality == 0 else 0.0
        m_full, a_full = self._full(motion), self._full(anchor)
        box = self._predicted_box(f, m_full, a_full)
        if box is None:
            return _u8(self._finish(f, np.zeros((h, w), bool), anchor, 0.0, None))
        ys, xs = box
        bw, bh = xs.stop - xs.start, ys.stop - ys.start
        to_box = np.array([[1, 0, -xs.start], [0, 1, -ys.start], [0, 0, 1]], np.float64)
        prev = self.mask.astype(np.float32)
        dense = cv2.remap(prev, f.map_x[ys, xs], f.map_y[ys, xs], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        param = cv2.warpAffine(prev, (to_box @ m_full)[:2], (bw, bh), flags=cv2.INTER_LINEAR)
        anch = cv2.warpAffine(self.ref, (to_box @ a_full @ self.unpad)[:2], (bw, bh), flags=cv2.INTER_LINEAR)
        expected = float((anch > 0.5).sum())
        ok = f.ok_full[ys, xs]
        if not self.cfg.refine:
            local = ((dense > 0.5) & ok) | ((param > 0.5) & ~ok)
            return _u8(self._finish(f, local, anchor, expected, box))
        seen = cv2.warpAffine(np.ones((h, w), np.float32), (to_box @ m_full)[:2], (bw, bh), flags=cv2.INTER_LINEAR) > 0.5
        tex = f.texture_full[ys, xs]
        conf = (ok * tex).astype(np.float32)
        structural = np.maximum(param, anch)
        # Measured flow (consistent, textured): the dense warp. Consistent but flat: the
        # region's own motion. Occluded or uncovered (inconsistent): open, leaning on the
        # region's motion. Just come into view: open.
        measured = tex * np.clip(dense, 0.03, 0.97) + (1 - tex) * (0.05 + 0.9 * structural)
        prior = np.where(ok, measured, 0.3 + 0.5 * structural)
        if quality > 0:
            # A rigid-enough object: its frame-1 appearance, mapped here, shows which pixels are
            # it (visible) and which are something else (an occluder, the background).
            rigid = 0.05 + 0.9 * anch * self._appearance_match(f.frame[ys, xs], a_full, ys, xs)
            prior = quality * rigid + (1 - quality) * prior
        elif short_quality > 0:
            # Frame 1 no longer matches (the object turned, grew, changed): its look on the
            # previous frame, moved by the matched motion, plays the same part.
            rigid = 0.05 + 0.9 * param * self._previous_match(f.frame[ys, xs], m_full, ys, xs)
            prior = short_quality * rigid + (1 - short_quality) * prior
        entering = ~seen
        if entering.any():
            # Just come into view across the border: the silhouette at the border, continued
            # along the object's motion (the previous mask warped with its edge replicated).
            continued = cv2.warpAffine(
                prev, (to_box @ m_full)[:2], (bw, bh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            # Only where the object itself reaches the border can a part of it come into view: a fast
            # object far from the border (the pen-pushed coin of the bundled sample) would otherwise
            # open the whole band its motion uncovers there, and the table joined the mask.
            entering &= cv2.dilate((continued > 0.05).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
            prior = np.where(entering, 0.3 + 0.55 * continued, prior)
        prior = np.clip(prior, 0.02, 0.98)
        logit = np.log(prior / (1 - prior))
        logit += self.cfg.colour_weight * np.clip(self.colour.llr(f.frame[ys, xs]), -3, 3)
        # Motion tells object from background only where the prior is open: flow bleeds
        # across boundaries, so elsewhere it would pull in whatever lies next to the object.
        if entering.any():
            logit[entering] += self.cfg.motion_weight * self._motion_evidence(f, motion, ys, xs, entering)
        p = 1.0 / (1.0 + np.exp(-logit))
        grey = cv2.cvtColor(f.frame[ys, xs], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        p = guided_filter(grey, p.astype(np.float32), 3, 2e-3)
        if quality > 0.5:  # a trusted frame-1 map decides which pieces belong to the object
            seed = (anch > 0.5) | entering
        else:
            seed = (param > 0.5) | ((dense > 0.5) & (conf > 0.3)) | (anch > 0.5)
        local = _connected_to(p > 0.5, seed)
        footprint = (anch > 0.5) if quality > 0.5 else (param > 0.5)
        if local.sum() > 1.2 * footprint.sum() + entering.sum():
            # An object does not grow by a fifth in one frame except where the view just opened
            # (parts entering the frame): such growth is something touching it, joined through
            # colour and connectivity (the pen that pushes the bundled sample's coin; the mask
            # then followed the pen out of the frame). Keep it near its own moved footprint.
            reach = max(2, int(0.05 * self.size0 / self.flows.scale[0]))
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)
            local &= (cv2.dilate(footprint.astype(np.uint8), kernel) > 0) | entering
        self._learn(f, local, p, prior, box)
        if self.cfg.cover:
            # A region to remove must keep its untextured attached parts (a soft shadow)
            # that colour and appearance reject: add its rigidly moved footprint, except
            # pixels that move unlike both the object and the background (an occluder).
            footprint = (anch > 0.5) if quality > 0.3 else (param > 0.5)
            added = footprint & ~local
            if added.any():
                added &= ~self._occluder(f, motion, ys, xs, added)
            local = local | added
        return _u8(self._finish(f, local, anchor, expected, box))

    def _predicted_box(self, f: Frame, m_full: np.ndarray, a_full: np.ndarray) -> tuple[slice, slice] | None:
        """Where the object can be in frame ``t``: its last box moved by the region and frame-1 maps, plus a margin."""
        h, w = self.mask.shape
        pts = []
        prev_box = _bbox(self.mask, 0)
        if prev_box is not None:
            (py, px) = prev_box
            c = np.array([[px.start, py.start], [px.stop, py.start], [px.stop, py.stop], [px.start, py.stop]], np.float64)
            pts += [apply(m_full, c), c]
            # The dense flow may move parts further than the region's fit does.
            fx, fy = f.full_back[py, px][..., 0], f.full_back[py, px][..., 1]
            reach = float(np.max(np.abs(fx))) + float(np.max(np.abs(fy))) if fx.size else 0.0
        else:
            reach = 0.0
        rb = self.ref_box
        c = np.array([[rb[0], rb[1]], [rb[2], rb[1]], [rb[2], rb[3]], [rb[0], rb[3]]], np.float64)
        pts.append(apply(a_full @ self.unpad, c))
        allp = np.concatenate(pts)
        margin = max(8.0, 0.25 * self.size0) + reach
        x0, y0 = np.floor(allp.min(axis=0) - margin).astype(int)
        x1, y1 = np.ceil(allp.max(axis=0) + margin).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return slice(y0, y1), slice(x0, x1)

    def _short_term(self, f: Frame, guess: np.ndarray) -> tuple[np.ndarray | None, float]:
        """(affine previous frame -> t of the object from its own matched corners, share matched), working size."""
        prev = self.prev_grey
        if prev is None or not self.mask.any():
            return None, 0.0
        if self.match_full:
            grey_t = cv2.cvtColor(f.frame, cv2.COLOR_RGB2GRAY)
            mask = self.mask
        else:
            grey_t = f.grey
            mask = self.small_mask()
        pts = reference_points(prev, mask, 120)
        best, best_share = None, 0.0
        # From the dense flow's estimate, and from constant velocity (flow fails on fast small objects).
        for g in (guess, self.last_motion):
            m, share = refine_to_reference(prev, grey_t, pts, self._full(g) if self.match_full else g, window=11)
            if m is not None and share > best_share:
                best, best_share = m, share
            if best_share > 0.7:
                break
        if best is None or best_share < 0.35:
            return None, best_share
        return (self.to_small @ best @ self.to_full if self.match_full else best), best_share

    def _previous_match(self, crop: np.ndarray, m_full: np.ndarray, ys: slice, xs: slice) -> np.ndarray:
        """Like :meth:`_appearance_match`, against the previous frame moved by ``m_full``."""
        m = m_full[:2].copy()
        m[:, 2] -= (xs.start, ys.start)
        size = (xs.stop - xs.start, ys.stop - ys.start)
        tmpl = cv2.warpAffine(self.prev_soft, m, size, flags=cv2.INTER_LINEAR)
        valid = cv2.warpAffine(self.mask.astype(np.float32), m, size, flags=cv2.INTER_LINEAR) > 0.5
        return _match(_soft_grey(crop), tmpl, valid)

    def _appearance_match(self, crop: np.ndarray, a_full: np.ndarray, ys: slice, xs: slice) -> np.ndarray:
        """Per pixel of the box, 0..1: how well frame ``t`` matches the object's frame-1 appearance mapped here."""
        m = (a_full @ self.unpad)[:2].copy()
        m[:, 2] -= (xs.start, ys.start)
        size = (xs.stop - xs.start, ys.stop - ys.start)
        tmpl = cv2.warpAffine(self.ref_img, m, size, flags=cv2.INTER_LINEAR)
        valid = cv2.warpAffine(self.ref, m, size, flags=cv2.INTER_LINEAR) > 0.5
        return _match(_soft_grey(crop), tmpl, valid)

    def _flow_models(self, f: Frame, motion: np.ndarray, ys: slice, xs: slice, sel: np.ndarray):  # noqa: ANN202
        """(measured, object-predicted, camera-predicted) backward flow at the ``sel`` pixels of the box (full px)."""
        py, px = np.nonzero(sel)
        pts = np.stack([px + xs.start, py + ys.start], 1).astype(np.float64)
        obj = apply(self._full(np.linalg.inv(motion)), pts) - pts
        cam = apply(self._full(f.camera), pts) - pts
        flow = f.full_back[ys, xs][sel]
        return flow, obj, cam

    def _occluder(self, f: Frame, motion: np.ndarray, ys: slice, xs: slice, sel: np.ndarray) -> np.ndarray:
        """Box-sized mask: ``sel`` pixels whose measured flow matches neither the object's nor the camera's motion."""
        sx = self.flows.scale[0]
        flow, obj, cam = self._flow_models(f, motion, ys, xs, sel)
        tol = (1.5 * sx) ** 2
        other = (np.sum((flow - obj) ** 2, axis=1) > tol) & (np.sum((flow - cam) ** 2, axis=1) > tol)
        out = np.zeros(sel.shape, np.uint8)
        out[sel] = other & f.ok_full[ys, xs][sel] & (f.texture_full[ys, xs][sel] > 0.3)
        return cv2.dilate(out, np.ones((5, 5), np.uint8)) > 0

    def _motion_evidence(self, f: Frame, motion: np.ndarray, ys: slice, xs: slice, sel: np.ndarray) -> np.ndarray:
        """At the ``sel`` pixels of the box, -1..1: moves like the object (+) or like the background (-), 0 when alike."""
        sx = self.flows.scale[0]
        flow, obj, cam = self._flow_models(f, motion, ys, xs, sel)
        d_o = np.sum((flow - obj) ** 2, axis=1)
        d_b = np.sum((flow - cam) ** 2, axis=1)
        e = (d_b - d_o) / (d_b + d_o + sx * sx)
        rel = np.clip(np.sqrt(np.sum((obj - cam) ** 2, axis=1)) / (2.0 * sx), 0, 1)
        conf = f.ok_full[ys, xs][sel] * np.clip(f.texture_full[ys, xs][sel] * 2, 0, 1)
        return (e * rel * conf).astype(np.float32)

    def _learn(self, f: Frame, local: np.ndarray, p: np.ndarray, prior: np.ndarray, box: tuple[slice, slice]) -> None:
        ys, xs = box
        fg = local & (p > 0.85) & (prior > 0.7)
        bg = _ring(local, max(12, int(0.3 * self.size0))) & (p < 0.15)
        crop = f.frame[ys, xs]
        self.colour.update(crop, fg, bg)

    def _finish(self, f: Frame, local: np.ndarray, anchor: np.ndarray, expected: float, box) -> np.ndarray:  # noqa: ANN001
        """Clean up the box's mask, update the state, report a lost object; returns the full mask."""
        h, w = self.mask.shape
        mask = np.zeros((h, w), bool)
        if box is not None:
            ys, xs = box
            mask[ys, xs] = fill_small_holes(drop_specks(_u8(local), keep=self.parts, min_fraction=0.2) > 0, 0.03)
        area = int(mask.sum())
        if area < 0.03 * self.area0 and self.mask.sum() > 0:
            # Shrinking away at the border, or predicted out of view: it left; otherwise lost.
            what = "left the frame" if expected < 0.05 * self.area0 or self.last_at_border >= f.t - 3 else "lost"
            self._events.append((f.t, self.index, what))
            self.lost = True
            mask[:] = False
        else:
            if _touches_border(mask):
                self.frame_for_ref = f.frame
                self._grow_reference(mask, anchor)
            if area > 0.5 * self.area0:
                self.appearance = (f.frame.copy(), mask.copy())
        if _touches_border(mask):
            self.last_at_border = f.t
        self.anchor = anchor
        self.mask = mask
        self._remember(f.frame, f.grey)
        return mask

    def _remember(self, frame: np.ndarray, grey_small: np.ndarray) -> None:
        """Keep this frame's look for the next frame's short-term match."""
        self.prev_grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if self.match_full else grey_small
        self.prev_soft = _soft_grey(frame)

    def _grow_reference(self, mask: np.ndarray, anchor: np.ndarray) -> None:
        """Add parts that came into view across the frame border to the frame-1 extent."""
        h, w = mask.shape
        inv = np.linalg.inv(self._full(anchor) @ self.unpad)
        back = cv2.warpAffine(mask.astype(np.float32), inv[:2], self.ref.shape[::-1], flags=cv2.INTER_LINEAR)
        outside = np.ones(self.ref.shape, bool)
        outside[self.pad[1] : self.pad[1] + h, self.pad[0] : self.pad[0] + w] = False
        new = outside & (back > self.ref)
        if new.any():
            self.ref[new] = back[new]
            self.ref_box = _canvas_box(self.ref)
            grey = cv2.warpAffine(_soft_grey(self.frame_for_ref), inv[:2], self.ref.shape[::-1], flags=cv2.INTER_LINEAR)
            self.ref_img[new] = grey[new]

    def _try_refind(self, f: Frame) -> np.ndarray:
        if not self.cfg.refind:
            return np.zeros(self.mask.shape, bool)
        from engine.engines.classic.refind import find_object

        found = find_object(self.appearance[0], self.appearance[1], f.frame)
        if found is None:
            return np.zeros(self.mask.shape, bool)
        self._events.append((f.t, self.index, "found again"))
        self.lost = False
        self.mask = found
        self._remember(f.frame, f.grey)
        self.colour.update(f.frame, _erode(found, 1), _ring(found, max(12, int(0.3 * self.size0))))
        return found


TEMPLATE_RMS = 10.0
"""Largest RMS grey difference (0..255) at which a keyframe run trusts the first look placed by template matching."""


def _template_guess(
    grey_r: np.ndarray, ref_m: np.ndarray, grey_k: np.ndarray, cur_m: np.ndarray
) -> tuple[np.ndarray, float] | None:
    """(translation 3x3, RMS grey difference): the object's look in ``grey_r`` (inside ``ref_m``) placed on
    ``grey_k`` where it covers the visible ``cur_m`` and matches it best there (squared difference over the
    pixels both masks hold, so a hidden part costs nothing); ``None`` when it cannot be searched."""
    ys, xs = np.nonzero(ref_m)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    tm = ref_m[y0:y1, x0:x1].astype(np.float32)
    tv = grey_r[y0:y1, x0:x1].astype(np.float32) * tm
    th, tw = tm.shape
    h, w = grey_k.shape
    if th < 3 or tw < 3:
        return None
    pad = ((th, th), (tw, tw))  # let the object sit partly outside the frame
    mi = np.pad(cur_m.astype(np.float32), pad)
    iv = np.pad(grey_k.astype(np.float32), pad) * mi
    corr = lambda image, templ: cv2.matchTemplate(image, templ, cv2.TM_CCORR)  # noqa: E731
    overlap = corr(mi, tm)
    err = corr(mi, tv * tv) - 2 * corr(iv, tv) + corr(iv * iv, tm)
    ok = overlap >= 0.8 * float(cur_m.sum())
    if not ok.any():
        return None
    mean = np.where(ok, err / np.maximum(overlap, 1.0), np.inf)
    by, bx = np.unravel_index(int(np.argmin(mean)), mean.shape)
    rms = float(np.sqrt(max(0.0, float(mean[by, bx]))))
    return np.array([[1, 0, bx - tw - x0], [0, 1, by - th - y0], [0, 0, 1]], np.float64), rms


def _canvas_box(ref: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the non-zero part of the padded frame-1 canvas, in frame-1 coordinates + pad."""
    ys, xs = np.nonzero(ref > 0.5)
    if len(xs) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _touches_border(mask: np.ndarray, px: int = 2) -> bool:
    return bool(mask[:px].any() or mask[-px:].any() or mask[:, :px].any() or mask[:, -px:].any())


def _match(grey: np.ndarray, tmpl: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per pixel 0..1: how well ``grey`` matches ``tmpl`` (a global brightness change forgiven, edges tolerant)."""
    diff = grey - tmpl
    if valid.sum() > 20:
        diff -= float(np.median(diff[valid]))  # a global brightness change is not a mismatch
    gx, gy = cv2.Sobel(tmpl, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(tmpl, cv2.CV_32F, 0, 1, ksize=3)
    tol = 14.0 + 0.1 * np.sqrt(gx * gx + gy * gy)  # edges tolerate sub-pixel misalignment
    return np.exp(-((diff / tol) ** 2)).astype(np.float32)


def _soft_grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), (3, 3), 0.8)


def _close(a: np.ndarray, b: np.ndarray, pts: np.ndarray, tol: float) -> bool:
    """Whether two maps move ``pts`` to within ``tol`` px of each other (largest difference)."""
    if len(pts) == 0:
        return False
    return float(np.max(np.linalg.norm(apply(a, pts) - apply(b, pts), axis=1))) <= tol


def _erode(mask: np.ndarray, r: int) -> np.ndarray:
    m = cv2.erode(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0
    return m if m.any() else mask


def _ring(mask: np.ndarray, r: int) -> np.ndarray:
    """Pixels 3..``r`` px outside ``mask`` (a distance transform: cost does not grow with ``r``)."""
    if not mask.any():
        return np.zeros(mask.shape, bool)
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    return (dist > 2.5) & (dist <= r)


def _connected_to(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The components of ``mask`` that touch ``seed``."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask
    keep = np.unique(labels[seed & mask])
    keep = keep[keep > 0]
    return np.isin(labels, keep)


def fill_small_holes(mask: np.ndarray, max_fraction: float) -> np.ndarray:
    """``mask`` with enclosed holes smaller than ``max_fraction`` of its area filled.

    Flow and colour leave pinholes where the object has background-like colours (a
    window, a white stripe); a real hole in an object (between an arm and the body) is
    usually larger, or open to the outside.
    """
    area = int(mask.sum())
    if area == 0:
        return mask
    inv = (~mask).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    h, w = mask.shape
    out = mask.copy()
    for i in range(1, count):
        x, y, bw, bh, a = stats[i]
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        if not touches and a <= max_fraction * area:
            out[labels == i] = True
    return out


def _component_count(mask: np.ndarray) -> int:
    """Pieces of a first-frame mask (an object seen through a gap has two)."""
    count, _ = cv2.connectedComponents((mask > 0).astype(np.uint8))
    return max(1, count - 1)


def drop_specks(mask: np.ndarray, keep: int = 1, min_fraction: float = 0.05) -> np.ndarray:
    """Remove stray islands that flow leaves behind (e.g. along an occluder's path).

    The ``keep`` largest components always stay (the object had that many pieces on
    frame 1); any other component stays only if it is at least ``min_fraction`` of the
    largest one.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    if count <= keep + 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(areas)[::-1]
    keep_ids = set((order[:keep] + 1).tolist()) | {i + 1 for i, a in enumerate(areas) if a >= min_fraction * areas.max()}
    return np.where(np.isin(labels, list(keep_ids)), np.uint8(255), np.uint8(0))
