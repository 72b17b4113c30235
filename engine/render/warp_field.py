"""A dense, smooth displacement field of the whole frame driven by the 468 face landmarks.

Control points live in SOURCE space (the frame being warped): the landmarks, rings of extra points
around the face that follow the face outline and the head's 2D similarity motion with a falloff (hair follows, shoulders stay),
and image-border points that never move. A fixed Delaunay triangulation interpolates their
displacements; the barycentric weights of a coarse pixel grid are one sparse matrix, so a frame's
forward field is one sparse matmul. The backward map (output pixel -> source pixel) that cv2.remap
needs comes from a few Newton iterations solving s + D(s) = q on the grid, then a bilinear upsample.
A field may cover only a region of the frame (dubbing uses just the lower face): its grid, Newton solve and
map then cost in proportion to the region, while the control points still span the whole frame.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import Delaunay

from engine.face.canonical import load_canonical_model
from engine.face.contours import FACE_OVAL

N_MESH = 468
RING_SCALES = (1.12, 1.3, 1.55, 1.85, 2.3)  # ring radius / face hull radius, per direction
RING_FOLLOW_UP = (1.0, 0.95, 0.8, 0.5, 0.2)  # share of the head motion above the face (hair moves with the head)
RING_FOLLOW_DOWN = (0.85, 0.55, 0.25, 0.08, 0.0)  # ... below it (neck bends, shoulders stay)
# Share of the nearest outline landmark's own motion in a ring point's motion (the rest: the head's similarity
# motion). High near the face: the silhouette of a turning head barely moves while its features do,
# and the neck follows the chin when the jaw opens.
RING_ANCHOR = (0.9, 0.6, 0.3, 0.1, 0.0)
RING_DIRECTIONS = 40
# With a person mask (engine.render.person_mask), the field fades out over this distance (face hull radii) beyond
# the person's silhouette: the background next to it absorbs the head's motion (a few percent of the face radius)
# over half a face radius, a strain of ~0.1-0.2, and further out it stays still instead of bending along with
# the head out to 2.3 face radii (the rings' reach).
SILHOUETTE_FALLOFF = 0.5
BORDER_SPACING_PX = 48
BORDER_SAFETY = 0.45  # a ring point moves at most this fraction of its distance to the frame edge: no folds
RIGID_MIN_CANONICAL_Y = -2.5  # stable landmarks for the head's similarity motion: above the mouth and jaw
NEWTON_ITERATIONS = 5
# From the previous frame's solution (a sequence), 2 iterations land within 0.006 px mean / 0.06 px (99th
# percentile) of the 5 cold ones on the benchmark clip (bench_warp's demo sequence): speech moves a node well
# under Newton's quadratic-convergence radius between frames.
WARM_NEWTON_ITERATIONS = 2
MAX_NEWTON_STEP_PX = 12.0
MIN_JACOBIAN_DET = 0.2  # Newton's step is damped where the map squeezes harder than this
FOLD_DET = -0.02  # a fold, not a squeeze: a closing eyelid legitimately squeezes the eye to a line
FOLD_RELAX_ROUNDS = 4
FOLD_RELAX_SIGMA = 2.0  # grid nodes
# The field is smoothed in a band along the face's outline (lengths: shares of the face hull's mean radius).
# A head turning towards the camera moves its near silhouette outwards by tens of px while the cheek points
# inside it move little; the piecewise-linear triangles between the outline points and their neighbours then
# drew the jaw and cheek edge as a saw-tooth with the outline points' spacing (from ~12 degrees of yaw). Outside
# the hull the field is smoothed fully, inside it fades out over OUTLINE_BAND_DEPTH, so the features keep the
# exact landmark motion. The blur spans about one outline-point spacing (36 points around: ~0.17 of the radius).
OUTLINE_BAND_SIGMA = 0.08
OUTLINE_BAND_DEPTH = 0.16


def _rigid_landmarks() -> np.ndarray:
    model = load_canonical_model()
    stable = (model.procrustes_weights > 0) & (model.vertices[:, 1] > RIGID_MIN_CANONICAL_Y)
    return np.nonzero(stable)[0]


class WarpField:
    """Precomputed geometry of the warp for one source frame size and its source landmarks."""

    def __init__(self, source_px: np.ndarray, width: int, height: int, grid_step: int = 4,
                 region: tuple[int, int, int, int] | None = None, person: np.ndarray | None = None):
        """`region`: (x0, y0, x1, y1) pixels of the output the maps cover (default: the whole frame); `person`:
        (H, W) bool mask of the person in the source frame, beyond whose silhouette the background stays still
        (None: the field fades out with the distance from the face alone)."""
        import cv2

        src = np.asarray(source_px, dtype=np.float64)[:N_MESH]
        self.width, self.height = int(width), int(height)
        x0, y0, x1, y1 = (0, 0, self.width, self.height) if region is None else (int(v) for v in region)
        if not (0 <= x0 < x1 <= self.width and 0 <= y0 < y1 <= self.height):
            raise ValueError(f"region {region} is not inside the {self.width}x{self.height} frame")
        self.region = (x0, y0, x1, y1)
        self.source = src
        self._rigid_idx = _rigid_landmarks()
        p = src[self._rigid_idx]
        ones, zeros = np.ones(len(p)), np.zeros(len(p))
        # Similarity x' = a x - b y + tx, y' = b x + a y + ty; least squares is linear in the targets.
        design = np.vstack([np.stack([p[:, 0], -p[:, 1], ones, zeros], 1), np.stack([p[:, 1], p[:, 0], zeros, ones], 1)])
        self._rigid_pinv = np.linalg.pinv(design)  # (4, 2n)
        self._oval = np.array(FACE_OVAL)
        self._rigid_centre = src[self._rigid_idx].mean(axis=0)  # moved by the rigid fit in _silhouette
        self._oval_gap = self._outline_gaps(src, self._rigid_centre)[0]

        rings, follow, anchor_w, anchor_idx = self._rings(src)
        border = self._border_points()
        ctrl = np.vstack([src, rings, border])
        self._rings_xy = rings
        self._ring_follow = follow
        self._ring_anchor_w = anchor_w
        self._ring_anchor_idx = anchor_idx
        self._ring_cap = BORDER_SAFETY * self._distance_to_edge(rings)
        self._n_ctrl = len(ctrl)

        # Grid nodes sit where cv2.resize (INTER_LINEAR) puts source samples, so upsampling is exact.
        rw, rh = x1 - x0, y1 - y0
        self.grid_w = max(2, int(np.ceil(rw / grid_step)))
        self.grid_h = max(2, int(np.ceil(rh / grid_step)))
        gx = x0 + (np.arange(self.grid_w) + 0.5) * (rw / self.grid_w) - 0.5
        gy = y0 + (np.arange(self.grid_h) + 0.5) * (rh / self.grid_h) - 0.5
        self.grid = np.stack(np.meshgrid(gx, gy), axis=-1).astype(np.float32)  # (gh, gw, 2)
        tri = Delaunay(ctrl)
        self._bary = self._barycentric_matrix(tri, self.grid.reshape(-1, 2).astype(np.float64))
        self._xs = np.arange(x0, x1, dtype=np.float32)  # the region's pixel columns and rows
        self._ys = np.arange(y0, y1, dtype=np.float32)
        # Pixel x -> grid coordinate (x - origin + 0.5) * to_grid - 0.5, for sampling the field with cv2.remap.
        self._to_grid = np.array([self.grid_w / rw, self.grid_h / rh], dtype=np.float32)
        self._origin = np.array([x0, y0], dtype=np.float32)
        hull = cv2.convexHull(src.astype(np.float32)).reshape(-1, 2)
        radius = float(np.linalg.norm(hull - hull.mean(axis=0), axis=1).mean())  # the face hull's mean radius
        self._band, self._band_sigma = self._outline_band(hull, radius)
        self._still = None if person is None else self._still_weight(person, radius)

    def _rings(self, src: np.ndarray):
        from scipy.spatial import ConvexHull

        hull = src[ConvexHull(src).vertices]
        centre = hull.mean(axis=0)
        angles = np.linspace(0.0, 2 * np.pi, RING_DIRECTIONS, endpoint=False)
        dirs = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        # Hull radius along each direction: the furthest hull point's projection (convex, so it is exact enough).
        radius = np.max((hull - centre) @ dirs.T, axis=0)
        down = np.clip(dirs[:, 1], 0.0, 1.0)  # image y grows downwards
        pts, follow, anchor_w = [], [], []
        for k, s in enumerate(RING_SCALES):
            pts.append(centre + dirs * (radius * s)[:, None])
            follow.append(RING_FOLLOW_UP[k] * (1 - down) + RING_FOLLOW_DOWN[k] * down)
            anchor_w.append(np.full(RING_DIRECTIONS, RING_ANCHOR[k]))
        pts, follow, anchor_w = np.vstack(pts), np.concatenate(follow), np.concatenate(anchor_w)
        margin = 0.5 * BORDER_SPACING_PX
        keep = ((pts[:, 0] > margin) & (pts[:, 0] < self.width - 1 - margin)
                & (pts[:, 1] > margin) & (pts[:, 1] < self.height - 1 - margin))
        pts, follow, anchor_w = pts[keep], follow[keep], anchor_w[keep]
        # Anchored on the outline only: inner points turn out of sight, the silhouette does not.
        oval = self._oval
        anchor_idx = oval[np.argmin(((pts[:, None, :] - src[None, oval, :]) ** 2).sum(-1), axis=1)]
        return pts, follow, anchor_w, anchor_idx

    def _still_weight(self, person: np.ndarray, radius: float) -> np.ndarray:
        """(gh, gw, 1) share of the field kept at each grid node: 1 on the person, falling to 0 at
        SILHOUETTE_FALLOFF face radii beyond the silhouette."""
        import cv2

        if person.shape != (self.height, self.width):
            raise ValueError(f"person mask {person.shape} does not match the {self.width}x{self.height} frame")
        beyond = cv2.distanceTransform((~person).astype(np.uint8), cv2.DIST_L2, 5)
        nodes = np.clip(np.round(self.grid).astype(int), 0, [self.width - 1, self.height - 1])
        weight = np.clip(1.0 - beyond[nodes[..., 1], nodes[..., 0]] / (SILHOUETTE_FALLOFF * radius), 0.0, 1.0)
        return weight.astype(np.float32)[..., None]

    def _outline_band(self, hull: np.ndarray, radius: float) -> tuple[np.ndarray, float]:
        """(gh, gw, 1) weight of the smoothed field (1 outside the face `hull`, fading to 0 inside it) and the
        blur's sigma in grid nodes."""
        import cv2

        node_px = float(np.mean(1.0 / self._to_grid))
        reach = max(OUTLINE_BAND_DEPTH * radius, 1.0)
        # drawn with a margin as deep as the band: a region's grid (dubbing) sees the outline just outside it too
        pad = int(np.ceil(reach / node_px)) + 1
        nodes = (hull - self._origin + 0.5) * self._to_grid - 0.5 + pad
        inside = np.zeros((self.grid_h + 2 * pad, self.grid_w + 2 * pad), np.uint8)
        cv2.fillConvexPoly(inside, np.round(nodes).astype(np.int32), 1)
        depth = cv2.distanceTransform(inside, cv2.DIST_L2, 3)[pad:pad + self.grid_h, pad:pad + self.grid_w] * node_px
        band = np.clip(1.0 - depth / reach, 0.0, 1.0)
        return band.astype(np.float32)[..., None], OUTLINE_BAND_SIGMA * radius / node_px

    def _border_points(self) -> np.ndarray:
        w, h = self.width - 1, self.height - 1
        xs = np.linspace(0, w, max(2, int(round(w / BORDER_SPACING_PX)) + 1))
        ys = np.linspace(0, h, max(2, int(round(h / BORDER_SPACING_PX)) + 1))[1:-1]
        pts = [np.stack([xs, np.zeros_like(xs)], 1), np.stack([xs, np.full_like(xs, h)], 1),
               np.stack([np.zeros_like(ys), ys], 1), np.stack([np.full_like(ys, w), ys], 1)]
        # Pad outside the frame so edge pixels interpolate inside triangles, never extrapolate.
        return np.vstack(pts) + np.sign(np.vstack(pts) - np.array([w / 2, h / 2])) * 2.0

    def _distance_to_edge(self, pts: np.ndarray) -> np.ndarray:
        return np.minimum.reduce([pts[:, 0], self.width - 1 - pts[:, 0], pts[:, 1], self.height - 1 - pts[:, 1]])

    def _barycentric_matrix(self, tri: Delaunay, points: np.ndarray) -> sparse.csr_matrix:
        simplex = tri.find_simplex(points)
        if np.any(simplex < 0):  # only possible for degenerate frames; the nearest vertex then carries the pixel
            simplex = np.where(simplex < 0, 0, simplex)
        # the affine maps to barycentric coordinates of the triangles in use only (a region uses few of them)
        used, which = np.unique(simplex, return_inverse=True)
        corners = tri.points[tri.simplices[used]]  # (k, 3, 2)
        last = corners[:, 2]
        (a, c), (b_, d) = (corners[:, 0] - last).T, (corners[:, 1] - last).T  # columns of [[a, b], [c, d]]
        det = a * d - b_ * c
        det = np.where(np.abs(det) > 1e-12, det, 1e-12)  # a degenerate sliver: no division by zero
        inverse = np.stack([np.stack([d, -b_], 1), np.stack([-c, a], 1)], 1) / det[:, None, None]  # (k, 2, 2)
        b = np.einsum("nij,nj->ni", inverse[which], points - last[which])
        bary = np.hstack([b, 1.0 - b.sum(axis=1, keepdims=True)])
        # three entries a row: the CSR arrays directly (no COO sort)
        return sparse.csr_matrix((bary.ravel(), tri.simplices[simplex].ravel(), np.arange(0, 3 * len(points) + 1, 3)),
                                 shape=(len(points), self._n_ctrl))

    def _outline_gaps(self, pts: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance (px) from each face-outline point to the convex hull of `pts` along the ray from
        `centre`, and the rays' unit directions."""
        import cv2

        hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)
        edge = np.roll(hull, -1, axis=0) - hull
        normal = np.stack([edge[:, 1], -edge[:, 0]], axis=1)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
        normal *= np.sign(((hull - hull.mean(axis=0)) * normal).sum(axis=1, keepdims=True) + 1e-12)  # outwards
        p = pts[self._oval]
        u = p - centre
        u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-9)
        nu = u @ normal.T  # (n_oval, n_edges)
        slack = (hull * normal).sum(axis=1)[None, :] - p @ normal.T  # >= 0 inside the hull
        t = np.where(nu > 1e-9, slack / np.where(nu > 1e-9, nu, 1.0), np.inf)
        return np.maximum(t.min(axis=1), 0.0), u

    def _silhouette(self, tgt: np.ndarray, rigid: np.ndarray) -> np.ndarray:
        """`tgt` with the face outline kept on the visible silhouette.

        Turning the head rotates far-side outline points behind the cheek (inside the target's hull);
        moved there, they would drag the source's skin/background edge into the face and fold the cheek
        over it. The edge instead stays on the target's outer boundary: each outline point is pushed
        out along its ray by how much deeper inside the hull it lies than in the source (zero when
        nothing turns, so identity stays exact)."""
        a, b, tx, ty = rigid
        c = self._rigid_centre
        centre = np.array([a * c[0] - b * c[1] + tx, b * c[0] + a * c[1] + ty])
        gap, u = self._outline_gaps(tgt, centre)
        push = np.maximum(gap - self._oval_gap, 0.0)
        if not np.any(push > 0.05):
            return tgt
        out = tgt.copy()
        out[self._oval] += push[:, None] * u
        return out

    def rigid_matrix(self, target_px: np.ndarray) -> np.ndarray:
        """(2, 3) the head's 2D similarity source -> target (least squares over the stable landmarks)."""
        tgt = np.asarray(target_px, dtype=np.float64)[:N_MESH]
        a, b, tx, ty = self._rigid_pinv @ tgt[self._rigid_idx].T.ravel()
        return np.array([[a, -b, tx], [b, a, ty]])

    def control_displacements(self, target_px: np.ndarray) -> np.ndarray:
        """(n_ctrl, 2) forward displacement of every control point for (468, 2) target landmarks."""
        tgt = np.asarray(target_px, dtype=np.float64)[:N_MESH]
        rigid_fit = self._rigid_pinv @ tgt[self._rigid_idx].T.ravel()
        tgt = self._silhouette(tgt, rigid_fit)
        d_mesh = tgt - self.source
        a, b, tx, ty = rigid_fit
        x, y = self._rings_xy[:, 0], self._rings_xy[:, 1]
        rigid = np.stack([a * x - b * y + tx - x, b * x + a * y + ty - y], axis=1)
        anchor = self._ring_anchor_w[:, None]
        d_ring = self._ring_follow[:, None] * (anchor * d_mesh[self._ring_anchor_idx] + (1 - anchor) * rigid)
        norm = np.linalg.norm(d_ring, axis=1)
        d_ring *= np.minimum(1.0, self._ring_cap / np.maximum(norm, 1e-9))[:, None]
        out = np.zeros((self._n_ctrl, 2))
        out[:N_MESH] = d_mesh
        out[N_MESH:N_MESH + len(d_ring)] = d_ring
        return out

    def forward_grid(self, target_px: np.ndarray) -> np.ndarray:
        """(gh, gw, 2) float32 forward displacement at the grid nodes, with folds relaxed."""
        import cv2

        field = (self._bary @ self.control_displacements(target_px)).astype(np.float32)
        field = field.reshape(self.grid_h, self.grid_w, 2)
        field += self._band * (cv2.GaussianBlur(field, (0, 0), self._band_sigma) - field)
        if self._still is not None:
            field *= self._still
        # A turned head folds the far cheek over its silhouette (self-occlusion); a 2D warp cannot
        # show that, so squeeze instead: smooth the field locally until its Jacobian stays positive.
        for _ in range(FOLD_RELAX_ROUNDS):
            bad = self._jacobian_det(field) < FOLD_DET
            if not bad.any():
                break
            # A soft weight around the fold keeps the relaxed patch from leaving a kink at its edge.
            weight = cv2.GaussianBlur(bad.astype(np.float32), (0, 0), FOLD_RELAX_SIGMA) * 3.0
            weight = np.minimum(weight, 1.0)[..., None]
            field += weight * (cv2.GaussianBlur(field, (0, 0), FOLD_RELAX_SIGMA) - field)
        return field

    def _jacobian(self, field: np.ndarray) -> np.ndarray:
        """(gh, gw, 4) float32 d(field)/d(pixel): [dFx/dx, dFx/dy, dFy/dx, dFy/dy]."""
        dx = np.gradient(field, axis=1) * self._to_grid[0]
        dy = np.gradient(field, axis=0) * self._to_grid[1]
        return np.stack([dx[..., 0], dy[..., 0], dx[..., 1], dy[..., 1]], axis=-1).astype(np.float32)

    def _jacobian_det(self, field: np.ndarray) -> np.ndarray:
        j = self._jacobian(field)
        return (1 + j[..., 0]) * (1 + j[..., 3]) - j[..., 1] * j[..., 2]

    def backward_grid(self, target_px: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        """(gh, gw, 2) float32: for each grid node of the OUTPUT frame, the offset to its source pixel.

        Solves s + F(s) = q by Newton's method (plain fixed-point iteration diverges where the
        target stretches the source more than twofold, e.g. the cheek behind a turning head). `start`, the
        previous frame's solution of a sequence, warm-starts it: WARM_NEWTON_ITERATIONS then reach what
        NEWTON_ITERATIONS do from scratch."""
        import cv2

        field = self.forward_grid(target_px)
        jac = self._jacobian(field)
        q = self.grid
        if start is None:
            s, iterations = q - field, NEWTON_ITERATIONS
        else:
            s, iterations = q + start, WARM_NEWTON_ITERATIONS
        for _ in range(iterations):
            at = (s - self._origin + 0.5) * self._to_grid - 0.5
            f = cv2.remap(field, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            j = cv2.remap(jac, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            r = q - s - f
            a, b, c, d = 1 + j[..., 0], j[..., 1], j[..., 2], 1 + j[..., 3]
            det = np.maximum(a * d - b * c, MIN_JACOBIAN_DET)
            step = np.stack([(d * r[..., 0] - b * r[..., 1]) / det, (a * r[..., 1] - c * r[..., 0]) / det], axis=-1)
            s += np.clip(step, -MAX_NEWTON_STEP_PX, MAX_NEWTON_STEP_PX)
        return s - q

    def backward_map(self, target_px: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        """(h, w, 2) float32 map of the region for cv2.remap: output pixel -> source pixel (`start`: see
        backward_grid)."""
        return self.map_of_grid(self.backward_grid(target_px, start))

    def map_of_grid(self, grid: np.ndarray) -> np.ndarray:
        """The (h, w, 2) remap map of the region of a backward_grid result."""
        import cv2

        # Upsample offsets, not positions: edge pixels then keep exact identity where nothing moves.
        offset = cv2.resize(grid, (len(self._xs), len(self._ys)), interpolation=cv2.INTER_LINEAR)
        offset[..., 0] += self._xs[None, :]  # in place: no full-size pixel grid is built per field
        offset[..., 1] += self._ys[:, None]
        return offset
